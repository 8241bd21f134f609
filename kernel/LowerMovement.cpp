// Movement and indexing ops to kernel IR: transpose (a copy loop over the
// result whose reads follow the inverse permutation) and one_hot.
#include "kernel/Lowering.h"
#include "kernel/LoweringUtil.h"

#include "ir/Location.h"

using namespace dlc;
using namespace dlc::kir;

llvm::Expected<std::unique_ptr<Kernel>>
dlc::lowerTranspose(const Operation &Op, llvm::StringRef Name) {
  if (Op.kind() != OpKind::Transpose)
    return makeError(Op.L, "'" + Op.mnemonic() + "' is not transpose");
  const TensorType &XT = Op.operand(0)->Type, &RT = Op.result()->Type;
  unsigned R = XT.rank();
  llvm::SmallVector<int64_t, 4> Perm(Op.getInts("perm"));
  if (Perm.empty())
    for (unsigned I = 0; I < R; ++I)
      Perm.push_back(R - 1 - I);
  auto K = newKernel(Name);
  KBuilder B(*K);
  KValue *In = B.arg("in", dynamicLike(XT)), *Out = B.arg("out", dynamicLike(RT));
  KValue *Zero = B.constIndex(0);
  std::vector<KValue *> Ext;
  for (unsigned D = 0; D < R; ++D)
    Ext.push_back(B.dim(Out, D));
  std::vector<KValue *> OutIdx(R), InIdx(R);
  // The result dim that walks the input's last (contiguous) dim.
  unsigned Across = 0;
  while (Across < R && Perm[Across] != int64_t(R) - 1)
    ++Across;
  unsigned Loops = 0;
  auto loop = [&](KValue *Lo, KValue *Hi, int64_t Step = 1) {
    ++Loops;
    return B.beginFor(Lo, Hi, Step);
  };
  if (R < 2 || Across >= R - 1) {
    // The last dim stays last: rows are copied as they are.
    for (unsigned D = 0; D < R; ++D)
      OutIdx[D] = loop(Zero, Ext[D]);
  } else {
    // Tiles of T x T elements over the result's last dim and the dim that
    // walks the input's last one: the stores run along the result's rows
    // and the T input rows a tile reads stay in L1 while it does, instead
    // of fetching each input line again for every element it holds (a
    // [9216, 128] transpose touched every line 16 times). The innermost
    // loop stays scalar: LLVM vectorized it with gathers, three times the
    // code (a tenth of EfficientNet-B0's compile time went to its 18
    // transposes) for no speed.
    const int64_t T = 16;
    KValue *Tc = B.constIndex(T);
    for (unsigned D = 0; D + 1 < R; ++D)
      if (D != Across)
        OutIdx[D] = loop(Zero, Ext[D]);
    KValue *TA = loop(Zero, Ext[Across], T);
    KValue *TL = loop(Zero, Ext[R - 1], T);
    OutIdx[Across] = loop(TA, B.index(IndexOp::Min, B.index(IndexOp::Add, TA, Tc),
                                      Ext[Across]));
    OutIdx[R - 1] = loop(TL, B.index(IndexOp::Min, B.index(IndexOp::Add, TL, Tc),
                                     Ext[R - 1]));
  }
  // Result dim D is input dim Perm[D].
  for (unsigned D = 0; D < R; ++D)
    InIdx[Perm[D]] = OutIdx[D];
  B.store(B.load(In, InIdx), Out, OutIdx);
  bool Tiled = !(R < 2 || Across >= R - 1);
  for (unsigned D = 0; D < Loops; ++D) {
    KOp *L = B.endFor();
    L->Marks.Parallel = D + 1 == Loops;
    if (D == 0 && Tiled)
      L->Marks.Vectorize = 1;
  }
  return finishKernel(std::move(K));
}

llvm::Expected<std::unique_ptr<Kernel>>
dlc::lowerOneHot(const Operation &Op, llvm::StringRef Name) {
  if (Op.kind() != OpKind::OneHot)
    return makeError(Op.L, "'" + Op.mnemonic() + "' is not one_hot");
  const TensorType &IT = Op.operand(0)->Type, &RT = Op.result()->Type;
  auto K = newKernel(Name);
  KBuilder B(*K);
  KValue *Idx = B.arg("indices", dynamicLike(IT));
  // A second operand only supplies the depth (the result's last dim).
  if (Op.numOperands() == 2)
    B.arg("like", dynamicLike(Op.operand(1)->Type));
  KValue *Out = B.arg("out", dynamicLike(RT));
  KValue *Zero = B.constIndex(0);
  std::vector<KValue *> IVs;
  for (unsigned D = 0; D < IT.rank(); ++D)
    IVs.push_back(B.beginFor(Zero, B.dim(Out, D)));
  KValue *Label = B.load(Idx, IVs);
  if (IT.elem() != DType::I64)
    Label = B.scalar(OpKind::Cast, {Label}, SType::of(DType::I64));
  KValue *C = B.beginFor(Zero, B.dim(Out, IT.rank()));
  // Indices compare as i64 with the class counter; out-of-range rows stay 0.
  KValue *Hit = B.scalar(OpKind::Equal, {Label, C}, SType::of(DType::Bool));
  std::vector<KValue *> OutIdx(IVs);
  OutIdx.push_back(C);
  B.store(B.scalar(OpKind::Cast, {Hit}, SType::of(RT.elem())), Out, OutIdx);
  KOp *Outer = B.endFor();
  for (unsigned D = 0; D < IT.rank(); ++D)
    Outer = B.endFor();
  Outer->Marks.Parallel = true;
  return finishKernel(std::move(K));
}
