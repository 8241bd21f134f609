// --kir-unroll=N: marks every innermost loop unroll(N); the LLVM emitter
// turns the mark into loop metadata the unroller honours.
#include "kernel/Schedule.h"

#include "ir/Location.h"

using namespace dlc;
using namespace dlc::kir;

llvm::Error kir::unrollLoops(Kernel &K, unsigned N) {
  if (N == 0)
    return makeError("--kir-unroll: the factor must be at least 1");
  for (KOp *L : innermostLoops(K))
    L->Marks.Unroll = N;
  return verifyKernel(K);
}
