// Convolution and transposed convolution (N-D, strides, pads, dilations,
// groups) and im2col to kernel IR, as direct loop nests; the window helpers
// pooling shares (kernel/LowerPool.cpp).
//
// 1. Loops over the result: batch, channel, then each spatial dim.
// 2. For each window position the input coordinate is o * stride - pad +
//    k * dilation. Padding needs no branches: the coordinate is clamped into
//    the input for the load, and a `valid` flag (0 <= coord < size, computed
//    with index comparisons) selects the loaded value or the padding value
//    (0 for conv).
// 3. conv accumulates x * w over input channels of the group and the kernel
//    window, starting from the bias.
// This is the reference schedule; conv-to-gemm (im2col and the blocked
// GEMM) and the depthwise kernel replace it for speed.
#include "kernel/Lowering.h"
#include "kernel/LoweringUtil.h"

#include "ir/Location.h"

#include <cmath>

using namespace dlc;
using namespace dlc::kir;

WindowAttrs kir::windowAttrs(const Operation &Op, unsigned S, bool HasDilations) {
  WindowAttrs W;
  auto get = [&](llvm::StringRef Name, unsigned Len, int64_t Def,
                 llvm::SmallVector<int64_t, 3> &Out) {
    llvm::ArrayRef<int64_t> V = Op.getInts(Name);
    if (V.empty())
      Out.assign(Len, Def);
    else
      Out.assign(V.begin(), V.end());
  };
  get("strides", S, 1, W.Strides);
  if (HasDilations)
    get("dilations", S, 1, W.Dilations);
  else
    W.Dilations.assign(S, 1);
  get("pads", 2 * S, 0, W.Pads);
  return W;
}

std::pair<KValue *, KValue *> kir::windowCoord(KBuilder &B, KValue *O, KValue *K,
                                               int64_t Stride, int64_t Pad,
                                               int64_t Dil, KValue *Size,
                                               KValue *Zero, KValue *One) {
  KValue *C = B.index(IndexOp::Add, B.index(IndexOp::Mul, O, B.constIndex(Stride)),
                      B.index(IndexOp::Mul, K, B.constIndex(Dil)));
  C = B.index(IndexOp::Sub, C, B.constIndex(Pad));
  KValue *Valid = B.scalar(
      OpKind::And,
      {B.scalar(OpKind::LessEqual, {Zero, C}, SType::of(DType::Bool)),
       B.scalar(OpKind::Less, {C, Size}, SType::of(DType::Bool))},
      SType::of(DType::Bool));
  KValue *Clamped = B.index(IndexOp::Min, B.index(IndexOp::Max, C, Zero),
                            B.index(IndexOp::Sub, Size, One));
  return {Clamped, Valid};
}

namespace {
/// What conv and conv_transpose share: the arguments (x, w, optional bias,
/// result), the input and kernel extents, the loops over the result (batch,
/// channel, spatial) and the accumulator, initialized from the bias.
struct ConvNest {
  KValue *X, *Wt, *Bias, *Out, *Zero, *One;
  std::vector<KValue *> InSize, KSize;
  KValue *N = nullptr, *M = nullptr, *Acc = nullptr;
  std::vector<KValue *> O;

  /// Declares the arguments (x, w, [bias,] out), in that order.
  static ConvNest declare(KBuilder &B, const Operation &Op) {
    KValue *X = B.arg("x", dynamicLike(Op.operand(0)->Type));
    KValue *W = B.arg("w", dynamicLike(Op.operand(1)->Type));
    KValue *Bias = Op.numOperands() == 3
                       ? B.arg("bias", dynamicLike(Op.operand(2)->Type))
                       : nullptr;
    KValue *Out = B.arg("out", dynamicLike(Op.result()->Type));
    return ConvNest(B, Op, X, W, Bias, Out);
  }
  /// On existing arguments.
  ConvNest(KBuilder &B, const Operation &Op, KValue *X, KValue *Wt,
           KValue *Bias, KValue *Out)
      : X(X), Wt(Wt), Bias(Bias), Out(Out) {
    const TensorType &XT = Op.operand(0)->Type;
    Zero = B.constIndex(0);
    One = B.constIndex(1);
    for (unsigned D = 2; D < XT.rank(); ++D) {
      InSize.push_back(B.dim(X, D));
      KSize.push_back(B.dim(Wt, D));
    }
  }
  /// With a fused pooling (non-overlapping windows): the pooling op, the
  /// pooled result's loop variables and its accumulator.
  const Operation *Pool = nullptr;
  std::vector<KValue *> PO;
  KValue *PoolAcc = nullptr;

