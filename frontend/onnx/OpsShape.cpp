// ONNX shape queries and value sources: Shape, Size, Constant,
// ConstantOfShape, Range, EyeLike, OneHot, and the masked or triangular
// compositions Trilu, CumSum and CumProd.
#include "frontend/onnx/ImportConstant.h"
#include "frontend/onnx/NodeContext.h"
#include "frontend/onnx/OnnxTensor.h"

#include <cmath>

using namespace dlc;
using namespace dlc::onnximp;

static void shape(NodeContext &C) {
  C.allowAttrs({"start", "end"});
  Value *X = C.in(0);
  if (!X)
    return;
  int64_t R = X->Type.rank();
  auto Clamp = [&](int64_t V) {
    V = V < 0 ? V + R : V;
    return std::clamp<int64_t>(V, 0, R);
  };
  int64_t S = Clamp(C.attrInt("start", 0)), E = Clamp(C.attrInt("end", R));
  Value *Y = C.op(OpKind::ShapeOf, {X});
  if (S != 0 || E != R)
    Y = C.op(OpKind::Slice, {Y}, {aInts("starts", {S}), aInts("ends", {E})});
  C.setOutput(0, Y);
}

static void size(NodeContext &C) {
  C.allowAttrs({});
  Value *S = C.op(OpKind::ShapeOf, {C.in(0)});
  C.setOutput(0, C.op(OpKind::ReduceProd, {S}, {aBool("keepdims", false)}));
}

static void constant(NodeContext &C) {
  if (C.Node.attribute_size() != 1)
    return C.fail("needs exactly one value attribute");
  llvm::StringRef Name = C.Node.attribute(0).name();
  if (Name == "value") {
    const onnx::TensorProto *P = C.attrTensor("value");
    if (!P)
      return C.fail("attribute 'value' must be a tensor");
    auto T = tensorFromProto(*P, ".");
    if (!T)
      return C.fail("value: " + llvm::toString(T.takeError()));
    return C.setOutput(0, C.constant(std::move(*T)));
  }
  Tensor T;
  if (Name == "value_float") {
    T = Tensor(DType::F32, {});
    T.setF(0, C.attrFloat(Name, 0));
  } else if (Name == "value_int") {
    T = Tensor(DType::I64, {});
    T.setI(0, C.attrInt(Name, 0));
  } else if (Name == "value_floats") {
    auto V = C.attrFloats(Name);
    T = Tensor(DType::F32, {int64_t(V.size())});
    for (size_t I = 0; I < V.size(); ++I)
      T.setF(I, V[I]);
  } else if (Name == "value_ints") {
    auto V = C.attrInts(Name);
    T = Tensor(DType::I64, {int64_t(V.size())});
    for (size_t I = 0; I < V.size(); ++I)
      T.setI(I, V[I]);
  } else {
    return C.fail("attribute '" + Name + "' is not supported");
  }
  if (!C.failed())
    C.setOutput(0, C.constant(std::move(T)));
}

