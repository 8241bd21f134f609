// Shape rules for convolution, pooling and normalization ops.
#include "ir/ShapeRules.h"
#include "ir/Printer.h"
#include "runtime/SizeMath.h"

#include <cmath>

using namespace dlc;
using namespace dlc::shape;

Dim shape::windowDim(const Dim &In, int64_t PadTotal, Wide Eff,
                     int64_t Stride, bool Ceil, int64_t PadBegin) {
  if (!In.isStatic())
    return Dim::unknown();
  // Attributes are bounded by 2^40 (windowAttrs), so 128-bit arithmetic
  // cannot overflow here.
  Wide Span = Wide(In.size()) + PadTotal - Eff;
  if (Span < 0)
    return Dim::fixed(0); // the window does not fit: callers report it
  Wide Out = (Ceil ? (Span + Stride - 1) / Stride : Span / Stride) + 1;
  // With ceil_mode the last window must start inside the input or its
  // leading padding (as in ONNX and PyTorch).
  if (Ceil && (Out - 1) * Stride >= Wide(In.size()) + PadBegin)
    --Out;
  return Dim::fixed(int64_t(Out));
}

/// strides, dilations (default 1) and pads (default 0) of a windowed op
/// with Spatial spatial dims.
struct Window {
  llvm::SmallVector<int64_t, 3> Strides, Dilations, Pads;
};

static llvm::Expected<Window> windowAttrs(const Ctx &C, unsigned Spatial,
                                          bool HasDilations = true) {
  Window W;
  auto get = [&](llvm::StringRef Name, unsigned Len, int64_t Def,
                 llvm::SmallVector<int64_t, 3> &Out, int64_t Min) -> llvm::Error {
    llvm::ArrayRef<int64_t> V = C.Op.getInts(Name);
    if (V.empty()) {
      Out.assign(Len, Def);
      return llvm::Error::success();
    }
    if (V.size() != Len)
      return C.err(Name + " must have " + std::to_string(Len) +
                   " entries, got " + std::to_string(V.size()));
    for (int64_t X : V)
      if (X < Min || X > MaxElements)
        return C.err(Name + " entries must be in [" + std::to_string(Min) +
                     ", 2^40], got " + std::to_string(X));
    Out.assign(V.begin(), V.end());
    return llvm::Error::success();
  };
  if (auto E = get("strides", Spatial, 1, W.Strides, 1))
    return std::move(E);
  if (HasDilations) {
    if (auto E = get("dilations", Spatial, 1, W.Dilations, 1))
      return std::move(E);
  } else {
    W.Dilations.assign(Spatial, 1);
  }
  if (auto E = get("pads", 2 * Spatial, 0, W.Pads, 0))
    return std::move(E);
  return W;
}

Result shape::inferConv(const Ctx &C) {
  const TensorType &X = C.In[0], &W = C.In[1];
  if (X.rank() < 3)
    return C.err("input must be [N, C, spatial...], got " + X.str());
  if (W.rank() != X.rank())
    return C.err("weight " + W.str() + " must have the rank of the input " +
                 X.str());
  for (const TensorType &T : C.In)
    if (T.elem() != X.elem())
      return C.err("operand element types differ");
  unsigned S = X.rank() - 2;
  int64_t G = C.Op.getInt("group");
  if (G < 1)
    return C.err("group must be >= 1");
  int64_t InCh; // W's input channels times G (overflow-checked)
  if (X.dim(1).isStatic() && W.dim(1).isStatic()) {
    bool Fits = mulSize(W.dim(1).size(), G, InCh);
    if (!Fits || X.dim(1).size() != InCh)
      return C.err("input has " + X.dim(1).str() + " channels but weight " +
                   W.str() + " with group " + std::to_string(G) +
                   " expects " +
                   (Fits ? std::to_string(InCh) : "more than 2^63"));
  }
  if (W.dim(0).isStatic() && W.dim(0).size() % G)
    return C.err("output channels " + W.dim(0).str() +
                 " are not divisible by group " + std::to_string(G));
  if (C.In.size() == 3 &&
      (C.In[2].rank() != 1 || !(C.In[2].dim(0) == W.dim(0))))
    return C.err("bias must be [" + W.dim(0).str() + "], got " + C.In[2].str());
  auto Win = windowAttrs(C, S);
  if (!Win)
    return Win.takeError();
  Shape Out = {X.dim(0), W.dim(0)};
  for (unsigned I = 0; I < S; ++I) {
    const Dim &K = W.dim(2 + I);
    if (!K.isStatic()) {
      Out.push_back(Dim::unknown());
      continue;
    }
    Wide Eff = Wide(Win->Dilations[I]) * (K.size() - 1) + 1;
    Dim D = windowDim(X.dim(2 + I), Win->Pads[I] + Win->Pads[S + I], Eff,
                      Win->Strides[I], false, Win->Pads[I]);
    if (D.isStatic() && D.size() < 1)
      return C.err("kernel " + W.str() + " is larger than the padded input " +
                   X.str());
    Out.push_back(D);
  }
  return C.one(TensorType(X.elem(), Out));
}

