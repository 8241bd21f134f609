// Pooling to kernel IR: max_pool and avg_pool (N-D, strides, pads,
// dilations, ceil mode) and max_pool_grad.
//
// The general schedule is a direct loop nest over the result, with each
// window tap's input coordinate clamped into the input and a `valid` flag
// selecting the loaded value or the padding value (-inf for max pooling, 0
// for average pooling, which divides by the number of valid positions;
// count_include_pad counts the padded positions inside the explicit pads,
// as the interpreter does). 2-D max pooling and the gradient of tiling 2-D
// windows have faster schedules along result rows (below).
#include "kernel/Lowering.h"
#include "kernel/LoweringUtil.h"

#include "ir/Location.h"

#include <cmath>

using namespace dlc;
using namespace dlc::kir;

/// The static tap range of tapRange: result positions o in [0, Extent)
/// whose input coordinate o * Stride + K * Dil - Pad lies in [0, Size).
static std::pair<int64_t, int64_t> staticTapRange(int64_t K, int64_t Stride,
                                                  int64_t Dil, int64_t Pad,
                                                  int64_t Size, int64_t Extent) {
  int64_t Lo = (std::max<int64_t>(Pad - K * Dil, 0) + Stride - 1) / Stride;
  int64_t Hi = std::max<int64_t>(Size + Pad + Stride - 1 - K * Dil, 0) / Stride;
  return {Lo, std::min(Hi, Extent)};
}

