// Gradient rules whose adjoint scatters: pooling (max pooling through its
// own op, max_pool_grad), im2col, conv_transpose,
// gather and tile. Scatter-adds are expressed with existing ops: col2im (the
// adjoint of im2col) is a grouped conv_transpose with a one-hot kernel, and
// gather's adjoint is a one-hot matrix product.
#include "passes/Autodiff.h"
#include "passes/Decompose.h"

#include <cmath>

using namespace dlc;
using namespace dlc::grad;

using Ints = llvm::SmallVector<int64_t, 6>;

namespace {
/// The window geometry of a pooling, im2col or convolution op, per spatial
/// dim, with the defaults filled in.
struct Window {
  Ints Kernel, Strides, PadBegin, PadEnd, Dil;
};
} // namespace

static Ints listOr(const Operation &Op, llvm::StringRef Name, int64_t Default,
                   unsigned Count) {
  Ints V;
  if (getOpInfo(Op.kind()).findAttr(Name))
    V.assign(Op.getInts(Name).begin(), Op.getInts(Name).end());
  if (V.empty())
    V.assign(Count, Default);
  return V;
}

static Window readWindow(const Operation &Op, llvm::ArrayRef<int64_t> Kernel) {
  unsigned S = Kernel.size();
  Window W;
  W.Kernel.assign(Kernel.begin(), Kernel.end());
  W.Strides = listOr(Op, "strides", 1, S);
  W.Dil = listOr(Op, "dilations", 1, S);
  Ints Pads = listOr(Op, "pads", 0, 2 * S);
  W.PadBegin.assign(Pads.begin(), Pads.begin() + S);
  W.PadEnd.assign(Pads.begin() + S, Pads.end());
  return W;
}

static int64_t product(llvm::ArrayRef<int64_t> V) {
  int64_t P = 1;
  for (int64_t E : V)
    P *= E;
  return P;
}

/// The static sizes of dims [From, To) of T, or an error naming Op.
static llvm::Expected<Ints> staticDims(const Operation &Op, const TensorType &T,
                                       unsigned From, unsigned To) {
  Ints V;
  for (unsigned I = From; I < To; ++I) {
    if (!T.dim(I).isStatic())
      return unsupported(Op, "a non-static dim " + std::to_string(I) + " in " +
                                 T.str());
    V.push_back(T.dim(I).size());
  }
  return V;
}

/// col2im: the adjoint of im2col. Cols is [N, P, C*K] (P the output
/// positions of windows W over an input of spatial sizes In); the result is
/// [N, C, In...], each element the sum of the columns that read it. Built as
/// a conv_transpose with group C and a one-hot kernel [C*K, 1, k...]; window
/// positions in the padding (or past the input) are dropped by its pads.
static Value *col2im(OpBuilder &B, Value *Cols, int64_t C,
                     llvm::ArrayRef<int64_t> In, llvm::ArrayRef<int64_t> Out,
                     const Window &W) {
  unsigned S = In.size();
  DType E = Cols->Type.elem();
  int64_t K = product(W.Kernel);
  Ints Shape = {0, C * K};
  Shape.append(Out.begin(), Out.end());
  Value *G = B.create(OpKind::Transpose, {Cols}, {intsAttr("perm", {0, 2, 1})});
  G = B.create(OpKind::Reshape, {G}, {intsAttr("shape", Shape)});
  Ints WShape = {C * K, 1};
  WShape.append(W.Kernel.begin(), W.Kernel.end());
  Tensor OneHot(E, WShape);
  for (int64_t Row = 0; Row < C * K; ++Row)
    OneHot.setF(Row * K + Row % K, 1.0);
  // Per dim: the padded extent the windows cover, then the end padding (or
  // output padding) that makes the result exactly In.
  Ints Pads(2 * S), OutPad(S);
  for (unsigned I = 0; I < S; ++I) {
    int64_t Covered =
        (Out[I] - 1) * W.Strides[I] + W.Dil[I] * (W.Kernel[I] - 1) + 1;
    Pads[I] = W.PadBegin[I];
    int64_t Rest = Covered - W.PadBegin[I] - In[I];
    Pads[S + I] = std::max<int64_t>(Rest, 0);
    OutPad[I] = std::max<int64_t>(-Rest, 0);
  }
  return B.create(OpKind::ConvTranspose, {G, B.constant(std::move(OneHot))},
                  {intsAttr("strides", W.Strides), intsAttr("pads", Pads),
                   intsAttr("dilations", W.Dil), intAttr("group", C),
                   intsAttr("output_padding", OutPad)});
}