static void constantOfShape(NodeContext &C) {
  C.allowAttrs({"value"});
  std::optional<std::vector<SymDim>> Sym;
  if (!C.constIn(0))
    Sym = C.symIn(0);
  if (Sym && !llvm::all_of(*Sym, [](const SymDim &D) { return D.Of || D.Const >= 0; }))
    Sym.reset();
  // A shape computed at run time beyond tracked dims: read by value.
  Value *ByValue = !C.constIn(0) && !Sym ? C.shapeIn(0, "input") : nullptr;
  if (!C.constIn(0) && !Sym && !ByValue)
    return;
  auto S = Sym || ByValue
               ? std::optional<std::vector<int64_t>>(std::vector<int64_t>())
               : C.intsIn(0, "input");
  if (!S)
    return;
  Tensor V(DType::F32, {});
  if (const onnx::TensorProto *P = C.attrTensor("value")) {
    auto T = tensorFromProto(*P, ".");
    if (!T)
      return C.fail("value: " + llvm::toString(T.takeError()));
    if (T->numElements() != 1)
      return C.fail("value must have one element");
    V = Tensor(T->elem(), {});
    std::memcpy(V.data(), T->data(), T->byteSize());
  }
  if (ByValue)
    return C.setOutput(0, C.op(OpKind::Expand, {C.constant(std::move(V)), ByValue},
                                {aBool("by_value", true)}));
  if (Sym) // a shape known at run time: the value expanded to a like tensor
    return C.setOutput(0, C.op(OpKind::Expand, {C.constant(std::move(V)),
                                                C.likeOf(*Sym)}));
  for (int64_t D : *S)
    if (D < 0)
      return C.fail("negative dim " + llvm::Twine(D) + " in the shape");
  if (S->empty())
    return C.setOutput(0, C.constant(std::move(V)));
  // A scalar expanded to the shape: large results stay an op.
  C.setOutput(0, C.op(OpKind::Expand, {C.constant(std::move(V))},
                      {aInts("shape", *S)}));
}

/// Range with operands known only at run time: start + iota * delta over
/// max(ceil((limit - start) / delta), 0) elements, a length read by value.
static void rangeByValue(NodeContext &C) {
  Value *S = C.in(0), *L = C.in(1), *D = C.in(2);
  if (!S || !L || !D)
    return;
  for (Value *V : {S, L, D})
    if (V->Type.rank() != 0 || V->Type.elem() != S->Type.elem())
      return C.fail("start, limit and delta must be scalars of one type, got " +
                    V->Type.str());
  DType E = S->Type.elem();
  auto F64 = [&](Value *V) { return C.cast(V, DType::F64); };
  Value *N = C.op(OpKind::Div, {C.op(OpKind::Sub, {F64(L), F64(S)}), F64(D)});
  // A NaN count (a NaN operand, or inf - inf) would cast to 0, an empty
  // range: make it -1, which the by-value Expand below refuses with this
  // node's location (an infinite one saturates and is refused as too large).
  Value *Defined = C.op(OpKind::Equal, {N, N});
  N = C.op(OpKind::Max, {C.op(OpKind::Ceil, {N}), C.scalar(DType::F64, 0)});
  N = C.op(OpKind::Where, {Defined, N, C.scalar(DType::F64, -1)});
  N = C.op(OpKind::Reshape, {C.cast(N, DType::I64)}, {aInts("shape", {1})});
  Value *Like = C.op(OpKind::Expand, {C.scalar(DType::I64, 0), N},
                     {aBool("by_value", true)});
  Value *Steps = C.cast(C.iota(Like, 0), E);
  C.setOutput(0, C.op(OpKind::Add, {S, C.op(OpKind::Mul, {Steps, D})}));
}

/// The element count of a constant Range, max(ceil((limit - start) / delta),
/// 0), or an error naming the operand that makes it undefined or too large.
/// Integer ranges count in 128 bits: limit - start may not fit 64.
static std::optional<int64_t> rangeCount(NodeContext &C, const Tensor &S,
                                         const Tensor &L, const Tensor &D) {
  const int64_t MaxCount = int64_t(1) << 26;
  if (!isFloat(S.elem())) {
    __int128 Start = S.getI(0), Limit = L.getI(0), Delta = D.getI(0);
    if (Delta == 0) {
      C.fail("delta must not be 0");
      return std::nullopt;
    }
    __int128 Span = Limit - Start;
    // ceil(Span / Delta) with C++ division truncating toward zero.
    __int128 N =
        Span / Delta + (Span % Delta != 0 && (Span < 0) == (Delta < 0));
    if (N > MaxCount) {
      C.fail("the range has too many elements");
      return std::nullopt;
    }
    return int64_t(std::max<__int128>(N, 0));
  }
  const char *Names[] = {"start", "limit", "delta"};
  const Tensor *Ops[] = {&S, &L, &D};
  for (int I = 0; I < 3; ++I) {
    double V = Ops[I]->getF(0);
    if (!std::isfinite(V)) {
      const char *Text = std::isnan(V) ? "nan" : V > 0 ? "inf" : "-inf";
      C.fail(llvm::Twine(Names[I]) + " = " + Text +
             ": start, limit and delta must be finite");
      return std::nullopt;
    }
  }
  if (D.getF(0) == 0) {
    C.fail("delta must not be 0");
    return std::nullopt;
  }
  // Finite operands can still give an infinite quotient (1e308 / 1e-308).
  double N = std::ceil((L.getF(0) - S.getF(0)) / D.getF(0));
  if (!(N <= double(MaxCount))) {
    C.fail("the range has too many elements");
    return std::nullopt;
  }
  return N > 0 ? int64_t(N) : 0;
}

