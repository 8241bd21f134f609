// Reductions (sum, mean, max, min, prod over any axes, keepdims) to kernel
// IR.
//
// 1. Loop over the kept dims of the input (bounds read at run time).
// 2. A `local` accumulator starts at the reduction's identity (0, 1, -inf,
//    +inf, or the integer type's extremes).
// 3. Nested loops over the reduced dims fold each element in; max and min
//    use the NaN-propagating scalar ops, like the interpreter.
// 4. mean divides by the product of the reduced extents; the result is
//    stored at the kept indices (with 0 at reduced positions under keepdims).
#include "kernel/Lowering.h"
#include "kernel/LoweringUtil.h"

#include "ir/Location.h"
#include "ir/ShapeInference.h"

#include <cmath>
#include <limits>

using namespace dlc;
using namespace dlc::kir;

static double lowest(DType E) {
  switch (E) {
  case DType::I8: return std::numeric_limits<int8_t>::min();
  case DType::I16: return std::numeric_limits<int16_t>::min();
  case DType::I32: return std::numeric_limits<int32_t>::min();
  case DType::I64: return double(std::numeric_limits<int64_t>::min());
  case DType::U8: case DType::U16: case DType::U32: case DType::U64:
  case DType::Bool:
    return 0;
  case DType::F32: case DType::F64: case DType::F16: case DType::BF16:
    return -INFINITY;
  case DType::Str:
    break; // never lowered: ops on str tensors run as host steps
  case DType::F8E4M3FN: case DType::F8E4M3FNUZ: case DType::F8E5M2:
  case DType::F8E5M2FNUZ: case DType::F8E8M0: case DType::F4E2M1:
  case DType::I4: case DType::U4: case DType::I2: case DType::U2:
    break; // storage-only: the verifier rejects reductions over them
  }
  llvm_unreachable("bad dtype");
}

static double highest(DType E) {
  switch (E) {
  case DType::I8: return std::numeric_limits<int8_t>::max();
  case DType::I16: return std::numeric_limits<int16_t>::max();
  case DType::I32: return std::numeric_limits<int32_t>::max();
  // The largest double below 2^63 converts to an i64 without overflow.
  case DType::I64: return 9223372036854774784.0;
  case DType::U8: return 255;
  case DType::U16: return 65535;
  case DType::U32: return 4294967295.0;
  // The largest double below 2^64.
  case DType::U64: return 18446744073709549568.0;
  case DType::Bool: return 1;
  case DType::F32: case DType::F64: case DType::F16: case DType::BF16:
    return INFINITY;
  case DType::Str:
    break; // never lowered: ops on str tensors run as host steps
  case DType::F8E4M3FN: case DType::F8E4M3FNUZ: case DType::F8E5M2:
  case DType::F8E5M2FNUZ: case DType::F8E8M0: case DType::F4E2M1:
  case DType::I4: case DType::U4: case DType::I2: case DType::U2:
    break; // storage-only: the verifier rejects reductions over them
  }
  llvm_unreachable("bad dtype");
}

void kir::reductionCombine(OpKind RK, DType E, OpKind &Combine, double &Init) {
  if (RK == OpKind::ReduceSum || RK == OpKind::ReduceMean)
    Combine = OpKind::Add, Init = 0;
  else if (RK == OpKind::ReduceProd)
    Combine = OpKind::Mul, Init = 1;
  else if (RK == OpKind::ReduceMax)
    Combine = OpKind::Max, Init = lowest(E);
  else if (RK == OpKind::ReduceMin)
    Combine = OpKind::Min, Init = highest(E);
  else
    llvm_unreachable("not a plain reduction");
}

