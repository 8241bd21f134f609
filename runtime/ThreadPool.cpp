// The thread pool behind parallel kernel loops.
#include "runtime/ThreadPool.h"

#include <chrono>

using namespace dlc::rt;

namespace {

void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

/// Spins until Ready() holds or SpinTime has passed; returns Ready().
template <typename Pred> bool spinUntil(Pred Ready) {
  auto End = std::chrono::steady_clock::now() + ThreadPool::SpinTime;
  while (true) {
    for (int I = 0; I < 64; ++I) {
      if (Ready())
        return true;
      cpuRelax();
    }
    if (std::chrono::steady_clock::now() >= End)
      return Ready();
  }
}

} // namespace

ThreadPool::ThreadPool(unsigned Threads) {
  for (unsigned I = 1; I < std::max(1u, Threads); ++I)
    Workers.emplace_back([this] { work(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> L(M);
    Stop = true;
  }
  CV.notify_all();
  for (std::thread &T : Workers)
    T.join();
}

unsigned ThreadPool::hardwareThreads() {
  return std::max(1u, std::thread::hardware_concurrency());
}

void ThreadPool::work() {
  while (true) {
    spinUntil([this] {
      return Queued.load(std::memory_order_acquire) != 0 ||
             Stop.load(std::memory_order_relaxed);
    });
    std::function<void()> Task;
    {
      std::unique_lock<std::mutex> L(M);
      if (Queue.empty() && !Stop) {
        ++Sleeping;
        CV.wait(L, [this] { return Stop || !Queue.empty(); });
        --Sleeping;
      }
      if (Queue.empty())
        return; // stopping
      Task = std::move(Queue.front());
      Queue.pop_front();
      Queued.fetch_sub(1, std::memory_order_relaxed);
    }
    Task();
  }
}

void ThreadPool::parallelFor(int64_t N, const std::function<void(int64_t)> &Fn) {
  if (N <= 1 || Workers.empty()) {
    for (int64_t I = 0; I < N; ++I)
      Fn(I);
    return;
  }
  // Items are claimed from a shared counter, so a busy worker (serving
  // another caller) never holds up this call: the caller claims what is
  // left itself.
  struct State {
    std::atomic<int64_t> Next{0}, Done{0};
    std::mutex M;
    std::condition_variable CV;
  };
  auto S = std::make_shared<State>();
  auto Drain = [S, N, &Fn] {
    int64_t I;
    while ((I = S->Next.fetch_add(1)) < N) {
      Fn(I);
      if (S->Done.fetch_add(1, std::memory_order_acq_rel) + 1 == N) {
        std::lock_guard<std::mutex> L(S->M);
        S->CV.notify_all();
      }
    }
  };
  size_t Helpers = std::min<size_t>(Workers.size(), size_t(N - 1));
  bool Wake;
  {
    std::lock_guard<std::mutex> L(M);
    for (size_t W = 0; W < Helpers; ++W)
      Queue.push_back(Drain);
    Queued.fetch_add(Helpers, std::memory_order_release);
    Wake = Sleeping != 0;
  }
  if (Wake)
    CV.notify_all();
  Drain();
  auto Finished = [&] { return S->Done.load(std::memory_order_acquire) == N; };
  if (spinUntil(Finished))
    return;
  std::unique_lock<std::mutex> L(S->M);
  S->CV.wait(L, Finished);
}