static void range(NodeContext &C) {
  C.allowAttrs({});
  if (!C.constIn(0) || !C.constIn(1) || !C.constIn(2))
    return rangeByValue(C);
  DType E = C.in(0)->Type.elem();
  if (C.in(1)->Type.elem() != E || C.in(2)->Type.elem() != E ||
      !(isFloat(E) || isInteger(E)))
    return C.fail("start, limit and delta must be numbers of one type, got " +
                  C.in(0)->Type.str() + ", " + C.in(1)->Type.str() + ", " +
                  C.in(2)->Type.str());
  if (!C.scalarIn(0, "start") || !C.scalarIn(1, "limit") ||
      !C.scalarIn(2, "delta"))
    return;
  const Tensor &S = *C.constIn(0), &L = *C.constIn(1), &D = *C.constIn(2);
  auto Count = rangeCount(C, S, L, D);
  if (!Count)
    return;
  Tensor T(E, {*Count});
  for (int64_t I = 0; I < *Count; ++I) {
    if (isFloat(E))
      T.setF(I, S.getF(0) + I * D.getF(0));
    else // within [start, limit): no overflow
      T.setI(I, S.getI(0) + I * D.getI(0));
  }
  C.setOutput(0, C.constant(std::move(T)));
}

static void eyeLike(NodeContext &C) {
  C.allowAttrs({"dtype", "k"});
  Value *X = C.in(0);
  if (!X)
    return;
  if (X->Type.rank() != 2)
    return C.fail("needs a 2-D input, got " + X->Type.str());
  DType E = X->Type.elem();
  if (C.hasAttr("dtype")) {
    auto D = dtypeFromOnnx(C.attrInt("dtype", 1));
    if (!D)
      return C.fail("dtype is not supported");
    E = *D;
  }
  if (E == DType::Str)
    return C.fail("needs a numeric output type, got str");
  int64_t K = C.attrInt("k", 0);
  if (!X->Type.isStatic() || *X->Type.numElements() > FoldLimit) {
    // Ones where column - row == k, from the positions at run time.
    Value *Diff = C.op(OpKind::Sub, {C.iota(X, 1), C.iota(X, 0)});
    Value *On = C.op(OpKind::Equal, {Diff, C.scalar(DType::I64, double(K))});
    return C.setOutput(0, C.cast(On, E));
  }
  auto Sz = X->Type.staticSizes();
  Tensor T(E, Sz);
  for (int64_t I = 0; I < Sz[0]; ++I)
    if (I + K >= 0 && I + K < Sz[1])
      T.setI(I * Sz[1] + I + K, 1);
  C.setOutput(0, C.constant(std::move(T)));
}

