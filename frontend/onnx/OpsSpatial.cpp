// ONNX spatial sampling ops composed of dlc ops: GridSample (N-D, nearest /
// linear / cubic, zeros / border / reflection padding) as gathers from the
// flattened input, AffineGrid as a matmul against the base grid,
// CenterCropPad as a slice and a pad, Col2Im as a transposed convolution.
#include "frontend/onnx/NodeContext.h"
#include "ir/TensorLimits.h"
#include "runtime/SizeMath.h"

#include "llvm/ADT/StringExtras.h"

#include <algorithm>
#include <cmath>

using namespace dlc;
using namespace dlc::onnximp;

namespace {
/// Expression helpers in one floating-point type F.
struct SpatialEx : Arith {
  DType F;
  Value *s(double V) { return C.scalar(F, V); }
  Value *clamp(Value *X, Value *Lo, Value *Hi) {
    return bin(OpKind::Max, bin(OpKind::Min, X, Hi), Lo);
  }
  /// ONNX's reflection of X into [Lo, Hi] (used where X is outside).
  Value *reflect(Value *X, Value *Lo, Value *Hi) {
    Value *Rng = sub(Hi, Lo);
    Value *Below = bin(OpKind::Less, X, Lo);
    Value *Dx = where(Below, sub(Lo, X), sub(X, Hi));
    Value *N = un(OpKind::Floor, div(Dx, Rng));
    Value *R = sub(Dx, mul(N, Rng));
    Value *Half = un(OpKind::Floor, mul(N, s(0.5)));
    Value *Even = bin(OpKind::Equal, N, mul(Half, s(2.0)));
    // Below: even -> Lo + R, odd -> Hi - R; above: the other way round.
    Value *FromLo = add(Lo, R), *FromHi = sub(Hi, R);
    Value *UseLo = C.op(OpKind::Xor, {Below, C.op(OpKind::Not, {Even})});
    return where(UseLo, FromLo, FromHi);
  }
};

/// One interpolation tap along one spatial dim: the (float, integral)
/// index and its weight (null for weight 1).
struct Tap {
  Value *Index;
  Value *Weight;
};
} // namespace

/// ONNX's cubic convolution weights (A = -0.75) of the 4 taps around a
/// point at fractional offset T from the second tap.
static std::vector<Value *> cubicWeights(SpatialEx &E, Value *T) {
  const double A = -0.75;
  auto Far = [&](Value *D) { // |d| in [1, 2]
    Value *P = E.sub(E.mul(E.s(A), D), E.s(5 * A));
    P = E.add(E.mul(P, D), E.s(8 * A));
    return E.sub(E.mul(P, D), E.s(4 * A));
  };
  auto Near = [&](Value *D) { // |d| in [0, 1]
    Value *P = E.sub(E.mul(E.s(A + 2), D), E.s(A + 3));
    return E.add(E.mul(E.mul(P, D), D), E.s(1.0));
  };
  Value *One = E.s(1.0);
  return {Far(E.add(T, One)), Near(T), Near(E.sub(One, T)),
          Far(E.sub(E.s(2.0), T))};
}

