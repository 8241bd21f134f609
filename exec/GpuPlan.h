// The GPU executor's plans and instances (shared by GpuExecutable.cpp and
// GpuPlan.cpp; not part of the API).
#ifndef DLC_EXEC_GPUPLAN_H
#define DLC_EXEC_GPUPLAN_H

#include "exec/GpuExecutable.h"

#include <deque>

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
    /// A host step, no kernel: a collective (all_reduce_sum, which
    /// runCollective sums on device buffers) or an op run on the host
    /// (runHostStep: strings, results sized by the data).
    bool Host = false;
  };
  std::vector<Launch> Launches; // one per kernel step and host step
  /// [begin, end) ranges of Launches that run without the host in between:
  /// a new one starts at each host step and at each gather whose indices
  /// are checked on the host after the device computed them. Each may be
  /// replayed as one CUDA graph.
  std::vector<std::pair<unsigned, unsigned>> Segments;
  uint64_t BlockBytes = 0;
  std::mutex M;
  std::vector<std::unique_ptr<Instance>> Free;
};

/// A run's values on the host: its str values (inputs, parameters and
/// constants borrowed; host steps' results owned), and the numeric results
/// of host steps, whose queued copies to the device read them until the
/// run has waited for its stream.
struct GpuExecutable::HostValues {
  llvm::DenseMap<const Value *, const Tensor *> Strs;
  std::deque<Tensor> Owned;
};

/// CUDA graphs of one image, one per segment of the plan (null: not
/// captured), destroyed with it.
struct GpuGraphs {
  std::shared_ptr<GpuDevice> Dev;
  std::vector<void *> G;
  GpuGraphs(std::shared_ptr<GpuDevice> D, size_t N)
      : Dev(std::move(D)), G(N, nullptr) {}
  ~GpuGraphs() {
    for (void *X : G)
      if (X)
        Dev->destroyGraph(X);
  }
  GpuGraphs(const GpuGraphs &) = delete;
  GpuGraphs &operator=(const GpuGraphs &) = delete;
};

/// The parameter blocks of an instance's launches, written for one
/// binding of device addresses. Its launches (the plan's geometry, these
/// blocks) are the same in every run: from its second run on they are
/// replayed as CUDA graphs where the device has them.
struct GpuExecutable::Image {
  std::vector<DeviceAddr> Binding;
  std::shared_ptr<GpuBuffer> Blocks;
  uint64_t Used = 0;
  uint64_t Runs = 0;
  std::unique_ptr<GpuGraphs> Graphs;
};

/// What one run at a time uses: an arena, a stream, and the images of
/// parameter blocks written for the device addresses bound to them.
struct GpuExecutable::Instance {
  std::shared_ptr<GpuDevice> Dev;
  std::shared_ptr<GpuBuffer> Arena;
  void *Stream = nullptr;
  std::vector<Image> Images;
  uint64_t Clock = 0;
  ~Instance() {
    Images.clear(); // their graphs first
    if (Stream)
      Dev->destroyStream(Stream);
  }
};

} // namespace dlc

#endif
