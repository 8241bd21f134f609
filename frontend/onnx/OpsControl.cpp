// ONNX control flow (If, Loop, Scan, SequenceMap) and optionals (Optional,
// OptionalHasElement, OptionalGetElement). What is known at import time is
// resolved then (a subgraph imported inline, Subgraph.h); the rest becomes
// dlc's if / loop / scan ops with regions (ImportRegion.h).
//
// - If with a condition known at import time (often the case after constant
//   folding, e.g. in expanded functions that test a rank) imports only the
//   taken branch. With a run-time condition it is an `if` op: only the
//   taken branch runs, and the branches may differ in shape.
// - Loop is unrolled when its iteration count is known at import time (a
//   constant trip count, a constant or absent initial condition, a body
//   that passes its condition through) and small (MaxUnrolledNodes). Else
//   it is a `loop` op: trip count and condition at run time, loop-carried
//   values and scan outputs of run-time lengths.
// - Scan is unrolled over a static scan length (within MaxUnrolledNodes);
//   else (opset 9 and later) it is a `scan` op.
// - SequenceMap applies its body to each element of static-length sequences.
// - An optional is its element when it has one, or a name recorded as empty
//   (ValueTable::Nones), so OptionalHasElement is a constant.
// Unrolling stops with an error beyond MaxUnrolledNodes imported body nodes.
#include "frontend/onnx/ImportRegion.h"
#include "frontend/onnx/Subgraph.h"

using namespace dlc;
using namespace dlc::onnximp;

