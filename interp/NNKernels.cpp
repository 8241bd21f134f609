// Interpreter kernels for linear algebra and normalization: matmul (numpy
// semantics), gemm, batch_norm, layer_norm, softmax and log_softmax.
#include "interp/Kernels.h"

#include <cmath>

using namespace dlc;
using namespace dlc::interp;

//===----------------------------------------------------------------------===//
// matmul, gemm
//===----------------------------------------------------------------------===//

static llvm::Error matmul(const Operation &Op, const Tensor &A, const Tensor &B,
                          Tensor &R) {
  if (A.rank() == 0 || B.rank() == 0)
    return opError(Op, "operands must have rank at least 1");
  // 1-D operands are promoted: a[K] -> [1,K], b[K] -> [K,1].
  Sizes AS(A.shape().begin(), A.shape().end());
  Sizes BS(B.shape().begin(), B.shape().end());
  if (A.rank() == 1)
    AS.insert(AS.begin(), 1);
  if (B.rank() == 1)
    BS.push_back(1);
  int64_t M = AS[AS.size() - 2], K = AS.back();
  int64_t N = BS.back();
  if (BS[BS.size() - 2] != K)
    return opError(Op, "inner dims differ: " + shapeStr(A.shape()) + " @ " +
                           shapeStr(B.shape()));
  llvm::ArrayRef<int64_t> ABatch = llvm::ArrayRef(AS).drop_back(2);
  llvm::ArrayRef<int64_t> BBatch = llvm::ArrayRef(BS).drop_back(2);
  auto Batch = broadcastPair(Op, ABatch, BBatch);
  if (!Batch)
    return Batch.takeError();
  Sizes Expected = *Batch;
  if (A.rank() > 1)
    Expected.push_back(M);
  if (B.rank() > 1)
    Expected.push_back(N);
  if (llvm::Error E = expectShape(Op, R, Expected))
    return E;
  auto AStr = broadcastStrides(Op, ABatch, *Batch);
  auto BStr = broadcastStrides(Op, BBatch, *Batch);
  if (!AStr)
    return AStr.takeError();
  if (!BStr)
    return BStr.takeError();
  int64_t NumBatch = product(*Batch);
  Sizes Idx(Batch->size());
  for (int64_t Bt = 0; Bt < NumBatch; ++Bt) {
    unravel(Bt, *Batch, Idx);
    int64_t AOff = dot(Idx, *AStr) * M * K, BOff = dot(Idx, *BStr) * K * N;
    for (int64_t I = 0; I < M; ++I)
      for (int64_t J = 0; J < N; ++J) {
        double Acc = 0;
        for (int64_t P = 0; P < K; ++P)
          Acc += A.getF(AOff + I * K + P) * B.getF(BOff + P * N + J);
        R.setF((Bt * M + I) * N + J, Acc);
      }
  }
  return llvm::Error::success();
}

static llvm::Error gemm(const Operation &Op, TensorList In, Tensor &R) {
  const Tensor &A = *In[0], &B = *In[1];
  const Tensor *C = In.size() > 2 ? In[2] : nullptr;
  if (A.rank() != 2 || B.rank() != 2)
    return opError(Op, "a and b must be 2-D");
  bool TA = Op.getBool("trans_a"), TB = Op.getBool("trans_b");
  int64_t M = TA ? A.shape()[1] : A.shape()[0];
  int64_t K = TA ? A.shape()[0] : A.shape()[1];
  int64_t KB = TB ? B.shape()[1] : B.shape()[0];
  int64_t N = TB ? B.shape()[0] : B.shape()[1];
  if (K != KB)
    return opError(Op, "inner dims differ: " + std::to_string(K) + " vs " +
                           std::to_string(KB));
  if (llvm::Error E = expectShape(Op, R, {M, N}))
    return E;
  Sizes CStr;
  if (C) {
    auto S = broadcastStrides(Op, C->shape(), {M, N});
    if (!S)
      return S.takeError();
    CStr = *S;
  }
  double Alpha = Op.getFloat("alpha"), Beta = Op.getFloat("beta");
  for (int64_t I = 0; I < M; ++I)
    for (int64_t J = 0; J < N; ++J) {
      double Acc = 0;
      for (int64_t P = 0; P < K; ++P) {
        double AV = TA ? A.getF(P * M + I) : A.getF(I * K + P);
        double BV = TB ? B.getF(J * K + P) : B.getF(P * N + J);
        Acc += AV * BV;
      }
      Acc *= Alpha;
      if (C)
        Acc += Beta * C->getF(I * CStr[0] + J * CStr[1]);
      R.setF(I * N + J, Acc);
    }
  return llvm::Error::success();
}

llvm::Error interp::evalLinear(const Operation &Op, TensorList In,
                               ResultList Out) {
  if (Op.kind() == OpKind::MatMul)
    return matmul(Op, *In[0], *In[1], Out[0]);
  return gemm(Op, In, Out[0]);
}

//===----------------------------------------------------------------------===//
// batch_norm, layer_norm, softmax, log_softmax
//===----------------------------------------------------------------------===//