static void gridSample(NodeContext &C) {
  C.allowAttrs({"align_corners", "mode", "padding_mode"});
  Value *X = C.in(0), *G = C.in(1);
  if (!X || !G)
    return;
  unsigned R = X->Type.rank();
  if (R < 3 || G->Type.rank() != R)
    return C.fail("needs X of rank >= 3 and a grid of the same rank, got " +
                  X->Type.str() + " and " + G->Type.str());
  unsigned S = R - 2;
  const Dim &Last = G->Type.dim(R - 1);
  if (Last.isStatic() && Last.size() != int64_t(S))
    return C.fail("the grid's last dim must be " + llvm::Twine(S) + ", got " +
                  G->Type.str());
  if (!isFloat(X->Type.elem()) || !isFloat(G->Type.elem()))
    return C.fail("needs floating-point X and grid");
  std::string Mode = C.attrStr("mode", C.Opset >= 20 ? "linear" : "bilinear");
  if (Mode == "bilinear")
    Mode = "linear";
  if (Mode == "bicubic")
    Mode = "cubic";
  if (Mode != "linear" && Mode != "nearest" && Mode != "cubic")
    return C.fail("unknown mode '" + Mode + "'");
  std::string Pad = C.attrStr("padding_mode", "zeros");
  if (Pad != "zeros" && Pad != "border" && Pad != "reflection")
    return C.fail("unknown padding_mode '" + Pad + "'");
  bool Align = C.attrInt("align_corners", 0) != 0;
  SpatialEx E{C, G->Type.elem()};

  // Taps per spatial dim k (X dim 2 + k; grid component S - 1 - k).
  std::vector<std::vector<Tap>> Taps(S);
  std::vector<std::vector<Value *>> TapValid(S);
  for (unsigned K = 0; K < S && !C.failed(); ++K) {
    Value *Sz = C.cast(C.dimOf(X, 2 + K), E.F);
    Value *Gk = C.op(OpKind::Gather, {G, C.scalar(DType::I64, S - 1 - K)},
                     {aInt("axis", R - 1)});
    Value *One = E.s(1.0);
    Value *Lo = E.s(Align ? 0.0 : -0.5);
    Value *Hi = E.sub(Sz, E.s(Align ? 1.0 : 0.5));
    Value *Max = E.sub(Sz, One);
    Value *P = Align ? E.mul(E.mul(E.add(Gk, One), E.s(0.5)), Max)
                     : E.mul(E.sub(E.mul(E.add(Gk, One), Sz), One), E.s(0.5));
    if (Mode == "nearest")
      P = E.un(OpKind::Round, P);
    Value *Out = C.op(OpKind::Or, {E.bin(OpKind::Less, P, Lo),
                                   E.bin(OpKind::Greater, P, Hi)});
    if (Pad == "border")
      P = E.where(Out, E.clamp(P, E.s(0.0), Max), P);
    else if (Pad == "reflection")
      P = E.where(Out, E.reflect(P, Lo, Hi), P);
    if (Mode == "nearest") {
      Taps[K].push_back({P, nullptr});
    } else if (Mode == "linear") {
      Value *F0 = E.un(OpKind::Floor, P);
      Value *T = E.sub(P, F0);
      Taps[K].push_back({F0, E.sub(One, T)});
      Taps[K].push_back({E.add(F0, One), T});
    } else {
      Value *F0 = E.un(OpKind::Floor, P);
      std::vector<Value *> W = cubicWeights(E, E.sub(P, F0));
      for (int J = 0; J < 4; ++J)
        Taps[K].push_back({E.add(F0, E.s(J - 1)), W[J]});
    }
    // Each tap's index inside the input, and whether it reads a pixel.
    for (Tap &T : Taps[K]) {
      Value *V = nullptr;
      if (Pad == "zeros")
        V = C.op(OpKind::And, {E.bin(OpKind::GreaterEqual, T.Index, E.s(0.0)),
                               E.bin(OpKind::Less, T.Index, Sz)});
      else if (Pad == "reflection")
        T.Index = E.where(C.op(OpKind::Or,
                               {E.bin(OpKind::Less, T.Index, Lo),
                                E.bin(OpKind::Greater, T.Index, Hi)}),
                          E.reflect(T.Index, Lo, Hi), T.Index);
      // Reflected indices are truncated like the reference's int(); the
      // clamp keeps every read inside (zeros: masked off; border: edge).
      Value *MaxI =
          C.op(OpKind::Sub, {C.dimOf(X, 2 + K), C.scalar(DType::I64, 1)});
      T.Index = E.clamp(C.cast(T.Index, DType::I64), C.scalar(DType::I64, 0),
                        MaxI);
      TapValid[K].push_back(V);
    }
  }
  if (C.failed())
    return;

  // Flat gather: index (n * C + c) * prod(spatial) + sum idx_k * stride_k.
  std::vector<Value *> Stride(S);
  Value *St = C.scalar(DType::I64, 1);
  for (int K = int(S) - 1; K >= 0; --K) {
    Stride[K] = St;
    St = C.op(OpKind::Mul, {St, C.dimOf(X, 2 + K)});
  }
  std::vector<int64_t> Axes, Zeros, Ones;
  for (unsigned K = 2; K < R; ++K) {
    Axes.push_back(K);
    Zeros.push_back(0);
    Ones.push_back(1);
  }
  Value *Corner = C.op(OpKind::Slice, {X}, {aInts("starts", Zeros),
                                            aInts("ends", Ones),
                                            aInts("axes", Axes)});
  Value *Base = C.op(OpKind::Add, {C.op(OpKind::Mul, {C.iota(Corner, 0),
                                                       C.dimOf(X, 1)}),
                                   C.iota(Corner, 1)});
  Base = C.op(OpKind::Mul, {Base, St});
  Value *Flat = C.op(OpKind::Reshape, {X}, {aInts("shape", {-1})});
  DType XT = X->Type.elem();

  Value *Sum = nullptr;
  std::vector<size_t> Pick(S, 0);
  while (!C.failed()) {
    Value *Lin = nullptr, *W = nullptr, *V = nullptr;
    for (unsigned K = 0; K < S; ++K) {
      const Tap &T = Taps[K][Pick[K]];
      Value *Term = C.op(OpKind::Mul, {T.Index, Stride[K]});
      Lin = Lin ? C.op(OpKind::Add, {Lin, Term}) : Term;
      if (T.Weight)
        W = W ? E.mul(W, T.Weight) : T.Weight;
      if (Value *TV = TapValid[K][Pick[K]])
        V = V ? C.op(OpKind::And, {V, TV}) : TV;
    }
    auto Unsq = [&](Value *A) {
      return C.op(OpKind::Unsqueeze, {A}, {aInts("axes", {1})});
    };
    Value *Y = C.op(OpKind::Gather, {Flat, C.op(OpKind::Add, {Base, Unsq(Lin)})},
                    {aInt("axis", 0)});
    if (W)
      Y = C.op(OpKind::Mul, {Y, Unsq(C.cast(W, XT))});
    if (V)
      Y = C.op(OpKind::Where, {Unsq(V), Y, C.scalar(XT, 0.0)});
    Sum = Sum ? C.op(OpKind::Add, {Sum, Y}) : Y;
    // Next combination of taps.
    unsigned K = 0;
    while (K < S && ++Pick[K] == Taps[K].size())
      Pick[K++] = 0;
    if (K == S)
      break;
  }
  C.setOutput(0, Sum);
}