static void oneHot(NodeContext &C) {
  C.allowAttrs({"axis"});
  Value *Idx = C.in(0), *Vals = C.in(2);
  auto Depth = C.intScalarIn(1, "depth");
  if (!Idx || !Vals || !Depth)
    return;
  int64_t D = *Depth;
  int64_t R = Idx->Type.rank() + 1;
  int64_t Axis = normAxis(C.attrInt("axis", -1), R);
  if (Axis < 0)
    return C.fail("axis is out of range");
  // Negative indices count from the end of the depth.
  Value *I64 = C.cast(Idx, DType::I64);
  Value *Neg = C.op(OpKind::Less, {I64, C.scalar(DType::I64, 0)});
  I64 = C.op(OpKind::Where, {Neg, C.op(OpKind::Add, {I64, C.scalar(DType::I64, D)}), I64});
  Value *Hot = C.op(OpKind::OneHot, {I64}, {aInt("depth", D), aType("dtype", DType::Bool)});
  Value *Off = C.op(OpKind::Gather, {Vals, C.scalar(DType::I64, 0)});
  Value *On = C.op(OpKind::Gather, {Vals, C.scalar(DType::I64, 1)});
  Value *Y = C.op(OpKind::Where, {Hot, On, Off});
  if (Axis != R - 1) {
    std::vector<int64_t> Perm;
    for (int64_t I = 0; I < R - 1; ++I) {
      if (I == Axis)
        Perm.push_back(R - 1);
      Perm.push_back(I);
    }
    Y = C.op(OpKind::Transpose, {Y}, {aInts("perm", Perm)});
  }
  C.setOutput(0, Y);
}

/// A bool mask M[i][j] = Keep(i, j) of static size [N, M].
/// Null (and C failed) when it would be too large.
template <typename F> static Value *mask(NodeContext &C, int64_t N, int64_t M, F Keep) {
  std::optional<Tensor> T =
      newConstantTensor(C, DType::Bool, {N, M}, "the mask");
  if (!T)
    return nullptr;
  for (int64_t I = 0; I < N; ++I)
    for (int64_t J = 0; J < M; ++J)
      T->setI(I * M + J, Keep(I, J));
  return C.constant(std::move(*T));
}

static void trilu(NodeContext &C) {
  C.allowAttrs({"upper"});
  Value *X = C.in(0);
  if (!X)
    return;
  int64_t K = 0;
  if (C.has(1)) {
    auto V = C.intScalarIn(1, "k");
    if (!V)
      return;
    K = *V;
  }
  unsigned R = X->Type.rank();
  if (R < 2)
    return C.fail("needs rank 2 or more, got " + X->Type.str());
  bool Upper = C.attrInt("upper", 1);
  if (!X->Type.dim(R - 2).isStatic() || !X->Type.dim(R - 1).isStatic() ||
      !withinFoldLimit(X->Type.dim(R - 2).size(), X->Type.dim(R - 1).size())) {
    // The mask from the positions at run time: column - row against k.
    Value *Diff = C.op(OpKind::Sub, {C.iota(X, R - 1), C.iota(X, R - 2)});
    Value *Kv = C.scalar(DType::I64, double(K));
    Value *Keep = C.op(Upper ? OpKind::GreaterEqual : OpKind::LessEqual, {Diff, Kv});
    return C.setOutput(0, C.op(OpKind::Where, {Keep, X, C.scalar(X->Type.elem(), 0)}));
  }
  Value *Mask = mask(C, X->Type.dim(R - 2).size(), X->Type.dim(R - 1).size(),
                     [&](int64_t I, int64_t J) {
                       return Upper ? J - I >= K : J - I <= K;
                     });
  C.setOutput(0, C.op(OpKind::Where, {Mask, X, C.scalar(X->Type.elem(), 0)}));
}