  /// Opens the result loops and sets up the accumulator. With Pool, the
  /// loops run over the pooled result and its window, and O are the conv
  /// coordinates o = po * stride + k.
  void openResultLoops(KBuilder &B, DType E) {
    N = B.beginFor(Zero, B.dim(Out, 0));
    M = B.beginFor(Zero, B.dim(Out, 1));
    for (unsigned D = 0; D < InSize.size(); ++D) {
      KValue *I = B.beginFor(Zero, B.dim(Out, 2 + D));
      (Pool ? PO : O).push_back(I);
    }
    if (Pool) {
      bool IsMax = Pool->kind() == OpKind::MaxPool;
      PoolAcc = B.local(E);
      B.set(PoolAcc, B.constFloat(E, IsMax ? -INFINITY : 0.0));
      llvm::ArrayRef<int64_t> K = Pool->getInts("kernel");
      for (unsigned D = 0; D < InSize.size(); ++D) {
        KValue *Kv = B.beginFor(Zero, B.constIndex(K[D]));
        O.push_back(B.index(IndexOp::Add,
                            B.index(IndexOp::Mul, PO[D], B.constIndex(K[D])), Kv));
      }
    }
    Acc = B.local(E);
    B.set(Acc, Bias ? B.load(Bias, {M}) : B.constFloat(E, 0.0));
  }
};

/// The innermost step and the epilogue shared by conv and conv_transpose:
/// acc += (valid ? x[XIdx] : 0) * w[WIdx]; close the window and channel
/// loops; store acc at [N, M, O...]; close the result loops.
struct ConvTail {
  KValue *X, *W, *Out, *Acc, *Valid;
  std::vector<KValue *> XIdx, WIdx, Lead, O;
  DType E;
  const Epilogue *Epi = nullptr; // applied to acc before the store
  const ConvNest *Nest = nullptr; // for a fused pooling (Nest->Pool)
};

/// Returns the outermost (batch) loop, which runs in parallel.
KOp *accumulateAndStore(KBuilder &B, const ConvTail &T) {
  SType ST = SType::of(T.E);
  KValue *XV =
      B.scalar(OpKind::Where, {T.Valid, B.load(T.X, T.XIdx), B.constFloat(T.E, 0.0)}, ST);
  KValue *Prod = B.scalar(OpKind::Mul, {XV, B.load(T.W, T.WIdx)}, ST);
  B.set(T.Acc, B.scalar(OpKind::Add, {B.get(T.Acc), Prod}, ST));
  for (size_t D = 0; D < T.O.size() + 1; ++D) // window dims, then channels
    B.endFor();
  std::vector<KValue *> OutIdx(T.Lead);
  OutIdx.insert(OutIdx.end(), T.O.begin(), T.O.end());
  KValue *V = B.get(T.Acc);
  if (T.Epi && *T.Epi)
    V = (*T.Epi)(B, V, OutIdx, 1);
  if (T.Nest && T.Nest->Pool) {
    const ConvNest &C = *T.Nest;
    bool IsMax = C.Pool->kind() == OpKind::MaxPool;
    B.set(C.PoolAcc, B.scalar(IsMax ? OpKind::Max : OpKind::Add,
                              {B.get(C.PoolAcc), V}, ST));
    int64_t Count = 1;
    for (int64_t K : C.Pool->getInts("kernel")) {
      B.endFor();
      Count *= K;
    }
    V = B.get(C.PoolAcc);
    if (!IsMax) // windows never leave the input: all Count elements count
      V = B.scalar(OpKind::Div, {V, B.constFloat(T.E, double(Count))}, ST);
    OutIdx = T.Lead;
    OutIdx.insert(OutIdx.end(), C.PO.begin(), C.PO.end());
  }
  B.store(V, T.Out, OutIdx);
  KOp *Outer = nullptr;
  for (size_t D = 0; D < T.O.size() + T.Lead.size(); ++D)
    Outer = B.endFor();
  Outer->Marks.Parallel = true;
  return Outer;
}
} // namespace

