// ONNX sequence ops for sequences whose length is known at import time. A
// sequence is an import-time list of dlc values (ValueTable::Sequences), so
// no IR type is added. A SplitToSequence whose piece count is known only at
// run time gives a RunSeq (its length as a value; single slices readable by
// a gather). Positions known at import time index the list; a
// run-time position is expressed in graph ops over elements of one type:
// SequenceAt gathers from the stacked elements, SequenceInsert/Erase build
// each result element as a select between neighbours (the length stays
// static). Run-time positions go through a gather over an index table, which
// normalizes negative positions and reports an out-of-range one at run time.
#include "frontend/onnx/NodeContext.h"

using namespace dlc;
using namespace dlc::onnximp;

/// Checks that no element of S is a placeholder for a value that cannot be
/// expressed (a piece of a split at run-time sizes).
static bool knownElements(NodeContext &C, const std::vector<Value *> &S) {
  for (size_t K = 0; K < S.size(); ++K)
    if (!S[K]) {
      C.fail("element " + llvm::Twine(K) + " of sequence '" +
             C.Node.input(0) + "' is a piece of a split at run-time sizes, "
             "whose shape is data-dependent (not supported; only the "
             "sequence's length is known)");
      return false;
    }
  return true;
}

/// A position operand: its value when known at import time, else the
/// run-time scalar (as i64).
struct Position {
  std::optional<int64_t> Const;
  Value *Dyn = nullptr;
};

static std::optional<Position> position(NodeContext &C, unsigned I) {
  Value *V = C.in(I);
  if (!V)
    return std::nullopt;
  if (V->Type.elem() != DType::I32 && V->Type.elem() != DType::I64) {
    C.fail("the position must be int32 or int64, not " + V->Type.str());
    return std::nullopt;
  }
  Position P;
  if (const Tensor *T = C.constIn(I)) {
    if (T->numElements() != 1) {
      C.fail("the position must be a scalar, got " + V->Type.str());
      return std::nullopt;
    }
    P.Const = T->getI(0);
    return P;
  }
  if (V->Type.rank() != 0) {
    C.fail("the position must be a scalar, got " + V->Type.str());
    return std::nullopt;
  }
  P.Dyn = C.cast(V, DType::I64);
  return P;
}

/// A constant position normalized for valid range [-N, Hi]; fails outside.
static std::optional<int64_t> normalizePos(NodeContext &C, int64_t Pos,
                                           int64_t N, int64_t Hi) {
  if (Pos < -N || Pos > Hi) {
    C.fail("position " + llvm::Twine(Pos) + " is out of range [" +
           llvm::Twine(-N) + ", " + llvm::Twine(Hi) + "] for a sequence of " +
           llvm::Twine(N) + " tensors");
    return std::nullopt;
  }
  return Pos < 0 ? Pos + N : Pos;
}

/// Run-time positions need every element (and the inserted tensor) to have
/// one type, so that a select or gather can pick any of them.
static bool oneType(NodeContext &C, const std::vector<Value *> &S) {
  if (!knownElements(C, S))
    return false;
  for (Value *V : S)
    if (!(V->Type == S[0]->Type)) {
      C.fail("a position known only at run time needs sequence elements of "
             "one type, got " + S[0]->Type.str() + " and " + V->Type.str());
      return false;
    }
  return true;
}

/// The run-time position P normalized to [0, N) through a gather over
/// [0, N): negative positions count from the end, others fail at run time.
/// Shift moves negative positions down by one first (for insertion into a
/// sequence of N - 1 tensors, whose valid range [-N+1, N-1] is offset by one
/// from the gather's [-N, N)).
static Value *checkedPos(NodeContext &C, Value *P, int64_t N, bool Shift) {
  std::vector<int64_t> Table;
  for (int64_t K = 0; K < N; ++K)
    Table.push_back(K);
  if (Shift) {
    Value *Neg = C.op(OpKind::Less, {P, C.scalar(DType::I64, 0)});
    P = C.op(OpKind::Where,
             {Neg, C.op(OpKind::Sub, {P, C.scalar(DType::I64, 1)}), P});
  }
  return C.op(OpKind::Gather, {C.ints(Table), P}, {aInt("axis", 0)});
}

