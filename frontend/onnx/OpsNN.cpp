// ONNX convolution, pooling, matrix products and the softmax family.
// auto_pad is resolved to explicit pads here, which needs the static
// spatial sizes it depends on (with strides other than 1).
#include "frontend/onnx/ImportConstant.h"
#include "frontend/onnx/NodeContext.h"

using namespace dlc;
using namespace dlc::onnximp;

/// Fails unless every entry of V (attribute Name) is positive.
static bool positive(NodeContext &C, llvm::ArrayRef<int64_t> V,
                     llvm::StringRef Name) {
  for (int64_t X : V)
    if (X <= 0) {
      C.fail(Name + " must be positive, got " + llvm::Twine(X));
      return false;
    }
  return true;
}

/// Explicit pads (begins then ends) for a sliding window over X's spatial
/// dims; auto_pad SAME_* with a stride other than 1 needs static spatial
/// sizes.
static std::optional<std::vector<int64_t>>
windowPads(NodeContext &C, Value *X, llvm::ArrayRef<int64_t> Kernel,
           llvm::ArrayRef<int64_t> Strides, llvm::ArrayRef<int64_t> Dil) {
  std::string Auto = C.attrStr("auto_pad", "NOTSET");
  size_t S = Kernel.size();
  if (!positive(C, Strides, "strides") || !positive(C, Dil, "dilations"))
    return std::nullopt;
  if (Auto == "NOTSET") {
    std::vector<int64_t> P = C.attrInts("pads");
    if (P.empty())
      P.assign(2 * S, 0);
    if (P.size() != 2 * S) {
      C.fail("pads has " + llvm::Twine(P.size()) + " entries, expected " +
             llvm::Twine(2 * S));
      return std::nullopt;
    }
    return P;
  }
  if (Auto == "VALID")
    return std::vector<int64_t>(2 * S, 0);
  if (Auto != "SAME_UPPER" && Auto != "SAME_LOWER") {
    C.fail("auto_pad '" + Auto + "' is not supported");
    return std::nullopt;
  }
  if (X->Type.rank() != S + 2) {
    C.fail("auto_pad " + Auto + " with " + llvm::Twine(S) +
           " spatial dims needs an input of rank " + llvm::Twine(S + 2) +
           ", got " + X->Type.str());
    return std::nullopt;
  }
  std::vector<int64_t> P(2 * S, 0);
  for (size_t I = 0; I < S; ++I) {
    const Dim &D = X->Type.dim(2 + I);
    int64_t St = I < Strides.size() ? Strides[I] : 1;
    int64_t Dl = I < Dil.size() ? Dil[I] : 1;
    // With stride 1 the output keeps the input's size and the total padding
    // is (kernel - 1) * dilation whatever that size is; other strides need
    // it.
    int64_t Total = (Kernel[I] - 1) * Dl;
    if (St != 1) {
      if (!D.isStatic()) {
        C.failNeedsStatic(D, "auto_pad " + Auto + " with stride " + llvm::Twine(St) +
               " needs static spatial dims, got " + X->Type.str());
        return std::nullopt;
      }
      int64_t In = D.size(), Out = (In + St - 1) / St;
      Total =
          std::max<int64_t>((Out - 1) * St + (Kernel[I] - 1) * Dl + 1 - In, 0);
    }
    int64_t Small = Total / 2, Big = Total - Small;
    P[I] = Auto == "SAME_UPPER" ? Small : Big;
    P[I + S] = Auto == "SAME_UPPER" ? Big : Small;
  }
  return P;
}

/// The kernel's spatial sizes: needed only to resolve auto_pad and
/// output_shape, else only their count (the rank) matters.
static std::vector<int64_t> kernelShape(NodeContext &C, Value *X, Value *W,
                                        bool NeedSizes) {
  std::vector<int64_t> K = C.attrInts("kernel_shape");
  if (K.empty() && !NeedSizes)
    return std::vector<int64_t>(std::max(X->Type.rank(), 2u) - 2, 0);
  if (K.empty() && W)
    for (unsigned I = 2; I < W->Type.rank(); ++I) {
      if (!W->Type.dim(I).isStatic()) {
        C.failNeedsStatic(W->Type.dim(I),
                          "the weight's spatial dims must be static");
        return {};
      }
      K.push_back(W->Type.dim(I).size());
    }
  return K;
}

