// The semantics of if, loop and scan over a region runner.
//
// 1. if: read the condition, run the taken region on the captures.
// 2. loop: iterate while iter < trip and cond, feeding the carried values
//    back; stop with a located error after maxLoopIterations(); stack the
//    scan slices on a new axis 0.
// 3. scan: slice every scan input along its axis (from the end when its
//    direction is 1), run the body per slice with the states, stack each
//    output's slices along its axis (reversed when its direction is 1).
// A loop or scan that runs zero times gives scan outputs of length 0 with
// the other dims from shape inference (0 where they are unknown).
#include "interp/ControlFlow.h"
#include "interp/Interpreter.h"

#include "ir/ControlFlow.h"
#include "ir/ShapeInference.h"

#include <climits>
#include <cstring>

using namespace dlc;

namespace {

llvm::Error cfError(const Operation &Op, const llvm::Twine &Msg) {
  return makeError(Op.L, "'" + Op.mnemonic() + "': " + Msg);
}

/// Operand I as a one-element scalar.
llvm::Expected<int64_t> cfScalarValue(const Operation &Op, const Tensor &T,
                                      const char *What) {
  if (T.numElements() != 1)
    return cfError(Op, llvm::Twine(What) + " must have one element, got " +
                           T.type().str());
  return T.getI(0);
}

int64_t cfProduct(llvm::ArrayRef<int64_t> S) {
  int64_t N = 1;
  for (int64_t D : S)
    N *= D;
  return N;
}

/// X[..., Idx, ...] along Axis, without that axis.
Tensor cfSliceAt(const Tensor &X, unsigned Axis, int64_t Idx) {
  llvm::SmallVector<int64_t, 4> S(X.shape().begin(), X.shape().end());
  int64_t Len = S[Axis];
  S.erase(S.begin() + Axis);
  Tensor R(X.elem(), S);
  int64_t Outer = cfProduct(X.shape().take_front(Axis));
  size_t Inner = cfProduct(X.shape().drop_front(Axis + 1)) * dtypeSize(X.elem());
  for (int64_t O = 0; O < Outer; ++O)
    if (Inner)
      std::memcpy(R.data() + O * Inner, X.data() + (O * Len + Idx) * Inner,
                  Inner);
  return R;
}

/// The slices Parts (equal shapes) stacked along a new axis Axis; Empty is
/// the result's type when there are none.
llvm::Expected<Tensor> cfStack(const Operation &Op, llvm::ArrayRef<Tensor> Parts,
                               unsigned Axis, const TensorType &Empty,
                               unsigned Which) {
  if (Parts.empty()) {
    llvm::SmallVector<int64_t, 4> S;
    for (const Dim &D : Empty.dims())
      S.push_back(D.isStatic() ? D.size() : 0);
    S[Axis] = 0;
    return Tensor(Empty.elem(), S);
  }
  const Tensor &First = Parts[0];
  for (const Tensor &P : Parts)
    if (P.type() != First.type())
      return cfError(Op, "scan output " + llvm::Twine(Which) +
                             " changes from " + First.type().str() + " to " +
                             P.type().str() + " between iterations; its "
                             "slices must have one shape");
  llvm::SmallVector<int64_t, 4> S(First.shape().begin(), First.shape().end());
  S.insert(S.begin() + Axis, int64_t(Parts.size()));
  Tensor R(First.elem(), S);
  int64_t Outer = cfProduct(First.shape().take_front(Axis));
  size_t Inner = cfProduct(First.shape().drop_front(Axis)) *
                 dtypeSize(First.elem());
  int64_t N = Parts.size();
  for (int64_t T = 0; T < N; ++T)
    for (int64_t O = 0; O < Outer; ++O)
      if (Inner)
        std::memcpy(R.data() + (O * N + T) * Inner,
                    Parts[T].data() + O * Inner, Inner);
  return R;
}

/// The op's result types for these operands (for empty scan outputs).
llvm::SmallVector<TensorType, 1>
cfResultTypes(const Operation &Op, llvm::ArrayRef<const Tensor *> Operands) {
  llvm::SmallVector<TensorType, 4> In;
  for (const Tensor *T : Operands)
    In.push_back(T->type());
  auto R = inferResultTypes(Op, In, Operands);
  if (R)
    return *R;
  llvm::consumeError(R.takeError());
  llvm::SmallVector<TensorType, 1> Declared;
  for (auto &V : Op.Results)
    Declared.push_back(V->Type);
  return Declared;
}

/// Runs region R; its errors are prefixed with Op's location, the region
/// and the iteration (Iter >= 0), so that they point into the model.
llvm::Expected<std::vector<Tensor>>
cfRun(const Operation &Op, RegionRunFn Run, const Function &R,
      llvm::ArrayRef<Tensor> In, int64_t Iter = -1) {
  auto Out = Run(R, In);
  if (!Out)
    return cfError(Op, (Iter >= 0 ? "iteration " + std::to_string(Iter) +
                                        " of region '"
                                  : std::string("region '")) +
                           R.Name + "': " + llvm::toString(Out.takeError()));
  if (Out->size() != R.Outputs.size())
    return cfError(Op, "region '" + R.Name + "' returned " +
                           llvm::Twine(Out->size()) + " values, expected " +
                           llvm::Twine(R.Outputs.size()));
  return Out;
}

llvm::Expected<std::vector<Tensor>>
runIf(const Operation &Op, llvm::ArrayRef<const Tensor *> Operands,
      RegionRunFn Run) {
  auto C = cfScalarValue(Op, *Operands[0], "the condition");
  if (!C)
    return C.takeError();
  std::vector<Tensor> In;
  for (const Tensor *T : Operands.drop_front(1))
    In.push_back(*T);
  return cfRun(Op, Run, *Op.Regions[*C ? 0 : 1], In);
}

llvm::Expected<std::vector<Tensor>>
runLoop(const Operation &Op, llvm::ArrayRef<const Tensor *> Operands,
        RegionRunFn Run) {
  auto Trip = cfScalarValue(Op, *Operands[0], "the trip count");
  if (!Trip)
    return Trip.takeError();
  auto Cond0 = cfScalarValue(Op, *Operands[1], "the condition");
  if (!Cond0)
    return Cond0.takeError();
  const Function &Body = *Op.Regions[0];
  unsigned NC = Op.getInt("num_carried");
  unsigned NScan = Body.Outputs.size() - 1 - NC;
  // In: iter, cond, carried..., captures... (captures stay in place).
  std::vector<Tensor> In;
  In.push_back(Tensor(DType::I64, {}));
  In.push_back(Tensor(DType::Bool, {}));
  for (const Tensor *T : Operands.drop_front(2))
    In.push_back(*T);
  std::vector<std::vector<Tensor>> Scans(NScan);
  bool Cond = *Cond0 != 0;
  int64_t Max = maxLoopIterations();
  uint64_t ScanBytes = 0;
  for (int64_t I = 0; I < *Trip && Cond; ++I) {
    if (I >= Max) {
      std::string TripText = *Trip == INT64_MAX
                                 ? std::string("no trip count")
                                 : "trip count " + std::to_string(*Trip);
      return cfError(Op, "the loop ran " + llvm::Twine(Max) +
                             " iterations and its condition still holds (" +
                             TripText + "); loops are bounded by "
                             "DLC_MAX_LOOP_ITERATIONS (default 2^20): set "
                             "it higher if this loop is meant to run longer");
    }
    In[0].setI(0, I);
    In[1].setI(0, 1);
    auto Out = cfRun(Op, Run, Body, In, I);
    if (!Out)
      return Out.takeError();
    auto Next = cfScalarValue(Op, (*Out)[0], "the body's condition result");
    if (!Next)
      return Next.takeError();
    Cond = *Next != 0;
    for (unsigned K = 0; K < NC; ++K)
      In[2 + K] = std::move((*Out)[1 + K]);
    for (unsigned K = 0; K < NScan; ++K) {
      ScanBytes += (*Out)[1 + NC + K].byteSize();
      Scans[K].push_back(std::move((*Out)[1 + NC + K]));
    }
    // A runaway loop's scan outputs must not exhaust memory first.
    if (ScanBytes > InterpreterTensorLimit)
      return cfError(Op, "the scan outputs grow past 4 GiB after " +
                             llvm::Twine(I + 1) + " iterations");
  }
  std::vector<Tensor> R;
  for (unsigned K = 0; K < NC; ++K)
    R.push_back(std::move(In[2 + K]));
  auto Types = cfResultTypes(Op, Operands);
  for (unsigned K = 0; K < NScan; ++K) {
    auto S = cfStack(Op, Scans[K], 0, Types[NC + K], K);
    if (!S)
      return S.takeError();
    R.push_back(std::move(*S));
  }
  return R;
}

llvm::Expected<std::vector<Tensor>>
runScan(const Operation &Op, llvm::ArrayRef<const Tensor *> Operands,
        RegionRunFn Run) {
  const Function &Body = *Op.Regions[0];
  unsigned NS = Op.getInt("num_states"), M = Op.getInt("num_scan_inputs");
  unsigned NOut = Body.Outputs.size() - NS;
  auto [InAxes, InDirs, OutAxes, OutDirs] = scanLayout(Op);
  int64_t Len = -1;
  for (unsigned J = 0; J < M; ++J) {
    const Tensor &X = *Operands[NS + J];
    auto A = normalizeAxis(InAxes[J], X.rank(), Op.L);
    if (!A)
      return A.takeError();
    InAxes[J] = *A;
    if (Len >= 0 && X.shape()[*A] != Len)
      return cfError(Op, "scan inputs have different lengths (" +
                             llvm::Twine(Len) + " and " +
                             llvm::Twine(X.shape()[*A]) + ")");
    Len = X.shape()[*A];
  }
  std::vector<Tensor> In;
  for (const Tensor *T : Operands.take_front(NS))
    In.push_back(*T);
  for (unsigned J = 0; J < M; ++J)
    In.push_back(Tensor());
  for (const Tensor *T : Operands.drop_front(NS + M))
    In.push_back(*T);
  std::vector<std::vector<Tensor>> Outs(NOut);
  for (int64_t T = 0; T < Len; ++T) {
    for (unsigned J = 0; J < M; ++J)
      In[NS + J] = cfSliceAt(*Operands[NS + J], InAxes[J],
                             InDirs[J] ? Len - 1 - T : T);
    auto Out = cfRun(Op, Run, Body, In, T);
    if (!Out)
      return Out.takeError();
    for (unsigned K = 0; K < NS; ++K)
      In[K] = std::move((*Out)[K]);
    for (unsigned K = 0; K < NOut; ++K)
      Outs[K].push_back(std::move((*Out)[NS + K]));
  }
  std::vector<Tensor> R;
  for (unsigned K = 0; K < NS; ++K)
    R.push_back(std::move(In[K]));
  auto Types = cfResultTypes(Op, Operands);
  for (unsigned K = 0; K < NOut; ++K) {
    if (OutDirs[K])
      std::reverse(Outs[K].begin(), Outs[K].end());
    unsigned Rank = Types[NS + K].rank();
    auto A = normalizeAxis(OutAxes[K], Rank, Op.L);
    if (!A)
      return A.takeError();
    auto S = cfStack(Op, Outs[K], *A, Types[NS + K], K);
    if (!S)
      return S.takeError();
    R.push_back(std::move(*S));
  }
  return R;
}

} // namespace

llvm::Expected<std::vector<Tensor>>
dlc::runControlFlow(const Operation &Op,
                    llvm::ArrayRef<const Tensor *> Operands, RegionRunFn Run) {
  switch (Op.kind()) {
  case OpKind::If:
    return runIf(Op, Operands, Run);
  case OpKind::Loop:
    return runLoop(Op, Operands, Run);
  case OpKind::Scan:
    return runScan(Op, Operands, Run);
  default:
    return cfError(Op, "is not a control-flow op");
  }
}