/// The loops of a direct convolution on Nest's arguments.
static void convBody(KBuilder &B, const Operation &Op, ConvNest &Nest,
                     const Epilogue *Epi, bool ForGpu) {
  const TensorType &XT = Op.operand(0)->Type, &RT = Op.result()->Type;
  if (!Nest.Pool && isDepthwiseConv(Op, Nest.Out->BufType.elem()))
    return buildDepthwiseConv(B, Op, Nest.X, Nest.Wt, Nest.Bias, Nest.Out, Epi,
                              ForGpu);
  unsigned S = XT.rank() - 2;
  DType E = RT.elem();
  WindowAttrs W = windowAttrs(Op, S, true);
  int64_t G = Op.getInt("group");
  KValue *X = Nest.X, *Wt = Nest.Wt, *Out = Nest.Out, *Zero = Nest.Zero,
         *One = Nest.One;
  KValue *ChanPerGroupOut = B.index(IndexOp::Div, B.dim(Wt, 0), B.constIndex(G));
  KValue *ChanPerGroupIn = B.dim(Wt, 1);
  Nest.openResultLoops(B, E);
  KValue *N = Nest.N, *M = Nest.M, *Acc = Nest.Acc;
  std::vector<KValue *> &O = Nest.O, &InSize = Nest.InSize, &KSize = Nest.KSize;
  KValue *GroupBase = B.index(IndexOp::Mul,
                              B.index(IndexOp::Div, M, ChanPerGroupOut),
                              ChanPerGroupIn);
  KValue *C = B.beginFor(Zero, ChanPerGroupIn);
  KValue *InC = B.index(IndexOp::Add, GroupBase, C);
  std::vector<KValue *> Kv, XIdx = {N, InC}, WIdx = {M, C};
  KValue *Valid = nullptr;
  for (unsigned D = 0; D < S; ++D) {
    Kv.push_back(B.beginFor(Zero, KSize[D]));
    auto [Coord, V] = windowCoord(B, O[D], Kv[D], W.Strides[D], W.Pads[D],
                                  W.Dilations[D], InSize[D], Zero, One);
    XIdx.push_back(Coord);
    WIdx.push_back(Kv[D]);
    Valid = Valid ? B.scalar(OpKind::And, {Valid, V}, SType::of(DType::Bool)) : V;
  }
  accumulateAndStore(B, {X, Wt, Out, Acc, Valid, XIdx, WIdx, {N, M}, O, E, Epi, &Nest});
}


static llvm::Expected<std::unique_ptr<Kernel>>
lowerConvOn(const Operation &Op, llvm::StringRef Name, bool ForGpu) {
  if (Op.kind() != OpKind::Conv)
    return makeError(Op.L, "'" + Op.mnemonic() + "' is not conv");
  auto K = newKernel(Name);
  KBuilder B(*K);
  ConvNest Nest = ConvNest::declare(B, Op);
  convBody(B, Op, Nest, nullptr, ForGpu);
  return finishKernel(std::move(K));
}

llvm::Expected<std::unique_ptr<Kernel>>
dlc::lowerConv(const Operation &Op, llvm::StringRef Name) {
  return lowerConvOn(Op, Name, false);
}

llvm::Expected<std::unique_ptr<Kernel>>
dlc::lowerConvForGpu(const Operation &Op, llvm::StringRef Name) {
  return lowerConvOn(Op, Name, true);
}

