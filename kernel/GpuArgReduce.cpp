// argmax / argmin on the GPU, built directly as GPU-mapped kernel IR: one
// block per output element, the axis split over the block's threads and
// the partial (value, index) pairs combined by warp shuffles, as the row
// reductions of --kir-gpu-rows combine theirs.
//
// 1. The grid has one block per output element (the product of the other
//    dims); block b takes the outer and inner coordinates b / inner and
//    b % inner. N threads (--kir-gpu-rows' block size; an axis of static
//    length L below N gets the next power of two of L, at least 32).
// 2. Thread t scans j = t, t + N, ... in order, keeping the best (value,
//    index) pair in per-thread scratch, by the combine below; a thread with
//    no element holds index -1 ("none").
// 3. combine(a, b) of pairs over disjoint index sets keeps the interpreter's
//    rules whatever the order: NaN is the extreme value and the lowest
//    index among NaNs wins; otherwise the larger (smaller for argmin) value
//    wins, and among equal values the lower index (the higher with
//    select_last_index). "none" loses to anything. It is commutative, so
//    both lanes of an xor pair agree.
// 4. Each warp combines its lanes by xor shuffles of the value and the
//    index at offsets 16 .. 1 (N/2 .. 1 below 32 threads). With one warp,
//    thread 0 stores the index. With W = N/32 > 1 warps, lane 0 of each
//    puts its pair in shared memory; after the one barrier every warp reads
//    them (lane l takes slot l % W), combines them by xor shuffles at
//    W/2 .. 1, and thread 0 stores the index.
#include "kernel/Lowering.h"
#include "kernel/LoweringUtil.h"

#include "ir/Location.h"
#include "ir/ShapeInference.h"

using namespace dlc;
using namespace dlc::kir;

namespace {
class ArgReduceBuilder {
public:
  ArgReduceBuilder(KBuilder &B, DType E, bool IsMax, bool Last)
      : B(B), E(E), IsMax(IsMax), Last(Last) {}

  struct Pair {
    KValue *V, *I;
  };

  /// Step 3: the pair that wins between A and B.
  Pair combine(Pair A, Pair Bp) {
    SType Bool = SType::of(DType::Bool), I64 = SType::of(DType::I64);
    auto S = [&](OpKind K, std::initializer_list<KValue *> Args) {
      return B.scalar(K, Args, Bool);
    };
    KValue *NoIndex = B.constFloat(DType::I64, 0);
    KValue *ANone = S(OpKind::Less, {A.I, NoIndex});
    KValue *BSome = S(OpKind::GreaterEqual, {Bp.I, NoIndex});
    KValue *Better = S(IsMax ? OpKind::Greater : OpKind::Less, {Bp.V, A.V});
    KValue *Tie = S(OpKind::And,
                    {S(OpKind::Equal, {Bp.V, A.V}),
                     S(Last ? OpKind::Greater : OpKind::Less, {Bp.I, A.I})});
    KValue *Wins = S(OpKind::Or, {Better, Tie});
    if (isFloat(E)) {
      KValue *ANum = S(OpKind::Equal, {A.V, A.V});
      KValue *BNum = S(OpKind::Equal, {Bp.V, Bp.V});
      KValue *BNaN = S(OpKind::Not, {BNum});
      // A NaN b wins over a number, and over a NaN of a higher index.
      KValue *NaNWins = S(OpKind::And,
                          {BNaN, S(OpKind::Or, {ANum, S(OpKind::Less,
                                                        {Bp.I, A.I})})});
      Wins = S(OpKind::Or,
               {NaNWins, S(OpKind::And, {ANum, S(OpKind::And, {BNum, Wins})})});
    }
    KValue *Take = S(OpKind::And, {BSome, S(OpKind::Or, {ANone, Wins})});
    return {B.scalar(OpKind::Where, {Take, Bp.V, A.V}, SType::of(E)),
            B.scalar(OpKind::Where, {Take, Bp.I, A.I}, I64)};
  }

  /// Step 4: P combined over groups of Width lanes by xor shuffles.
  Pair butterfly(Pair P, unsigned Width) {
    for (unsigned Off = Width / 2; Off >= 1; Off /= 2)
      P = combine(P, {B.shuffle(ShflMode::Xor, P.V, Off),
                      B.shuffle(ShflMode::Xor, P.I, Off)});
    return P;
  }

private:
  KBuilder &B;
  DType E;
  bool IsMax, Last;
};
} // namespace

