// ONNX subgraphs imported as regions of dlc's if, loop and scan ops.
//
// 1. A subgraph is imported into a fresh Function (the region) whose
//    formal inputs are bound to the subgraph's inputs; its nodes resolve
//    outer names to values of the enclosing function, as ONNX allows.
// 2. The region is then closed: every outer value it reads becomes a new
//    trailing input (a capture, passed as an operand of the op), except
//    outer constants, which are copied in.
// 3. Loop-carried values and scan states whose shape changes between
//    iterations get '?' where it changes: the body is imported again with
//    the joined input types (a few times at most).
// 4. The op is built and its result types inferred (ir/ControlFlow.cpp).
#include "frontend/onnx/ImportRegion.h"
#include "frontend/onnx/Subgraph.h"

#include "ir/ShapeInference.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringSet.h"

#include <climits>

using namespace dlc;
using namespace dlc::onnximp;

namespace {

/// A region being imported and the outer values its trailing inputs bind.
struct RegionBuild {
  std::unique_ptr<Function> F;
  std::vector<Value *> Captures;
};

/// Forgets the values of a region that will not be used: the value table's
/// shape tracking is keyed by value addresses, which may be reused.
void forgetRegion(NodeContext &C, Function &F) {
  auto &Syms = C.values().Syms;
  for (auto &V : F.Inputs)
    Syms.erase(V.get());
  for (auto &Op : F.Body) {
    for (auto &R : Op->Results)
      Syms.erase(R.get());
    for (auto &R : Op->Regions)
      forgetRegion(C, *R);
  }
}

/// Step 2: the outer values R reads become inputs (constants are copied).
void closeRegion(RegionBuild &R) {
  Function &F = *R.F;
  llvm::DenseSet<const Value *> Own;
  for (auto &V : F.Inputs)
    Own.insert(V.get());
  for (auto &Op : F.Body)
    for (auto &Res : Op->Results)
      Own.insert(Res.get());
  llvm::DenseMap<Value *, Value *> Map;
  auto resolve = [&](Value *O) -> Value * {
    if (Own.count(O))
      return O;
    if (Value *N = Map.lookup(O))
      return N;
    Value *N;
    if (O->Def && O->Def->kind() == OpKind::Constant) {
      auto K = std::make_unique<Operation>(OpKind::Constant, O->Def->L);
      K->setAttr("value", O->Def->attr("value"));
      N = K->addResult(O->Type);
      N->Name = O->Name;
      F.Body.push_front(std::move(K));
    } else {
      N = F.addInput(O->Name, O->Type);
      R.Captures.push_back(O);
    }
    Map[O] = N;
    return N;
  };
  for (auto &Op : F.Body)
    for (Value *&O : Op->Operands)
      O = resolve(O);
  for (Value *&O : F.Outputs)
    O = resolve(O);
}

/// Steps 1 and 2 for subgraph G (attribute Attr) as region Name with
/// formal inputs of types Formal.
std::optional<RegionBuild> buildRegion(NodeContext &C, llvm::StringRef Attr,
                                       llvm::StringRef Name,
                                       const onnx::GraphProto &G,
                                       llvm::ArrayRef<TensorType> Formal) {
  RegionBuild R;
  R.F = std::make_unique<Function>();
  R.F->Name = Name.str();
  R.F->L = C.L;
  std::vector<Item> Args;
  for (size_t I = 0; I < Formal.size(); ++I) {
    std::string N = int(I) < G.input_size() ? G.input(I).name()
                                            : "in" + std::to_string(I);
    Args.push_back(Item::tensor(R.F->addInput(N, Formal[I])));
  }
  auto Out = importSubgraph(C, Attr, G, Args, R.F.get());
  if (!Out) {
    forgetRegion(C, *R.F);
    return std::nullopt;
  }
  llvm::StringSet<> Names;
  for (size_t K = 0; K < Out->size(); ++K) {
    const Item &It = (*Out)[K];
    if (It.Kind != Item::TensorK || !It.T) {
      C.fail("output " + llvm::Twine(K) + " of subgraph '" + Attr + "' is " +
             It.str() + "; control flow decided at run time returns tensors "
             "only");
      forgetRegion(C, *R.F);
      return std::nullopt;
    }
    std::string N = G.output(K).name();
    if (N.empty() || !Names.insert(N).second)
      N = "out" + std::to_string(K);
    Names.insert(N);
    R.F->addOutput(N, It.T);
  }
  closeRegion(R);
  return R;
}

/// Rearranges F's inputs after the first NFixed so that they bind All (in
/// order); Mine are the outer values they bind now.
void alignCaptures(Function &F, unsigned NFixed, llvm::ArrayRef<Value *> Mine,
                   llvm::ArrayRef<Value *> All) {
  llvm::DenseMap<Value *, std::unique_ptr<Value>> By;
  for (size_t I = 0; I < Mine.size(); ++I)
    By[Mine[I]] = std::move(F.Inputs[NFixed + I]);
  F.Inputs.resize(NFixed);
  for (Value *O : All) {
    auto It = By.find(O);
    if (It != By.end())
      F.Inputs.push_back(std::move(It->second));
    else
      F.addInput(O->Name, O->Type);
  }
}

/// Step 4: builds the op at the end of C's function; null after a failure.
Operation *buildOp(NodeContext &C, OpKind K, std::vector<Value *> Operands,
                   std::vector<std::unique_ptr<Function>> Regions,
                   std::vector<NamedAttr> Attrs = {}) {
  if (C.failed() || llvm::is_contained(Operands, nullptr))
    return nullptr;
  auto Op = std::make_unique<Operation>(K, C.L);
  Op->Operands.assign(Operands.begin(), Operands.end());
  for (NamedAttr &A : Attrs)
    Op->setAttr(A.Name, std::move(A.Value));
  Op->Regions = std::move(Regions);
  auto Types = inferResultTypes(*Op);
  if (!Types) {
    std::string Msg = llvm::toString(Types.takeError());
    llvm::StringRef Rest(Msg);
    if (Rest.consume_front(C.L.str()) && Rest.consume_front(": error: "))
      Msg = Rest.str();
    C.fail(Msg);
    for (auto &R : Op->Regions)
      forgetRegion(C, *R);
    return nullptr;
  }
  for (TensorType &T : *Types)
    Op->addResult(std::move(T));
  Operation *Raw = Op.get();
  C.function().Body.push_back(std::move(Op));
  return Raw;
}

/// A's dims where B agrees, '?' elsewhere (same element type and rank).
TensorType joinTypes(const TensorType &A, const TensorType &B) {
  Shape S;
  for (unsigned D = 0; D < A.rank(); ++D)
    S.push_back(A.dim(D) == B.dim(D) ? A.dim(D) : Dim::unknown());
  return TensorType(A.elem(), S);
}

/// Step 3: imports Body with formal types Formal, generalizing the types
/// of inputs [First, First + N) to what outputs [OutFirst, OutFirst + N)
/// give back. What names those values in messages.
std::optional<RegionBuild>
buildIterated(NodeContext &C, const onnx::GraphProto &Body,
              std::vector<TensorType> Formal, unsigned First, unsigned OutFirst,
              unsigned N, const char *What) {
  for (int Attempt = 0;; ++Attempt) {
    auto R = buildRegion(C, "body", "body", Body, Formal);
    if (!R)
      return std::nullopt;
    if (R->F->Outputs.size() < OutFirst + N) {
      C.fail("the body returns " + llvm::Twine(R->F->Outputs.size()) +
             " values, expected at least " + llvm::Twine(OutFirst + N));
      forgetRegion(C, *R->F);
      return std::nullopt;
    }
    bool Changed = false;
    for (unsigned K = 0; K < N; ++K) {
      const TensorType &In = Formal[First + K];
      const TensorType &Out = R->F->Outputs[OutFirst + K]->Type;
      if (In.elem() != Out.elem() || In.rank() != Out.rank()) {
        C.fail(llvm::Twine(What) + " " + llvm::Twine(K) + " is " + In.str() +
               " before an iteration and " + Out.str() + " after it");
        forgetRegion(C, *R->F);
        return std::nullopt;
      }
      if (In != Out) {
        Formal[First + K] = joinTypes(In, Out);
        Changed |= Formal[First + K] != In;
      }
    }
    if (!Changed)
      return R;
    forgetRegion(C, *R->F);
    if (Attempt == 3) {
      C.fail(llvm::Twine("the shapes of the ") + What +
             "s do not settle between iterations");
      return std::nullopt;
    }
  }
}

Value *boolScalar(NodeContext &C, bool B) {
  Tensor T(DType::Bool, {});
  T.setI(0, B);
  return C.constant(std::move(T));
}

} // namespace