void kir::buildConv(KBuilder &B, const Operation &Op, KValue *X, KValue *W,
                    KValue *Bias, KValue *Out, const Epilogue &Epi,
                    const Operation *Pool, bool ForGpu) {
  ConvNest Nest(B, Op, X, W, Bias, Out);
  Nest.Pool = Pool;
  convBody(B, Op, Nest, &Epi, ForGpu);
}


llvm::Expected<std::unique_ptr<Kernel>>
dlc::lowerConvTranspose(const Operation &Op, llvm::StringRef Name) {
  if (Op.kind() != OpKind::ConvTranspose)
    return makeError(Op.L, "'" + Op.mnemonic() + "' is not conv_transpose");
  const TensorType &XT = Op.operand(0)->Type, &RT = Op.result()->Type;
  unsigned S = XT.rank() - 2;
  DType E = RT.elem();
  WindowAttrs W = windowAttrs(Op, S, true);
  int64_t G = Op.getInt("group");
  SType Bool = SType::of(DType::Bool);

  auto K = newKernel(Name);
  KBuilder B(*K);
  ConvNest Nest = ConvNest::declare(B, Op);
  KValue *X = Nest.X, *Wt = Nest.Wt, *Out = Nest.Out, *Zero = Nest.Zero,
         *One = Nest.One;
  // Weight is [C, M/group, k...]: result channel m belongs to group
  // m / (M/group) and reads input channels of that group.
  KValue *OutPerGroup = B.dim(Wt, 1);
  KValue *InPerGroup = B.index(IndexOp::Div, B.dim(X, 1), B.constIndex(G));
  Nest.openResultLoops(B, E);
  KValue *N = Nest.N, *M = Nest.M, *Acc = Nest.Acc;
  std::vector<KValue *> &O = Nest.O, &InSize = Nest.InSize, &KSize = Nest.KSize;
  KValue *Grp = B.index(IndexOp::Div, M, OutPerGroup);
  KValue *MInGroup = B.index(IndexOp::Sub, M, B.index(IndexOp::Mul, Grp, OutPerGroup));
  KValue *C = B.beginFor(Zero, InPerGroup);
  KValue *InC = B.index(IndexOp::Add, B.index(IndexOp::Mul, Grp, InPerGroup), C);
  std::vector<KValue *> XIdx = {N, InC}, WIdx = {InC, MInGroup};
  KValue *Valid = nullptr;
  for (unsigned D = 0; D < S; ++D) {
    KValue *Kv = B.beginFor(Zero, KSize[D]);
    // o = i * stride - pad + k * dilation  =>  i = (o + pad - k * dil) / stride
    KValue *T = B.index(IndexOp::Sub, B.index(IndexOp::Add, O[D], B.constIndex(W.Pads[D])),
                        B.index(IndexOp::Mul, Kv, B.constIndex(W.Dilations[D])));
    KValue *Stride = B.constIndex(W.Strides[D]);
    KValue *I = B.index(IndexOp::Div, T, Stride);
    KValue *V = B.scalar(
        OpKind::And,
        {B.scalar(OpKind::And,
                  {B.scalar(OpKind::LessEqual, {Zero, T}, Bool),
                   B.scalar(OpKind::Equal, {B.index(IndexOp::Rem, T, Stride), Zero}, Bool)},
                  Bool),
         B.scalar(OpKind::Less, {I, InSize[D]}, Bool)},
        Bool);
    Valid = Valid ? B.scalar(OpKind::And, {Valid, V}, Bool) : V;
    XIdx.push_back(B.index(IndexOp::Min, B.index(IndexOp::Max, I, Zero),
                           B.index(IndexOp::Sub, InSize[D], One)));
    WIdx.push_back(Kv);
  }
  accumulateAndStore(B, {X, Wt, Out, Acc, Valid, XIdx, WIdx, {N, M}, O, E});
  return finishKernel(std::move(K));
}