/// CumSum as a product with a triangular 0/1 matrix along the axis (moved
/// last); integers compute in f64, exact below 2^53. With a size known only
/// at run time: a masked sum over an [.., N, N] grid of the same elements.
/// The cumulative sum (Prod false) or product along Axis as a masked
/// reduction over an [.., N, N] grid of the elements.
static Value *cumulativeGrid(NodeContext &C, Value *X, int64_t Axis, bool Ex,
                             bool Rev, bool Prod) {
  int64_t R = X->Type.rank();
  std::vector<int64_t> Perm, Inv;
  axisLastPerm(R, Axis, Perm, Inv);
  Value *Y = X;
  if (Axis != R - 1)
    Y = C.op(OpKind::Transpose, {Y}, {aInts("perm", Perm)});
  // Grid[.., i, j] = Y[.., j]; output i sums the j that the mask keeps.
  Value *Col = C.op(OpKind::Unsqueeze, {Y}, {aInts("axes", {R - 1})});
  Value *Row = C.op(OpKind::Unsqueeze, {Y}, {aInts("axes", {R})});
  Value *Grid = C.op(OpKind::Expand, {Col, Row});
  Value *I = C.iota(Grid, R - 1), *J = C.iota(Grid, R);
  OpKind Cmp = Rev ? (Ex ? OpKind::Greater : OpKind::GreaterEqual)
                   : (Ex ? OpKind::Less : OpKind::LessEqual);
  Value *Keep = C.op(Cmp, {J, I});
  Value *Sel = C.op(OpKind::Where, {Keep, Grid, C.scalar(X->Type.elem(), Prod)});
  Y = C.op(Prod ? OpKind::ReduceProd : OpKind::ReduceSum, {Sel},
           {aInts("axes", {R}), aBool("keepdims", false)});
  if (Axis != R - 1)
    Y = C.op(OpKind::Transpose, {Y}, {aInts("perm", Inv)});
  return Y;
}

static void cumSum(NodeContext &C) {
  C.allowAttrs({"exclusive", "reverse"});
  Value *X = C.in(0);
  auto A = C.intScalarIn(1, "axis");
  if (!X || !A)
    return;
  int64_t R = X->Type.rank();
  int64_t Axis = normAxis(*A, R);
  if (Axis < 0)
    return C.fail("axis is out of range for " + X->Type.str());
  bool Ex = C.attrInt("exclusive", 0), Rev = C.attrInt("reverse", 0);
  if (!X->Type.dim(Axis).isStatic())
    return C.setOutput(0, cumulativeGrid(C, X, Axis, Ex, Rev, false));
  int64_t N = X->Type.dim(Axis).size();
  DType E = X->Type.elem(), W = isFloat(E) ? E : DType::F64;
  Value *M = mask(C, N, N, [&](int64_t I, int64_t J) {
    return Rev ? (Ex ? I > J : I >= J) : (Ex ? I < J : I <= J);
  });
  if (!M)
    return;
  M = C.cast(M, W);
  std::vector<int64_t> Perm, Inv;
  axisLastPerm(R, Axis, Perm, Inv);
  Value *Y = C.cast(X, W);
  if (Axis != R - 1)
    Y = C.op(OpKind::Transpose, {Y}, {aInts("perm", Perm)});
  Y = C.op(OpKind::MatMul, {Y, M});
  if (Axis != R - 1)
    Y = C.op(OpKind::Transpose, {Y}, {aInts("perm", Inv)});
  C.setOutput(0, C.cast(Y, E));
}

static void cumProd(NodeContext &C) {
  C.allowAttrs({"exclusive", "reverse"});
  Value *X = C.in(0);
  auto A = C.intScalarIn(1, "axis");
  if (!X || !A)
    return;
  int64_t Axis = normAxis(*A, X->Type.rank());
  if (Axis < 0)
    return C.fail("axis is out of range for " + X->Type.str());
  C.setOutput(0, cumulativeGrid(C, X, Axis, C.attrInt("exclusive", 0),
                                C.attrInt("reverse", 0), true));
}

void onnximp::addShapeOps(std::vector<OpEntry> &T) {
  T.insert(T.end(), {
      {"Shape", 1, shape, {}},
      {"Size", 1, size, {}},
      {"Constant", 1, constant, {}},
      {"ConstantOfShape", 9, constantOfShape, {0}},
      {"Range", 11, range, {0, 1, 2}},
      {"EyeLike", 9, eyeLike, {}},
      {"OneHot", 9, oneHot, {1}},
      {"Trilu", 14, trilu, {1}},
      {"CumSum", 11, cumSum, {1}},
      {"CumProd", 26, cumProd, {1}},
  });
}
