// nonzero on the GPU, built directly as GPU-mapped kernel IR: a count pass,
// an exclusive prefix sum of the counts in shared memory and a scatter pass,
// in one block. The result's size (the count) was planned on the host
// before the launch (exec/Steps.h: the planner evaluates data-sized ops),
// so the kernel only fills the planned i64[rank, count].
//
// 1. One block of N threads (N a power of two). The flattened operand's T
//    elements are cut into N consecutive segments of S = ceil(T / N): thread
//    t owns [min(t*S, T), min(t*S + S, T)), so the segments, in thread
//    order, are the elements in row-major order.
// 2. Count pass: thread t counts the nonzero elements of its segment (x !=
//    0 as the interpreter reads it: NaN counts, -0.0 does not) into its
//    scratch and its slot of shared buffer A.
// 3. Prefix sum: log2(N) rounds of a Hillis-Steele scan between shared
//    buffers A and B, a barrier after each round: after round k, slot t
//    holds the sum of slots t-2^(k+1)+1 .. t. The exclusive sum of thread
//    t, its first output column, is the inclusive one less its own count.
// 4. Scatter pass: thread t walks its segment again; each nonzero element
//    writes its coordinates (the flat index unflattened by the operand's
//    dims) into column c of the result, c counting up from its first
//    column. A loop of 0 or 1 trips stands for the `if`.
//
// One block bounds the kernel to one multiprocessor; the passes read each
// element twice. A multi-block version needs a device-wide scan (a second
// launch, or counts published between blocks).
#include "kernel/GpuMapping.h"
#include "kernel/Lowering.h"
#include "kernel/LoweringUtil.h"

#include "ir/Location.h"

using namespace dlc;
using namespace dlc::kir;

/// Whether X (of element type E) is nonzero, as a bool: compared in its own
/// type, or as f32 for the 16-bit and narrower floats (exactly).
static KValue *isNonZero(KBuilder &B, KValue *X, DType E) {
  SType Bool = SType::of(DType::Bool);
  if (E != DType::F32 && E != DType::F64 && E != DType::Bool &&
      (isFloat(E) || isNarrow(E))) {
    X = B.scalar(OpKind::Cast, {X}, SType::of(DType::F32));
    E = DType::F32;
  }
  KValue *Zero = B.constFloat(E, 0);
  return B.scalar(OpKind::Not, {B.scalar(OpKind::Equal, {X, Zero}, Bool)},
                  Bool);
}