static Value *cmp(NodeContext &C, OpKind K, int64_t I, Value *P) {
  return C.op(K, {C.scalar(DType::I64, I), P});
}

static void sequenceEmpty(NodeContext &C) {
  C.allowAttrs({"dtype"});
  C.setSeqOutput(0, {});
}

static void sequenceConstruct(NodeContext &C) {
  C.allowAttrs({});
  std::vector<Value *> S;
  for (unsigned I = 0; I < C.numInputs(); ++I)
    S.push_back(C.in(I));
  if (C.failed())
    return;
  for (Value *V : S)
    if (V->Type.elem() != S[0]->Type.elem())
      return C.fail("the tensors' element types differ: " + S[0]->Type.str() +
                    " and " + V->Type.str());
  C.setSeqOutput(0, std::move(S));
}

static void sequenceInsert(NodeContext &C) {
  C.allowAttrs({});
  const std::vector<Value *> *SP = C.seqIn(0);
  Value *T = C.in(1);
  if (!SP || !T)
    return;
  std::vector<Value *> S = *SP;
  int64_t N = S.size();
  for (Value *V : S)
    if (V && V->Type.elem() != T->Type.elem())
      return C.fail("the tensor " + T->Type.str() + " has another element "
                    "type than the sequence's tensors (" + V->Type.str() + ")");
  if (!C.has(2)) {
    S.push_back(T);
    return C.setSeqOutput(0, std::move(S));
  }
  auto P = position(C, 2);
  if (!P)
    return;
  if (P->Const) {
    auto At = normalizePos(C, *P->Const, N, N);
    if (!At)
      return;
    S.insert(S.begin() + *At, T);
    return C.setSeqOutput(0, std::move(S));
  }
  std::vector<Value *> All = S;
  All.push_back(T);
  if (!oneType(C, All))
    return;
  // Valid positions are [-N, N]; the gather over [0, N] sees negative ones
  // moved down by one, so that -1 lands on N - 1.
  Value *At = checkedPos(C, P->Dyn, N + 1, /*Shift=*/true);
  std::vector<Value *> R;
  for (int64_t I = 0; I <= N; ++I) {
    // I < At: S[I]; I == At: T; I > At: S[I - 1].
    Value *V = I > 0 ? C.op(OpKind::Where,
                            {cmp(C, OpKind::Equal, I, At), T, S[I - 1]})
                     : T;
    if (I < N)
      V = C.op(OpKind::Where, {cmp(C, OpKind::Less, I, At), S[I], V});
    R.push_back(V);
  }
  if (!C.failed())
    C.setSeqOutput(0, std::move(R));
}

static void sequenceErase(NodeContext &C) {
  C.allowAttrs({});
  const std::vector<Value *> *SP = C.seqIn(0);
  if (!SP)
    return;
  std::vector<Value *> S = *SP;
  int64_t N = S.size();
  if (N == 0)
    return C.fail("cannot erase from an empty sequence");
  if (!C.has(1)) {
    S.pop_back();
    return C.setSeqOutput(0, std::move(S));
  }
  auto P = position(C, 1);
  if (!P)
    return;
  if (P->Const) {
    auto At = normalizePos(C, *P->Const, N, N - 1);
    if (!At)
      return;
    S.erase(S.begin() + *At);
    return C.setSeqOutput(0, std::move(S));
  }
  if (!oneType(C, S))
    return;
  Value *At = checkedPos(C, P->Dyn, N, /*Shift=*/false);
  std::vector<Value *> R;
  for (int64_t I = 0; I + 1 < N; ++I) // I < At: S[I]; else S[I + 1]
    R.push_back(C.op(OpKind::Where,
                     {cmp(C, OpKind::Less, I, At), S[I], S[I + 1]}));
  if (!C.failed())
    C.setSeqOutput(0, std::move(R));
}