/// im2col into [N, C*K, P]: one parallel iteration per (image, channel);
/// for each kernel offset, the output positions are a contiguous run of a
/// row of the result, the last one fastest, so stores are sequential and a
/// stride-1 window reads a contiguous run of the input too.
static llvm::Expected<std::unique_ptr<Kernel>>
im2colChannelMajor(std::unique_ptr<Kernel> K, KBuilder &B, KValue *X,
                   KValue *Out, llvm::ArrayRef<int64_t> Kern,
                   const WindowAttrs &W, llvm::ArrayRef<KValue *> InSize,
                   llvm::ArrayRef<KValue *> OutSize) {
  unsigned S = Kern.size();
  DType E = X->BufType.elem();
  int64_t KSize = 1;
  for (int64_t V : Kern)
    KSize *= V;
  KValue *Zero = B.constIndex(0), *One = B.constIndex(1);
  KValue *C = B.dim(X, 1);
  KValue *T = B.beginFor(Zero, B.index(IndexOp::Mul, B.dim(X, 0), C));
  KValue *N = B.index(IndexOp::Div, T, C);
  KValue *Ch = B.index(IndexOp::Sub, T, B.index(IndexOp::Mul, N, C));
  KValue *Col = B.index(IndexOp::Mul, Ch, B.constIndex(KSize));
  std::vector<KValue *> Kv;
  for (unsigned D = 0; D < S; ++D) {
    Kv.push_back(B.beginFor(Zero, B.constIndex(Kern[D])));
    int64_t Stride = 1;
    for (unsigned D2 = D + 1; D2 < S; ++D2)
      Stride *= Kern[D2];
    Col = B.index(IndexOp::Add, Col, B.index(IndexOp::Mul, Kv[D], B.constIndex(Stride)));
  }
  SType Bool = SType::of(DType::Bool);
  KValue *Row = Zero, *Valid = nullptr;
  std::vector<KValue *> XIdx = {N, Ch};
  for (unsigned D = 0; D + 1 < S; ++D) {
    KValue *O = B.beginFor(Zero, OutSize[D]);
    Row = B.index(IndexOp::Add, B.index(IndexOp::Mul, Row, OutSize[D]), O);
    auto [Coord, V] = windowCoord(B, O, Kv[D], W.Strides[D], W.Pads[D],
                                  W.Dilations[D], InSize[D], Zero, One);
    XIdx.push_back(Coord);
    Valid = Valid ? B.scalar(OpKind::And, {Valid, V}, Bool) : V;
  }
  // Along the last dim, the positions [Lo, Hi) whose window offset lands
  // inside the input need no bounds check (a plain strided copy); those
  // before and after are checked one by one.
  const unsigned L = S - 1;
  KValue *Row0 = B.index(IndexOp::Mul, Row, OutSize[L]);
  auto position = [&](KValue *O, bool Checked) {
    std::vector<KValue *> Idx = XIdx;
    KValue *V = Valid;
    if (Checked) {
      auto [Coord, VL] = windowCoord(B, O, Kv[L], W.Strides[L], W.Pads[L],
                                     W.Dilations[L], InSize[L], Zero, One);
      Idx.push_back(Coord);
      V = V ? B.scalar(OpKind::And, {V, VL}, Bool) : VL;
    } else {
      Idx.push_back(inputCoord(B, O, Kv[L], W.Strides[L], W.Dilations[L], W.Pads[L]));
    }
    KValue *XV = B.load(X, Idx);
    if (V)
      XV = B.scalar(OpKind::Where, {V, XV, B.constFloat(E, 0.0)}, SType::of(E));
    B.store(XV, Out, {N, Col, B.index(IndexOp::Add, Row0, O)});
  };
  auto [Lo, Hi] = tapRange(B, Kv[L], W.Strides[L], W.Dilations[L], W.Pads[L],
                           InSize[L], OutSize[L]);
  Lo = B.index(IndexOp::Min, Lo, Hi);
  KValue *O = B.beginFor(Zero, Lo);
  position(O, true);
  B.endFor();
  O = B.beginFor(Lo, Hi);
  position(O, false);
  // Rows are short (13 positions in the tutorial CNN): one vector loop
  // whose last vector is masked, not a scalar remainder. With a larger
  // stride the loads would be gathers; LLVM's own choice is better there.
  B.endFor()->Marks.MaskedTail = W.Strides[L] == 1;
  O = B.beginFor(Hi, OutSize[L]);
  position(O, true);
  B.endFor();
  for (unsigned D = 0; D < 2 * S; ++D)
    B.endFor()->Marks.Parallel = D + 1 == 2 * S;
  return finishKernel(std::move(K));
}