/// 2-D max pooling along result rows: each row starts at -inf, then for
/// each kernel row kh inside the input (tap ranges, as for depthwise convs:
/// padding and ceil mode only shrink them) the row takes the max with the
/// kernel row's taps. In the interior, where every tap kw is inside the
/// input, positions take all their taps at once; the few positions at the
/// padded edges take their taps one by one. max keeps NaN, so the order of
/// the taps does not matter.
///
/// The interior: with a column stride of 1, one loop of scalar code the
/// vectorizer turns into vectors with a masked last one (a 13-wide row is
/// one vector). With a larger stride on the CPU, explicit vectors: each
/// tap of L positions is one strided load (L x stride consecutive
/// elements and a shuffle, not a gather), every kernel row inside the
/// vector's loop, and when the row's interior has a static width its last
/// partial vector has valid lanes.
static void maxPoolRows(KBuilder &B, const Operation &Op, const WindowAttrs &W,
                        KValue *X, KValue *Out, bool ForGpu) {
  DType E = Op.result()->Type.elem();
  SType ST = SType::of(E);
  llvm::ArrayRef<int64_t> Kern = Op.getInts("kernel");
  KValue *Zero = B.constIndex(0);
  KValue *C = B.dim(Out, 1);
  KValue *NC = B.beginFor(Zero, B.index(IndexOp::Mul, B.dim(Out, 0), C));
  KValue *N = B.index(IndexOp::Div, NC, C), *Ch = B.index(IndexOp::Rem, NC, C);
  KValue *Oh = B.beginFor(Zero, B.dim(Out, 2));
  {
    KValue *Ow = B.beginFor(Zero, B.dim(Out, 3));
    B.store(B.constFloat(E, -INFINITY), Out, {N, Ch, Oh, Ow});
    B.endFor()->Marks.MaskedTail = true;
  }
  auto [KhLo, KhHi] = tapRange(B, Oh, W.Dilations[0], W.Strides[0], W.Pads[0],
                               B.dim(X, 2), B.constIndex(Kern[0]));
  auto taps = [&](KValue *Kw) {
    return tapRange(B, Kw, W.Strides[1], W.Dilations[1], W.Pads[1],
                    B.dim(X, 3), B.dim(Out, 3));
  };
  // Interior [ILo, IHi): the ranges shrink as kw grows, so the first
  // tap's start and the last tap's end bound the positions all taps share.
  KValue *ILo = taps(Zero).first;
  KValue *IHi = B.index(IndexOp::Max, ILo, taps(B.constIndex(Kern[1] - 1)).second);
  // The part of it the scalar loop inside the kh loop takes: all of it,
  // or what the vectors leave.
  KValue *SLo = ILo, *SHi = IHi;
  const int64_t SW = W.Strides[1];
  const bool Vectors = SW > 1 && !ForGpu;
  if (Vectors) {
    const unsigned L = 64 / dtypeSize(E);
    SType VT = SType::vec(E, L);
    auto vectorsAt = [&](KValue *Lo, KValue *Hi) {
      KValue *Ow = B.beginFor(Lo, Hi, L);
      KValue *Acc = B.local(E, L);
      B.set(Acc, B.constFloat(E, -INFINITY, L));
      KValue *Kh = B.beginFor(KhLo, KhHi);
      KValue *Ih = inputCoord(B, Oh, Kh, W.Strides[0], W.Dilations[0], W.Pads[0]);
      for (int64_t Kw = 0; Kw < Kern[1]; ++Kw) {
        KValue *Iw = inputCoord(B, Ow, B.constIndex(Kw), SW, W.Dilations[1], W.Pads[1]);
        B.set(Acc, B.scalar(OpKind::Max, {B.get(Acc), B.load(X, {N, Ch, Ih, Iw}, L, SW)},
                            VT));
      }
      B.endFor(); // kh
      B.store(B.get(Acc), Out, {N, Ch, Oh, Ow});
      B.endFor();
    };
    KValue *Lc = B.constIndex(L);
    KValue *Full = B.index(
        IndexOp::Add, ILo,
        B.index(IndexOp::Mul,
                B.index(IndexOp::Div, B.index(IndexOp::Sub, IHi, ILo), Lc), Lc));
    vectorsAt(ILo, Full);
    const TensorType &XT = Op.operand(0)->Type, &RT = Op.result()->Type;
    int64_t Width = -1;
    if (XT.dim(3).isStatic() && RT.dim(3).isStatic()) {
      int64_t Wd = XT.dim(3).size(), OW = RT.dim(3).size();
      int64_t Lo = staticTapRange(0, SW, W.Dilations[1], W.Pads[1], Wd, OW).first;
      int64_t Hi = staticTapRange(Kern[1] - 1, SW, W.Dilations[1], W.Pads[1], Wd, OW).second;
      Width = std::max(Hi, Lo) - Lo;
    }
    if (Width >= 0) { // the last partial vector, one iteration or none
      if (unsigned R = unsigned(Width % L)) {
        B.setValidLanes(R);
        vectorsAt(Full, IHi);
        B.setValidLanes(0);
      }
      SLo = SHi = Full; // done: the kh loop below has no interior
    } else {
      SLo = Full; // the scalar interior below takes the rest
    }
  }
  KValue *Kh = B.beginFor(KhLo, KhHi);
  KValue *Ih = inputCoord(B, Oh, Kh, W.Strides[0], W.Dilations[0], W.Pads[0]);
  {
    KValue *Ow = B.beginFor(SLo, SHi);
    std::vector<KValue *> Idx = {N, Ch, Oh, Ow};
    KValue *V = B.load(Out, Idx);
    for (int64_t Kw = 0; Kw < Kern[1]; ++Kw) {
      KValue *Iw = inputCoord(B, Ow, B.constIndex(Kw), W.Strides[1],
                              W.Dilations[1], W.Pads[1]);
      V = B.scalar(OpKind::Max, {V, B.load(X, {N, Ch, Ih, Iw})}, ST);
    }
    B.store(V, Out, Idx);
    B.endFor()->Marks.MaskedTail = true;
  }
  // The edges: each tap's range outside the interior (the whole interior,
  // vectors included).
  KValue *Kw = B.beginFor(Zero, B.constIndex(Kern[1]));
  auto [OwLo, OwHi] = taps(Kw);
  auto edge = [&](KValue *Lo, KValue *Hi) {
    KValue *Ow = B.beginFor(Lo, Hi);
    KValue *Iw = inputCoord(B, Ow, Kw, W.Strides[1], W.Dilations[1], W.Pads[1]);
    std::vector<KValue *> Idx = {N, Ch, Oh, Ow};
    B.store(B.scalar(OpKind::Max, {B.load(Out, Idx), B.load(X, {N, Ch, Ih, Iw})}, ST),
            Out, Idx);
    B.endFor();
  };
  edge(OwLo, B.index(IndexOp::Min, OwHi, ILo));
  edge(B.index(IndexOp::Max, OwLo, IHi), OwHi);
  B.endFor(); // kw
  B.endFor(); // kh
  B.endFor(); // oh
  B.endFor()->Marks.Parallel = true;
}

