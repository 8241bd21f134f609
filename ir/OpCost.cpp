// Floating-point operation counts of graph ops (see OpCost.h).
#include "ir/OpCost.h"

using namespace dlc;

std::optional<double> dlc::elementCount(const TensorType &T,
                                        const DimSizes &S) {
  double N = 1;
  for (const Dim &D : T.dims()) {
    if (D.isStatic()) {
      N *= double(D.size());
      continue;
    }
    if (!D.isSymbol())
      return std::nullopt;
    auto It = S.find(D.sym());
    if (It == S.end())
      return std::nullopt;
    N *= double(It->second);
  }
  return N;
}

/// Product of a window's sizes (a kernel attribute, or a weight's spatial
/// dims from index 2 on); nullopt when a weight dim is not static.
static std::optional<double> windowSize(const TensorType &W) {
  double N = 1;
  for (unsigned I = 2; I < W.rank(); ++I) {
    if (!W.dim(I).isStatic())
      return std::nullopt;
    N *= double(W.dim(I).size());
  }
  return N;
}

static double product(llvm::ArrayRef<int64_t> Xs) {
  double N = 1;
  for (int64_t X : Xs)
    N *= double(X);
  return N;
}

/// Size of dim I of T under S, or nullopt.
static std::optional<double> dimSize(const TensorType &T, unsigned I,
                                     const DimSizes &S) {
  if (I >= T.rank())
    return std::nullopt;
  TensorType One(T.elem(), {T.dim(I)});
  return elementCount(One, S);
}

std::optional<double> dlc::opFlops(const Operation &Op, const DimSizes &S) {
  if (Op.numResults() == 0)
    return 0.0;
  const TensorType &Out = Op.result()->Type;
  auto OutN = elementCount(Out, S);
  auto InN = [&](unsigned I) { return elementCount(Op.operand(I)->Type, S); };
  // Ops with a cost of their own; every other op is priced by its traits
  // below, which is right for any elementwise, reduction or movement op a
  // later change adds.
  switch (Op.kind()) {
  case OpKind::MatMul: {
    const TensorType &A = Op.operand(0)->Type;
    auto K = dimSize(A, A.rank() - 1, S);
    if (!OutN || !K)
      return std::nullopt;
    return 2 * *OutN * *K;
  }
  case OpKind::Gemm: {
    const TensorType &A = Op.operand(0)->Type;
    unsigned KDim = Op.getBool("trans_a") ? 0 : 1;
    auto K = dimSize(A, KDim, S);
    if (!OutN || !K)
      return std::nullopt;
    return 2 * *OutN * *K + (Op.numOperands() > 2 ? *OutN : 0);
  }
  case OpKind::Conv: {
    // Each output element: C/group input channels times the window.
    const TensorType &W = Op.operand(1)->Type;
    auto Win = windowSize(W);
    auto CPerGroup = dimSize(W, 1, S);
    if (!OutN || !Win || !CPerGroup)
      return std::nullopt;
    return 2 * *OutN * *CPerGroup * *Win + (Op.numOperands() > 2 ? *OutN : 0);
  }
  case OpKind::ConvTranspose: {
    // Each input element scatters into M/group channels times the window.
    const TensorType &W = Op.operand(1)->Type;
    auto Win = windowSize(W);
    auto MPerGroup = dimSize(W, 1, S);
    auto In = InN(0);
    if (!In || !Win || !MPerGroup || !OutN)
      return std::nullopt;
    return 2 * *In * *MPerGroup * *Win + (Op.numOperands() > 2 ? *OutN : 0);
  }
  case OpKind::MaxPool:
  case OpKind::AvgPool:
    if (!OutN)
      return std::nullopt;
    return *OutN * product(Op.getInts("kernel"));
  case OpKind::GlobalAvgPool:
  case OpKind::GlobalMaxPool:
    return InN(0);
  case OpKind::BatchNorm: // a scale and a shift per element once folded
    if (!OutN)
      return std::nullopt;
    return 2 * *OutN;
  case OpKind::LayerNorm: // mean, variance, normalize, scale, shift
  case OpKind::Softmax:   // max, exp, sum, divide
  case OpKind::LogSoftmax:
  case OpKind::SoftmaxCrossEntropy:
    if (auto In = InN(0))
      return (Op.kind() == OpKind::LayerNorm ? 5 : 4) * *In;
    return std::nullopt;
  default:
    break;
  }
  unsigned Traits = Op.info().Traits;
  if (Traits & (Movement | Strings | Random))
    return 0.0;
  if (Traits & (Reduction | Loss))
    return InN(0);
  if (Traits & Elementwise)
    return OutN;
  return 0.0; // shape queries, constants, index computations
}
