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

namespace {
/// Sizes the dims of the values an op reads and writes.
using SizeFn = llvm::function_ref<std::optional<double>(const Value &, unsigned)>;

std::optional<double> elements(const Value &V, SizeFn Size) {
  double N = 1;
  for (unsigned D = 0; D < V.Type.rank(); ++D) {
    auto S = Size(V, D);
    if (!S)
      return std::nullopt;
    N *= *S;
  }
  return N;
}

/// Product of a weight's spatial dims (from index 2 on).
std::optional<double> windowSize(const Value &W, SizeFn Size) {
  double N = 1;
  for (unsigned I = 2; I < W.Type.rank(); ++I) {
    auto S = Size(W, I);
    if (!S)
      return std::nullopt;
    N *= *S;
  }
  return N;
}

double product(llvm::ArrayRef<int64_t> Xs) {
  double N = 1;
  for (int64_t X : Xs)
    N *= double(X);
  return N;
}

std::optional<double> flops(const Operation &Op, SizeFn Size) {
  if (Op.numResults() == 0)
    return 0.0;
  auto OutN = elements(*Op.result(), Size);
  auto InN = [&](unsigned I) { return elements(*Op.operand(I), Size); };
  auto dimOf = [&](unsigned Operand, unsigned D) -> std::optional<double> {
    const Value &V = *Op.operand(Operand);
    if (D >= V.Type.rank())
      return std::nullopt;
    return Size(V, D);
  };
  // Ops with a cost of their own; every other op is priced by its traits
  // below, which is right for any elementwise, reduction or movement op a
  // later change adds.
  switch (Op.kind()) {
  case OpKind::MatMul: {
    auto K = dimOf(0, Op.operand(0)->Type.rank() - 1);
    if (!OutN || !K)
      return std::nullopt;
    return 2 * *OutN * *K;
  }
  case OpKind::Gemm: {
    auto K = dimOf(0, Op.getBool("trans_a") ? 0 : 1);
    if (!OutN || !K)
      return std::nullopt;
    return 2 * *OutN * *K + (Op.numOperands() > 2 ? *OutN : 0);
  }
  case OpKind::Conv: {
    // Each output element: C/group input channels times the window.
    auto Win = windowSize(*Op.operand(1), Size);
    auto CPerGroup = dimOf(1, 1);
    if (!OutN || !Win || !CPerGroup)
      return std::nullopt;
    return 2 * *OutN * *CPerGroup * *Win + (Op.numOperands() > 2 ? *OutN : 0);
  }
  case OpKind::ConvTranspose: {
    // Each input element scatters into M/group channels times the window.
    auto Win = windowSize(*Op.operand(1), Size);
    auto MPerGroup = dimOf(1, 1);
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
} // namespace

std::optional<double> dlc::opFlops(const Operation &Op, const DimSizes &S) {
  return flops(Op, [&](const Value &V, unsigned D) -> std::optional<double> {
    const Dim &Di = V.Type.dim(D);
    if (Di.isStatic())
      return double(Di.size());
    if (!Di.isSymbol())
      return std::nullopt;
    auto It = S.find(Di.sym());
    if (It == S.end())
      return std::nullopt;
    return double(It->second);
  });
}

std::optional<double> dlc::opFlops(const Operation &Op,
                                   const ValueShapes &Shapes) {
  return flops(Op, [&](const Value &V, unsigned D) -> std::optional<double> {
    auto It = Shapes.find(&V);
    if (It != Shapes.end() && D < It->second.size())
      return double(It->second[D]);
    const Dim &Di = V.Type.dim(D);
    if (Di.isStatic())
      return double(Di.size());
    return std::nullopt;
  });
}
