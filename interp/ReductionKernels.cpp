// Interpreter kernels for reductions: reduce_{sum,mean,max,min,prod,
// logsumexp} over axes with keepdims, and argmax/argmin along one axis.
#include "interp/Kernels.h"

#include <cmath>
#include <limits>

using namespace dlc;
using namespace dlc::interp;

/// Smallest and largest values of an integer element type.
static int64_t intMin(DType T) {
  switch (T) {
  case DType::I8:
    return std::numeric_limits<int8_t>::min();
  case DType::I16:
    return std::numeric_limits<int16_t>::min();
  case DType::I32:
    return std::numeric_limits<int32_t>::min();
  case DType::I64:
    return std::numeric_limits<int64_t>::min();
  default:
    return 0; // u8, bool
  }
}
static int64_t intMax(DType T) {
  switch (T) {
  case DType::I8:
    return std::numeric_limits<int8_t>::max();
  case DType::I16:
    return std::numeric_limits<int16_t>::max();
  case DType::I32:
    return std::numeric_limits<int32_t>::max();
  case DType::U8:
    return std::numeric_limits<uint8_t>::max();
  case DType::U16:
    return std::numeric_limits<uint16_t>::max();
  case DType::U32:
    return std::numeric_limits<uint32_t>::max();
  case DType::Bool:
    return 1;
  default:
    return std::numeric_limits<int64_t>::max();
  }
}

namespace {
/// Maps each input element to its output element for a reduction over a
/// set of axes.
struct ReduceMap {
  Sizes InShape;
  Sizes OutStrides; // per input dim; 0 along reduced dims
  Sizes OutShape;   // with or without the reduced dims, per keepdims
  int64_t NumOut = 1, PerOut = 1;
};
} // namespace

static llvm::Expected<ReduceMap> makeReduceMap(const Operation &Op,
                                               llvm::ArrayRef<int64_t> Shape,
                                               llvm::ArrayRef<int64_t> Axes,
                                               bool KeepDims) {
  unsigned Rank = Shape.size();
  llvm::SmallVector<bool, 4> Reduced(Rank, Axes.empty());
  for (int64_t A : Axes) {
    auto Ax = axisIn(Op, A, Rank);
    if (!Ax)
      return Ax.takeError();
    if (Reduced[*Ax])
      return opError(Op, "axis " + std::to_string(A) + " is repeated");
    Reduced[*Ax] = true;
  }
  ReduceMap M;
  M.InShape.assign(Shape.begin(), Shape.end());
  Sizes Kept;
  for (unsigned D = 0; D < Rank; ++D) {
    Kept.push_back(Reduced[D] ? 1 : Shape[D]);
    if (Reduced[D])
      M.PerOut *= Shape[D];
    else
      M.NumOut *= Shape[D];
    if (!Reduced[D] || KeepDims)
      M.OutShape.push_back(Kept.back());
  }
  M.OutStrides = stridesOf(Kept);
  for (unsigned D = 0; D < Rank; ++D)
    if (Reduced[D])
      M.OutStrides[D] = 0;
  return M;
}

static llvm::Error reduceFloat(const Operation &Op, const Tensor &X,
                               const ReduceMap &M, Tensor &R) {
  OpKind K = Op.kind();
  const double Inf = std::numeric_limits<double>::infinity();
  double Init = 0;
  if (K == OpKind::ReduceProd)
    Init = 1;
  else if (K == OpKind::ReduceMax || K == OpKind::ReduceLogSumExp)
    Init = -Inf;
  else if (K == OpKind::ReduceMin)
    Init = Inf;
  std::vector<double> Acc(M.NumOut, Init);
  int64_t N = X.numElements();
  Sizes Idx(M.InShape.size(), 0);
  // First pass: sum, product, max or min.
  for (int64_t I = 0; I < N; ++I) {
    unravel(I, M.InShape, Idx);
    double &A = Acc[dot(Idx, M.OutStrides)];
    double V = X.getF(I);
    switch (K) {
    case OpKind::ReduceSum:
    case OpKind::ReduceMean:
      A += V;
      break;
    case OpKind::ReduceProd:
      A *= V;
      break;
    case OpKind::ReduceMax:
    case OpKind::ReduceLogSumExp:
      if (std::isnan(V) || V > A)
        A = std::isnan(A) ? A : V;
      break;
    case OpKind::ReduceMin:
      if (std::isnan(V) || V < A)
        A = std::isnan(A) ? A : V;
      break;
    default:
      llvm_unreachable("not a float reduction");
    }
  }
  if (K == OpKind::ReduceMean)
    for (double &A : Acc)
      A /= double(M.PerOut);
  if (K == OpKind::ReduceLogSumExp) {
    // Second pass: sum of e^(x - max), then max + log(sum).
    std::vector<double> Sum(M.NumOut, 0.0);
    for (int64_t I = 0; I < N; ++I) {
      unravel(I, M.InShape, Idx);
      int64_t O = dot(Idx, M.OutStrides);
      if (std::isfinite(Acc[O]))
        Sum[O] += std::exp(X.getF(I) - Acc[O]);
    }
    for (int64_t O = 0; O < M.NumOut; ++O)
      if (std::isfinite(Acc[O]))
        Acc[O] += std::log(Sum[O]);
  }
  for (int64_t O = 0; O < M.NumOut; ++O)
    R.setF(O, Acc[O]);
  return llvm::Error::success();
}