namespace {

/// An unknown dim ('?') may differ between the branches at run time.
bool sameKnownType(const TensorType &A, const TensorType &B) {
  if (!(A == B))
    return false;
  for (unsigned I = 0; I < A.rank(); ++I)
    if (A.dim(I).isUnknown())
      return false;
  return true;
}

/// Cond ? A : B for items of one structure (What names them in messages).
std::optional<Item> select(NodeContext &C, Value *Cond, const Item &A,
                           const Item &B, const llvm::Twine &What) {
  auto Mismatch = [&] {
    C.fail(What + " has different types (" + A.str() + " and " + B.str() +
           "); with a condition known only at run time, both are computed "
           "and one is selected, which needs equal types with known dims");
    return std::nullopt;
  };
  if (A.Kind != B.Kind)
    return Mismatch();
  switch (A.Kind) {
  case Item::TensorK:
    if (A.T == B.T)
      return A;
    if (!sameKnownType(A.T->Type, B.T->Type))
      return Mismatch();
    return Item::tensor(C.op(OpKind::Where, {Cond, A.T, B.T}));
  case Item::SequenceK: {
    if (A.Seq.size() != B.Seq.size())
      return Mismatch();
    std::vector<Value *> S;
    for (size_t K = 0; K < A.Seq.size(); ++K) {
      if (!A.Seq[K] || !B.Seq[K] ||
          !sameKnownType(A.Seq[K]->Type, B.Seq[K]->Type))
        return Mismatch();
      S.push_back(A.Seq[K] == B.Seq[K]
                      ? A.Seq[K]
                      : C.op(OpKind::Where, {Cond, A.Seq[K], B.Seq[K]}));
    }
    return Item::sequence(std::move(S));
  }
  case Item::NoneK:
    return A;
  }
  return std::nullopt;
}

Value *boolConst(NodeContext &C, bool B) {
  Tensor T(DType::Bool, {});
  T.setI(0, B);
  return C.constant(std::move(T));
}

/// Input I as a bool condition: its value when known at import time, else
/// the run-time value as a bool scalar.
struct Condition {
  std::optional<bool> Known;
  Value *Dyn = nullptr;
};

std::optional<Condition> condition(NodeContext &C, Value *V,
                                   const llvm::Twine &What) {
  if (!V)
    return std::nullopt;
  if (V->Type.elem() != DType::Bool) {
    C.fail(What + " must be bool, got " + V->Type.str());
    return std::nullopt;
  }
  auto N = V->Type.numElements();
  if (!N || *N != 1) {
    C.fail(What + " must have one element, got " + V->Type.str());
    return std::nullopt;
  }
  Condition R;
  if (V->Def && V->Def->kind() == OpKind::Constant) {
    R.Known = V->Def->attr("value").getTensor()->getI(0) != 0;
    return R;
  }
  R.Dyn = V->Type.rank() ? C.op(OpKind::Reshape, {V}, {aInts("shape", {})})
                         : V;
  return R;
}

/// Stacks the per-iteration values Vs along a new axis Axis (of the
/// result's rank): unsqueeze each, then one concat.
Value *stack(NodeContext &C, llvm::ArrayRef<Value *> Vs, int64_t Axis) {
  std::vector<Value *> U;
  for (Value *V : Vs)
    U.push_back(C.op(OpKind::Unsqueeze, {V}, {aInts("axes", {Axis})}));
  return C.op(OpKind::Concat, U, {aInt("axis", Axis)});
}

/// The Len slices of X along Axis, without that axis (gathers at constant
/// indices: one op per slice, no view ops for the fuser to move around).
std::vector<Value *> slices(NodeContext &C, Value *X, int64_t Axis,
                            int64_t Len) {
  std::vector<Value *> S;
  for (int64_t T = 0; T < Len; ++T)
    S.push_back(C.op(OpKind::Gather, {X, C.scalar(DType::I64, double(T))},
                     {aInt("axis", Axis)}));
  return S;
}

bool checkUnroll(NodeContext &C, int64_t Iterations,
                 const onnx::GraphProto &Body) {
  int64_t Nodes = std::max<int64_t>(1, Body.node_size());
  if (Iterations > MaxUnrolledNodes / Nodes) {
    C.fail("unrolling " + llvm::Twine(Iterations) + " iterations of a " +
           llvm::Twine(Body.node_size()) + "-node body exceeds the limit of " +
           llvm::Twine(MaxUnrolledNodes) + " imported nodes (dlc unrolls "
           "control flow at import time)");
    return false;
  }
  return true;
}

void ifOp(NodeContext &C) {
  C.allowAttrs({"then_branch", "else_branch"});
  const onnx::GraphProto *Then = C.attrGraph("then_branch");
  const onnx::GraphProto *Else = C.attrGraph("else_branch");
  auto Cond = condition(C, C.in(0), "the condition");
  if (!Then || !Else || !Cond || C.failed())
    return;
  for (const onnx::GraphProto *G : {Then, Else})
    if (G->output_size() != int(C.numOutputs()))
      return C.fail("a branch has " + llvm::Twine(G->output_size()) +
                    " outputs, but the node has " +
                    llvm::Twine(C.numOutputs()));
  if (Cond->Known) {
    bool T = *Cond->Known;
    auto Out = importSubgraph(C, T ? "then_branch" : "else_branch",
                              T ? *Then : *Else, {});
    if (!Out)
      return;
    for (unsigned I = 0; I < Out->size(); ++I)
      setItemOutput(C, I, (*Out)[I]);
    return;
  }
  importIfRegion(C, Cond->Dyn, *Then, *Else);
}

/// Whether a Loop node's iteration count is known at import time and small
/// enough to unroll: a constant trip count, a constant or absent initial
/// condition, and a body whose condition output is its condition input.
/// Loops that carry sequences (which regions do not) unroll whenever the
/// trip count is a small constant: a run-time condition then freezes the
/// carried values once it turns false (`where`).
bool unrollsLoop(NodeContext &C, const onnx::GraphProto &Body) {
  if (!C.has(0) || Body.input_size() < 2 || Body.output_size() < 1)
    return false;
  const Tensor *T = C.constIn(0);
  if (!T || T->numElements() != 1)
    return false;
  int64_t Nodes = std::max<int64_t>(1, Body.node_size());
  if (std::max<int64_t>(0, T->getI(0)) > MaxUnrolledNodes / Nodes)
    return false;
  for (unsigned I = 2; I < C.numInputs(); ++I)
    if (C.has(I) && C.isSequence(C.Node.input(I)))
      return true;
  if (C.has(1) && !C.constIn(1))
    return false;
  const std::string &In = Body.input(1).name(), &Out = Body.output(0).name();
  if (In == Out)
    return true;
  for (const auto &N : Body.node())
    if (N.op_type() == "Identity" && N.output_size() == 1 &&
        N.output(0) == Out && N.input_size() == 1 && N.input(0) == In)
      return true;
  return false;
}

void loopOp(NodeContext &C) {
  C.allowAttrs({"body"});
  const onnx::GraphProto *Body = C.attrGraph("body");
  if (!Body)
    return;
  int NCarried = int(C.numInputs()) - 2;
  if (NCarried < 0)
    return C.fail("Loop needs the inputs M and cond (either may be empty)");
  int NScan = Body->output_size() - 1 - NCarried;
  if (Body->input_size() != 2 + NCarried || NScan < 0)
    return C.fail("the body has " + llvm::Twine(Body->input_size()) +
                  " inputs and " + llvm::Twine(Body->output_size()) +
                  " outputs; with " + llvm::Twine(NCarried) +
                  " loop-carried values it needs " + llvm::Twine(2 + NCarried) +
                  " inputs and at least " + llvm::Twine(1 + NCarried) +
                  " outputs");
  if (!unrollsLoop(C, *Body))
    return importLoopRegion(C, *Body, NCarried);
  std::optional<int64_t> Trip;
  if (C.has(0)) {
    Value *M = C.in(0);
    const Tensor *T = C.constIn(0);
    if (!M || !T)
      return;
    if (T->numElements() != 1)
      return C.fail("the trip count must have one element, got " +
                    M->Type.str());
    Trip = std::max<int64_t>(0, T->getI(0));
    if (!checkUnroll(C, *Trip, *Body))
      return;
  }
  Condition Cond;
  Cond.Known = true;
  if (C.has(1)) {
    auto R = condition(C, C.in(1), "the initial condition");
    if (!R)
      return;
    Cond = *R;
  }
  std::vector<Item> Carried;
  for (int K = 0; K < NCarried; ++K) {
    auto It = itemIn(C, 2 + K);
    if (!It)
      return;
    Carried.push_back(*It);
  }
  if (C.failed())
    return;
  auto DataDependent = [&]() {
    if (!Trip)
      C.fail("the loop's condition is computed at run time and no trip "
             "count bounds it; dlc unrolls loops at import time");
    else if (NScan)
      C.fail("the loop's condition is computed at run time, so the length "
             "of its scan outputs is data-dependent (not supported)");
    return !C.failed();
  };
  if (Cond.Dyn && !DataDependent())
    return;
  std::vector<std::vector<Value *>> Scans(NScan);
  for (int64_t I = 0;; ++I) {
    if (Trip && I >= *Trip)
      break;
    if (Cond.Known && !*Cond.Known)
      break;
    if (!Trip && !checkUnroll(C, I + 1, *Body))
      return;
    // Iterations run only while the condition holds, so the body sees true.
    std::vector<Item> Args = {Item::tensor(C.scalar(DType::I64, double(I))),
                              Item::tensor(boolConst(C, true))};
    Args.insert(Args.end(), Carried.begin(), Carried.end());
    auto Out = importSubgraph(C, "body", *Body, Args);
    if (!Out)
      return;
    if ((*Out)[0].Kind != Item::TensorK)
      return C.fail("the body's condition output is " + (*Out)[0].str());
    auto Next = condition(C, (*Out)[0].T, "the body's condition output");
    if (!Next)
      return;
    std::vector<Item> New(Out->begin() + 1, Out->begin() + 1 + NCarried);
    if (Cond.Dyn) {
      // Iteration I takes effect only while the run-time condition holds.
      for (int K = 0; K < NCarried; ++K) {
        auto R = select(C, Cond.Dyn, New[K], Carried[K],
                        "loop-carried value " + llvm::Twine(K) +
                            " before and after an iteration");
        if (!R)
          return;
        New[K] = *R;
      }
      Value *NextV = Next->Dyn ? Next->Dyn : boolConst(C, *Next->Known);
      Cond.Dyn = C.op(OpKind::And, {Cond.Dyn, NextV});
    } else if (Next->Dyn) {
      Cond = *Next;
      if (!DataDependent())
        return;
    } else {
      Cond = *Next;
    }
    Carried = std::move(New);
    for (int K = 0; K < NScan; ++K) {
      const Item &S = (*Out)[1 + NCarried + K];
      if (S.Kind != Item::TensorK)
        return C.fail("scan output " + llvm::Twine(K) + " is " + S.str() +
                      "; only tensors can be scan outputs");
      Scans[K].push_back(S.T);
    }
    if (C.failed())
      return;
  }
  for (int K = 0; K < NCarried; ++K)
    setItemOutput(C, K, Carried[K]);
  for (int K = 0; K < NScan; ++K) {
    if (Scans[K].empty())
      return C.fail("the loop runs zero times, so the element type and shape "
                    "of its scan outputs are unknown (not supported)");
    C.setOutput(NCarried + K, stack(C, Scans[K], 0));
  }
}

/// The ONNX-9 scan: States and the scan inputs Xs (their scan axes and
/// directions given) through Body; returns the final states, then the scan
/// outputs stacked along their axes.
std::optional<std::vector<Value *>>
runScan(NodeContext &C, const onnx::GraphProto &Body,
        std::vector<Value *> States, llvm::ArrayRef<Value *> Xs,
        llvm::ArrayRef<int64_t> InDirs, llvm::ArrayRef<int64_t> InAxes,
        llvm::ArrayRef<int64_t> OutDirs, llvm::ArrayRef<int64_t> OutAxes) {
  size_t NState = States.size();
  if (Body.output_size() < int(NState)) {
    C.fail("the body has fewer outputs than there are state variables");
    return std::nullopt;
  }
  size_t NOut = Body.output_size() - NState;
  int64_t Len = -1;
  std::vector<std::vector<Value *>> Slices;
  for (size_t J = 0; J < Xs.size(); ++J) {
    int64_t Axis = normAxis(InAxes[J], Xs[J]->Type.rank());
    if (Axis < 0) {
      C.fail("scan input axis " + llvm::Twine(InAxes[J]) +
             " is out of range for " + Xs[J]->Type.str());
      return std::nullopt;
    }
    const Dim &D = Xs[J]->Type.dim(Axis);
    if (!D.isStatic() || (Len >= 0 && D.size() != Len)) {
      auto Fail = [&](const llvm::Twine &M) {
        D.isStatic() ? C.fail(M) : C.failNeedsStatic(D, M);
      };
      Fail("scan input " + llvm::Twine(J) + " (" + Xs[J]->Type.str() +
             ") needs a static scan length equal for every scan input along "
             "axis " + llvm::Twine(Axis) + " (dlc unrolls scans at import "
             "time)");
      return std::nullopt;
    }
    Len = D.size();
    std::vector<Value *> S = slices(C, Xs[J], Axis, Len);
    if (InDirs[J])
      std::reverse(S.begin(), S.end());
    Slices.push_back(std::move(S));
  }
  if (C.failed())
    return std::nullopt;
  if (Len <= 0) {
    C.fail("a scan needs at least one scan input of nonzero length");
    return std::nullopt;
  }
  if (!checkUnroll(C, Len, Body))
    return std::nullopt;
  std::vector<std::vector<Value *>> Scans(NOut);
  for (int64_t T = 0; T < Len; ++T) {
    std::vector<Item> Args;
    for (Value *S : States)
      Args.push_back(Item::tensor(S));
    for (auto &S : Slices)
      Args.push_back(Item::tensor(S[T]));
    auto Out = importSubgraph(C, "body", Body, Args);
    if (!Out)
      return std::nullopt;
    for (size_t K = 0; K < Out->size(); ++K)
      if ((*Out)[K].Kind != Item::TensorK) {
        C.fail("body output " + llvm::Twine(K) + " is " + (*Out)[K].str() +
               "; Scan's body outputs must be tensors");
        return std::nullopt;
      }
    for (size_t K = 0; K < NState; ++K)
      States[K] = (*Out)[K].T;
    for (size_t K = 0; K < NOut; ++K)
      Scans[K].push_back((*Out)[NState + K].T);
  }
  std::vector<Value *> R = States;
  for (size_t K = 0; K < NOut; ++K) {
    if (OutDirs[K])
      std::reverse(Scans[K].begin(), Scans[K].end());
    int64_t Axis = normAxis(OutAxes[K], Scans[K][0]->Type.rank() + 1);
    if (Axis < 0) {
      C.fail("scan output axis " + llvm::Twine(OutAxes[K]) +
             " is out of range for " + Scans[K][0]->Type.str());
      return std::nullopt;
    }
    R.push_back(stack(C, Scans[K], Axis));
  }
  if (C.failed())
    return std::nullopt;
  return R;
}

/// A per-input or per-output attribute list: the attribute or N zeros.
std::optional<std::vector<int64_t>> perItem(NodeContext &C,
                                            llvm::StringRef Name, size_t N) {
  std::vector<int64_t> V = C.attrInts(Name);
  if (!C.hasAttr(Name))
    return std::vector<int64_t>(N, 0);
  if (V.size() != N) {
    C.fail("attribute '" + Name + "' has " + llvm::Twine(V.size()) +
           " entries, expected " + llvm::Twine(N));
    return std::nullopt;
  }
  return V;
}

/// Whether the scan inputs Xs have one static, nonzero length along their
/// axes that is small enough to unroll (else the scan runs at run time).
bool staticScan(const onnx::GraphProto &Body, llvm::ArrayRef<Value *> Xs,
                llvm::ArrayRef<int64_t> Axes) {
  int64_t Len = -1;
  for (size_t J = 0; J < Xs.size(); ++J) {
    if (!Xs[J])
      return true; // reported by the unrolling path
    int64_t A = normAxis(Axes[J], Xs[J]->Type.rank());
    if (A < 0)
      return true;
    const Dim &D = Xs[J]->Type.dim(A);
    if (!D.isStatic() || (Len >= 0 && D.size() != Len))
      return false;
    Len = D.size();
  }
  int64_t Nodes = std::max<int64_t>(1, Body.node_size());
  return Len > 0 && Len <= MaxUnrolledNodes / Nodes;
}

void scanOp(NodeContext &C) {
  bool V8 = C.Opset < 9;
  if (V8)
    C.allowAttrs({"body", "num_scan_inputs", "directions"});
  else
    C.allowAttrs({"body", "num_scan_inputs", "scan_input_directions",
                  "scan_output_directions", "scan_input_axes",
                  "scan_output_axes"});
  const onnx::GraphProto *Body = C.attrGraph("body");
  int64_t M = C.attrInt("num_scan_inputs", 0);
  if (!Body || C.failed())
    return;
  // Opset 8 has a leading optional sequence_lens input and a batch axis 0
  // in front of every state and scan input (the scan axis is then 1).
  unsigned First = V8 ? 1 : 0;
  if (V8 && C.has(0))
    return C.fail("sequence_lens is not supported (only full-length scans)");
  int64_t N = int64_t(C.numInputs()) - First - M;
  if (M < 1 || N < 0)
    return C.fail("num_scan_inputs must be in [1, " +
                  llvm::Twine(C.numInputs() - First) + "], got " +
                  llvm::Twine(M));
  if (Body->input_size() != N + M)
    return C.fail("the body has " + llvm::Twine(Body->input_size()) +
                  " inputs, expected " + llvm::Twine(N + M));
  size_t NOut = Body->output_size() - std::min<size_t>(N, Body->output_size());
  auto InDirs = perItem(C, V8 ? "directions" : "scan_input_directions", M);
  auto InAxes = V8 ? std::vector<int64_t>(M, 0)
                   : perItem(C, "scan_input_axes", M);
  auto OutDirs = V8 ? std::vector<int64_t>(NOut, 0)
                    : perItem(C, "scan_output_directions", NOut);
  auto OutAxes = V8 ? std::vector<int64_t>(NOut, 0)
                    : perItem(C, "scan_output_axes", NOut);
  std::vector<Value *> Ins;
  for (unsigned I = First; I < C.numInputs(); ++I)
    Ins.push_back(C.in(I));
  if (!InDirs || !InAxes || !OutDirs || !OutAxes || C.failed())
    return;
  if (!V8 && !staticScan(*Body, llvm::ArrayRef(Ins).drop_front(N), *InAxes))
    return importScanRegion(C, *Body, llvm::ArrayRef(Ins).take_front(N),
                            llvm::ArrayRef(Ins).drop_front(N), *InDirs,
                            *InAxes, *OutDirs, *OutAxes);
  if (!V8) {
    auto R = runScan(C, *Body, {Ins.begin(), Ins.begin() + N},
                     llvm::ArrayRef(Ins).drop_front(N), *InDirs, *InAxes,
                     *OutDirs, *OutAxes);
    if (R)
      for (unsigned K = 0; K < R->size(); ++K)
        C.setOutput(K, (*R)[K]);
    return;
  }
  // Opset 8: one scan per batch entry, results stacked along axis 0;
  // a scan op of scan ops when the batch or the lengths are not static.
  bool Static = true;
  for (Value *V : Ins)
    Static &= V && V->Type.rank() && V->Type.dim(0).isStatic();
  if (Static) {
    std::vector<Value *> Seq;
    for (size_t K = N; K < Ins.size(); ++K)
      Seq.push_back(V8 && Ins[K]->Type.rank() > 1 ? Ins[K] : nullptr);
    std::vector<int64_t> Ones(Seq.size(), 1);
    if (!llvm::is_contained(Seq, nullptr))
      Static = staticScan(*Body, Seq, Ones) &&
               Ins[0]->Type.dim(0).size() <=
                   MaxUnrolledNodes / std::max(1, Body->node_size());
  }
  if (!Static)
    return importScan8Region(C, *Body, llvm::ArrayRef(Ins).take_front(N),
                             llvm::ArrayRef(Ins).drop_front(N), *InDirs);
  int64_t Batch = -1;
  std::vector<std::vector<Value *>> PerBatch;
  for (Value *V : Ins) {
    if (!V->Type.rank() || !V->Type.dim(0).isStatic() ||
        (Batch >= 0 && V->Type.dim(0).size() != Batch))
      return V->Type.rank() && !V->Type.dim(0).isStatic()
                 ? C.failNeedsStatic(V->Type.dim(0),
                                     "every input needs the same static "
                                     "batch dim 0, got " + V->Type.str())
                 : C.fail("every input needs the same static batch dim 0, "
                          "got " + V->Type.str());
    Batch = V->Type.dim(0).size();
    PerBatch.push_back(slices(C, V, 0, Batch));
  }
  if (Batch <= 0 || C.failed())
    return C.fail("Scan (opset 8) needs a nonzero batch dim");
  std::vector<std::vector<Value *>> Results;
  for (int64_t B = 0; B < Batch; ++B) {
    std::vector<Value *> States, Xs;
    for (int64_t K = 0; K < N + M; ++K)
      (K < N ? States : Xs).push_back(PerBatch[K][B]);
    auto R = runScan(C, *Body, States, Xs, *InDirs, *InAxes, *OutDirs,
                     *OutAxes);
    if (!R)
      return;
    Results.push_back(std::move(*R));
  }
  for (size_t K = 0; K < Results[0].size(); ++K) {
    std::vector<Value *> Vs;
    for (auto &R : Results)
      Vs.push_back(R[K]);
    C.setOutput(K, stack(C, Vs, 0));
  }
}

void sequenceMapOp(NodeContext &C) {
  C.allowAttrs({"body"});
  const onnx::GraphProto *Body = C.attrGraph("body");
  if (!Body)
    return;
  std::vector<Item> Ins;
  for (unsigned I = 0; I < C.numInputs(); ++I) {
    auto It = itemIn(C, I);
    if (!It)
      return;
    Ins.push_back(*It);
  }
  if (Ins.empty() || Ins[0].Kind != Item::SequenceK)
    return C.fail("input 0 must be a sequence");
  size_t Len = Ins[0].Seq.size();
  for (const Item &It : Ins)
    if (It.Kind == Item::NoneK ||
        (It.Kind == Item::SequenceK && It.Seq.size() != Len))
      return C.fail("every additional input must be a tensor or a sequence "
                    "of the first one's length (" + llvm::Twine(Len) +
                    "), got " + It.str());
  if (!checkUnroll(C, Len, *Body))
    return;
  std::vector<std::vector<Value *>> Outs(Body->output_size());
  for (size_t E = 0; E < Len; ++E) {
    std::vector<Item> Args;
    for (const Item &It : Ins) {
      Value *V = It.Kind == Item::SequenceK ? It.Seq[E] : It.T;
      if (!V)
        return C.fail("element " + llvm::Twine(E) + " of a sequence is a "
                      "piece of a split at run-time sizes (not supported)");
      Args.push_back(Item::tensor(V));
    }
    auto Out = importSubgraph(C, "body", *Body, Args);
    if (!Out)
      return;
    for (size_t K = 0; K < Out->size(); ++K) {
      if ((*Out)[K].Kind != Item::TensorK)
        return C.fail("body output " + llvm::Twine(K) + " is " +
                      (*Out)[K].str() + "; it must be a tensor");
      Outs[K].push_back((*Out)[K].T);
    }
  }
  for (size_t K = 0; K < Outs.size(); ++K)
    C.setSeqOutput(K, std::move(Outs[K]));
}

void optionalOp(NodeContext &C) {
  C.allowAttrs({"type"});
  if (!C.has(0)) {
    if (!C.hasAttr("type"))
      return C.fail("an Optional without input needs attribute 'type'");
    return setItemOutput(C, 0, Item::none());
  }
  if (auto It = itemIn(C, 0))
    setItemOutput(C, 0, *It);
}

void optionalHasElementOp(NodeContext &C) {
  C.allowAttrs({});
  bool Has = false;
  if (C.has(0)) {
    auto It = itemIn(C, 0);
    if (!It)
      return;
    Has = It->Kind != Item::NoneK;
  }
  C.setOutput(0, boolConst(C, Has));
}

void optionalGetElementOp(NodeContext &C) {
  C.allowAttrs({});
  auto It = itemIn(C, 0);
  if (!It)
    return;
  if (It->Kind == Item::NoneK)
    return C.fail("the optional '" + C.Node.input(0) +
                  "' is empty (known at import time)");
  setItemOutput(C, 0, *It);
}

} // namespace

void onnximp::addControlOps(std::vector<OpEntry> &T) {
  T.insert(T.end(), {
      {"If", 7, ifOp, {}},
      // The trip count and the initial condition fix how many iterations
      // are unrolled (and the scan outputs' length): shape-like operands.
      {"Loop", 7, loopOp, {0, 1}},
      {"Scan", 8, scanOp, {}},
      {"SequenceMap", 17, sequenceMapOp, {}},
      {"Optional", 15, optionalOp, {}},
      {"OptionalHasElement", 15, optionalHasElementOp, {}},
      {"OptionalGetElement", 15, optionalGetElementOp, {}},
  });
}