static void conv(NodeContext &C) {
  C.allowAttrs({"auto_pad", "dilations", "group", "kernel_shape", "pads",
                "strides"});
  Value *X = C.in(0), *W = C.in(1);
  if (!X || !W)
    return;
  C.setOutput(0, onnximp::convOf(C, X, W, C.has(2) ? C.in(2) : nullptr));
}

Value *onnximp::convOf(NodeContext &C, Value *X, Value *W, Value *B) {
  std::string Auto = C.attrStr("auto_pad", "NOTSET");
  auto K = kernelShape(C, X, W, Auto == "SAME_UPPER" || Auto == "SAME_LOWER");
  auto St = C.attrInts("strides"), Dl = C.attrInts("dilations");
  auto P = windowPads(C, X, K, St, Dl);
  if (!P)
    return nullptr;
  std::vector<Value *> Ops = {X, W};
  if (B)
    Ops.push_back(B);
  return C.op(OpKind::Conv, Ops,
              {aInts("strides", St), aInts("pads", *P), aInts("dilations", Dl),
               aInt("group", C.attrInt("group", 1))});
}

static void convTranspose(NodeContext &C) {
  C.allowAttrs({"auto_pad", "dilations", "group", "kernel_shape", "pads",
                "strides", "output_padding", "output_shape"});
  Value *X = C.in(0), *W = C.in(1);
  if (!X || !W)
    return;
  auto OutShape = C.attrInts("output_shape");
  std::string Auto = C.attrStr("auto_pad", "NOTSET");
  auto K = kernelShape(C, X, W, !OutShape.empty() || Auto == "SAME_UPPER" ||
                                    Auto == "SAME_LOWER");
  size_t S = K.size();
  auto St = C.attrInts("strides"), Dl = C.attrInts("dilations");
  auto OutPad = C.attrInts("output_padding");
  std::vector<int64_t> P = C.attrInts("pads");
  if (C.failed() || !positive(C, St, "strides") || !positive(C, Dl, "dilations"))
    return;
  if (P.empty())
    P.assign(2 * S, 0);
  if (!OutShape.empty() || Auto == "SAME_UPPER" || Auto == "SAME_LOWER") {
    if (P.size() != 2 * S)
      return C.fail("pads has " + llvm::Twine(P.size()) + " entries, expected " +
                    llvm::Twine(2 * S));
    if (X->Type.rank() != S + 2)
      return C.fail("output_shape / auto_pad with " + llvm::Twine(S) +
                    " spatial dims need an input of rank " +
                    llvm::Twine(S + 2) + ", got " + X->Type.str());
    if (OutShape.size() > S)
      OutShape.erase(OutShape.begin(), OutShape.end() - S);
    if (!OutShape.empty() && OutShape.size() != S)
      return C.fail("output_shape has " + llvm::Twine(OutShape.size()) +
                    " entries, expected " + llvm::Twine(S));
    for (size_t I = 0; I < S; ++I) {
      const Dim &D = X->Type.dim(2 + I);
      if (!D.isStatic())
        return C.failNeedsStatic(
            D, "output_shape / auto_pad need static spatial dims");
      int64_t Stv = I < St.size() ? St[I] : 1, Dlv = I < Dl.size() ? Dl[I] : 1;
      int64_t Op = I < OutPad.size() ? OutPad[I] : 0;
      int64_t Want = OutShape.empty() ? D.size() * Stv : OutShape[I];
      int64_t Total = Stv * (D.size() - 1) + Op + (K[I] - 1) * Dlv + 1 - Want;
      if (Total < 0) {
        // The output is larger than the window reach: extend at the end.
        OutPad.resize(S, 0);
        OutPad[I] += -Total;
        P[I] = P[I + S] = 0;
        continue;
      }
      bool Lower = Auto == "SAME_LOWER";
      P[I] = Lower ? Total - Total / 2 : Total / 2;
      P[I + S] = Total - P[I];
    }
  } else if (Auto != "NOTSET" && Auto != "VALID") {
    return C.fail("auto_pad '" + Auto + "' is not supported");
  }
  std::vector<Value *> Ops = {X, W};
  if (C.has(2))
    Ops.push_back(C.in(2));
  C.setOutput(0, C.op(OpKind::ConvTranspose, Ops,
                      {aInts("strides", St), aInts("pads", P),
                       aInts("dilations", Dl), aInts("output_padding", OutPad),
                       aInt("group", C.attrInt("group", 1))}));
}

