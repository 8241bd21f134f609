// Shape computations whose values are only known at run time (the dims of
// a value with unknown sizes), tracked entry by entry through Shape,
// Gather, Slice, Concat, Unsqueeze, Squeeze, Reshape, Cast, Identity and
// Mul (by constants), so that
// Reshape, Expand and ConstantOfShape can take such a shape: as attribute
// entries where they resolve, else through a like operand built from the
// values whose dims they are. Shapes beyond that (arithmetic on dims, data
// of graph inputs) become by_value operands, read when the run-time plan is
// built (shapeIn).
#include "frontend/onnx/NodeContext.h"

using namespace dlc;
using namespace dlc::onnximp;

std::optional<std::vector<SymDim>> NodeContext::symIn(unsigned I) {
  if (!has(I))
    return std::nullopt;
  Value *V = VT.Values.lookup(Node.input(I));
  if (!V || V->Type.rank() > 1)
    return std::nullopt;
  if (const Tensor *T = constIn(I)) {
    if (!isInteger(T->elem()))
      return std::nullopt;
    std::vector<SymDim> R;
    for (int64_t K = 0; K < T->numElements(); ++K)
      R.push_back({nullptr, 0, T->getI(K)});
    return R;
  }
  auto It = VT.Syms.find(V);
  if (It == VT.Syms.end())
    return std::nullopt;
  return It->second;
}

Value *NodeContext::likeOf(llvm::ArrayRef<SymDim> Entries) {
  int64_t N = Entries.size();
  if (N == 0)
    return scalar(DType::I64, 0);
  Value *Like = nullptr;
  for (int64_t K = 0; K < N && !failed(); ++K) {
    const SymDim &E = Entries[K];
    std::vector<int64_t> Shape(N, 1);
    Value *Part;
    if (!E.Of) {
      if (E.Const < 0) {
        fail("shape entry " + llvm::Twine(E.Const) + " is not a size");
        return nullptr;
      }
      Shape[K] = E.Const;
      Part = op(OpKind::Expand, {scalar(DType::Bool, 0)}, {aInts("shape", Shape)});
    } else {
      // One element of E.Of except along E.Dim, laid along dim K.
      std::vector<int64_t> Starts, Ends, Axes;
      for (unsigned D = 0; D < E.Of->Type.rank(); ++D)
        if (D != E.Dim) {
          Starts.push_back(0);
          Ends.push_back(1);
          Axes.push_back(D);
        }
      Part = E.Of;
      if (!Axes.empty())
        Part = op(OpKind::Slice, {Part}, {aInts("starts", Starts), aInts("ends", Ends),
                                          aInts("axes", Axes)});
      Shape[K] = -1;
      Part = op(OpKind::Reshape, {Part}, {aInts("shape", Shape)});
    }
    Like = Like ? op(OpKind::Expand, {Like, Part}) : Part;
  }
  return Like;
}

Value *NodeContext::shapeIn(unsigned I, llvm::StringRef What) {
  Value *V = in(I);
  if (!V)
    return nullptr;
  const TensorType &T = V->Type;
  if (isInteger(T.elem()) && T.rank() == 1 && !T.dim(0).isStatic()) {
    failNeedsStatic(T.dim(0), "operand '" + What + "' must be an integer "
                              "vector of static length, got " + T.str());
    return nullptr;
  }
  if (!isInteger(T.elem()) || T.rank() != 1) {
    fail("operand '" + What + "' must be an integer vector of static length, "
         "got " + T.str());
    return nullptr;
  }
  return cast(V, DType::I64);
}

/// Entries of a rank-0 or rank-1 integer value (constant or tracked).
static std::optional<std::vector<SymDim>>
entriesOf(ValueTable &VT, Value *V) {
  if (!V || V->Type.rank() > 1 || !isInteger(V->Type.elem()))
    return std::nullopt;
  if (V->Def && V->Def->kind() == OpKind::Constant) {
    const Tensor &T = *V->Def->attr("value").getTensor();
    std::vector<SymDim> R;
    for (int64_t K = 0; K < T.numElements(); ++K)
      R.push_back({nullptr, 0, T.getI(K)});
    return R;
  }
  auto It = VT.Syms.find(V);
  if (It == VT.Syms.end())
    return std::nullopt;
  return It->second;
}

