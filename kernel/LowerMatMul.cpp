// matmul (numpy semantics: batched, broadcast batch dims, 1-D operands
// promoted) to kernel IR.
//
// 1. Loops over the result's batch dims and rows i; batch indices of each
//    operand use min(b, dim - 1), which covers broadcasting of size-1 dims.
// 2. The row of the result is zeroed, then accumulated in i-k-j order:
//    out[i, j] += a[i, k] * b[k, j]. The innermost loop walks contiguous
//    rows of b and of the result, so it vectorizes without reassociating
//    any sum, and the result matches a sequential dot product per element.
// This is the straightforward schedule; the tiled, packed micro-kernel
// replaces it for large sizes.
#include "kernel/Lowering.h"
#include "kernel/LoweringUtil.h"

#include "ir/Location.h"

using namespace dlc;
using namespace dlc::kir;

llvm::Expected<std::unique_ptr<Kernel>>
dlc::lowerMatMul(const Operation &Op, llvm::StringRef Name) {
  if (Op.kind() != OpKind::MatMul)
    return makeError(Op.L, "'" + Op.mnemonic() + "' is not matmul");
  const TensorType &AT = Op.operand(0)->Type, &BT = Op.operand(1)->Type,
                   &RT = Op.result()->Type;
  DType E = RT.elem();
  bool VecA = AT.rank() == 1, VecB = BT.rank() == 1;
  unsigned BatchA = VecA ? 0 : AT.rank() - 2, BatchB = VecB ? 0 : BT.rank() - 2;
  unsigned Batch = RT.rank() - (VecA ? 0 : 1) - (VecB ? 0 : 1);

  auto K = newKernel(Name);
  KBuilder B(*K);
  KValue *A = B.arg("a", dynamicLike(AT)), *Bm = B.arg("b", dynamicLike(BT)),
         *Out = B.arg("out", dynamicLike(RT));
  KValue *Zero = B.constIndex(0), *One = B.constIndex(1);
  KValue *Kx = B.dim(A, AT.rank() - 1);
  KValue *M = VecA ? nullptr : B.dim(A, AT.rank() - 2);
  KValue *N = VecB ? nullptr : B.dim(Bm, BT.rank() - 1);
  std::vector<KValue *> LastA, LastB;
  for (unsigned D = 0; D < BatchA; ++D)
    LastA.push_back(B.index(IndexOp::Sub, B.dim(A, D), One));
  for (unsigned D = 0; D < BatchB; ++D)
    LastB.push_back(B.index(IndexOp::Sub, B.dim(Bm, D), One));

  std::vector<KValue *> BatchIV;
  for (unsigned D = 0; D < Batch; ++D)
    BatchIV.push_back(B.beginFor(Zero, B.dim(Out, D)));
  auto batchIndex = [&](unsigned Rank, std::vector<KValue *> &Last) {
    std::vector<KValue *> Idx;
    for (unsigned D = 0; D < Rank; ++D)
      Idx.push_back(B.index(IndexOp::Min, BatchIV[D + Batch - Rank], Last[D]));
    return Idx;
  };
  std::vector<KValue *> ABatch = batchIndex(BatchA, LastA),
                        BBatch = batchIndex(BatchB, LastB);
  KValue *I = VecA ? nullptr : B.beginFor(Zero, M);
  auto outIndex = [&](KValue *J) {
    std::vector<KValue *> Idx(BatchIV);
    if (I)
      Idx.push_back(I);
    if (J)
      Idx.push_back(J);
    return Idx;
  };
  KValue *ZeroF = B.constFloat(E, 0.0);
  // Zero the result row (a single element when b is a vector).
  if (N) {
    KValue *J = B.beginFor(Zero, N);
    B.store(ZeroF, Out, outIndex(J));
    B.endFor();
  } else {
    B.store(ZeroF, Out, outIndex(nullptr));
  }
  KValue *Kv = B.beginFor(Zero, Kx);
  std::vector<KValue *> AIdx(ABatch);
  if (I)
    AIdx.push_back(I);
  AIdx.push_back(Kv);
  KValue *AV = B.load(A, AIdx);
  KValue *J = N ? B.beginFor(Zero, N) : nullptr;
  std::vector<KValue *> BIdx(BBatch);
  BIdx.push_back(Kv);
  if (J)
    BIdx.push_back(J);
  KValue *Prod = B.scalar(OpKind::Mul, {AV, B.load(Bm, BIdx)}, SType::of(E));
  std::vector<KValue *> OIdx = outIndex(J);
  KValue *Sum = B.scalar(OpKind::Add, {B.load(Out, OIdx), Prod}, SType::of(E));
  B.store(Sum, Out, OIdx);
  if (J)
    B.endFor();
  B.endFor(); // k
  if (I)
    B.endFor();
  for (unsigned D = 0; D < Batch; ++D)
    B.endFor();
  return finishKernel(std::move(K));
}