/// Batch norm; operands x, scale, bias, mean, var (ONNX order). With
/// `training`, mean and var are the batch's (biased variance over every
/// axis but 1) and operands 3 and 4 are not read.
static llvm::Error batchNorm(const Operation &Op, TensorList In, Tensor &R) {
  const Tensor &X = *In[0];
  if (X.rank() < 2)
    return opError(Op, "expected x[N,C,*]");
  int64_t C = X.shape()[1];
  for (unsigned I = 1; I < 5; ++I)
    if (In[I]->rank() != 1 || In[I]->shape()[0] != C)
      return opError(Op, "operand " + std::to_string(I) + " must have shape [" +
                             std::to_string(C) + "]");
  if (llvm::Error E = expectShape(Op, R, X.shape()))
    return E;
  const Tensor &Scale = *In[1], &Bias = *In[2];
  double Eps = Op.getFloat("epsilon");
  int64_t Inner = product(X.shape().drop_front(2));
  int64_t N = X.numElements();
  std::vector<double> Mean(C), Var(C);
  if (Op.getBool("training")) {
    int64_t Count = C ? N / C : 0;
    if (Count == 0)
      return opError(Op, "training mode needs at least one element per "
                         "channel, got x " + X.type().str());
    for (int64_t I = 0; I < N; ++I)
      Mean[(I / Inner) % C] += X.getF(I);
    for (double &M : Mean)
      M /= double(Count);
    for (int64_t I = 0; I < N; ++I) {
      double D = X.getF(I) - Mean[(I / Inner) % C];
      Var[(I / Inner) % C] += D * D;
    }
    for (double &V : Var)
      V /= double(Count);
  } else {
    for (int64_t Ch = 0; Ch < C; ++Ch) {
      Mean[Ch] = In[3]->getF(Ch);
      Var[Ch] = In[4]->getF(Ch);
    }
  }
  for (int64_t I = 0; I < N; ++I) {
    int64_t Ch = (I / Inner) % C;
    double Y = (X.getF(I) - Mean[Ch]) / std::sqrt(Var[Ch] + Eps);
    R.setF(I, Y * Scale.getF(Ch) + Bias.getF(Ch));
  }
  return llvm::Error::success();
}

/// Layer norm over dims axis.. with optional scale and bias broadcast to
/// the normalized shape.
static llvm::Error layerNorm(const Operation &Op, TensorList In, Tensor &R) {
  const Tensor &X = *In[0];
  auto Ax = axisIn(Op, Op.getInt("axis"), X.rank());
  if (!Ax)
    return Ax.takeError();
  if (llvm::Error E = expectShape(Op, R, X.shape()))
    return E;
  llvm::ArrayRef<int64_t> Norm = X.shape().drop_front(*Ax);
  Sizes SStr, BStr;
  for (unsigned I = 1; I < In.size(); ++I) {
    auto S = broadcastStrides(Op, In[I]->shape(), Norm);
    if (!S)
      return S.takeError();
    (I == 1 ? SStr : BStr) = *S;
  }
  double Eps = Op.getFloat("epsilon");
  int64_t Outer = product(X.shape().take_front(*Ax)), Len = product(Norm);
  Sizes Idx(Norm.size());
  for (int64_t O = 0; O < Outer; ++O) {
    int64_t Base = O * Len;
    double Mean = 0, Var = 0;
    for (int64_t J = 0; J < Len; ++J)
      Mean += X.getF(Base + J);
    Mean /= double(Len);
    for (int64_t J = 0; J < Len; ++J) {
      double D = X.getF(Base + J) - Mean;
      Var += D * D;
    }
    Var /= double(Len);
    double InvStd = 1.0 / std::sqrt(Var + Eps);
    for (int64_t J = 0; J < Len; ++J) {
      unravel(J, Norm, Idx);
      double Y = (X.getF(Base + J) - Mean) * InvStd;
      if (In.size() > 1)
        Y *= In[1]->getF(dot(Idx, SStr));
      if (In.size() > 2)
        Y += In[2]->getF(dot(Idx, BStr));
      R.setF(Base + J, Y);
    }
  }
  return llvm::Error::success();
}

/// Softmax or log-softmax along one axis, subtracting the maximum first.
static llvm::Error softmax(const Operation &Op, const Tensor &X, Tensor &R) {
  auto Ax = axisIn(Op, Op.getInt("axis"), X.rank());
  if (!Ax)
    return Ax.takeError();
  if (llvm::Error E = expectShape(Op, R, X.shape()))
    return E;
  bool Log = Op.kind() == OpKind::LogSoftmax;
  int64_t Outer = product(X.shape().take_front(*Ax));
  int64_t Len = X.shape()[*Ax];
  int64_t Inner = product(X.shape().drop_front(*Ax + 1));
  for (int64_t O = 0; O < Outer; ++O)
    for (int64_t In = 0; In < Inner; ++In) {
      int64_t Base = O * Len * Inner + In;
      double Max = -INFINITY;
      for (int64_t J = 0; J < Len; ++J)
        Max = std::fmax(Max, X.getF(Base + J * Inner));
      double Sum = 0;
      for (int64_t J = 0; J < Len; ++J)
        Sum += std::exp(X.getF(Base + J * Inner) - Max);
      for (int64_t J = 0; J < Len; ++J) {
        double Shifted = X.getF(Base + J * Inner) - Max;
        R.setF(Base + J * Inner,
               Log ? Shifted - std::log(Sum) : std::exp(Shifted) / Sum);
      }
    }
  return llvm::Error::success();
}

llvm::Error interp::evalNorm(const Operation &Op, TensorList In,
                             ResultList Out) {
  switch (Op.kind()) {
  case OpKind::BatchNorm:
    return batchNorm(Op, In, Out[0]);
  case OpKind::LayerNorm:
    return layerNorm(Op, In, Out[0]);
  default:
    return softmax(Op, *In[0], Out[0]);
  }
}