/// AffineGrid: the base grid [prod(spatial), S + 1] of normalized
/// coordinates (x fastest, then a column of ones) times theta transposed.
static void affineGrid(NodeContext &C) {
  C.allowAttrs({"align_corners"});
  Value *Theta = C.in(0);
  std::optional<std::vector<int64_t>> Size = C.intsIn(1, "size");
  if (!Theta || !Size)
    return;
  bool Align = C.attrInt("align_corners", 0) != 0;
  if (Size->size() != 4 && Size->size() != 5)
    return C.fail("size must have 4 or 5 entries");
  size_t S = Size->size() - 2;
  if (Theta->Type.rank() != 3 || !isFloat(Theta->Type.elem()))
    return C.fail("theta must be a float [N, " + llvm::Twine(S) + ", " +
                  llvm::Twine(S + 1) + "] tensor, got " + Theta->Type.str());
  // The base grid is an import-time constant: bounded like a literal's
  // splat (MaxSplatBytes), its element count overflow-checked.
  int64_t Count = 1, Elems;
  for (size_t K = 0; K < Size->size(); ++K)
    if ((*Size)[K] <= 0)
      return C.fail("size[" + llvm::Twine(K) + "] = " +
                    llvm::Twine((*Size)[K]) + ": size entries must be positive");
  for (size_t K = 2; K < Size->size(); ++K)
    if (!mulSize(Count, (*Size)[K], Count))
      Count = INT64_MAX;
  if (!mulSize(Count, int64_t(S + 1), Elems) ||
      tensorHostBytes(Theta->Type.elem(), Elems) > MaxSplatBytes)
    return C.fail("size = [" + llvm::join(llvm::map_range(*Size, [](int64_t V) {
                    return std::to_string(V);
                  }), ", ") + "] makes a grid of more than " +
                  llvm::Twine(MaxSplatBytes) +
                  " bytes (the most an import-time constant may fill); "
                  "each spatial size must be in [1, " +
                  llvm::Twine(int64_t(MaxSplatBytes) /
                              (int64_t(S + 1) * dtypeSize(Theta->Type.elem()))) +
                  "] and their product too");
  auto Coord = [&](int64_t I, int64_t N) {
    if (Align)
      return N == 1 ? -1.0 : -1.0 + 2.0 * double(I) / double(N - 1);
    return (2.0 * double(I) + 1.0) / double(N) - 1.0;
  };
  Tensor Base(Theta->Type.elem(), {Count, int64_t(S + 1)});
  for (int64_t P = 0; P < Count; ++P) {
    int64_t Rest = P;
    // Spatial dims from the last (x) to the first; column k is x, y, z.
    for (size_t K = 0; K < S; ++K) {
      int64_t N = (*Size)[Size->size() - 1 - K];
      Base.setF(P * int64_t(S + 1) + K, Coord(Rest % N, N));
      Rest /= N;
    }
    Base.setF(P * int64_t(S + 1) + S, 1.0);
  }
  Value *TT = C.op(OpKind::Transpose, {Theta}, {aInts("perm", {0, 2, 1})});
  Value *G = C.op(OpKind::MatMul, {C.constant(std::move(Base)), TT});
  std::vector<int64_t> Shape = {(*Size)[0]};
  Shape.insert(Shape.end(), Size->begin() + 2, Size->end());
  Shape.push_back(int64_t(S));
  C.setOutput(0, C.op(OpKind::Reshape, {G}, {aInts("shape", Shape)}));
}

