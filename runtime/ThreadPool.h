// A fixed pool of worker threads for the parallel loops of compiled kernels.
// Part of the runtime: depends on nothing else of dlc.
#ifndef DLC_RUNTIME_THREADPOOL_H
#define DLC_RUNTIME_THREADPOOL_H

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dlc {
namespace rt {

/// Waking a sleeping thread costs tens of microseconds on a loaded or
/// virtual machine, longer than many kernels of a small model run. So an
/// idle worker spins (with the CPU's pause hint) for a short while before
/// it sleeps, and a caller spins for its last items before it sleeps: the
/// kernels of one run, back to back, then start and end without a system
/// call. Spinning is bounded (SpinTime), so an idle pool costs nothing
/// between runs that are further apart.
class ThreadPool {
public:
  /// A pool of Threads - 1 workers; the calling thread is the last one.
  explicit ThreadPool(unsigned Threads);
  ~ThreadPool();
  unsigned threads() const { return Workers.size() + 1; }

  /// Runs Fn(0) .. Fn(N - 1), spread over the pool and the calling thread,
  /// and returns when all have finished. Safe to call from several threads.
  void parallelFor(int64_t N, const std::function<void(int64_t)> &Fn);

  /// The number of hardware threads (at least 1).
  static unsigned hardwareThreads();

  /// How long a worker without work, or a caller waiting for its last
  /// items, spins before it sleeps.
  static constexpr std::chrono::microseconds SpinTime{100};

private:
  void work();
  std::vector<std::thread> Workers;
  std::mutex M;
  std::condition_variable CV;
  std::deque<std::function<void()>> Queue; // guarded by M
  /// Queue.size(), readable without M by spinning workers.
  std::atomic<size_t> Queued{0};
  unsigned Sleeping = 0; // workers waiting on CV; guarded by M
  std::atomic<bool> Stop{false};
};

} // namespace rt
} // namespace dlc

#endif