static llvm::Expected<std::unique_ptr<Kernel>>
lowerPoolOn(const Operation &Op, llvm::StringRef Name, bool ForGpu) {
  bool IsMax = Op.kind() == OpKind::MaxPool;
  if (!IsMax && Op.kind() != OpKind::AvgPool)
    return makeError(Op.L, "'" + Op.mnemonic() + "' is not a pooling op");
  const TensorType &XT = Op.operand(0)->Type, &RT = Op.result()->Type;
  unsigned S = XT.rank() - 2;
  DType E = RT.elem();
  WindowAttrs W = windowAttrs(Op, S, IsMax);
  llvm::ArrayRef<int64_t> Kern = Op.getInts("kernel");
  bool IncludePad = !IsMax && Op.getBool("count_include_pad");

  auto K = newKernel(Name);
  KBuilder B(*K);
  KValue *X = B.arg("x", dynamicLike(XT)), *Out = B.arg("out", dynamicLike(RT));
  if (IsMax && S == 2 && isFloat(E)) {
    maxPoolRows(B, Op, W, X, Out, ForGpu);
    return finishKernel(std::move(K));
  }
  KValue *Zero = B.constIndex(0), *One = B.constIndex(1);
  std::vector<KValue *> InSize;
  for (unsigned D = 0; D < S; ++D)
    InSize.push_back(B.dim(X, 2 + D));
  KValue *N = B.beginFor(Zero, B.dim(Out, 0));
  KValue *C = B.beginFor(Zero, B.dim(Out, 1));
  std::vector<KValue *> O;
  for (unsigned D = 0; D < S; ++D)
    O.push_back(B.beginFor(Zero, B.dim(Out, 2 + D)));
  KValue *Acc = B.local(E);
  B.set(Acc, B.constFloat(E, IsMax ? -INFINITY : 0.0));
  KValue *Count = IsMax ? nullptr : B.local(E);
  if (Count)
    B.set(Count, B.constFloat(E, 0.0));
  std::vector<KValue *> XIdx = {N, C};
  KValue *Valid = nullptr, *InPads = nullptr;
  // Without padding and ceil mode every window lies inside the input: no
  // range checks (the common case, and the CNN's).
  bool Inside = !Op.getBool("ceil_mode");
  for (int64_t P : W.Pads)
    Inside &= P == 0;
  for (unsigned D = 0; D < S; ++D) {
    KValue *Kv = B.beginFor(Zero, B.constIndex(Kern[D]));
    if (Inside) {
      XIdx.push_back(B.index(
          IndexOp::Add, B.index(IndexOp::Mul, O[D], B.constIndex(W.Strides[D])),
          B.index(IndexOp::Mul, Kv, B.constIndex(W.Dilations[D]))));
      continue;
    }
    auto [Coord, V] = windowCoord(B, O[D], Kv, W.Strides[D], W.Pads[D],
                                  W.Dilations[D], InSize[D], Zero, One);
    XIdx.push_back(Coord);
    Valid = Valid ? B.scalar(OpKind::And, {Valid, V}, SType::of(DType::Bool)) : V;
    if (IncludePad) {
      // Inside the explicitly padded extent [-pad_begin, size + pad_end).
      KValue *Raw = B.index(
          IndexOp::Sub,
          B.index(IndexOp::Add, B.index(IndexOp::Mul, O[D], B.constIndex(W.Strides[D])), Kv),
          B.constIndex(W.Pads[D]));
      KValue *Hi = B.index(IndexOp::Add, InSize[D], B.constIndex(W.Pads[S + D]));
      KValue *P = B.scalar(
          OpKind::And,
          {B.scalar(OpKind::LessEqual, {B.constIndex(-W.Pads[D]), Raw}, SType::of(DType::Bool)),
           B.scalar(OpKind::Less, {Raw, Hi}, SType::of(DType::Bool))},
          SType::of(DType::Bool));
      InPads = InPads ? B.scalar(OpKind::And, {InPads, P}, SType::of(DType::Bool)) : P;
    }
  }
  KValue *Pad = B.constFloat(E, IsMax ? -INFINITY : 0.0);
  KValue *XV = B.load(X, XIdx);
  if (Valid)
    XV = B.scalar(OpKind::Where, {Valid, XV, Pad}, SType::of(E));
  B.set(Acc, B.scalar(IsMax ? OpKind::Max : OpKind::Add, {B.get(Acc), XV},
                      SType::of(E)));
  if (Count) {
    KValue *In = IncludePad ? InPads : Valid;
    KValue *Counted = In ? B.scalar(OpKind::Cast, {In}, SType::of(E))
                         : B.constFloat(E, 1.0);
    B.set(Count, B.scalar(OpKind::Add, {B.get(Count), Counted}, SType::of(E)));
  }
  for (unsigned D = 0; D < S; ++D)
    B.endFor();
  KValue *V = B.get(Acc);
  if (Count) {
    // A window with no counted element gives 0, like the interpreter.
    KValue *Cnt = B.get(Count);
    KValue *Safe = B.scalar(OpKind::Max, {Cnt, B.constFloat(E, 1.0)}, SType::of(E));
    V = B.scalar(OpKind::Div, {V, Safe}, SType::of(E));
  }
  std::vector<KValue *> OutIdx = {N, C};
  OutIdx.insert(OutIdx.end(), O.begin(), O.end());
  B.store(V, Out, OutIdx);
  for (unsigned D = 0; D < S + 2; ++D)
    B.endFor()->Marks.Parallel = D + 1 == S + 2;
  return finishKernel(std::move(K));
}