Result shape::inferConvTranspose(const Ctx &C) {
  const TensorType &X = C.In[0], &W = C.In[1];
  if (X.rank() < 3 || W.rank() != X.rank())
    return C.err("expected input [N, C, spatial...] and weight of the same "
                 "rank, got " + X.str() + " and " + W.str());
  unsigned S = X.rank() - 2;
  int64_t G = C.Op.getInt("group");
  if (G < 1)
    return C.err("group must be >= 1");
  if (X.dim(1).isStatic() && W.dim(0).isStatic() &&
      X.dim(1).size() != W.dim(0).size())
    return C.err("input has " + X.dim(1).str() + " channels but weight " +
                 W.str() + " expects " + W.dim(0).str());
  auto Win = windowAttrs(C, S);
  if (!Win)
    return Win.takeError();
  llvm::ArrayRef<int64_t> OutPad = C.Op.getInts("output_padding");
  if (!OutPad.empty() && OutPad.size() != S)
    return C.err("output_padding must have " + std::to_string(S) + " entries");
  Dim M = W.dim(1).isStatic() ? Dim::fixed(W.dim(1).size() * G) : Dim::unknown();
  if (C.In.size() == 3 && (C.In[2].rank() != 1 || !(C.In[2].dim(0) == M)))
    return C.err("bias must be [" + M.str() + "], got " + C.In[2].str());
  Shape Out = {X.dim(0), M};
  for (unsigned I = 0; I < S; ++I) {
    const Dim &In = X.dim(2 + I), &K = W.dim(2 + I);
    if (!In.isStatic() || !K.isStatic()) {
      Out.push_back(Dim::unknown());
      continue;
    }
    int64_t OP = OutPad.empty() ? 0 : OutPad[I];
    if (OP < 0 || OP >= std::max(Win->Strides[I], Win->Dilations[I]))
      return C.err("output_padding must be >= 0 and smaller than the stride "
                   "or the dilation");
    Wide D = Wide(Win->Strides[I]) * (In.size() - 1) + OP +
             Wide(K.size() - 1) * Win->Dilations[I] + 1 - Win->Pads[I] -
             Win->Pads[S + I];
    if (D < 1)
      return C.err("padding leaves no output");
    if (D > MaxElements)
      return C.err("output dim is larger than 2^40");
    Out.push_back(Dim::fixed(int64_t(D)));
  }
  return C.one(TensorType(X.elem(), Out));
}

/// The `kernel` attribute of a pooling-like op over input [N, C, spatial...],
/// checked: one size in [1, 2^40] per spatial dim.
static llvm::Expected<llvm::ArrayRef<int64_t>> windowKernel(const Ctx &C) {
  const TensorType &X = C.In[0];
  if (X.rank() < 3)
    return C.err("input must be [N, C, spatial...], got " + X.str());
  unsigned S = X.rank() - 2;
  llvm::ArrayRef<int64_t> K = C.Op.getInts("kernel");
  if (K.size() != S)
    return C.err("kernel must have " + std::to_string(S) + " entries, got " +
                 std::to_string(K.size()));
  for (int64_t V : K)
    if (V < 1 || V > MaxElements)
      return C.err("kernel sizes must be in [1, 2^40]");
  return K;
}

