// Memory planning for compiled models: placement of buffers with known
// lifetimes into one arena, and a thread-safe pool of reusable arenas. Part
// of the runtime: depends on nothing else of dlc.
#ifndef DLC_RUNTIME_ARENA_H
#define DLC_RUNTIME_ARENA_H

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace dlc {
namespace rt {

/// Every offset and the arena itself are aligned to this many bytes (a
/// cache line, and the widest vector register).
constexpr uint64_t ArenaAlign = 64;

/// A buffer of Bytes bytes, alive from step First to step Last (inclusive).
struct ArenaRequest {
  uint64_t Bytes = 0;
  uint32_t First = 0, Last = 0;
};

struct ArenaLayout {
  std::vector<uint64_t> Offsets; // one per request
  uint64_t Size = 0;             // bytes the arena needs
};

/// Places the requests so that buffers alive at the same step never
/// overlap: largest first, each at the lowest aligned offset that is free
/// for its whole lifetime (buffers whose lifetimes are disjoint share
/// bytes).
ArenaLayout planArena(const std::vector<ArenaRequest> &Requests);

/// One aligned block of memory.
class Arena {
public:
  explicit Arena(uint64_t Size);
  ~Arena();
  Arena(const Arena &) = delete;
  Arena &operator=(const Arena &) = delete;
  uint8_t *data() const { return Data; }
  uint64_t size() const { return Size; }

private:
  uint8_t *Data = nullptr;
  uint64_t Size = 0;
};

/// Arenas handed out to concurrent runs and taken back, so that repeated
/// runs reuse memory that is already mapped. Safe to use from several
/// threads.
class ArenaPool {
public:
  /// An arena of at least Size bytes: a free one, or a new one; null when
  /// the memory cannot be had.
  std::unique_ptr<Arena> acquire(uint64_t Size);
  void release(std::unique_ptr<Arena> A);

private:
  std::mutex M;
  std::vector<std::unique_ptr<Arena>> Free;
};

} // namespace rt
} // namespace dlc

#endif
