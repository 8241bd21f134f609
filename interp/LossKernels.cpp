// Interpreter kernels for the loss ops: softmax_cross_entropy (integer or
// probability labels), nll_loss, mse_loss and bce_loss, with reduction
// "mean", "sum" or "none".
#include "interp/Kernels.h"

#include <cmath>

using namespace dlc;
using namespace dlc::interp;

/// Writes per-item losses L (shaped Shape) reduced per the op's reduction.
static llvm::Error reduceLoss(const Operation &Op, const std::vector<double> &L,
                              llvm::ArrayRef<int64_t> Shape, Tensor &R) {
  llvm::StringRef Red = Op.getString("reduction");
  if (Red == "none") {
    if (llvm::Error E = expectShape(Op, R, Shape))
      return E;
    for (size_t I = 0; I < L.size(); ++I)
      R.setF(I, L[I]);
    return llvm::Error::success();
  }
  if (Red != "mean" && Red != "sum")
    return opError(Op,
                   "reduction must be \"mean\", \"sum\" or \"none\", not \"" +
                       Red + "\"");
  if (llvm::Error E = expectShape(Op, R, {}))
    return E;
  double Sum = 0;
  for (double V : L)
    Sum += V;
  R.setF(0, Red == "mean" ? Sum / double(L.size()) : Sum);
  return llvm::Error::success();
}

/// Reads integer label I, checking it is a class index below C.
static llvm::Expected<int64_t> labelAt(const Operation &Op, const Tensor &Y,
                                       int64_t I, int64_t C) {
  int64_t Label = Y.getI(I);
  if (Label < 0 || Label >= C)
    return opError(Op, "label " + std::to_string(Label) + " at index " +
                           std::to_string(I) + " is out of range [0, " +
                           std::to_string(C) + ")");
  return Label;
}

static llvm::Error softmaxCrossEntropy(const Operation &Op, const Tensor &X,
                                       const Tensor &Y, Tensor &R) {
  if (X.rank() != 2)
    return opError(Op, "logits must be [N,C]");
  int64_t N = X.shape()[0], C = X.shape()[1];
  bool IntLabels = !isFloat(Y.elem());
  if (IntLabels ? Y.shape() != llvm::ArrayRef<int64_t>{N}
                : Y.shape() != X.shape())
    return opError(Op, "labels " + shapeStr(Y.shape()) +
                           " do not match logits " + shapeStr(X.shape()));
  std::vector<double> L(N, 0.0), LogP(C);
  for (int64_t I = 0; I < N; ++I) {
    double Max = -INFINITY;
    for (int64_t J = 0; J < C; ++J)
      Max = std::fmax(Max, X.getF(I * C + J));
    double Sum = 0;
    for (int64_t J = 0; J < C; ++J)
      Sum += std::exp(X.getF(I * C + J) - Max);
    for (int64_t J = 0; J < C; ++J)
      LogP[J] = X.getF(I * C + J) - Max - std::log(Sum);
    if (IntLabels) {
      auto Label = labelAt(Op, Y, I, C);
      if (!Label)
        return Label.takeError();
      L[I] = -LogP[*Label];
      continue;
    }
    for (int64_t J = 0; J < C; ++J) {
      double P = Y.getF(I * C + J);
      if (P != 0) // 0 * log(0) counts as 0
        L[I] -= P * LogP[J];
    }
  }
  return reduceLoss(Op, L, {N}, R);
}

static llvm::Error nllLoss(const Operation &Op, const Tensor &X,
                           const Tensor &Y, Tensor &R) {
  if (X.rank() != 2)
    return opError(Op, "log-probabilities must be [N,C]");
  int64_t N = X.shape()[0], C = X.shape()[1];
  if (isFloat(Y.elem()) || Y.shape() != llvm::ArrayRef<int64_t>{N})
    return opError(Op, "labels must be integers of shape [" +
                           std::to_string(N) + "]");
  std::vector<double> L(N);
  for (int64_t I = 0; I < N; ++I) {
    auto Label = labelAt(Op, Y, I, C);
    if (!Label)
      return Label.takeError();
    L[I] = -X.getF(I * C + *Label);
  }
  return reduceLoss(Op, L, {N}, R);
}

static llvm::Error pointwiseLoss(const Operation &Op, const Tensor &P,
                                 const Tensor &T, Tensor &R) {
  if (P.shape() != T.shape())
    return opError(Op, "prediction " + shapeStr(P.shape()) + " and target " +
                           shapeStr(T.shape()) + " differ in shape");
  bool Mse = Op.kind() == OpKind::MseLoss;
  std::vector<double> L(P.numElements());
  for (size_t I = 0; I < L.size(); ++I) {
    double PV = P.getF(I), TV = T.getF(I);
    if (Mse) {
      L[I] = (PV - TV) * (PV - TV);
      continue;
    }
    double LogP = std::fmax(std::log(PV), -100.0);
    double Log1mP = std::fmax(std::log(1.0 - PV), -100.0);
    L[I] = -(TV * LogP + (1.0 - TV) * Log1mP);
  }
  return reduceLoss(Op, L, P.shape(), R);
}

llvm::Error interp::evalLoss(const Operation &Op, TensorList In,
                             ResultList Out) {
  switch (Op.kind()) {
  case OpKind::SoftmaxCrossEntropy:
    return softmaxCrossEntropy(Op, *In[0], *In[1], Out[0]);
  case OpKind::NllLoss:
    return nllLoss(Op, *In[0], *In[1], Out[0]);
  default:
    return pointwiseLoss(Op, *In[0], *In[1], Out[0]);
  }
}
