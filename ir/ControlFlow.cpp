// Control-flow ops: region names, the loop bound, and the shape rules that
// also check the region signatures against the operands.
//
// 1. Bind the symbols of the region's inputs to the operands' dims (a
//    region's symbols are its own), checking element types, ranks and
//    static sizes.
// 2. Substitute the bindings into the region's result types (a symbol
//    no input binds becomes '?').
// 3. Combine: an if joins its branches dim by dim; a loop joins each carried
//    value with its initial type and puts the iteration count in front of
//    each scan output; a scan joins its states likewise and inserts the
//    scan length at each output's axis.
#include "ir/ControlFlow.h"
#include "ir/ShapeRules.h"

#include "llvm/ADT/StringMap.h"

#include <cstdlib>

using namespace dlc;
using namespace dlc::shape;

unsigned dlc::numRegions(OpKind K) {
  switch (K) {
  case OpKind::If:
    return 2;
  case OpKind::Loop:
  case OpKind::Scan:
    return 1;
  default:
    return 0;
  }
}

llvm::StringRef dlc::regionName(OpKind K, unsigned I) {
  if (K == OpKind::If)
    return I == 0 ? "then" : "else";
  return "body";
}

int64_t dlc::maxLoopIterations() {
  static const int64_t Max = [] {
    const char *S = std::getenv("DLC_MAX_LOOP_ITERATIONS");
    int64_t V = 0;
    if (S && !llvm::StringRef(S).getAsInteger(10, V) && V > 0)
      return V;
    return int64_t(1) << 20;
  }();
  return Max;
}

bool dlc::controlFlowNeedsValues(const Operation &Op) {
  if (!Op.info().has(ControlFlow))
    return false;
  // The inferred types, not the results' (an annotation may have refined
  // a '?' that only running the op can size).
  auto Types = inferResultTypes(Op);
  if (!Types) {
    llvm::consumeError(Types.takeError());
    return true;
  }
  for (const TensorType &T : *Types)
    for (const Dim &D : T.dims())
      if (D.isUnknown())
        return true;
  return false;
}

namespace {

/// Symbol bindings of one region: its symbols to the operands' dims.
class CfBinder {
public:
  explicit CfBinder(const Ctx &C) : C(C) {}

  /// Binds the region input type Formal to the operand type Actual.
  llvm::Error bind(const TensorType &Formal, const TensorType &Actual,
                   const llvm::Twine &What) {
    if (Formal.elem() != Actual.elem() || Formal.rank() != Actual.rank())
      return C.err(What + " is " + Formal.str() + " in the region but " +
                   Actual.str() + " outside");
    for (unsigned D = 0; D < Formal.rank(); ++D) {
      const Dim &F = Formal.dim(D), &A = Actual.dim(D);
      if (F.isStatic()) {
        if (A.isStatic() && A.size() != F.size())
          return C.err(What + " is " + Formal.str() + " in the region but " +
                       Actual.str() + " outside");
        continue;
      }
      if (!F.isSymbol())
        continue;
      auto [It, New] = Syms.try_emplace(F.sym(), A);
      if (!New && It->second != A) {
        if (It->second.isStatic() && A.isStatic())
          return C.err(What + ": region symbol " + F.sym().str() +
                       " is bound to both " + It->second.str() + " and " +
                       A.str());
        if (!It->second.isStatic())
          It->second = A.isStatic() ? A : Dim::unknown();
      }
    }
    return llvm::Error::success();
  }