void onnximp::importIfRegion(NodeContext &C, Value *Cond,
                             const onnx::GraphProto &Then,
                             const onnx::GraphProto &Else) {
  auto A = buildRegion(C, "then_branch", "then", Then, {});
  if (!A)
    return;
  auto B = buildRegion(C, "else_branch", "else", Else, {});
  if (!B) {
    forgetRegion(C, *A->F);
    return;
  }
  std::vector<Value *> All = A->Captures;
  llvm::DenseSet<Value *> Seen(All.begin(), All.end());
  for (Value *V : B->Captures)
    if (Seen.insert(V).second)
      All.push_back(V);
  alignCaptures(*A->F, 0, A->Captures, All);
  alignCaptures(*B->F, 0, B->Captures, All);
  std::vector<Value *> Operands = {Cond};
  Operands.insert(Operands.end(), All.begin(), All.end());
  std::vector<std::unique_ptr<Function>> Regions;
  Regions.push_back(std::move(A->F));
  Regions.push_back(std::move(B->F));
  Operation *Op = buildOp(C, OpKind::If, Operands, std::move(Regions));
  if (!Op)
    return;
  for (unsigned I = 0; I < Op->numResults(); ++I)
    C.setOutput(I, Op->result(I));
}

void onnximp::importLoopRegion(NodeContext &C, const onnx::GraphProto &Body,
                               unsigned NCarried) {
  Value *Trip;
  if (C.has(0)) {
    Trip = C.in(0);
    if (Trip && !isInteger(Trip->Type.elem()))
      return C.fail("the trip count must be an integer, got " +
                    Trip->Type.str());
  } else {
    Tensor T(DType::I64, {});
    T.setI(0, INT64_MAX); // no trip count: the condition (and the bound)
    Trip = C.constant(std::move(T));
  }
  Value *Cond = C.has(1) ? C.in(1) : boolScalar(C, true);
  std::vector<Value *> Carried;
  std::vector<TensorType> Formal = {TensorType(DType::I64, {}),
                                    TensorType(DType::Bool, {})};
  for (unsigned K = 0; K < NCarried; ++K) {
    auto It = itemIn(C, 2 + K);
    if (!It)
      return;
    if (It->Kind != Item::TensorK || !It->T)
      return C.fail("loop-carried value " + llvm::Twine(K) + " is " +
                    It->str() + "; a loop that runs at run time carries "
                    "tensors only");
    Carried.push_back(It->T);
    Formal.push_back(It->T->Type);
  }
  if (!Trip || !Cond || C.failed())
    return;
  auto R = buildIterated(C, Body, Formal, 2, 1, NCarried,
                         "loop-carried value");
  if (!R)
    return;
  std::vector<Value *> Operands = {Trip, Cond};
  Operands.insert(Operands.end(), Carried.begin(), Carried.end());
  Operands.insert(Operands.end(), R->Captures.begin(), R->Captures.end());
  std::vector<std::unique_ptr<Function>> Regions;
  Regions.push_back(std::move(R->F));
  Operation *Op = buildOp(C, OpKind::Loop, Operands, std::move(Regions),
                          {aInt("num_carried", NCarried)});
  if (!Op)
    return;
  for (unsigned I = 0; I < Op->numResults(); ++I)
    C.setOutput(I, Op->result(I));
}