/// SequenceAt on single slices of run-time count: a gather along the axis
/// (which normalizes negative positions and checks the range at run time).
static void sequenceAtRun(NodeContext &C, const RunSeq &RS) {
  if (!RS.Unit)
    return C.fail("the sequence '" + C.Node.input(0) + "' has a length known "
                  "only at run time and pieces of data-dependent shapes; "
                  "reading one is not supported");
  auto P = position(C, 1);
  if (!P)
    return;
  Value *At = P->Dyn ? P->Dyn : C.scalar(DType::I64, double(*P->Const));
  Value *Y = C.op(OpKind::Gather, {RS.Source, At}, {aInt("axis", RS.Axis)});
  if (RS.KeepDims)
    Y = C.op(OpKind::Unsqueeze, {Y}, {aInts("axes", {RS.Axis})});
  C.setOutput(0, Y);
}

static void sequenceAt(NodeContext &C) {
  C.allowAttrs({});
  if (const RunSeq *RS = C.runSeqIn(0))
    return sequenceAtRun(C, *RS);
  const std::vector<Value *> *SP = C.seqIn(0);
  if (!SP)
    return;
  const std::vector<Value *> &S = *SP;
  int64_t N = S.size();
  auto P = position(C, 1);
  if (!P)
    return;
  if (P->Const) {
    auto At = normalizePos(C, *P->Const, N, N - 1);
    if (!At)
      return;
    if (!S[*At])
      return C.fail("element " + llvm::Twine(*At) + " is a piece of a split "
                    "at run-time sizes, whose shape is data-dependent (not "
                    "supported; only the sequence's length is known)");
    return C.setOutput(0, S[*At]);
  }
  if (N == 0)
    return C.fail("cannot read from an empty sequence");
  if (!oneType(C, S))
    return;
  // Stack the elements on a new leading axis and gather at the position
  // (gather normalizes negative positions and checks the range).
  std::vector<Value *> U;
  for (Value *V : S)
    U.push_back(C.op(OpKind::Unsqueeze, {V}, {aInts("axes", {0})}));
  Value *Stack = C.op(OpKind::Concat, U, {aInt("axis", 0)});
  C.setOutput(0, C.op(OpKind::Gather, {Stack, P->Dyn}, {aInt("axis", 0)}));
}

static void sequenceLength(NodeContext &C) {
  C.allowAttrs({});
  if (const RunSeq *RS = C.runSeqIn(0))
    return C.setOutput(0, RS->Length);
  if (const std::vector<Value *> *S = C.seqIn(0))
    C.setOutput(0, C.scalar(DType::I64, double(S->size())));
}