/// g[N, C, O...] as [N, P, C, 1], the layout of im2col's columns.
static Value *gradAsColumns(OpBuilder &B, Value *G, int64_t C, int64_t P) {
  Value *R = B.create(OpKind::Reshape, {G}, {intsAttr("shape", {0, C, P})});
  R = B.create(OpKind::Transpose, {R}, {intsAttr("perm", {0, 2, 1})});
  return B.create(OpKind::Unsqueeze, {R}, {intsAttr("axes", {3})});
}

/// Average pooling with any windows (overlapping, padded, partial in ceil
/// mode): each window's share of g (g / count) spread over its columns and
/// scattered back with col2im.
static llvm::Error generalPoolGrad(Operation &Op, Value *G, OpBuilder &B,
                                   llvm::SmallVectorImpl<Value *> &Out) {
  Value *X = Op.operand(0);
  const TensorType &XT = X->Type, &YT = Op.result()->Type;
  DType E = XT.elem();
  unsigned S = XT.rank() - 2;
  auto InOr = staticDims(Op, XT, 1, 2 + S);
  if (!InOr)
    return InOr.takeError();
  auto OutOr = staticDims(Op, YT, 2, 2 + S);
  if (!OutOr)
    return OutOr.takeError();
  int64_t C = (*InOr)[0];
  Ints In(InOr->begin() + 1, InOr->end()), O = *OutOr;
  Window W = readWindow(Op, Op.getInts("kernel"));
  int64_t K = product(W.Kernel), P = product(O);
  // 1 / (elements averaged) per output position, as the interpreter
  // counts them: inside the input, or inside the padded input with
  // count_include_pad (positions past it, from ceil mode, never count).
  bool IncludePad = Op.getBool("count_include_pad");
  Tensor Inv(E, {P});
  Ints Idx(S);
  for (int64_t Pos = 0; Pos < P; ++Pos) {
    int64_t Rest = Pos, Count = 1;
    for (int I = int(S) - 1; I >= 0; --I) {
      Idx[I] = Rest % O[I];
      Rest /= O[I];
    }
    for (unsigned I = 0; I < S; ++I) {
      int64_t Start = Idx[I] * W.Strides[I] - W.PadBegin[I];
      int64_t End = Start + W.Kernel[I];
      int64_t Lo = IncludePad ? Start : std::max<int64_t>(Start, 0);
      int64_t Hi = std::min(End, In[I] + (IncludePad ? W.PadEnd[I] : 0));
      Count *= std::max<int64_t>(Hi - Lo, 0);
    }
    Inv.setF(Pos, Count ? 1.0 / double(Count) : 0.0);
  }
  Value *Scaled = B.create(OpKind::Reshape, {G}, {intsAttr("shape", {0, C, P})});
  Scaled = B.create(OpKind::Mul, {Scaled, B.constant(std::move(Inv))});
  Value *Cols = B.create(OpKind::Expand, {gradAsColumns(B, Scaled, C, P)},
                         {intsAttr("shape", {1, 1, 1, K})});
  Cols = B.create(OpKind::Reshape, {Cols}, {intsAttr("shape", {0, P, C * K})});
  Out[0] = col2im(B, Cols, C, In, O, W);
  return llvm::Error::success();
}