/// CenterCropPad: a centered slice where the target is smaller, a centered
/// zero pad where it is larger (the odd element goes to the end).
static void centerCropPad(NodeContext &C) {
  C.allowAttrs({"axes"});
  Value *X = C.in(0);
  std::optional<std::vector<int64_t>> Shape = C.intsIn(1, "shape");
  if (!X || !Shape)
    return;
  int64_t R = X->Type.rank();
  std::vector<int64_t> Axes = C.attrInts("axes");
  if (!C.hasAttr("axes"))
    for (int64_t A = 0; A < int64_t(Shape->size()); ++A)
      Axes.push_back(A);
  if (Axes.size() != Shape->size())
    return C.fail("shape has " + llvm::Twine(Shape->size()) +
                  " entries for " + llvm::Twine(Axes.size()) + " axes");
  std::vector<int64_t> Starts, Ends, SAxes, Pads(2 * R, 0);
  for (size_t I = 0; I < Axes.size(); ++I) {
    int64_t A = normAxis(Axes[I], R);
    if (A < 0)
      return C.fail("axis " + llvm::Twine(Axes[I]) + " is out of range");
    const Dim &D = X->Type.dim(A);
    if (!D.isStatic())
      return C.failNeedsStatic(D, "needs a static size along axis " +
                                      llvm::Twine(A) +
                    ", got " + X->Type.str());
    int64_t Want = (*Shape)[I], Have = D.size();
    if (Want < 0)
      return C.fail("shape entries must not be negative");
    if (Want < Have) {
      int64_t Start = (Have - Want) / 2;
      Starts.push_back(Start);
      Ends.push_back(Start + Want);
      SAxes.push_back(A);
    } else if (Want > Have) {
      Pads[A] = (Want - Have) / 2;
      Pads[R + A] = Want - Have - Pads[A];
    }
  }
  if (!SAxes.empty())
    X = C.op(OpKind::Slice, {X}, {aInts("starts", Starts), aInts("ends", Ends),
                                  aInts("axes", SAxes)});
  if (std::any_of(Pads.begin(), Pads.end(), [](int64_t P) { return P; }))
    X = C.op(OpKind::Pad, {X}, {aInts("pads", Pads)});
  C.setOutput(0, C.op(OpKind::Identity, {X}));
}

