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

/// On a function that calls generated code (a JIT or AOT kernel, a GPU
/// kernel's launch or emulation function): that code carries no UBSan type
/// signature, and the sanitizer's `function` check reads one just before the
/// callee's entry, past the start of the JIT's memory when the kernel is the
/// first thing there. Off for such calls only.
#if defined(__clang__)
#define DLC_CALLS_GENERATED_CODE __attribute__((no_sanitize("function")))
#else
#define DLC_CALLS_GENERATED_CODE
#endif

} // namespace dlc

#endif