llvm::Expected<std::unique_ptr<Kernel>>
dlc::lowerReduction(const Operation &Op, llvm::StringRef Name) {
  OpKind RK = Op.kind();
  OpKind Combine;
  double Init;
  DType E = Op.operand(0)->Type.elem();
  if (RK != OpKind::ReduceSum && RK != OpKind::ReduceMean &&
      RK != OpKind::ReduceProd && RK != OpKind::ReduceMax &&
      RK != OpKind::ReduceMin)
    return makeError(Op.L, "'" + Op.mnemonic() + "' is not a plain reduction");
  reductionCombine(RK, E, Combine, Init);
  if (E == DType::Bool)
    return makeError(Op.L, "reductions over bool are not lowered");
  const TensorType &XT = Op.operand(0)->Type;
  unsigned R = XT.rank();
  llvm::SmallVector<bool, 4> Reduced(R, Op.getInts("axes").empty());
  for (int64_t A : Op.getInts("axes")) {
    auto N = normalizeAxis(A, R, Op.L);
    if (!N)
      return N.takeError();
    Reduced[*N] = true;
  }
  bool Keep = Op.getBool("keepdims");

  auto K = newKernel(Name);
  KBuilder B(*K);
  KValue *In = B.arg("in", dynamicLike(XT));
  KValue *Out = B.arg("out", dynamicLike(Op.result()->Type));
  KValue *Zero = B.constIndex(0);
  std::vector<KValue *> Ext(R);
  for (unsigned D = 0; D < R; ++D)
    Ext[D] = B.dim(In, D);

  std::vector<KValue *> Idx(R, nullptr), OutIdx;
  for (unsigned D = 0; D < R; ++D)
    if (!Reduced[D])
      Idx[D] = B.beginFor(Zero, Ext[D]);
  KValue *Acc = B.local(E);
  B.set(Acc, B.constFloat(E, Init));
  unsigned Inner = 0;
  for (unsigned D = 0; D < R; ++D)
    if (Reduced[D]) {
      Idx[D] = B.beginFor(Zero, Ext[D]);
      ++Inner;
    }
  KValue *X = B.load(In, Idx);
  B.set(Acc, B.scalar(Combine, {B.get(Acc), X}, SType::of(E)));
  // A float sum or product may be reordered (vectorized with partial sums).
  for (unsigned I = 0; I < Inner; ++I)
    B.endFor()->Marks.Reassociate =
        isFloat(E) && (Combine == OpKind::Add || Combine == OpKind::Mul);
  KValue *V = B.get(Acc);
  if (RK == OpKind::ReduceMean) {
    KValue *Count = B.constIndex(1);
    for (unsigned D = 0; D < R; ++D)
      if (Reduced[D])
        Count = B.index(IndexOp::Mul, Count, Ext[D]);
    KValue *CountF = B.scalar(OpKind::Cast, {Count}, SType::of(E));
    V = B.scalar(OpKind::Div, {V, CountF}, SType::of(E));
  }
  for (unsigned D = 0; D < R; ++D) {
    if (!Reduced[D])
      OutIdx.push_back(Idx[D]);
    else if (Keep)
      OutIdx.push_back(Zero);
  }
  B.store(V, Out, OutIdx);
  // Kept positions are independent: the outermost kept loop is parallel.
  KOp *Outer = nullptr;
  for (unsigned D = 0; D < R; ++D)
    if (!Reduced[D])
      Outer = B.endFor();
  if (Outer)
    Outer->Marks.Parallel = true;
  return finishKernel(std::move(K));
}

llvm::Expected<std::unique_ptr<Kernel>>
dlc::lowerArgReduce(const Operation &Op, llvm::StringRef Name) {
  bool IsMax = Op.kind() == OpKind::ArgMax;
  if (!IsMax && Op.kind() != OpKind::ArgMin)
    return makeError(Op.L, "'" + Op.mnemonic() + "' is not argmax or argmin");
  const TensorType &XT = Op.operand(0)->Type;
  unsigned R = XT.rank();
  auto Axis = normalizeAxis(Op.getInt("axis"), R, Op.L);
  if (!Axis)
    return Axis.takeError();
  bool Keep = Op.getBool("keepdims"), Last = Op.getBool("select_last_index");
  DType E = XT.elem();
  if (E == DType::Bool)
    return makeError(Op.L, "argmax/argmin over bool is not lowered");

  auto K = newKernel(Name);
  KBuilder B(*K);
  KValue *In = B.arg("in", dynamicLike(XT)), *Out = B.arg("out", dynamicLike(Op.result()->Type));
  KValue *Zero = B.constIndex(0);
  std::vector<KValue *> Idx(R), OutIdx;
  for (unsigned D = 0; D < R; ++D)
    if (D != *Axis)
      Idx[D] = B.beginFor(Zero, B.dim(In, D));
  // Start from element 0 of the axis (the executor rejects empty axes).
  Idx[*Axis] = Zero;
  KValue *BestV = B.local(E), *BestI = B.local(DType::I64);
  B.set(BestV, B.load(In, Idx));
  B.set(BestI, B.constFloat(DType::I64, 0));
  KValue *J = B.beginFor(B.constIndex(1), B.dim(In, *Axis));
  Idx[*Axis] = J;
  KValue *V = B.load(In, Idx), *Cur = B.get(BestV);
  SType Bool = SType::of(DType::Bool);
  OpKind Cmp = IsMax ? (Last ? OpKind::GreaterEqual : OpKind::Greater)
                     : (Last ? OpKind::LessEqual : OpKind::Less);
  KValue *Better = B.scalar(Cmp, {V, Cur}, Bool);
  if (isFloat(E)) {
    // NaN is the extreme value and the first NaN wins, as in the
    // interpreter: a NaN best is never replaced, a NaN candidate always wins.
    KValue *VNaN = B.scalar(OpKind::Not, {B.scalar(OpKind::Equal, {V, V}, Bool)}, Bool);
    KValue *CurOk = B.scalar(OpKind::Equal, {Cur, Cur}, Bool);
    Better = B.scalar(OpKind::And,
                      {CurOk, B.scalar(OpKind::Or, {VNaN, Better}, Bool)}, Bool);
  }
  B.set(BestV, B.scalar(OpKind::Where, {Better, V, Cur}, SType::of(E)));
  KValue *JI = B.scalar(OpKind::Cast, {J}, SType::of(DType::I64));
  B.set(BestI, B.scalar(OpKind::Where, {Better, JI, B.get(BestI)},
                        SType::of(DType::I64)));
  B.endFor();
  for (unsigned D = 0; D < R; ++D) {
    if (D != *Axis)
      OutIdx.push_back(Idx[D]);
    else if (Keep)
      OutIdx.push_back(Zero);
  }
  B.store(B.get(BestI), Out, OutIdx);
  KOp *Outer = nullptr;
  for (unsigned D = 0; D < R; ++D)
    if (D != *Axis)
      Outer = B.endFor();
  if (Outer)
    Outer->Marks.Parallel = true;
  return finishKernel(std::move(K));
}