/// Col2Im, the adjoint of im2col: a grouped transposed convolution (one
/// group per channel) whose kernel routes block entry j to kernel position
/// j, over the blocks laid out on their output-position grid.
static void col2Im(NodeContext &C) {
  C.allowAttrs({"dilations", "pads", "strides"});
  Value *X = C.in(0);
  std::optional<std::vector<int64_t>> Img = C.intsIn(1, "image_shape");
  std::optional<std::vector<int64_t>> Blk = C.intsIn(2, "block_shape");
  if (!X || !Img || !Blk)
    return;
  size_t S = Img->size();
  if (S == 0 || Blk->size() != S || X->Type.rank() != 3)
    return C.fail("needs a 3-D input and image_shape / block_shape of one "
                  "length");
  std::vector<int64_t> Dl = C.attrInts("dilations"), St = C.attrInts("strides"),
                       P = C.attrInts("pads");
  Dl.resize(S, 1);
  St.resize(S, 1);
  P.resize(2 * S, 0);
  int64_t K = 1, L = 1;
  std::vector<int64_t> Shape = {0, -1}, OutPad;
  for (size_t I = 0; I < S; ++I) {
    // Span = image + pads - (block - 1) * dilation - 1, overflow-checked.
    int64_t Padded = 0, Reach = 0, Span = -1;
    if ((*Img)[I] >= 0 && (*Blk)[I] > 0 && St[I] > 0 && Dl[I] > 0 &&
        addSize((*Img)[I], P[I], Padded) && addSize(Padded, P[S + I], Padded) &&
        mulSize((*Blk)[I] - 1, Dl[I], Reach) && Reach < Padded)
      Span = Padded - Reach - 1;
    if (Span < 0)
      return C.fail("the blocks do not fit the image");
    Shape.push_back(Span / St[I] + 1);
    OutPad.push_back(Span % St[I]); // image rows no block reaches
    if (!mulSize(L, Span / St[I] + 1, L) || !mulSize(K, (*Blk)[I], K))
      return C.fail("image_shape and block_shape give more than 2^63 "
                    "blocks or block elements");
  }
  const Dim &CK = X->Type.dim(1), &LD = X->Type.dim(2);
  if (!CK.isStatic())
    return C.failNeedsStatic(CK, "the input's dim 1 must be static, got " +
                                     X->Type.str());
  if (CK.size() % K)
    return C.fail("the input's dim 1 must be a static multiple of the block "
                  "size " + llvm::Twine(K) + ", got " + X->Type.str());
  if (LD.isStatic() && LD.size() != L)
    return C.fail("the input has " + llvm::Twine(LD.size()) +
                  " blocks, the image needs " + llvm::Twine(L));
  int64_t Ch = CK.size() / K;
  std::vector<int64_t> WShape = {CK.size(), 1};
  WShape.insert(WShape.end(), Blk->begin(), Blk->end());
  Tensor W(X->Type.elem(), WShape);
  for (int64_t I = 0; I < CK.size(); ++I)
    for (int64_t J = 0; J < K; ++J)
      W.setF(I * K + J, J == I % K ? 1.0 : 0.0);
  Value *Grid = C.op(OpKind::Reshape, {X}, {aInts("shape", Shape)});
  C.setOutput(0, C.op(OpKind::ConvTranspose, {Grid, C.constant(std::move(W))},
                      {aInts("strides", St), aInts("pads", P),
                       aInts("dilations", Dl), aInts("output_padding", OutPad),
                       aInt("group", Ch)}));
}

void onnximp::addSpatialOps(std::vector<OpEntry> &T) {
  T.insert(T.end(), {
      {"GridSample", 16, gridSample, {}},
      {"AffineGrid", 20, affineGrid, {1}},
      {"CenterCropPad", 18, centerCropPad, {1}},
      {"Col2Im", 18, col2Im, {1, 2}},
  });
}