/// Max pooling: max_pool_grad (each window's g goes to its first maximum,
/// as PyTorch does). Average pooling whose windows tile the input without
/// overlap or padding (stride = kernel): each input element belongs to at
/// most one window, so the gradient is g spread evenly over its window,
/// without im2col; rows and columns past the last window get zero. Every
/// other average pooling goes through generalPoolGrad.
llvm::Error grad::poolGrad(Operation &Op, Value *G, OpBuilder &B,
                           llvm::SmallVectorImpl<Value *> &Out) {
  Value *X = Op.operand(0);
  if (Op.kind() == OpKind::MaxPool) {
    // One op whose kernel finds each window's first maximum and adds g
    // there (max_pool_grad), for every window geometry.
    Out[0] = B.create(OpKind::MaxPoolGrad, {X, G}, Op.attrs().vec());
    return llvm::Error::success();
  }
  const TensorType &XT = X->Type, &YT = Op.result()->Type;
  DType E = XT.elem();
  unsigned S = XT.rank() - 2;
  llvm::ArrayRef<int64_t> K = Op.getInts("kernel");
  Window W = readWindow(Op, K);
  bool Tiles = W.Strides == W.Kernel && allEqual(W.PadBegin, 0) &&
               allEqual(W.PadEnd, 0) && allEqual(W.Dil, 1);
  Ints Covered, Full;
  for (unsigned I = 0; I < S && Tiles; ++I) {
    if (!XT.dim(2 + I).isStatic() || !YT.dim(2 + I).isStatic())
      return unsupported(Op, "non-static spatial dims " + XT.str());
    Covered.push_back(YT.dim(2 + I).size() * K[I]);
    Full.push_back(XT.dim(2 + I).size());
    Tiles &= Covered.back() <= Full.back(); // no partial (ceil mode) window
  }
  if (!Tiles)
    return generalPoolGrad(Op, G, B, Out);
  // g [N, C, O1, ...] spread over [N, C, O1, ..., K1*K2*...], then the
  // window axes interleaved back: [N, C, O1, K1, O2, K2, ...].
  Ints ToWindows = {0, 1}, Back(2 + 2 * S);
  int64_t KSize = 1;
  for (unsigned I = 0; I < S; ++I) {
    ToWindows.push_back(2 + 2 * I);
    KSize *= K[I];
  }
  for (unsigned I = 0; I < S; ++I)
    ToWindows.push_back(3 + 2 * I);
  for (unsigned I = 0; I < ToWindows.size(); ++I)
    Back[ToWindows[I]] = I;
  Value *GE = B.create(OpKind::Unsqueeze, {G}, {intsAttr("axes", {int64_t(2 + S)})});
  Ints Shape(3 + S, 1);
  Shape.back() = KSize;
  Value *Spread = B.create(
      OpKind::Mul, {B.create(OpKind::Expand, {GE}, {intsAttr("shape", Shape)}),
                    B.scalar(E, 1.0 / double(KSize))});
  // Back to [N, C, O1*K1, ...], then zeros for what no window covered.
  Ints Unwin = {0, 0}, Merged = {0, 0};
  for (unsigned I = 0; I < S; ++I)
    Unwin.push_back(YT.dim(2 + I).size());
  for (unsigned I = 0; I < S; ++I)
    Unwin.push_back(K[I]);
  Value *R = B.create(OpKind::Reshape, {Spread}, {intsAttr("shape", Unwin)});
  R = B.create(OpKind::Transpose, {R}, {intsAttr("perm", Back)});
  for (unsigned I = 0; I < S; ++I)
    Merged.push_back(Covered[I]);
  R = B.create(OpKind::Reshape, {R}, {intsAttr("shape", Merged)});
  if (Covered != Full) {
    Ints Pads(2 * (2 + S), 0);
    for (unsigned I = 0; I < S; ++I)
      Pads[2 + S + 2 + I] = Full[I] - Covered[I];
    R = B.create(OpKind::Pad, {R}, {intsAttr("pads", Pads)});
  }
  Out[0] = R;
  return llvm::Error::success();
}

