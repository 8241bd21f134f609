// The collective op's kernel (all_reduce_sum) and the per-thread hook that
// connects it to the run's communicator.
#include "interp/Collective.h"
#include "interp/Kernels.h"

#include <cstring>
#include <vector>

using namespace dlc;
using namespace dlc::interp;

static thread_local CollectiveHook *Current = nullptr;

CollectiveHook::~CollectiveHook() = default;

llvm::Expected<bool> CollectiveHook::allReduceSumOnDevice(uint64_t, size_t,
                                                          DType) {
  return false;
}

CollectiveScope::CollectiveScope(CollectiveHook *Hook) : Prev(Current) {
  Current = Hook;
}
CollectiveScope::~CollectiveScope() { Current = Prev; }

CollectiveHook *dlc::currentCollective() { return Current; }

llvm::Error interp::evalCollective(const Operation &Op, TensorList In,
                                   ResultList Out) {
  const Tensor &X = *In[0];
  Tensor &R = Out[0];
  if (X.type() != R.type())
    return opError(Op, "operand " + X.type().str() + " does not match result " +
                           R.type().str());
  if (X.byteSize())
    std::memcpy(R.data(), X.data(), X.byteSize());
  CollectiveHook *H = Current;
  if (!H) // one process: the sum over the ranks is x
    return llvm::Error::success();
  size_t N = size_t(R.numElements());
  llvm::Error E = llvm::Error::success();
  if (R.elem() == DType::F32) {
    E = H->allReduceSum(llvm::MutableArrayRef<float>(R.as<float>(), N));
  } else if (R.elem() == DType::F64) {
    E = H->allReduceSum(llvm::MutableArrayRef<double>(R.as<double>(), N));
  } else { // f16, bf16, ...: summed as f32
    std::vector<float> F(N);
    for (size_t I = 0; I < N; ++I)
      F[I] = float(R.getF(int64_t(I)));
    E = H->allReduceSum(F);
    for (size_t I = 0; I < N && !E; ++I)
      R.setF(int64_t(I), F[I]);
  }
  if (E) { // the communicator's message, located at the op
    std::string M = llvm::toString(std::move(E));
    llvm::StringRef Msg(M);
    Msg.consume_front("error: ");
    return opError(Op, Msg);
  }
  return llvm::Error::success();
}
