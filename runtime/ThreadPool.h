// A fixed pool of worker threads for the parallel loops of compiled kernels.
// Part of the runtime: depends on nothing else of dlc.
#ifndef DLC_RUNTIME_THREADPOOL_H
#define DLC_RUNTIME_THREADPOOL_H

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dlc {
namespace rt {

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

private:
  void work();
  std::vector<std::thread> Workers;
  std::mutex M;
  std::condition_variable CV;
  std::deque<std::function<void()>> Queue;
  bool Stop = false;
};

} // namespace rt
} // namespace dlc

#endif
