// Scheduling passes on kernel IR: each rewrites loops or sets their marks,
// one pass per file, one dlc-opt flag per pass (--kir-NAME=N).
#ifndef DLC_KERNEL_SCHEDULE_H
#define DLC_KERNEL_SCHEDULE_H

#include "kernel/KernelIR.h"

namespace dlc {
namespace kir {

struct KernelPass {
  const char *Name, *Description;
  /// Runs on K with the flag's count (tile size, vector width, factor).
  llvm::Error (*Run)(Kernel &K, unsigned N);
};

/// Every kernel pass, in registry order.
llvm::ArrayRef<KernelPass> allKernelPasses();

/// Strip-mines every innermost unit-step loop into tiles of N iterations:
/// `for i = lo to hi` becomes `for t = lo to hi step N { for i = t to
/// min(t + N, hi) }`, same iteration order. A parallel mark stays on the
/// tile loop, vector and unroll marks move to the inner loop.
llvm::Error tileLoops(Kernel &K, unsigned N);
/// Marks every innermost unit-step loop vectorize(N) (N a power of two).
llvm::Error vectorizeLoops(Kernel &K, unsigned N);
/// Marks every innermost loop unroll(N).
llvm::Error unrollLoops(Kernel &K, unsigned N);

/// Merges up to N innermost perfectly nested loops that walk the contiguous
/// static trailing dims of every buffer they touch into one loop (and those
/// buffers' dims into one); see kernel/CollapseLoops.cpp.
llvm::Error collapseLoops(Kernel &K, unsigned N);
/// Merges the top-level parallel loop with up to N - 1 loops perfectly
/// nested in it (never the innermost) into one parallel loop, so a batch of
/// one still splits across threads; see kernel/SpreadParallel.cpp.
llvm::Error spreadParallel(Kernel &K, unsigned N);

/// Maps the parallel loop (and the loops perfectly nested in it) to a grid
/// of blocks of N threads, one thread per iteration (kernel/GpuMap.cpp).
llvm::Error gpuMapLoops(Kernel &K, unsigned N);
/// Maps row reductions to one block of N threads per row with tree
/// reductions in shared memory (kernel/GpuRows.cpp).
llvm::Error gpuRows(Kernel &K, unsigned N);

/// The innermost loops of K (loops without a loop in their body).
std::vector<KOp *> innermostLoops(Kernel &K);

} // namespace kir
} // namespace dlc

#endif
