// The GPU executor's plans and instances (shared by GpuExecutable.cpp and
// GpuPlan.cpp; not part of the API).
#ifndef DLC_EXEC_GPUPLAN_H
#define DLC_EXEC_GPUPLAN_H

#include "exec/GpuExecutable.h"

namespace dlc {

/// Bytes of a tensor of element type E and shape Shape.
inline uint64_t valueBytes(DType E, llvm::ArrayRef<int64_t> Shape) {
  uint64_t N = dtypeSize(E);
  for (int64_t D : Shape)
    N *= uint64_t(D);
  return N;
}

/// How one run plan executes on the device, for one choice of device
/// inputs and kept outputs.
struct GpuExecutable::GpuPlan {
  std::shared_ptr<const Executable::RunPlan> P;
  llvm::DenseMap<const Value *, uint64_t> Offset; // arena roots
  uint64_t ArenaBytes = 0;
  std::vector<const Value *> Pinned; // kept outputs' roots
  llvm::DenseMap<const Value *, unsigned> PinnedIndex;
  struct Launch {
    unsigned Step = 0;
    GpuLaunch L;
    uint64_t BlockOffset = 0;
    bool Skip = false;
  };
  std::vector<Launch> Launches; // one per kernel step
  uint64_t BlockBytes = 0;
  std::mutex M;
  std::vector<std::unique_ptr<Instance>> Free;
};

/// What one run at a time uses: an arena, a stream, and the parameter
/// block images written for the device addresses bound to them.
struct GpuExecutable::Instance {
  std::shared_ptr<GpuDevice> Dev;
  std::shared_ptr<GpuBuffer> Arena;
  void *Stream = nullptr;
  struct Image {
    std::vector<DeviceAddr> Binding;
    std::shared_ptr<GpuBuffer> Blocks;
    uint64_t Used = 0;
  };
  std::vector<Image> Images;
  uint64_t Clock = 0;
  ~Instance() {
    if (Stream)
      Dev->destroyStream(Stream);
  }
};

} // namespace dlc

#endif