llvm::Error grad::im2colGrad(Operation &Op, Value *G, OpBuilder &B,
                             llvm::SmallVectorImpl<Value *> &Out) {
  const TensorType &XT = Op.operand(0)->Type;
  unsigned S = XT.rank() - 2;
  auto InOr = staticDims(Op, XT, 1, 2 + S);
  if (!InOr)
    return InOr.takeError();
  Window W = readWindow(Op, Op.getInts("kernel"));
  Ints In(InOr->begin() + 1, InOr->end()), O;
  for (unsigned I = 0; I < S; ++I)
    O.push_back((In[I] + W.PadBegin[I] + W.PadEnd[I] -
                 W.Dil[I] * (W.Kernel[I] - 1) - 1) /
                    W.Strides[I] +
                1);
  // The channel-major layout [N, C*K, P] is the transpose of the one
  // col2im takes.
  if (Op.getBool("channel_major"))
    G = B.create(OpKind::Transpose, {G}, {intsAttr("perm", {0, 2, 1})});
  Out[0] = col2im(B, G, (*InOr)[0], In, O, W);
  return llvm::Error::success();
}

/// conv_transpose is the adjoint of conv in x, so dx is the conv of g with
/// the same weights and window; dw pairs x with the windows of g (im2col),
/// as a conv's weight gradient does with the roles of x and g swapped.
llvm::Error grad::convTransposeGrad(Operation &Op, Value *G,
                                    llvm::ArrayRef<bool> Need, OpBuilder &B,
                                    llvm::SmallVectorImpl<Value *> &Out) {
  Value *X = Op.operand(0), *W = Op.operand(1);
  const TensorType &XT = X->Type, &WT = W->Type;
  unsigned S = XT.rank() - 2;
  int64_t Group = Op.getInt("group");
  auto KOr = staticDims(Op, WT, 0, 2 + S);
  if (!KOr)
    return KOr.takeError();
  auto InOr = staticDims(Op, XT, 1, 2 + S);
  if (!InOr)
    return InOr.takeError();
  Ints Kernel(KOr->begin() + 2, KOr->end());
  Window Win = readWindow(Op, Kernel);
  Ints Pads(Win.PadBegin);
  Pads.append(Win.PadEnd.begin(), Win.PadEnd.end());
  if (Need[0])
    Out[0] = B.create(OpKind::Conv, {G, W},
                      {intsAttr("strides", Win.Strides), intsAttr("pads", Pads),
                       intsAttr("dilations", Win.Dil), intAttr("group", Group)});
  if (Need[1]) {
    // dw[C, M/group * K] = x[C, N*P] @ im2col(g)[N*P, M/group * K], per
    // group: group j pairs input channels j*C/group.. with result channels
    // j*M/group...
    int64_t C = (*InOr)[0], CG = C / Group, MG = (*KOr)[1];
    int64_t P = product(llvm::ArrayRef<int64_t>(*InOr).drop_front());
    llvm::SmallVector<Value *, 4> Parts;
    for (int64_t J = 0; J < Group; ++J) {
      Value *XJ = Group == 1 ? X : sliceChannels(B, X, J * CG, (J + 1) * CG);
      Value *GJ = Group == 1 ? G : sliceChannels(B, G, J * MG, (J + 1) * MG);
      Value *Cols = B.create(OpKind::Im2Col, {GJ},
                             {intsAttr("kernel", Kernel), intsAttr("strides", Win.Strides),
                              intsAttr("pads", Pads), intsAttr("dilations", Win.Dil)});
      Cols = B.create(OpKind::Reshape, {Cols},
                      {intsAttr("shape", {-1, product(*KOr) / C})});
      Value *Xm = B.create(OpKind::Reshape, {XJ}, {intsAttr("shape", {0, CG, P})});
      Xm = B.create(OpKind::Transpose, {Xm}, {intsAttr("perm", {1, 0, 2})});
      Xm = B.create(OpKind::Reshape, {Xm}, {intsAttr("shape", {CG, -1})});
      Parts.push_back(B.create(OpKind::MatMul, {Xm, Cols}));
    }
    Value *DW = Group == 1 ? Parts[0]
                           : B.create(OpKind::Concat, Parts, {intAttr("axis", 0)});
    Out[1] = B.create(OpKind::Reshape, {DW}, {intsAttr("shape", *KOr)});
  }
  if (Op.numOperands() == 3 && Need[2]) {
    Out[2] = grad::channelSum(B, G, S);
  }
  return llvm::Error::success();
}