llvm::Expected<std::unique_ptr<Kernel>>
dlc::lowerIm2Col(const Operation &Op, llvm::StringRef Name) {
  if (Op.kind() != OpKind::Im2Col)
    return makeError(Op.L, "'" + Op.mnemonic() + "' is not im2col");
  const TensorType &XT = Op.operand(0)->Type;
  unsigned S = XT.rank() - 2;
  DType E = XT.elem();
  WindowAttrs W = windowAttrs(Op, S, true);
  llvm::ArrayRef<int64_t> Kern = Op.getInts("kernel");
  int64_t KSize = 1;
  for (int64_t V : Kern)
    KSize *= V;

  auto K = newKernel(Name);
  KBuilder B(*K);
  KValue *X = B.arg("x", dynamicLike(XT));
  KValue *Out = B.arg("out", dynamicLike(Op.result()->Type));
  KValue *Zero = B.constIndex(0), *One = B.constIndex(1);
  // Output spatial extents: (in + pads - span) / stride + 1.
  std::vector<KValue *> InSize, OutSize;
  for (unsigned D = 0; D < S; ++D) {
    InSize.push_back(B.dim(X, 2 + D));
    int64_t Span = W.Dilations[D] * (Kern[D] - 1) + 1;
    KValue *Padded = B.index(IndexOp::Add, InSize[D],
                             B.constIndex(W.Pads[D] + W.Pads[S + D] - Span));
    OutSize.push_back(B.index(
        IndexOp::Add, B.index(IndexOp::Div, Padded, B.constIndex(W.Strides[D])), One));
  }
  if (Op.getBool("channel_major"))
    return im2colChannelMajor(std::move(K), B, X, Out, Kern, W, InSize, OutSize);
  KValue *N = B.beginFor(Zero, B.dim(X, 0));
  std::vector<KValue *> O;
  KValue *Row = Zero;
  for (unsigned D = 0; D < S; ++D) {
    O.push_back(B.beginFor(Zero, OutSize[D]));
    Row = B.index(IndexOp::Add, B.index(IndexOp::Mul, Row, OutSize[D]), O[D]);
  }
  KValue *C = B.beginFor(Zero, B.dim(X, 1));
  KValue *Col = B.index(IndexOp::Mul, C, B.constIndex(KSize));
  std::vector<KValue *> XIdx = {N, C};
  KValue *Valid = nullptr;
  for (unsigned D = 0; D < S; ++D) {
    KValue *Kv = B.beginFor(Zero, B.constIndex(Kern[D]));
    // Column offsets within the channel's block: row-major over the kernel.
    int64_t Stride = 1;
    for (unsigned D2 = D + 1; D2 < S; ++D2)
      Stride *= Kern[D2];
    Col = B.index(IndexOp::Add, Col, B.index(IndexOp::Mul, Kv, B.constIndex(Stride)));
    auto [Coord, V] = windowCoord(B, O[D], Kv, W.Strides[D], W.Pads[D],
                                  W.Dilations[D], InSize[D], Zero, One);
    XIdx.push_back(Coord);
    Valid = Valid ? B.scalar(OpKind::And, {Valid, V}, SType::of(DType::Bool)) : V;
  }
  KValue *XV = B.scalar(OpKind::Where, {Valid, B.load(X, XIdx), B.constFloat(E, 0.0)},
                        SType::of(E));
  B.store(XV, Out, {N, Row, Col});
  for (unsigned D = 0; D < 2 * S + 2; ++D)
    B.endFor()->Marks.Parallel = D + 1 == 2 * S + 2;
  return finishKernel(std::move(K));
}
