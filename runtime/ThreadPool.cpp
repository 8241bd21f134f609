// The thread pool behind parallel kernel loops.
#include "runtime/ThreadPool.h"

#include <atomic>

using namespace dlc::rt;

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
    std::function<void()> Task;
    {
      std::unique_lock<std::mutex> L(M);
      CV.wait(L, [this] { return Stop || !Queue.empty(); });
      if (Queue.empty())
        return; // stopping
      Task = std::move(Queue.front());
      Queue.pop_front();
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
      if (S->Done.fetch_add(1) + 1 == N) {
        std::lock_guard<std::mutex> L(S->M);
        S->CV.notify_all();
      }
    }
  };
  {
    std::lock_guard<std::mutex> L(M);
    for (size_t W = 0; W < Workers.size(); ++W)
      Queue.push_back(Drain);
  }
  CV.notify_all();
  Drain();
  std::unique_lock<std::mutex> L(S->M);
  S->CV.wait(L, [&] { return S->Done.load() == N; });
}