/// d data = onehot(indices)^T @ g, with g viewed as [before axis, indices,
/// after axis]: each index adds its slice of g to the row it read.
llvm::Error grad::gatherGrad(Operation &Op, Value *G, OpBuilder &B,
                             llvm::SmallVectorImpl<Value *> &Out) {
  Value *Data = Op.operand(0), *Idx = Op.operand(1);
  const TensorType &DT = Data->Type;
  unsigned R = DT.rank();
  auto DimsOr = staticDims(Op, DT, 0, R);
  if (!DimsOr)
    return DimsOr.takeError();
  int64_t Axis = Op.getInt("axis");
  if (Axis < 0)
    Axis += R;
  llvm::ArrayRef<int64_t> Dims = *DimsOr;
  int64_t Depth = Dims[Axis];
  int64_t Before = product(Dims.take_front(Axis)),
          After = product(Dims.drop_front(Axis + 1));
  DType IE = Idx->Type.elem();
  // Negative indices count from the end.
  Value *Wrapped = B.create(
      OpKind::Where, {B.create(OpKind::Less, {Idx, B.scalar(IE, 0)}),
                      B.create(OpKind::Add, {Idx, B.scalar(IE, double(Depth))}),
                      Idx});
  Value *Hot = B.create(OpKind::OneHot, {Wrapped},
                        {intAttr("depth", Depth),
                         {"dtype", Attribute::getType(DT.elem())}});
  Hot = B.create(OpKind::Reshape, {Hot}, {intsAttr("shape", {-1, Depth})});
  Hot = B.create(OpKind::Transpose, {Hot}, {intsAttr("perm", {1, 0})});
  Value *G3 = B.create(OpKind::Reshape, {G}, {intsAttr("shape", {Before, -1, After})});
  Value *D = B.create(OpKind::MatMul, {Hot, G3}); // [Before, Depth, After]
  Out[0] = B.create(OpKind::Reshape, {D}, {intsAttr("shape", Dims)});
  return llvm::Error::success();
}

/// g viewed as [r0, d0, r1, d1, ...], summed over the repeats.
llvm::Error grad::tileGrad(Operation &Op, Value *G, OpBuilder &B,
                           llvm::SmallVectorImpl<Value *> &Out) {
  const TensorType &XT = Op.operand(0)->Type;
  unsigned R = XT.rank();
  auto DimsOr = staticDims(Op, XT, 0, R);
  if (!DimsOr)
    return DimsOr.takeError();
  llvm::ArrayRef<int64_t> Rep = Op.getInts("repeats");
  Ints Split, Axes;
  for (unsigned I = 0; I < R; ++I) {
    Axes.push_back(Split.size());
    Split.append({Rep[I], (*DimsOr)[I]});
  }
  Value *V = B.create(OpKind::Reshape, {G}, {intsAttr("shape", Split)});
  Out[0] = B.create(OpKind::ReduceSum, {V},
                    {intsAttr("axes", Axes), boolAttr("keepdims", false)});
  return llvm::Error::success();
}