/// Appends the spatial dims of a window op over X (kernel K) to Out.
static llvm::Error appendWindowDims(const Ctx &C, const TensorType &X,
                                    llvm::ArrayRef<int64_t> K, const Window &W,
                                    bool Ceil, Shape &Out) {
  unsigned S = X.rank() - 2;
  for (unsigned I = 0; I < S; ++I) {
    Wide Eff = Wide(W.Dilations[I]) * (K[I] - 1) + 1;
    Dim D = windowDim(X.dim(2 + I), W.Pads[I] + W.Pads[S + I], Eff,
                      W.Strides[I], Ceil, W.Pads[I]);
    if (D.isStatic() && D.size() < 1)
      return C.err("kernel is larger than the padded input " + X.str());
    Out.push_back(D);
  }
  return llvm::Error::success();
}

Result shape::inferPool(const Ctx &C) {
  const TensorType &X = C.In[0];
  auto KOrErr = windowKernel(C);
  if (!KOrErr)
    return KOrErr.takeError();
  llvm::ArrayRef<int64_t> K = *KOrErr;
  unsigned S = X.rank() - 2;
  auto Win = windowAttrs(C, S, C.Op.kind() != OpKind::AvgPool);
  if (!Win)
    return Win.takeError();
  for (unsigned I = 0; I < S; ++I)
    if (Win->Pads[I] >= K[I] || Win->Pads[S + I] >= K[I])
      return C.err("padding must be smaller than the kernel");
  Shape Out = {X.dim(0), X.dim(1)};
  if (auto E = appendWindowDims(C, X, K, *Win, C.Op.getBool("ceil_mode"), Out))
    return std::move(E);
  return C.one(TensorType(X.elem(), Out));
}

Result shape::inferMaxPoolGrad(const Ctx &C) {
  // dy must be what max_pool makes of x with these attributes.
  auto Pooled = inferPool(C);
  if (!Pooled)
    return Pooled.takeError();
  const TensorType &Want = (*Pooled)[0], &DY = C.In[1];
  bool Fits = DY.elem() == Want.elem() && DY.rank() == Want.rank();
  for (unsigned I = 0; Fits && I < DY.rank(); ++I)
    Fits = !DY.dim(I).isStatic() || !Want.dim(I).isStatic() ||
           DY.dim(I).size() == Want.dim(I).size();
  if (!Fits)
    return C.err("dy must be " + Want.str() + " (max_pool's result for x " +
                 C.In[0].str() + "), got " + DY.str());
  return C.one(C.In[0]);
}

Result shape::inferIm2Col(const Ctx &C) {
  const TensorType &X = C.In[0];
  auto KOrErr = windowKernel(C);
  if (!KOrErr)
    return KOrErr.takeError();
  llvm::ArrayRef<int64_t> K = *KOrErr;
  auto Win = windowAttrs(C, X.rank() - 2);
  if (!Win)
    return Win.takeError();
  int64_t KSize = 1;
  for (int64_t V : K)
    KSize *= V;
  Shape Spatial;
  if (auto E = appendWindowDims(C, X, K, *Win, false, Spatial))
    return std::move(E);
  Dim Cols = X.dim(1).isStatic() ? Dim::fixed(X.dim(1).size() * KSize)
                                 : Dim::unknown();
  if (C.Op.getBool("channel_major"))
    return C.one(TensorType(X.elem(), {X.dim(0), Cols, productDim(Spatial)}));
  return C.one(TensorType(X.elem(), {X.dim(0), productDim(Spatial), Cols}));
}