/// AveragePool with dilations: window sums from im2col over the input, and
/// window counts from im2col over ones (the input, or with count_include_pad
/// the padded input; ceil_mode's extra end padding never counts).
static Value *dilatedAvgPool(NodeContext &C, Value *X,
                             llvm::ArrayRef<int64_t> K,
                             std::vector<int64_t> St, std::vector<int64_t> Dl,
                             std::vector<int64_t> P, bool Ceil,
                             bool IncludePad) {
  size_t S = K.size();
  if (!isFloat(X->Type.elem()))
    return C.fail("dilated AveragePool needs a float input, got " +
                  X->Type.str()),
           nullptr;
  if (X->Type.rank() != S + 2)
    return C.fail("kernel_shape does not match the input's rank"), nullptr;
  St.resize(S, 1);
  Dl.resize(S, 1);
  for (size_t I = 1; I < S + 2; ++I)
    if (!X->Type.dim(I).isStatic())
      return C.failNeedsStatic(X->Type.dim(I),
                               "dilated AveragePool needs static channel and "
                               "spatial "
                    "dims, got " + X->Type.str()),
             nullptr;
  int64_t Ch = X->Type.dim(1).size(), Positions = 1, KSize = 1;
  std::vector<int64_t> Extra(2 * S, 0), OutShape = {-1, Ch}, OnesIn = {1, 1};
  std::vector<int64_t> OnesPads = P;
  for (size_t I = 0; I < S; ++I) {
    int64_t In = X->Type.dim(2 + I).size(), Padded = In + P[I] + P[S + I];
    int64_t Eff = (K[I] - 1) * Dl[I] + 1, Span = Padded - Eff;
    if (Span < 0 || St[I] <= 0 || Dl[I] <= 0)
      return C.fail("the pooling window does not fit the input"), nullptr;
    int64_t Out = (Ceil ? (Span + St[I] - 1) / St[I] : Span / St[I]) + 1;
    if (Ceil && (Out - 1) * St[I] >= In + P[I])
      --Out;
    int64_t End = (Out - 1) * St[I] + Eff - Padded; // ceil_mode overhang
    Extra[I] = P[I];
    Extra[S + I] = P[S + I] + std::max<int64_t>(End, 0);
    OnesIn.push_back(IncludePad ? Padded : In);
    OnesPads[I] = IncludePad ? 0 : P[I];
    OnesPads[S + I] = Extra[S + I] - (IncludePad ? P[S + I] : 0);
    OutShape.push_back(Out);
    Positions *= Out;
    KSize *= K[I];
  }
  auto cols = [&](Value *V, llvm::ArrayRef<int64_t> Pads) {
    return C.op(OpKind::Im2Col, {V}, {aInts("kernel", K), aInts("strides", St),
                                      aInts("pads", Pads),
                                      aInts("dilations", Dl)});
  };
  DType E = X->Type.elem();
  std::optional<Tensor> Ones =
      newConstantTensor(C, E, OnesIn, "the window counts' input");
  if (!Ones)
    return nullptr;
  for (int64_t I = 0; I < Ones->numElements(); ++I)
    Ones->setF(I, 1.0);
  Value *Count =
      C.op(OpKind::ReduceSum, {cols(C.constant(std::move(*Ones)), OnesPads)},
           {aInts("axes", {2}), aBool("keepdims", false)});
  Value *Sum = C.op(OpKind::Reshape, {cols(X, Extra)},
                    {aInts("shape", {-1, Positions, Ch, KSize})});
  Sum = C.op(OpKind::ReduceSum, {Sum}, {aInts("axes", {3}), aBool("keepdims", false)});
  Value *Avg = C.op(OpKind::Div, {Sum, C.op(OpKind::Unsqueeze, {Count}, {aInts("axes", {2})})});
  Avg = C.op(OpKind::Transpose, {Avg}, {aInts("perm", {0, 2, 1})});
  return C.op(OpKind::Reshape, {Avg}, {aInts("shape", OutShape)});
}