llvm::Expected<std::unique_ptr<Kernel>>
dlc::lowerNonZeroForGpu(const Operation &Op, llvm::StringRef Name,
                        unsigned Threads) {
  if (Op.kind() != OpKind::NonZero)
    return makeError(Op.L, "'" + Op.mnemonic() + "' is not nonzero");
  if (Threads < 2 || Threads > 1024 || (Threads & (Threads - 1)))
    return makeError(Op.L, "nonzero on the GPU: threads per block must be a "
                           "power of two in 2..1024, got " +
                               std::to_string(Threads));
  const TensorType &XT = Op.operand(0)->Type;
  DType E = XT.elem();
  if (E == DType::Str)
    return makeError(Op.L, "nonzero on the GPU: str tensors stay on the host");
  unsigned R = XT.rank();
  auto K = newKernel(Name);
  KBuilder B(*K);
  KValue *In = B.arg("in", dynamicLike(XT)),
         *Out = B.arg("out", dynamicLike(Op.result()->Type));
  auto C = [&](int64_t V) { return B.constIndex(V); };
  auto I = [&](IndexOp O, KValue *X, KValue *Y) { return B.index(O, X, Y); };
  SType I64 = SType::of(DType::I64);
  // Step 1: the segments (pure index arithmetic, before the launch).
  KValue *Zero = C(0), *One = C(1);
  KValue *Total = One;
  for (unsigned D = 0; D < R; ++D)
    Total = I(IndexOp::Mul, Total, B.dim(In, D));
  KValue *N = C(Threads);
  KValue *Seg = ceilDiv(B, Total, N);
  B.launch(One, One, One, Threads);
  KValue *Sh[2] = {B.shared(TensorType(DType::I64, {Dim::fixed(Threads)})),
                   B.shared(TensorType(DType::I64, {Dim::fixed(Threads)}))};
  KValue *Own = B.scratch(TensorType(DType::I64, {Dim::fixed(1)}));
  KValue *Col = B.scratch(TensorType(DType::I64, {Dim::fixed(1)}));

  // The flat element J of the operand, and thread T's segment.
  auto element = [&](KValue *J) {
    std::vector<KValue *> Idx(R);
    KValue *Rest = J;
    for (unsigned D = R; D-- > 1;) {
      KValue *Size = B.dim(In, D);
      Idx[D] = I(IndexOp::Rem, Rest, Size);
      Rest = I(IndexOp::Div, Rest, Size);
    }
    if (R)
      Idx[0] = Rest; // J < T: no remainder needed
    return Idx;
  };
  auto segment = [&](KValue *T) -> std::pair<KValue *, KValue *> {
    KValue *Lo = I(IndexOp::Min, I(IndexOp::Mul, T, Seg), Total);
    return {Lo, I(IndexOp::Min, I(IndexOp::Add, Lo, Seg), Total)};
  };

  // Step 2.
  B.beginThreads();
  {
    KValue *T = B.gpuIndex(GpuIdKind::ThreadId, 0);
    auto [Lo, Hi] = segment(T);
    B.store(B.constFloat(DType::I64, 0), Own, {Zero});
    KValue *J = B.beginFor(Lo, Hi);
    KValue *NZ = isNonZero(B, B.load(In, element(J)), E);
    KValue *Cnt = B.load(Own, {Zero});
    B.store(
        B.scalar(OpKind::Add, {Cnt, B.scalar(OpKind::Cast, {NZ}, I64)}, I64),
        Own, {Zero});
    B.endFor();
    B.store(B.load(Own, {Zero}), Sh[0], {T});
  }
  B.endThreads();
  B.barrier();

  // Step 3.
  unsigned Cur = 0;
  for (unsigned Off = 1; Off < Threads; Off *= 2, Cur ^= 1) {
    B.beginThreads();
    KValue *T = B.gpuIndex(GpuIdKind::ThreadId, 0);
    KValue *Mine = B.load(Sh[Cur], {T});
    // Slot t - Off when there is one (the index clamped at 0 otherwise).
    KValue *From = I(IndexOp::Max, I(IndexOp::Sub, T, C(Off)), Zero);
    KValue *Other = B.load(Sh[Cur], {From});
    KValue *Has = B.scalar(
        OpKind::GreaterEqual,
        {B.scalar(OpKind::Cast, {T}, I64), B.constFloat(DType::I64, Off)},
        SType::of(DType::Bool));
    KValue *Add =
        B.scalar(OpKind::Where, {Has, Other, B.constFloat(DType::I64, 0)}, I64);
    B.store(B.scalar(OpKind::Add, {Mine, Add}, I64), Sh[Cur ^ 1], {T});
    B.endThreads();
    B.barrier();
  }

  // Step 4.
  B.beginThreads();
  {
    KValue *T = B.gpuIndex(GpuIdKind::ThreadId, 0);
    auto [Lo, Hi] = segment(T);
    KValue *Incl = B.load(Sh[Cur], {T});
    B.store(B.scalar(OpKind::Sub, {Incl, B.load(Own, {Zero})}, I64), Col,
            {Zero});
    KValue *J = B.beginFor(Lo, Hi);
    std::vector<KValue *> Idx = element(J);
    KValue *NZ = isNonZero(B, B.load(In, Idx), E);
    KValue *Trips =
        B.scalar(OpKind::Where,
                 {NZ, B.constFloat(DType::I64, 1), B.constFloat(DType::I64, 0)},
                 SType::index());
    B.beginFor(Zero, Trips); // if nonzero
    KValue *Cl = B.load(Col, {Zero});
    KValue *ClIdx = B.scalar(OpKind::Cast, {Cl}, SType::index());
    for (unsigned D = 0; D < R; ++D)
      B.store(B.scalar(OpKind::Cast, {Idx[D]}, I64), Out, {C(D), ClIdx});
    B.store(B.scalar(OpKind::Add, {Cl, B.constFloat(DType::I64, 1)}, I64), Col,
            {Zero});
    B.endFor();
    B.endFor();
  }
  B.endThreads();
  return finishKernel(std::move(K));
}
