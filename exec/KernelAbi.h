// The calling convention of generated kernels, shared by the code generator
// (which emits it) and the executor (which calls it, from the JIT or from
// an AOT artifact's function table).
#ifndef DLC_EXEC_KERNELABI_H
#define DLC_EXEC_KERNELABI_H

#include <cstdint>

namespace dlc {

/// The C layout of one kernel argument.
struct BufferArg {
  void *Data;
  const int64_t *Sizes;
};

/// A kernel: its buffers (inputs, outputs, then a fused group's shape-only
/// space argument), and the chunk of its parallel loop to run.
using KernelFn = void (*)(const BufferArg *Args, int64_t Chunk, int64_t Chunks);

} // namespace dlc

#endif
