// The kernel pass registry and the loop walk the passes share.
#include "kernel/Schedule.h"

using namespace dlc;
using namespace dlc::kir;

llvm::ArrayRef<KernelPass> kir::allKernelPasses() {
  static const KernelPass Passes[] = {
      {"tile", "Strip-mine innermost loops into tiles of N iterations", tileLoops},
      {"vectorize", "Mark innermost loops vectorize(N)", vectorizeLoops},
      {"unroll", "Mark innermost loops unroll(N)", unrollLoops},
      {"collapse", "Merge up to N innermost loops over contiguous static dims",
       collapseLoops},
      {"spread", "Merge the parallel loop with up to N-1 loops nested in it",
       spreadParallel},
      {"gpu-rows", "Map row reductions to one block of N threads per row",
       gpuRows},
      {"gpu-map", "Map parallel loops to a GPU grid of N-thread blocks",
       gpuMapLoops},
  };
  return Passes;
}

static void collect(std::vector<std::unique_ptr<KOp>> &Ops,
                    std::vector<KOp *> &Out) {
  for (auto &Op : Ops) {
    if (Op->kind() != KOpKind::For)
      continue;
    size_t Before = Out.size();
    collect(Op->Body, Out);
    if (Out.size() == Before) {
      bool Nested = false;
      for (auto &B : Op->Body)
        Nested |= B->kind() == KOpKind::For;
      if (!Nested)
        Out.push_back(Op.get());
    }
  }
}

std::vector<KOp *> kir::innermostLoops(Kernel &K) {
  std::vector<KOp *> Out;
  collect(K.Body, Out);
  return Out;
}