static void splitToSequence(NodeContext &C) {
  C.allowAttrs({"axis", "keepdims"});
  Value *X = C.in(0);
  if (!X)
    return;
  int64_t Axis = C.axisOf(X, 0);
  if (Axis < 0)
    return;
  bool KeepDims = C.attrInt("keepdims", 1) != 0;
  const Dim &D = X->Type.dim(Axis);
  std::vector<int64_t> Sizes;
  if (C.has(1) && !C.constIn(1)) {
    Value *Split = C.in(1);
    if (!Split)
      return;
    // Run-time sizes: the count is known when 'split' has a static length;
    // the pieces' shapes are data-dependent, so only the length is usable.
    if (Split->Type.rank() == 1 && Split->Type.dim(0).isStatic())
      return C.setSeqOutput(0, std::vector<Value *>(Split->Type.dim(0).size()));
    if (Split->Type.rank() == 1) {
      RunSeq RS;
      RS.Length = C.dimOf(Split, 0);
      RS.Source = X;
      RS.Axis = Axis;
      return C.setRunSeqOutput(0, RS);
    }
    return C.fail("operand 'split' ('" + C.Node.input(1) + "') " +
                  Split->Type.str() + " is computed at run time and does not "
                  "fix the number of pieces (a 1-D split of static length "
                  "or an import-time constant is needed)");
  }
  if (C.has(1)) {
    const Tensor *T = C.constIn(1);
    auto V = C.intsIn(1, "split");
    if (!V)
      return;
    if (T->shape().size() == 0) { // one chunk size; the last may be smaller
      int64_t Each = (*V)[0];
      if (Each <= 0)
        return C.fail("the chunk size must be positive, got " +
                      llvm::Twine(Each));
      if (!D.isStatic()) {
        // ceil(dim / Each) pieces, all of size Each but the last (in f64,
        // exact for dims below 2^53; i64 division has no CPU lowering).
        RunSeq RS;
        Value *N = C.cast(C.dimOf(X, unsigned(Axis)), DType::F64);
        RS.Length = C.cast(
            C.op(OpKind::Ceil,
                 {C.op(OpKind::Div, {N, C.scalar(DType::F64, double(Each))})}),
            DType::I64);
        RS.Source = X;
        RS.Axis = Axis;
        RS.Unit = Each == 1;
        return C.setRunSeqOutput(0, RS);
      }
      for (int64_t Left = D.size(); Left > 0; Left -= Each)
        Sizes.push_back(std::min(Each, Left));
    } else {
      Sizes = *V;
    }
    KeepDims = true; // keepdims only applies without 'split'
  } else {
    if (!D.isStatic()) {
      RunSeq RS;
      RS.Length = C.dimOf(X, unsigned(Axis));
      RS.Source = X;
      RS.Axis = Axis;
      RS.Unit = true;
      RS.KeepDims = KeepDims;
      return C.setRunSeqOutput(0, RS);
    }
    Sizes.assign(D.size(), 1);
  }
  if (Sizes.empty())
    return C.setSeqOutput(0, {});
  auto Rs = C.opN(OpKind::Split, {X},
                  {aInt("axis", Axis), aInts("sizes", Sizes)});
  std::vector<Value *> S(Rs.begin(), Rs.end());
  if (!KeepDims)
    for (Value *&V : S)
      V = C.op(OpKind::Squeeze, {V}, {aInts("axes", {Axis})});
  if (!C.failed())
    C.setSeqOutput(0, std::move(S));
}

static void concatFromSequence(NodeContext &C) {
  C.allowAttrs({"axis", "new_axis"});
  const std::vector<Value *> *SP = C.seqIn(0);
  if (!SP || !knownElements(C, *SP))
    return;
  if (!C.hasAttr("axis"))
    return C.fail("attribute 'axis' is required");
  if (SP->empty())
    return C.fail("cannot concatenate an empty sequence (its shape is "
                  "unknown)");
  std::vector<Value *> S = *SP;
  bool NewAxis = C.attrInt("new_axis", 0) != 0;
  int64_t R = S[0]->Type.rank() + (NewAxis ? 1 : 0);
  int64_t Axis = normAxis(C.attrInt("axis", 0), R);
  if (Axis < 0)
    return C.fail("axis " + llvm::Twine(C.attrInt("axis", 0)) +
                  " is out of range for " + S[0]->Type.str());
  if (NewAxis)
    for (Value *&V : S)
      V = C.op(OpKind::Unsqueeze, {V}, {aInts("axes", {Axis})});
  C.setOutput(0, C.op(OpKind::Concat, S, {aInt("axis", Axis)}));
}

void onnximp::addSequenceOps(std::vector<OpEntry> &T) {
  T.insert(T.end(), {
      {"SequenceEmpty", 11, sequenceEmpty, {}},
      {"SequenceConstruct", 11, sequenceConstruct, {}},
      // Positions known at import time work for elements of any shapes:
      // when the import fails (a sequence graph input, say), dlc::Model
      // takes a position that is a graph input per run-time value.
      {"SequenceInsert", 11, sequenceInsert, {2}},
      {"SequenceErase", 11, sequenceErase, {1}},
      {"SequenceAt", 11, sequenceAt, {1}},
      {"SequenceLength", 11, sequenceLength, {}},
      // A split that is a graph input fixes the pieces per run-time value.
      {"SplitToSequence", 11, splitToSequence, {1}},
      {"ConcatFromSequence", 11, concatFromSequence, {}},
  });
}