template <bool Max> static void pool(NodeContext &C) {
  if (Max)
    C.allowAttrs({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads",
                  "storage_order", "strides"});
  else
    C.allowAttrs({"auto_pad", "ceil_mode", "count_include_pad", "dilations",
                  "kernel_shape", "pads", "strides"});
  Value *X = C.in(0);
  if (!X)
    return;
  if (C.wantsOutput(1))
    return C.fail("the Indices output is not supported");
  auto K = C.attrInts("kernel_shape");
  auto St = C.attrInts("strides"), Dl = C.attrInts("dilations");
  auto P = windowPads(C, X, K, St, Dl);
  if (!P)
    return;
  bool Ceil = C.attrInt("ceil_mode", 0);
  std::vector<NamedAttr> A = {aInts("kernel", K), aInts("strides", St),
                              aInts("pads", *P), aBool("ceil_mode", Ceil)};
  if (Max) {
    A.push_back(aInts("dilations", Dl));
    // Integers of up to 32 bits: exactly through f64 (padding never wins a
    // max, so the result converts back exactly).
    DType E = X->Type.elem();
    bool Int = isInteger(E) && E != DType::I64 && E != DType::U64 &&
               E != DType::Bool;
    Value *Y = C.op(OpKind::MaxPool, {Int ? C.cast(X, DType::F64) : X}, A);
    return C.setOutput(0, Int ? C.cast(Y, E) : Y);
  }
  if (llvm::any_of(Dl, [](int64_t D) { return D != 1; }))
    return C.setOutput(0, dilatedAvgPool(C, X, K, St, Dl, *P, Ceil,
                                         C.attrInt("count_include_pad", 0)));
  A.push_back(aBool("count_include_pad", C.attrInt("count_include_pad", 0)));
  C.setOutput(0, C.op(OpKind::AvgPool, {X}, A));
}

/// LpPool: (sum over the window of |x|^p)^(1/p), the sum being an average
/// that counts the zero padding, times the window size.
static void lpPool(NodeContext &C) {
  C.allowAttrs({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "p",
                "pads", "strides"});
  Value *X = C.in(0);
  if (!X)
    return;
  auto K = C.attrInts("kernel_shape");
  auto St = C.attrInts("strides"), Dl = C.attrInts("dilations");
  bool Dilated = llvm::any_of(Dl, [](int64_t D) { return D != 1; });
  bool Ceil = C.attrInt("ceil_mode", 0);
  if (Dilated && Ceil)
    return C.fail("dilations with ceil_mode are not supported for LpPool");
  auto P = windowPads(C, X, K, St, Dl);
  if (!P)
    return;
  double Pw = double(C.attrInt("p", 2));
  if (Pw <= 0)
    return C.fail("p must be positive");
  double Size = 1;
  for (int64_t N : K)
    Size *= double(N);
  DType E = X->Type.elem();
  Value *A = C.op(OpKind::Pow, {C.op(OpKind::Abs, {X}), C.scalar(E, Pw)});
  // The window sum as an average that counts the zero padding, times the
  // window size.
  Value *S =
      Dilated ? dilatedAvgPool(C, A, K, St, Dl, *P, false, true)
              : C.op(OpKind::AvgPool, {A},
                     {aInts("kernel", K), aInts("strides", St),
                      aInts("pads", *P), aBool("ceil_mode", Ceil),
                      aBool("count_include_pad", true)});
  if (!S)
    return;
  S = C.op(OpKind::Mul, {S, C.scalar(E, Size)});
  C.setOutput(0, C.op(OpKind::Pow, {S, C.scalar(E, 1.0 / Pw)}));
}

static void gemm(NodeContext &C) {
  if (C.Opset < 7)
    C.allowAttrs({"alpha", "beta", "transA", "transB", "broadcast"});
  else
    C.allowAttrs({"alpha", "beta", "transA", "transB"});
  std::vector<Value *> Ops = {C.in(0), C.in(1)};
  if (C.has(2))
    Ops.push_back(C.in(2));
  C.setOutput(0, C.op(OpKind::Gemm, Ops,
                      {aFloat("alpha", C.attrFloat("alpha", 1.0)),
                       aFloat("beta", C.attrFloat("beta", 1.0)),
                       aBool("trans_a", C.attrInt("transA", 0)),
                       aBool("trans_b", C.attrInt("transB", 0))}));
}