void onnximp::importScanRegion(NodeContext &C, const onnx::GraphProto &Body,
                               llvm::ArrayRef<Value *> States,
                               llvm::ArrayRef<Value *> Xs,
                               llvm::ArrayRef<int64_t> InDirs,
                               llvm::ArrayRef<int64_t> InAxes,
                               llvm::ArrayRef<int64_t> OutDirs,
                               llvm::ArrayRef<int64_t> OutAxes) {
  std::vector<TensorType> Formal;
  for (Value *S : States)
    Formal.push_back(S->Type);
  for (size_t J = 0; J < Xs.size(); ++J) {
    int64_t Axis = normAxis(InAxes[J], Xs[J]->Type.rank());
    if (Axis < 0)
      return C.fail("scan input axis " + llvm::Twine(InAxes[J]) +
                    " is out of range for " + Xs[J]->Type.str());
    Shape S = Xs[J]->Type.dims();
    S.erase(S.begin() + Axis);
    Formal.push_back(TensorType(Xs[J]->Type.elem(), S));
  }
  auto R = buildIterated(C, Body, Formal, 0, 0, States.size(), "state");
  if (!R)
    return;
  std::vector<Value *> Operands(States.begin(), States.end());
  Operands.insert(Operands.end(), Xs.begin(), Xs.end());
  Operands.insert(Operands.end(), R->Captures.begin(), R->Captures.end());
  std::vector<std::unique_ptr<Function>> Regions;
  Regions.push_back(std::move(R->F));
  Operation *Op = buildOp(
      C, OpKind::Scan, Operands, std::move(Regions),
      {aInt("num_states", int64_t(States.size())),
       aInt("num_scan_inputs", int64_t(Xs.size())),
       aInts("scan_input_axes", InAxes), aInts("scan_input_directions", InDirs),
       aInts("scan_output_axes", OutAxes),
       aInts("scan_output_directions", OutDirs)});
  if (!Op)
    return;
  for (unsigned I = 0; I < Op->numResults(); ++I)
    C.setOutput(I, Op->result(I));
}