llvm::Expected<std::unique_ptr<Kernel>>
dlc::lowerPool(const Operation &Op, llvm::StringRef Name) {
  return lowerPoolOn(Op, Name, false);
}

llvm::Expected<std::unique_ptr<Kernel>>
dlc::lowerPoolForGpu(const Operation &Op, llvm::StringRef Name) {
  return lowerPoolOn(Op, Name, true);
}

/// max_pool_grad: one thread per plane (n, c) scans each window's taps in
/// max_pool's order (unrolled: the kernel is static), keeping the best value
/// and which tap holds it without branches. Windows of one plane overlap
/// only within that plane, so the planes run in parallel without races.
/// - Windows that tile the input (stride = kernel, no padding or dilation,
///   every window inside): each input element is one tap of at most one
///   window, so every tap is stored once, dy at the chosen tap and 0 at the
///   others; only the rows and columns no window covers are zeroed first.
/// - Any other windows: the plane is zeroed, then dy is added at the
///   chosen tap (overlapping windows may choose the same element).
/// On the CPU, tiling 2-D windows run 16 at a time along a row: each tap
/// of 16 windows is one strided vector load and one strided vector store,
/// the choice a vector of tap numbers.
static llvm::Expected<std::unique_ptr<Kernel>>
lowerMaxPoolGradOn(const Operation &Op, llvm::StringRef Name, bool ForGpu) {
  if (Op.kind() != OpKind::MaxPoolGrad)
    return makeError(Op.L, "'" + Op.mnemonic() + "' is not max_pool_grad");
  const TensorType &XT = Op.operand(0)->Type, &DT = Op.operand(1)->Type;
  unsigned S = XT.rank() - 2;
  DType E = XT.elem();
  WindowAttrs W = windowAttrs(Op, S, true);
  llvm::ArrayRef<int64_t> Kern = Op.getInts("kernel");
  auto K = newKernel(Name);
  KBuilder B(*K);
  KValue *X = B.arg("x", dynamicLike(XT)), *DY = B.arg("dy", dynamicLike(DT)),
         *Out = B.arg("dx", dynamicLike(XT));
  // Tiling windows, with static spatial sizes to prove it.
  bool Tiles = true, Covers = true;
  for (unsigned D = 0; D < S; ++D) {
    const Dim &In = XT.dim(2 + D), &O = DT.dim(2 + D);
    Tiles &= W.Strides[D] == Kern[D] && W.Pads[D] == 0 && W.Pads[S + D] == 0 &&
             W.Dilations[D] == 1 && In.isStatic() && O.isStatic() &&
             O.size() * Kern[D] <= In.size();
    Covers &= Tiles && O.size() * Kern[D] == In.size();
  }
  KValue *Zero = B.constIndex(0), *One = B.constIndex(1);
  KValue *C = B.dim(Out, 1);
  KValue *NC = B.beginFor(Zero, B.index(IndexOp::Mul, B.dim(Out, 0), C));
  KValue *N = B.index(IndexOp::Div, NC, C), *Ch = B.index(IndexOp::Rem, NC, C);
  if (!Covers) {
    std::vector<KValue *> Idx = {N, Ch};
    for (unsigned D = 0; D < S; ++D)
      Idx.push_back(B.beginFor(Zero, B.dim(Out, 2 + D)));
    B.store(B.constFloat(E, 0.0), Out, Idx);
    for (unsigned D = 0; D < S; ++D)
      B.endFor();
  }
  std::vector<KValue *> InSize, O;
  for (unsigned D = 0; D < S; ++D)
    InSize.push_back(B.dim(X, 2 + D));
  for (unsigned D = 0; D + 1 < S; ++D)
    O.push_back(B.beginFor(Zero, B.dim(DY, 2 + D)));
  int64_t Taps = 1;
  for (int64_t V : Kern)
    Taps *= V;
  // The windows at O (the last coordinate O.back() is the first of Lanes
  // consecutive windows along the last dim when Lanes > 1: tiling windows
  // only, whose taps are then strided vectors).
  auto windows = [&](unsigned Lanes) {
    SType ST = SType::vec(E, Lanes), BT = SType::vec(DType::Bool, Lanes),
          IT = SType::vec(DType::I64, Lanes);
    const unsigned TapStride = Lanes > 1 ? unsigned(W.Strides[S - 1]) : 1;
    // The best value so far, whether a tap was taken, and which: the tap's
    // number when tiling, else its coordinates.
    KValue *Best = B.local(E, Lanes), *Has = B.local(DType::Bool, Lanes);
    B.set(Best, B.constFloat(E, 0.0, Lanes));
    B.set(Has, B.constFloat(DType::Bool, 0.0, Lanes));
    std::vector<KValue *> Chosen(Tiles ? 1 : S);
    for (KValue *&L : Chosen) {
      L = B.local(DType::I64, Lanes);
      B.set(L, B.constFloat(DType::I64, 0.0, Lanes));
    }
    std::vector<std::vector<KValue *>> TapIdx; // each tap's x index
    for (int64_t T = 0; T < Taps; ++T) {
      // Tap T's offsets, row-major over the kernel as max_pool scans them.
      std::vector<int64_t> KIdx(S);
      for (int64_t Rest = T, D = int64_t(S) - 1; D >= 0; --D) {
        KIdx[D] = Rest % Kern[D];
        Rest /= Kern[D];
      }
      std::vector<KValue *> XIdx = {N, Ch};
      KValue *Valid = B.constFloat(DType::Bool, 1.0, Lanes);
      for (unsigned D = 0; D < S; ++D) {
        if (Tiles) { // always inside
          XIdx.push_back(inputCoord(B, O[D], B.constIndex(KIdx[D]), W.Strides[D],
                                    W.Dilations[D], W.Pads[D]));
          continue;
        }
        auto [Cd, V] = windowCoord(B, O[D], B.constIndex(KIdx[D]), W.Strides[D],
                                   W.Pads[D], W.Dilations[D], InSize[D], Zero, One);
        XIdx.push_back(Cd);
        Valid = B.scalar(OpKind::And, {Valid, V}, BT);
      }
      KValue *V = B.load(X, XIdx, Lanes, TapStride), *Cur = B.get(Best),
             *Had = B.get(Has);
      // Taken: inside, and the first such tap, or better than the best so
      // far (a NaN beats any number; nothing beats a NaN), as max decides.
      KValue *VNan = B.scalar(OpKind::Not, {B.scalar(OpKind::Equal, {V, V}, BT)}, BT);
      KValue *Better = B.scalar(
          OpKind::And,
          {B.scalar(OpKind::Equal, {Cur, Cur}, BT),
           B.scalar(OpKind::Or, {VNan, B.scalar(OpKind::Greater, {V, Cur}, BT)}, BT)},
          BT);
      KValue *Take = B.scalar(
          OpKind::And,
          {Valid, B.scalar(OpKind::Or, {B.scalar(OpKind::Not, {Had}, BT), Better}, BT)},
          BT);
      B.set(Best, B.scalar(OpKind::Where, {Take, V, Cur}, ST));
      B.set(Has, B.scalar(OpKind::Or, {Had, Take}, BT));
      for (size_t D = 0; D < Chosen.size(); ++D) {
        KValue *Now = Tiles ? B.constFloat(DType::I64, double(T), Lanes) : XIdx[2 + D];
        B.set(Chosen[D], B.scalar(OpKind::Where, {Take, Now, B.get(Chosen[D])}, IT));
      }
      TapIdx.push_back(std::move(XIdx));
    }
    std::vector<KValue *> DIdx = {N, Ch};
    DIdx.insert(DIdx.end(), O.begin(), O.end());
    KValue *ZeroF = B.constFloat(E, 0.0, Lanes);
    KValue *G = B.scalar(OpKind::Where, {B.get(Has), B.load(DY, DIdx, Lanes), ZeroF}, ST);
    if (Tiles) {
      // Every tap stored once: g at the chosen one, 0 at the others.
      KValue *Sel = B.get(Chosen[0]);
      for (int64_t T = 0; T < Taps; ++T) {
        KValue *Here = B.scalar(OpKind::Equal,
                                {Sel, B.constFloat(DType::I64, double(T), Lanes)}, BT);
        B.store(B.scalar(OpKind::Where, {Here, G, ZeroF}, ST), Out, TapIdx[T], TapStride);
      }
    } else {
      std::vector<KValue *> At = {N, Ch};
      for (KValue *L : Chosen)
        At.push_back(B.scalar(OpKind::Add, {B.get(L), Zero}, SType::index()));
      B.store(B.scalar(OpKind::Add, {B.load(Out, At), G}, ST), Out, At);
    }
  };
  // The last dim: strided vectors of 16 windows (the last one partial) for
  // tiling 2-D windows on the CPU, else one window at a time.
  if (Tiles && S == 2 && !ForGpu && DT.dim(3).isStatic()) {
    const unsigned L = 64 / dtypeSize(E);
    int64_t OW = DT.dim(3).size(), Full = OW / L * L;
    O.push_back(B.beginFor(Zero, B.constIndex(Full), L));
    windows(L);
    B.endFor();
    O.pop_back();
    if (unsigned R = unsigned(OW - Full)) {
      B.setValidLanes(R);
      O.push_back(B.beginFor(B.constIndex(Full), B.constIndex(OW), L));
      windows(L);
      B.endFor();
      O.pop_back();
      B.setValidLanes(0);
    }
  } else {
    O.push_back(B.beginFor(Zero, B.dim(DY, 2 + S - 1)));
    windows(1);
    B.endFor();
    O.pop_back();
  }
  for (unsigned D = 0; D + 1 < S; ++D)
    B.endFor();
  B.endFor()->Marks.Parallel = true;
  return finishKernel(std::move(K));
}

llvm::Expected<std::unique_ptr<Kernel>>
dlc::lowerMaxPoolGrad(const Operation &Op, llvm::StringRef Name) {
  return lowerMaxPoolGradOn(Op, Name, false);
}

llvm::Expected<std::unique_ptr<Kernel>>
dlc::lowerMaxPoolGradForGpu(const Operation &Op, llvm::StringRef Name) {
  return lowerMaxPoolGradOn(Op, Name, true);
}
