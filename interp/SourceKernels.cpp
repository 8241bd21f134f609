// Interpreter kernels for ops without data operands: constant, range,
// random_uniform and random_normal (counter-based, see ir/Random.h).
#include "interp/Kernels.h"

#include "ir/Random.h"

#include <cmath>

using namespace dlc;
using namespace dlc::interp;

static llvm::Error constant(const Operation &Op, Tensor &R) {
  const Attribute &A = Op.attr("value");
  if (A.kind() != AttrKind::Tensor || !A.getTensor())
    return opError(Op, "value must be a tensor");
  const Tensor &T = *A.getTensor();
  if (T.elem() != R.elem())
    return opError(Op, "value has element type " + dtypeName(T.elem()) +
                           " but the result is " + dtypeName(R.elem()));
  if (llvm::Error E = expectShape(Op, R, T.shape()))
    return E;
  if (T.byteSize() != R.byteSize())
    return opError(Op, "value holds " + std::to_string(T.byteSize()) +
                           " bytes, expected " + std::to_string(R.byteSize()));
  R = T;
  return llvm::Error::success();
}

static llvm::Error range(const Operation &Op, Tensor &R) {
  double Start = Op.getFloat("start"), Limit = Op.getFloat("limit");
  double Delta = Op.getFloat("delta");
  if (Delta == 0 || !std::isfinite(Delta) || !std::isfinite(Start) ||
      !std::isfinite(Limit))
    return opError(Op, "start, limit and delta must be finite, delta nonzero");
  double Count = std::ceil((Limit - Start) / Delta);
  if (Count > double(MaxElements))
    return opError(Op, "too many elements");
  if (llvm::Error E =
          expectShape(Op, R, {Count > 0 ? int64_t(Count) : int64_t(0)}))
    return E;
  for (int64_t I = 0, N = R.numElements(); I < N; ++I)
    R.setF(I, Start + double(I) * Delta);
  return llvm::Error::success();
}

static llvm::Error random(const Operation &Op, TensorList In, Tensor &R) {
  llvm::ArrayRef<int64_t> Shape =
      In.empty() ? Op.getInts("shape") : In[0]->shape();
  if (llvm::Error E = expectShape(Op, R, Shape))
    return E;
  int64_t Seed = Op.getInt("seed") + (In.size() > 1 ? In[1]->getI(0) : 0);
  if (Op.kind() == OpKind::RandomUniform) {
    double Low = Op.getFloat("low"), High = Op.getFloat("high");
    for (int64_t I = 0, N = R.numElements(); I < N; ++I)
      R.setF(I, Low + (High - Low) * uniformAt(Seed, uint64_t(I)));
    return llvm::Error::success();
  }
  double Mean = Op.getFloat("mean"), Scale = Op.getFloat("scale");
  for (int64_t I = 0, N = R.numElements(); I < N; ++I)
    R.setF(I, Mean + Scale * normalAt(Seed, uint64_t(I)));
  return llvm::Error::success();
}

llvm::Error interp::evalSource(const Operation &Op, TensorList In,
                               ResultList Out) {
  switch (Op.kind()) {
  case OpKind::Constant:
    return constant(Op, Out[0]);
  case OpKind::Range:
    return range(Op, Out[0]);
  default:
    return random(Op, In, Out[0]);
  }
}