void onnximp::importScan8Region(NodeContext &C, const onnx::GraphProto &Body,
                                llvm::ArrayRef<Value *> States,
                                llvm::ArrayRef<Value *> Xs,
                                llvm::ArrayRef<int64_t> Dirs) {
  // Per batch entry (axis 0 of every input) one scan along axis 1: an
  // outer scan over the batch whose body is the inner scan.
  auto dropFront = [](const TensorType &T, unsigned N) {
    Shape S(T.dims().begin() + std::min<unsigned>(N, T.rank()),
            T.dims().end());
    return TensorType(T.elem(), S);
  };
  for (Value *V : llvm::concat<Value *const>(States, Xs))
    if (V->Type.rank() < 1 + unsigned(llvm::is_contained(Xs, V)))
      return C.fail("every input needs a batch dim 0 (and scan inputs a "
                    "sequence dim 1), got " + V->Type.str());
  std::vector<TensorType> Formal;
  for (Value *S : States)
    Formal.push_back(dropFront(S->Type, 1));
  for (Value *X : Xs)
    Formal.push_back(dropFront(X->Type, 2));
  auto R = buildIterated(C, Body, Formal, 0, 0, States.size(), "state");
  if (!R)
    return;
  // The outer body: per-entry states and sequences, then the captures.
  auto Outer = std::make_unique<Function>();
  Outer->Name = "body";
  Outer->L = C.L;
  std::vector<Value *> InnerOps;
  for (Value *V : llvm::concat<Value *const>(States, Xs))
    InnerOps.push_back(Outer->addInput(V->Name, dropFront(V->Type, 1)));
  for (Value *V : R->Captures)
    InnerOps.push_back(Outer->addInput(V->Name, V->Type));
  NodeContext Inner(*Outer, C.values(), C.Node, C.Opset, C.L);
  std::vector<std::unique_ptr<Function>> InnerRegions;
  InnerRegions.push_back(std::move(R->F));
  Operation *In = buildOp(Inner, OpKind::Scan, InnerOps,
                          std::move(InnerRegions),
                          {aInt("num_states", int64_t(States.size())),
                           aInt("num_scan_inputs", int64_t(Xs.size())),
                           aInts("scan_input_directions", Dirs)});
  if (!In)
    return C.fail(Inner.error());
  for (unsigned I = 0; I < In->numResults(); ++I)
    Outer->addOutput("out" + std::to_string(I), In->result(I));
  std::vector<Value *> Operands(States.begin(), States.end());
  Operands.insert(Operands.end(), Xs.begin(), Xs.end());
  Operands.insert(Operands.end(), R->Captures.begin(), R->Captures.end());
  std::vector<std::unique_ptr<Function>> Regions;
  Regions.push_back(std::move(Outer));
  Operation *Op = buildOp(
      C, OpKind::Scan, Operands, std::move(Regions),
      {aInt("num_states", 0),
       aInt("num_scan_inputs", int64_t(States.size() + Xs.size()))});
  if (!Op)
    return;
  for (unsigned I = 0; I < Op->numResults(); ++I)
    C.setOutput(I, Op->result(I));
}
