// --kir-vectorize=N: marks every innermost unit-step loop vectorize(N); the
// LLVM emitter turns the mark into loop metadata the vectorizer honours.
#include "kernel/Schedule.h"

#include "ir/Location.h"

using namespace dlc;
using namespace dlc::kir;

llvm::Error kir::vectorizeLoops(Kernel &K, unsigned N) {
  if (N == 0 || (N & (N - 1)))
    return makeError("--kir-vectorize: the width must be a power of two, got " +
                     std::to_string(N));
  for (KOp *L : innermostLoops(K))
    if (L->Step == 1)
      L->Marks.Vectorize = N;
  return verifyKernel(K);
}
