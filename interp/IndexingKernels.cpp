// Interpreter kernels that index or describe tensors: gather (negative
// indices count from the end), one_hot, shape, iota and resize_coords.
#include "interp/Kernels.h"
#include "ir/ShapeInference.h"

#include <cstring>

using namespace dlc;
using namespace dlc::interp;

static llvm::Error gather(const Operation &Op, const Tensor &X,
                          const Tensor &Idx, Tensor &R) {
  if (isFloat(Idx.elem()) || Idx.elem() == DType::Bool)
    return opError(Op, "indices must be integers");
  if (R.elem() != X.elem())
    return opError(Op, "result element type differs from the data's");
  auto Ax = axisIn(Op, Op.getInt("axis"), X.rank());
  if (!Ax)
    return Ax.takeError();
  llvm::ArrayRef<int64_t> S = X.shape();
  Sizes Expected(S.begin(), S.begin() + *Ax);
  Expected.append(Idx.shape().begin(), Idx.shape().end());
  Expected.append(S.begin() + *Ax + 1, S.end());
  if (llvm::Error E = expectShape(Op, R, Expected))
    return E;
  int64_t Outer = product(S.take_front(*Ax)), Len = S[*Ax];
  unsigned Size = dtypeSize(X.elem());
  int64_t Inner = product(S.drop_front(*Ax + 1)) * Size;
  int64_t NumIdx = Idx.numElements();
  for (int64_t J = 0; J < NumIdx; ++J) {
    int64_t I = Idx.getI(J);
    if (I < -Len || I >= Len)
      return opError(Op, "index " + std::to_string(I) + " is out of range " +
                             "for dim " + std::to_string(*Ax) + " of size " +
                             std::to_string(Len));
    if (I < 0)
      I += Len;
    for (int64_t O = 0; O < Outer && Inner; ++O)
      std::memcpy(R.data() + (O * NumIdx + J) * Inner,
                  X.data() + (O * Len + I) * Inner, Inner);
  }
  return llvm::Error::success();
}

static llvm::Error oneHot(const Operation &Op, TensorList In, Tensor &R) {
  const Tensor &Idx = *In[0];
  if (isFloat(Idx.elem()) || Idx.elem() == DType::Bool)
    return opError(Op, "indices must be integers");
  int64_t Depth = In.size() == 2 && In[1]->rank() ? In[1]->shape().back()
                                                  : Op.getInt("depth");
  if (Depth < 0)
    return opError(Op, "depth must be non-negative");
  Sizes Expected(Idx.shape().begin(), Idx.shape().end());
  Expected.push_back(Depth);
  if (llvm::Error E = expectShape(Op, R, Expected))
    return E;
  for (int64_t J = 0, N = Idx.numElements(); J < N; ++J) {
    int64_t I = Idx.getI(J);
    if (I >= 0 && I < Depth) // out-of-range rows stay all zero
      R.setF(J * Depth + I, 1.0);
  }
  return llvm::Error::success();
}

static llvm::Error shapeOf(const Operation &Op, const Tensor &X, Tensor &R) {
  if (llvm::Error E = expectShape(Op, R, {int64_t(X.rank())}))
    return E;
  for (unsigned D = 0; D < X.rank(); ++D)
    R.setI(D, X.shape()[D]);
  return llvm::Error::success();
}

static llvm::Error iota(const Operation &Op, const Tensor &X, Tensor &R) {
  if (llvm::Error E = expectShape(Op, R, X.shape()))
    return E;
  auto A = axisIn(Op, Op.getInt("axis"), X.rank());
  if (!A)
    return A.takeError();
  // Elements after axis per step along it, and the axis' size.
  int64_t Inner = 1;
  for (unsigned D = *A + 1; D < X.rank(); ++D)
    Inner *= X.shape()[D];
  int64_t Size = X.shape()[*A];
  for (int64_t I = 0; I < R.numElements(); ++I)
    R.setI(I, (I / Inner) % Size);
  return llvm::Error::success();
}

static llvm::Error resizeCoords(const Operation &Op, const Tensor &X,
                                Tensor &R) {
  auto A = axisIn(Op, Op.getInt("axis"), X.rank());
  if (!A)
    return A.takeError();
  int64_t In = X.shape()[*A], Size = Op.getInt("size");
  double Scale = Op.getFloat("scale");
  int64_t Out = Size ? Size : resizedSize(In, Scale);
  if (llvm::Error E = expectShape(Op, R, {Out}))
    return E;
  if (Size)
    Scale = double(Out) / double(In);
  for (int64_t I = 0; I < Out; ++I)
    R.setF(I,
           resizeSourceCoord(Op.getString("mode"), double(I), Scale, In, Out,
                             Op.getFloat("roi_start"), Op.getFloat("roi_end")));
  return llvm::Error::success();
}

llvm::Error interp::evalIndexing(const Operation &Op, TensorList In,
                                 ResultList Out) {
  switch (Op.kind()) {
  case OpKind::Gather:
    return gather(Op, *In[0], *In[1], Out[0]);
  case OpKind::OneHot:
    return oneHot(Op, In, Out[0]);
  case OpKind::ShapeOf:
    return shapeOf(Op, *In[0], Out[0]);
  case OpKind::Iota:
    return iota(Op, *In[0], Out[0]);
  case OpKind::ResizeCoords:
    return resizeCoords(Op, *In[0], Out[0]);
  default:
    llvm_unreachable("not an indexing op");
  }
}