void NodeContext::trackShapes() {
  if (failed() || Node.output_size() < 1)
    return;
  Value *Out = VT.Values.lookup(Node.output(0));
  if (!Out || (Out->Def && Out->Def->kind() == OpKind::Constant))
    return; // folded: the constant says it all
  llvm::StringRef T = Node.op_type();
  auto In = [&](unsigned I) -> Value * {
    return has(I) ? VT.Values.lookup(Node.input(I)) : nullptr;
  };
  std::vector<SymDim> R;
  if (T == "Shape") {
    Value *X = In(0);
    int64_t Rank = X->Type.rank();
    auto Clamp = [&](int64_t V) {
      V = V < 0 ? V + Rank : V;
      return std::clamp<int64_t>(V, 0, Rank);
    };
    int64_t S = Clamp(attrInt("start", 0)), E = Clamp(attrInt("end", Rank));
    for (int64_t D = S; D < E; ++D)
      R.push_back(X->Type.dim(D).isStatic()
                      ? SymDim{nullptr, 0, X->Type.dim(D).size()}
                      : SymDim{X, unsigned(D), 0});
  } else if (T == "Identity" || T == "Cast" || T == "Unsqueeze" ||
             T == "Squeeze" || T == "Reshape") {
    auto A = entriesOf(VT, In(0));
    if (!A || !isInteger(Out->Type.elem()) || Out->Type.rank() > 1 ||
        Out->Type.numElements() != In(0)->Type.numElements())
      return;
    R = *A;
  } else if (T == "Mul") {
    // Entry by entry (equal lengths): a product of constants, or an entry
    // times a constant 1 (the exporter's product of trailing dims).
    auto A = entriesOf(VT, In(0)), B = entriesOf(VT, In(1));
    if (!A || !B || A->size() != B->size() || !isInteger(Out->Type.elem()))
      return;
    for (size_t K = 0; K < A->size(); ++K) {
      const SymDim &X = (*A)[K], &Y = (*B)[K];
      if (!X.Of && !Y.Of)
        R.push_back({nullptr, 0, X.Const * Y.Const});
      else if (!X.Of && X.Const == 1)
        R.push_back(Y);
      else if (!Y.Of && Y.Const == 1)
        R.push_back(X);
      else
        return;
    }
  } else if (T == "Concat") {
    for (unsigned I = 0; I < numInputs(); ++I) {
      auto A = entriesOf(VT, In(I));
      if (!A || In(I)->Type.rank() != 1)
        return;
      R.insert(R.end(), A->begin(), A->end());
    }
  } else if (T == "Gather") {
    auto A = entriesOf(VT, In(0));
    Value *Idx = In(1);
    if (!A || In(0)->Type.rank() != 1 || !Idx || !Idx->Def ||
        Idx->Def->kind() != OpKind::Constant || Idx->Type.rank() > 1)
      return;
    const Tensor &IT = *Idx->Def->attr("value").getTensor();
    int64_t N = A->size();
    for (int64_t K = 0; K < IT.numElements(); ++K) {
      int64_t I = IT.getI(K);
      I = I < 0 ? I + N : I;
      if (I < 0 || I >= N)
        return;
      R.push_back((*A)[I]);
    }
  } else if (T == "Slice") {
    auto A = entriesOf(VT, In(0));
    if (!A || In(0)->Type.rank() != 1 || Out->Def->kind() != OpKind::Slice)
      return;
    const Operation &S = *Out->Def;
    auto Starts = S.getInts("starts"), Ends = S.getInts("ends"),
         Steps = S.getInts("steps");
    if (Starts.size() != 1 || (!Steps.empty() && Steps[0] != 1))
      return;
    int64_t N = A->size();
    auto Clamp = [&](int64_t V) {
      V = V < 0 ? V + N : V;
      return std::clamp<int64_t>(V, 0, N);
    };
    for (int64_t I = Clamp(Starts[0]), E = Clamp(Ends[0]); I < E; ++I)
      R.push_back((*A)[I]);
  } else {
    return;
  }
  if (Out->Type.numElements() && *Out->Type.numElements() != int64_t(R.size()))
    return;
  VT.Syms[Out] = std::move(R);
}