  /// A region result type seen from outside.
  TensorType subst(const TensorType &T) const {
    Shape S;
    for (const Dim &D : T.dims()) {
      if (!D.isSymbol()) {
        S.push_back(D);
        continue;
      }
      auto It = Syms.find(D.sym());
      S.push_back(It == Syms.end() ? Dim::unknown() : It->second);
    }
    return TensorType(T.elem(), S);
  }

private:
  const Ctx &C;
  llvm::StringMap<Dim> Syms;
};

/// A and B dim by dim, '?' where they differ; an error when the element
/// types or ranks differ.
llvm::Expected<TensorType> cfJoin(const Ctx &C, const TensorType &A,
                                  const TensorType &B,
                                  const llvm::Twine &What) {
  if (A.elem() != B.elem() || A.rank() != B.rank())
    return C.err(What + ": " + A.str() + " and " + B.str() +
                 " differ in element type or rank");
  Shape S;
  for (unsigned D = 0; D < A.rank(); ++D)
    S.push_back(A.dim(D) == B.dim(D) ? A.dim(D) : Dim::unknown());
  return TensorType(A.elem(), S);
}

/// Checks that region R exists, has no parameters and takes the operand
/// types In (binding its symbols in B).
llvm::Error cfBindInputs(const Ctx &C, const Function &R,
                         llvm::ArrayRef<TensorType> In, CfBinder &B) {
  if (!R.Params.empty())
    return C.err("region '" + R.Name + "' has parameters; a region takes "
                 "only inputs");
  if (R.Inputs.size() != In.size())
    return C.err("region '" + R.Name + "' takes " +
                 std::to_string(R.Inputs.size()) + " input(s), but the op "
                 "passes " + std::to_string(In.size()));
  for (size_t I = 0; I < In.size(); ++I)
    if (auto E = B.bind(R.Inputs[I]->Type, In[I],
                        "input " + std::to_string(I) + " of region '" +
                            R.Name + "'"))
      return E;
  return llvm::Error::success();
}

llvm::Error cfScalar(const Ctx &C, const TensorType &T, bool WantBool,
                     const llvm::Twine &What) {
  if (WantBool ? T.elem() != DType::Bool : !isInteger(T.elem()))
    return C.err(What + " must be " + (WantBool ? "bool" : "an integer") +
                 " with one element, got " + T.str());
  auto N = T.numElements();
  if (N && *N != 1)
    return C.err(What + " must have one element, got " + T.str());
  return llvm::Error::success();
}

Result inferIf(const Ctx &C) {
  if (auto E = cfScalar(C, C.In[0], true, "the condition"))
    return std::move(E);
  llvm::ArrayRef<TensorType> Caps = C.In.drop_front(1);
  llvm::SmallVector<TensorType, 1> R;
  for (unsigned K = 0; K < 2; ++K) {
    const Function &G = *C.Op.Regions[K];
    CfBinder B(C);
    if (auto E = cfBindInputs(C, G, Caps, B))
      return std::move(E);
    if (K == 1 && G.Outputs.size() != R.size())
      return C.err("region 'then' returns " + std::to_string(R.size()) +
                   " value(s), 'else' returns " +
                   std::to_string(G.Outputs.size()));
    for (size_t I = 0; I < G.Outputs.size(); ++I) {
      TensorType T = B.subst(G.Outputs[I]->Type);
      if (K == 0) {
        R.push_back(T);
        continue;
      }
      auto J = cfJoin(C, R[I], T, "result " + std::to_string(I) +
                                      " of the branches");
      if (!J)
        return J.takeError();
      R[I] = *J;
    }
  }
  return R;
}

/// Whether the body's condition output is its condition input (or a
/// constant true): then the trip count alone decides the iterations.
bool cfCondPassesThrough(const Function &Body) {
  const Value *Out = Body.Outputs[0];
  if (Out == Body.Inputs[1].get())
    return true;
  if (Out->Def && Out->Def->kind() == OpKind::Identity &&
      Out->Def->operand(0) == Body.Inputs[1].get())
    return true;
  if (Out->Def && Out->Def->kind() == OpKind::Constant) {
    const Tensor &T = *Out->Def->attr("value").getTensor();
    return T.numElements() == 1 && T.getI(0) != 0;
  }
  return false;
}

Result inferLoop(const Ctx &C) {
  int64_t NC = C.Op.getInt("num_carried");
  if (NC < 0 || NC > int64_t(C.In.size()) - 2)
    return C.err("num_carried must be in [0, " +
                 std::to_string(C.In.size() - 2) + "], got " +
                 std::to_string(NC));
  if (auto E = cfScalar(C, C.In[0], false, "the trip count"))
    return std::move(E);
  if (auto E = cfScalar(C, C.In[1], true, "the condition"))
    return std::move(E);
  const Function &Body = *C.Op.Regions[0];
  llvm::SmallVector<TensorType, 8> In = {TensorType(DType::I64, {}),
                                         TensorType(DType::Bool, {})};
  In.append(C.In.begin() + 2, C.In.end());
  CfBinder B(C);
  if (auto E = cfBindInputs(C, Body, In, B))
    return std::move(E);
  if (Body.Outputs.size() < size_t(1 + NC))
    return C.err("the body returns " + std::to_string(Body.Outputs.size()) +
                 " value(s); it must return the condition and the " +
                 std::to_string(NC) + " carried value(s)");
  if (auto E = cfScalar(C, Body.Outputs[0]->Type, true,
                        "the body's condition result"))
    return std::move(E);
  llvm::SmallVector<TensorType, 1> R;
  for (int64_t K = 0; K < NC; ++K) {
    auto J = cfJoin(C, C.In[2 + K], B.subst(Body.Outputs[1 + K]->Type),
                    "carried value " + std::to_string(K) +
                        " before and after an iteration");
    if (!J)
      return J.takeError();
    R.push_back(*J);
  }
  // The iteration count is known when the trip count is, the loop starts
  // with cond true and the body passes its condition through.
  Dim Iters = Dim::unknown();
  const Tensor *Trip = C.value(0), *Cond = C.value(1);
  if (Trip && Cond && Cond->numElements() == 1 && Cond->getI(0) &&
      Trip->numElements() == 1 && Trip->getI(0) <= MaxElements &&
      cfCondPassesThrough(Body))
    Iters = Dim::fixed(std::max<int64_t>(0, Trip->getI(0)));
  for (size_t K = 1 + NC; K < Body.Outputs.size(); ++K) {
    TensorType T = B.subst(Body.Outputs[K]->Type);
    Shape S = {Iters};
    S.append(T.dims().begin(), T.dims().end());
    R.push_back(TensorType(T.elem(), S));
  }
  return R;
}

/// A per-item attribute list of a scan: its entries, or N zeros when
/// it is empty.
llvm::Expected<llvm::SmallVector<int64_t, 4>>
cfPerItem(const Ctx &C, llvm::StringRef Name, size_t N) {
  llvm::ArrayRef<int64_t> V = C.Op.getInts(Name);
  if (V.empty())
    return llvm::SmallVector<int64_t, 4>(N, 0);
  if (V.size() != N)
    return C.err(Name + " has " + std::to_string(V.size()) +
                 " entries, expected " + std::to_string(N));
  return llvm::SmallVector<int64_t, 4>(V.begin(), V.end());
}

Result inferScan(const Ctx &C) {
  int64_t NS = C.Op.getInt("num_states"), M = C.Op.getInt("num_scan_inputs");
  if (NS < 0 || M < 1 || NS + M > int64_t(C.In.size()))
    return C.err("num_states (" + std::to_string(NS) +
                 ") and num_scan_inputs (" + std::to_string(M) +
                 ") must be >= 0 and >= 1 and fit the " +
                 std::to_string(C.In.size()) + " operand(s)");
  const Function &Body = *C.Op.Regions[0];
  if (Body.Outputs.size() < size_t(NS))
    return C.err("the body returns fewer values than there are states");
  size_t NOut = Body.Outputs.size() - NS;
  auto InAxes = cfPerItem(C, "scan_input_axes", M);
  auto InDirs = cfPerItem(C, "scan_input_directions", M);
  auto OutAxes = cfPerItem(C, "scan_output_axes", NOut);
  auto OutDirs = cfPerItem(C, "scan_output_directions", NOut);
  if (!InAxes || !InDirs || !OutAxes || !OutDirs) {
    llvm::Error E = llvm::joinErrors(
        llvm::joinErrors(InAxes.takeError(), InDirs.takeError()),
        llvm::joinErrors(OutAxes.takeError(), OutDirs.takeError()));
    return std::move(E);
  }
  for (int64_t D : *InDirs)
    if (D != 0 && D != 1)
      return C.err("scan directions must be 0 or 1, got " + std::to_string(D));
  for (int64_t D : *OutDirs)
    if (D != 0 && D != 1)
      return C.err("scan directions must be 0 or 1, got " + std::to_string(D));
  llvm::SmallVector<TensorType, 8> In(C.In.begin(), C.In.begin() + NS);
  std::optional<Dim> Len;
  for (int64_t J = 0; J < M; ++J) {
    const TensorType &X = C.In[NS + J];
    auto A = normalizeAxis((*InAxes)[J], X.rank(), C.Op.L);
    if (!A)
      return A.takeError();
    const Dim &D = X.dim(*A);
    if (!Len)
      Len = D;
    else if (*Len != D) {
      if (Len->isStatic() && D.isStatic())
        return C.err("scan inputs have different lengths (" + Len->str() +
                     " and " + D.str() + ")");
      if (D.isStatic())
        Len = D;
      else if (!Len->isStatic())
        Len = Dim::unknown();
    }
    Shape S = X.dims();
    S.erase(S.begin() + *A);
    In.push_back(TensorType(X.elem(), S));
  }
  In.append(C.In.begin() + NS + M, C.In.end());
  CfBinder B(C);
  if (auto E = cfBindInputs(C, Body, In, B))
    return std::move(E);
  llvm::SmallVector<TensorType, 1> R;
  for (int64_t K = 0; K < NS; ++K) {
    auto J = cfJoin(C, C.In[K], B.subst(Body.Outputs[K]->Type),
                    "state " + std::to_string(K) +
                        " before and after an iteration");
    if (!J)
      return J.takeError();
    R.push_back(*J);
  }
  for (size_t K = 0; K < NOut; ++K) {
    TensorType T = B.subst(Body.Outputs[NS + K]->Type);
    auto A = normalizeAxis((*OutAxes)[K], T.rank() + 1, C.Op.L);
    if (!A)
      return A.takeError();
    Shape S = T.dims();
    S.insert(S.begin() + *A, *Len);
    R.push_back(TensorType(T.elem(), S));
  }
  return R;
}

} // namespace

Result shape::inferControlFlow(const Ctx &C) {
  unsigned Want = numRegions(C.Op.kind());
  if (C.Op.Regions.size() != Want)
    return C.err("has " + std::to_string(C.Op.Regions.size()) +
                 " region(s), expected " + std::to_string(Want));
  switch (C.Op.kind()) {
  case OpKind::If:
    return inferIf(C);
  case OpKind::Loop:
    return inferLoop(C);
  default:
    return inferScan(C);
  }
}

ScanLayout dlc::scanLayout(const Operation &Op) {
  unsigned NS = Op.getInt("num_states"), M = Op.getInt("num_scan_inputs");
  unsigned NOut = Op.Regions[0]->Outputs.size() - NS;
  auto list = [&](llvm::StringRef Name, unsigned N) {
    llvm::ArrayRef<int64_t> V = Op.getInts(Name);
    return V.empty() ? std::vector<int64_t>(N, 0)
                     : std::vector<int64_t>(V.begin(), V.end());
  };
  return {list("scan_input_axes", M), list("scan_input_directions", M),
          list("scan_output_axes", NOut), list("scan_output_directions", NOut)};
}