static llvm::Error reduceInt(const Operation &Op, const Tensor &X,
                             const ReduceMap &M, Tensor &R) {
  OpKind K = Op.kind();
  int64_t Init = 0;
  if (K == OpKind::ReduceProd)
    Init = 1;
  else if (K == OpKind::ReduceMax)
    Init = intMin(X.elem());
  else if (K == OpKind::ReduceMin)
    Init = intMax(X.elem());
  else if (K != OpKind::ReduceSum)
    return opError(Op, "unsupported on integer element types");
  std::vector<int64_t> Acc(M.NumOut, Init);
  Sizes Idx(M.InShape.size(), 0);
  for (int64_t I = 0, N = X.numElements(); I < N; ++I) {
    unravel(I, M.InShape, Idx);
    int64_t &A = Acc[dot(Idx, M.OutStrides)];
    int64_t V = X.getI(I);
    switch (K) {
    case OpKind::ReduceSum:
      A = int64_t(uint64_t(A) + uint64_t(V));
      break;
    case OpKind::ReduceProd:
      A = int64_t(uint64_t(A) * uint64_t(V));
      break;
    case OpKind::ReduceMax:
      A = V > A ? V : A;
      break;
    case OpKind::ReduceMin:
      A = V < A ? V : A;
      break;
    default:
      llvm_unreachable("handled above");
    }
  }
  for (int64_t O = 0; O < M.NumOut; ++O)
    R.setI(O, Acc[O]);
  return llvm::Error::success();
}

/// argmax / argmin along one axis.
static llvm::Error argReduce(const Operation &Op, const Tensor &X, Tensor &R) {
  unsigned Rank = X.rank();
  auto Ax = axisIn(Op, Op.getInt("axis"), Rank);
  if (!Ax)
    return Ax.takeError();
  bool KeepDims = Op.getBool("keepdims");
  bool Last = Op.getBool("select_last_index");
  bool IsMax = Op.kind() == OpKind::ArgMax;
  llvm::ArrayRef<int64_t> S = X.shape();
  Sizes OutShape;
  for (unsigned D = 0; D < Rank; ++D)
    if (D != *Ax)
      OutShape.push_back(S[D]);
    else if (KeepDims)
      OutShape.push_back(1);
  if (llvm::Error E = expectShape(Op, R, OutShape))
    return E;
  int64_t Outer = product(S.take_front(*Ax));
  int64_t Len = S[*Ax];
  int64_t Inner = product(S.drop_front(*Ax + 1));
  if (Len == 0 && Outer * Inner > 0)
    return opError(Op, "cannot take the index of an empty axis");
  bool IntPath = isIntLike(X.elem());
  // True when element A is strictly better than B (max: greater); with
  // select_last_index ties also win.
  auto Better = [&](int64_t A, int64_t B) {
    if (IntPath) {
      int64_t VA = X.getI(A), VB = X.getI(B);
      return IsMax ? (Last ? VA >= VB : VA > VB) : (Last ? VA <= VB : VA < VB);
    }
    double VA = X.getF(A), VB = X.getF(B);
    // NaN counts as the extreme value, as in numpy; the first NaN wins.
    if (std::isnan(VB))
      return false;
    if (std::isnan(VA))
      return true;
    return IsMax ? (Last ? VA >= VB : VA > VB) : (Last ? VA <= VB : VA < VB);
  };
  for (int64_t O = 0; O < Outer; ++O)
    for (int64_t In = 0; In < Inner; ++In) {
      int64_t Base = O * Len * Inner + In;
      int64_t Best = 0;
      for (int64_t J = 1; J < Len; ++J)
        if (Better(Base + J * Inner, Base + Best * Inner))
          Best = J;
      R.setI(O * Inner + In, Best);
    }
  return llvm::Error::success();
}

llvm::Error interp::evalReduction(const Operation &Op, TensorList In,
                                  ResultList Out) {
  const Tensor &X = *In[0];
  Tensor &R = Out[0];
  if (Op.kind() == OpKind::ArgMax || Op.kind() == OpKind::ArgMin)
    return argReduce(Op, X, R);
  auto M =
      makeReduceMap(Op, X.shape(), Op.getInts("axes"), Op.getBool("keepdims"));
  if (!M)
    return M.takeError();
  if (llvm::Error E = expectShape(Op, R, M->OutShape))
    return E;
  if (isIntLike(X.elem()) && isIntLike(R.elem()))
    return reduceInt(Op, X, *M, R);
  return reduceFloat(Op, X, *M, R);
}