/// Softmax, LogSoftmax and Hardmax along the last axis of X.
static Value *lastAxis(NodeContext &C, llvm::StringRef Which, Value *X) {
  if (Which == "Softmax")
    return C.op(OpKind::Softmax, {X}, {aInt("axis", -1)});
  if (Which == "LogSoftmax")
    return C.op(OpKind::LogSoftmax, {X}, {aInt("axis", -1)});
  const Dim &D = X->Type.dim(X->Type.rank() - 1);
  Value *I = C.op(OpKind::ArgMax, {X}, {aInt("axis", -1),
                                        aBool("keepdims", false)});
  if (!D.isStatic()) // the depth is X's last dim (its values are not read)
    return C.op(OpKind::OneHot, {I, X}, {aInt("depth", 0),
                                         aType("dtype", X->Type.elem())});
  return C.op(OpKind::OneHot, {I}, {aInt("depth", D.size()),
                                    aType("dtype", X->Type.elem())});
}

static void softmaxFamily(NodeContext &C) {
  C.allowAttrs({"axis"});
  Value *X = C.in(0);
  if (!X)
    return;
  int64_t R = X->Type.rank();
  bool Coerce = C.Opset < 13; // flatten to 2-D at axis, as before opset 13
  int64_t Axis = normAxis(C.attrInt("axis", Coerce ? 1 : -1), std::max<int64_t>(R, 1));
  if (Axis < 0 || R == 0)
    return C.fail("axis is out of range for " + X->Type.str());
  llvm::StringRef Which = C.Node.op_type();
  if (Axis == R - 1)
    return C.setOutput(0, lastAxis(C, Which, X));
  if (!Coerce) {
    // Move the axis last and back.
    std::vector<int64_t> Perm, Inv;
    axisLastPerm(R, Axis, Perm, Inv);
    Value *T = C.op(OpKind::Transpose, {X}, {aInts("perm", Perm)});
    T = T ? lastAxis(C, Which, T) : nullptr;
    return C.setOutput(0, C.op(OpKind::Transpose, {T}, {aInts("perm", Inv)}));
  }
  std::vector<int64_t> Flat(Axis, 0), Back(Axis, 0);
  Flat.push_back(-1);
  for (int64_t I = Axis; I < R; ++I) {
    if (!X->Type.dim(I).isStatic())
      return C.failNeedsStatic(X->Type.dim(I),
                               "axis " + llvm::Twine(Axis) +
                                   " before opset 13 needs "
                    "static dims from the axis on, got " + X->Type.str());
    Back.push_back(X->Type.dim(I).size());
  }
  Value *F = C.op(OpKind::Reshape, {X}, {aInts("shape", Flat)});
  F = F ? lastAxis(C, Which, F) : nullptr;
  C.setOutput(0, C.op(OpKind::Reshape, {F}, {aInts("shape", Back)}));
}

void onnximp::addNNOps(std::vector<OpEntry> &T) {
  T.insert(T.end(), {
      {"Conv", 1, conv, {}},
      {"ConvTranspose", 1, convTranspose, {}},
      {"MaxPool", 1, pool<true>, {}},
      {"AveragePool", 1, pool<false>, {}},
      {"LpPool", 2, lpPool, {}},
      {"Gemm", 6, gemm, {}},
      {"Softmax", 1, softmaxFamily, {}},
      {"LogSoftmax", 1, softmaxFamily, {}},
      {"Hardmax", 1, softmaxFamily, {}},
  });
  T.push_back({"MatMul", 1, [](NodeContext &C) {
                 C.allowAttrs({});
                 C.setOutput(0, C.op(OpKind::MatMul, {C.in(0), C.in(1)}));
               }, {}});
  T.push_back({"GlobalAveragePool", 1, [](NodeContext &C) {
                 C.allowAttrs({});
                 C.setOutput(0, C.op(OpKind::GlobalAvgPool, {C.in(0)}));
               }, {}});
  T.push_back({"GlobalMaxPool", 1, [](NodeContext &C) {
                 C.allowAttrs({});
                 C.setOutput(0, C.op(OpKind::GlobalMaxPool, {C.in(0)}));
               }, {}});
}