Result shape::inferGlobalPool(const Ctx &C) {
  const TensorType &X = C.In[0];
  if (X.rank() < 3)
    return C.err("input must be [N, C, spatial...], got " + X.str());
  Shape Out = {X.dim(0), X.dim(1)};
  for (unsigned I = 2; I < X.rank(); ++I)
    Out.push_back(Dim::fixed(1));
  return C.one(TensorType(X.elem(), Out));
}

Result shape::inferBatchNorm(const Ctx &C) {
  const TensorType &X = C.In[0];
  if (X.rank() < 2)
    return C.err("input must be [N, C, ...], got " + X.str());
  if (const Attribute *M = C.Op.findAttr("momentum")) {
    double V = M->getFloat();
    if (!(V >= 0 && V < 1))
      return C.err("momentum must be in [0, 1) (the weight of the old running "
                   "statistics, as in ONNX and Keras; PyTorch's 0.1 is 0.9), "
                   "got " + formatDouble(V));
  }
  for (size_t I = 1; I < 5; ++I)
    if (C.In[I].elem() != X.elem() || C.In[I].rank() != 1 ||
        !(C.In[I].dim(0) == X.dim(1) || C.In[I].dim(0).isUnknown() ||
          X.dim(1).isUnknown()))
      return C.err("scale, bias, mean and variance must be [" +
                   X.dim(1).str() + "] " + dtypeName(X.elem()).str() +
                   ", operand " + std::to_string(I) + " is " + C.In[I].str());
  return C.one(X);
}

Result shape::inferLayerNorm(const Ctx &C) {
  const TensorType &X = C.In[0];
  auto A = normalizeAxis(C.Op.getInt("axis"), X.rank(), C.Op.L);
  if (!A)
    return A.takeError();
  Shape Norm(X.dims().begin() + *A, X.dims().end());
  for (size_t I = 1; I < C.In.size(); ++I) {
    auto B = broadcastShapes(Norm, C.In[I].dims());
    if (!B || *B != Norm || C.In[I].elem() != X.elem()) {
      if (!B)
        llvm::consumeError(B.takeError());
      return C.err("scale and bias must broadcast to the normalized dims of " +
                   X.str() + ", operand " + std::to_string(I) + " is " +
                   C.In[I].str());
    }
  }
  return C.one(X);
}


Result shape::inferResizeCoords(const Ctx &C) {
  const TensorType &X = C.In[0];
  auto A = normalizeAxis(C.Op.getInt("axis"), X.rank(), C.Op.L);
  if (!A)
    return A.takeError();
  llvm::StringRef Mode = C.Op.getString("mode");
  if (!isResizeCoordMode(Mode))
    return C.err("mode must be half_pixel, asymmetric, align_corners, "
                 "pytorch_half_pixel, half_pixel_symmetric or "
                 "tf_crop_and_resize, got \"" +
                 Mode.str() + "\"");
  if (!std::isfinite(C.Op.getFloat("roi_start")) ||
      !std::isfinite(C.Op.getFloat("roi_end")))
    return C.err("roi_start and roi_end must be finite");
  int64_t Size = C.Op.getInt("size");
  double Scale = C.Op.getFloat("scale");
  if (Size < 0 || Size > MaxElements)
    return C.err("size must be in [0, 2^40], got " + std::to_string(Size));
  if (Size == 0 && !(Scale > 0 && Scale <= 1e6))
    return C.err("scale must be in (0, 1e6], got " + std::to_string(Scale));
  const Dim &In = X.dim(*A);
  Dim Out = Size ? Dim::fixed(Size) : Dim::unknown();
  if (!Size && In.isStatic()) {
    int64_t N = resizedSize(In.size(), Scale);
    if (N <= 0 || N > MaxElements)
      return C.err("resizing dim " + std::to_string(*A) + " of " + X.str() +
                   " by " + std::to_string(Scale) + " gives " +
                   std::to_string(N) + " samples");
    Out = Dim::fixed(N);
  }
  return C.one(TensorType(DType::F64, {Out}));
}