llvm::Expected<std::unique_ptr<Kernel>>
dlc::lowerArgReduceForGpu(const Operation &Op, llvm::StringRef Name,
                          unsigned Threads) {
  bool IsMax = Op.kind() == OpKind::ArgMax;
  if (!IsMax && Op.kind() != OpKind::ArgMin)
    return makeError(Op.L, "'" + Op.mnemonic() + "' is not argmax or argmin");
  if (Threads < 2 || Threads > 1024 || (Threads & (Threads - 1)))
    return makeError(Op.L, "argmax/argmin on the GPU: threads per block must "
                           "be a power of two in 2..1024, got " +
                               std::to_string(Threads));
  const TensorType &XT = Op.operand(0)->Type;
  unsigned R = XT.rank();
  auto Axis = normalizeAxis(Op.getInt("axis"), R, Op.L);
  if (!Axis)
    return Axis.takeError();
  bool Keep = Op.getBool("keepdims"), Last = Op.getBool("select_last_index");
  DType E = XT.elem();
  if (E == DType::Bool)
    return makeError(Op.L, "argmax/argmin over bool is not lowered");
  // Step 1: the block size.
  unsigned N = Threads;
  if (XT.dim(*Axis).isStatic()) {
    int64_t Want = 32;
    while (Want < N && Want < XT.dim(*Axis).size())
      Want *= 2;
    N = unsigned(std::min<int64_t>(N, Want));
  }

  auto K = newKernel(Name);
  KBuilder B(*K);
  KValue *In = B.arg("in", dynamicLike(XT)),
         *Out = B.arg("out", dynamicLike(Op.result()->Type));
  auto C = [&](int64_t V) { return B.constIndex(V); };
  auto I = [&](IndexOp O, KValue *X, KValue *Y) { return B.index(O, X, Y); };
  KValue *Zero = C(0), *One = C(1);
  KValue *Rows = One;
  for (unsigned D = 0; D < R; ++D)
    if (D != *Axis)
      Rows = I(IndexOp::Mul, Rows, B.dim(In, D));
  B.launch(Rows, One, One, N);
  unsigned Warps = N > 32 ? N / 32 : 1;
  KValue *SV = nullptr, *SI = nullptr;
  if (Warps > 1) {
    SV = B.shared(TensorType(E, {Dim::fixed(Warps)}));
    SI = B.shared(TensorType(DType::I64, {Dim::fixed(Warps)}));
  }
  KValue *BV = B.scratch(TensorType(E, {Dim::fixed(1)}));
  KValue *BI = B.scratch(TensorType(DType::I64, {Dim::fixed(1)}));
  ArgReduceBuilder A(B, E, IsMax, Last);

  // The input index of element j of this block's axis, and the output's.
  std::vector<KValue *> Idx(R);
  std::vector<KValue *> OutIdx;
  auto coordinates = [&]() {
    KValue *Flat = B.gpuIndex(GpuIdKind::BlockId, 0);
    for (unsigned D = R; D-- > 0;) {
      if (D == *Axis)
        continue;
      KValue *Size = B.dim(In, D);
      Idx[D] = I(IndexOp::Rem, Flat, Size);
      Flat = I(IndexOp::Div, Flat, Size);
    }
    OutIdx.clear();
    for (unsigned D = 0; D < R; ++D)
      if (D != *Axis)
        OutIdx.push_back(Idx[D]);
      else if (Keep)
        OutIdx.push_back(Zero);
  };
  auto storeResult = [&](KValue *T, KValue *Index) {
    B.beginFor(T, One); // thread 0 only
    B.store(Index, Out, OutIdx);
    B.endFor();
  };

  // Steps 2 and 4 (the warps' own lanes).
  B.beginThreads();
  KValue *T = B.gpuIndex(GpuIdKind::ThreadId, 0);
  coordinates();
  B.store(B.constFloat(E, 0), BV, {Zero});
  B.store(B.constFloat(DType::I64, -1), BI, {Zero});
  KValue *J = B.beginFor(T, B.dim(In, *Axis), N);
  Idx[*Axis] = J;
  ArgReduceBuilder::Pair Cur = {B.load(BV, {Zero}), B.load(BI, {Zero})};
  ArgReduceBuilder::Pair Got = {
      B.load(In, Idx), B.scalar(OpKind::Cast, {J}, SType::of(DType::I64))};
  ArgReduceBuilder::Pair Next = A.combine(Cur, Got);
  B.store(Next.V, BV, {Zero});
  B.store(Next.I, BI, {Zero});
  B.endFor();
  ArgReduceBuilder::Pair P =
      A.butterfly({B.load(BV, {Zero}), B.load(BI, {Zero})}, std::min(N, 32u));
  if (Warps == 1) {
    storeResult(T, P.I);
    B.endThreads();
    return finishKernel(std::move(K));
  }
  KValue *Lane = I(IndexOp::Rem, T, C(32));
  B.beginFor(Lane, One); // lane 0: the warp's pair into shared memory
  KValue *W = I(IndexOp::Div, T, C(32));
  B.store(P.V, SV, {W});
  B.store(P.I, SI, {W});
  B.endFor();
  B.endThreads();

  // Step 4, across the warps.
  B.barrier();
  B.beginThreads();
  T = B.gpuIndex(GpuIdKind::ThreadId, 0);
  coordinates();
  KValue *Slot = I(IndexOp::Rem, I(IndexOp::Rem, T, C(32)), C(Warps));
  P = A.butterfly({B.load(SV, {Slot}), B.load(SI, {Slot})}, Warps);
  storeResult(T, P.I);
  B.endThreads();
  return finishKernel(std::move(K));
}
