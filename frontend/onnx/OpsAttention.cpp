// ONNX Attention (opset 23) composed of dlc ops: heads split from 3-D
// inputs, past key/value concatenation, grouped-query head repetition,
// scaled Q K^T, additive or boolean mask, causal mask, softcap, softmax and
// the product with V. Head counts, head size and sequence lengths that are
// not static are read from the shapes at run time (the causal mask and the
// head repetition are built from positions, iota). nonpad_kv_seqlen (an
// external cache) masks the padded keys of each batch and moves its causal
// frontier. Also RotaryEmbedding and SwiGLU.
#include "frontend/onnx/ImportConstant.h"
#include "frontend/onnx/NodeContext.h"

#include <cmath>

using namespace dlc;
using namespace dlc::onnximp;

/// [B, S, H * D] to [B, H, S, D].
static Value *splitHeads(NodeContext &C, Value *X, int64_t H) {
  if (!X || X->Type.rank() == 4)
    return X;
  if (X->Type.rank() != 3 || H <= 0) {
    C.fail("3-D inputs need q_num_heads and kv_num_heads");
    return nullptr;
  }
  Value *Y = C.op(OpKind::Reshape, {X}, {aInts("shape", {0, 0, H, -1})});
  return C.op(OpKind::Transpose, {Y}, {aInts("perm", {0, 2, 1, 3})});
}

static bool isStaticDim(Value *X, unsigned I) {
  return X && I < X->Type.rank() && X->Type.dim(I).isStatic();
}

/// K or V [B, Hkv, L, D] with each head repeated for the query heads of its
/// group, [B, Hq, L, D], head h reading kv head h / (Hq / Hkv).
static Value *repeatHeads(NodeContext &C, Value *X, Value *Q) {
  if (isStaticDim(Q, 1) && isStaticDim(X, 1)) {
    int64_t QH = Q->Type.dim(1).size(), KH = X->Type.dim(1).size();
    if (QH == KH)
      return X;
    if (KH <= 0 || QH % KH) {
      C.fail("query heads must be a multiple of key/value heads");
      return nullptr;
    }
  }
  // Gather the kv head of each query head (head counts may be known at
  // run time only).
  Value *One = C.op(OpKind::Slice, {Q}, {aInts("starts", {0, 0, 0}),
                                         aInts("ends", {1, 1, 1}),
                                         aInts("axes", {0, 2, 3})});
  Value *H = C.op(OpKind::Reshape, {C.iota(One, 1)}, {aInts("shape", {-1})});
  Value *Group = divide(C, C.dimOf(Q, 1), C.dimOf(X, 1));
  return C.op(OpKind::Gather, {X, divide(C, H, Group)}, {aInt("axis", 1)});
}

/// The key positions along the last axis of S ([B, H, Sq, L]) as an i64
/// vector [L].
static Value *keyPositions(NodeContext &C, Value *K) {
  Value *One = C.op(OpKind::Slice, {K},
                    {aInts("starts", {0, 0, 0}), aInts("ends", {1, 1, 1}),
                     aInts("axes", {0, 1, 3})});
  return C.op(OpKind::Reshape, {C.iota(One, 2)}, {aInts("shape", {-1})});
}

/// An additive mask M (E) whose last dim may be shorter than the L keys:
/// the missing keys get -inf (the spec pads it).
static Value *padMaskKeys(NodeContext &C, Value *M, Value *K, DType E) {
  unsigned R = M->Type.rank();
  if (R == 0)
    return M;
  const Dim &Md = M->Type.dim(R - 1), &Kd = K->Type.dim(2);
  if (Md.isStatic() && Kd.isStatic() && Md.size() == Kd.size())
    return M;
  if (Md.isStatic() && Md.size() == 0)
    return C.fail("attn_mask has no key positions"), nullptr;
  Value *J = keyPositions(C, K);
  Value *Have = C.dimOf(M, R - 1);
  Value *Last = C.op(OpKind::Sub, {Have, C.scalar(DType::I64, 1)});
  Value *G = C.op(OpKind::Gather, {M, C.op(OpKind::Min, {J, Last})},
                  {aInt("axis", int64_t(R) - 1)});
  return C.op(OpKind::Where,
              {C.op(OpKind::Less, {J, Have}), G, C.scalar(E, -INFINITY)});
}

/// Q, K, V [B, H, S, D] after head splitting; the additive bias: attn_mask
/// (padded to the keys), the bottom-right causal frontier j <= i + offset
/// and the padding of keys at or past nonpad_kv_seqlen[b]. Null when there is
/// none.
static Value *attentionBias(NodeContext &C, Value *Q, Value *K, Value *S,
                            DType E, Value *NonPad) {
  Value *Bias = nullptr;
  auto addBias = [&](Value *B) {
    Bias = Bias ? C.op(OpKind::Add, {Bias, B}) : B;
  };
  Value *NegInf = C.scalar(E, -INFINITY), *Zero = C.scalar(E, 0);
  if (C.has(3)) {
    Value *M = C.in(3);
    if (!M)
      return nullptr;
    if (M->Type.elem() == DType::Bool)
      M = C.op(OpKind::Where, {M, Zero, NegInf});
    addBias(padMaskKeys(C, C.cast(M, E), K, E));
  }
  // [B, 1, 1, 1]: the per-batch count of valid keys.
  Value *Valid = NonPad ? C.op(OpKind::Reshape, {C.cast(NonPad, DType::I64)},
                               {aInts("shape", {-1, 1, 1, 1})})
                        : nullptr;
  if (C.attrInt("is_causal", 0)) {
    bool Past = C.has(4);
    // With a past, the queries follow its keys: offset is its length.
    Value *PastLen = Past ? C.in(4) : nullptr;
    if (Past && !PastLen)
      return nullptr;
    if (!Valid && isStaticDim(Q, 2) && isStaticDim(K, 2) &&
        (!Past || isStaticDim(PastLen, 2)) &&
        withinFoldLimit(Q->Type.dim(2).size(), K->Type.dim(2).size())) {
      int64_t Sq = Q->Type.dim(2).size(), L = K->Type.dim(2).size();
      int64_t Off = Past ? PastLen->Type.dim(2).size() : 0;
      Tensor T(E, {Sq, L});
      for (int64_t I = 0; I < Sq; ++I)
        for (int64_t J = 0; J < L; ++J)
          T.setF(I * L + J, J <= I + Off ? 0.0 : -INFINITY);
      addBias(C.constant(std::move(T)));
    } else {
      // Key position j is visible to query i when j <= i + offset: the
      // past's length, or nonpad_kv_seqlen[b] - Sq for an external cache.
      Value *Off = Past    ? C.dimOf(PastLen, 2)
                   : Valid ? C.op(OpKind::Sub, {Valid, C.dimOf(Q, 2)})
                           : C.scalar(DType::I64, 0);
      Value *Keep =
          C.op(OpKind::LessEqual,
               {C.iota(S, 3), C.op(OpKind::Add, {C.iota(S, 2), Off})});
      addBias(C.op(OpKind::Where, {Keep, Zero, NegInf}));
    }
  }
  if (Valid) {
    Value *Keep = C.op(OpKind::Less, {keyPositions(C, K), Valid});
    addBias(C.op(OpKind::Where, {Keep, Zero, NegInf}));
  }
  return Bias;
}

static void attention(NodeContext &C) {
  C.allowAttrs({"is_causal", "kv_num_heads", "q_num_heads",
                "qk_matmul_output_mode", "scale", "softcap",
                "softmax_precision"});
  Value *Q = C.in(0), *K = C.in(1), *V = C.in(2);
  if (!Q || !K || !V)
    return;
  for (Value *X : {Q, K, V})
    if (!isFloat(X->Type.elem()))
      return C.fail("query, key and value must be float tensors, got " +
                    X->Type.str());
  Value *NonPad = nullptr;
  if (C.has(6)) {
    if (C.has(4) || C.has(5))
      return C.fail("nonpad_kv_seqlen cannot be combined with past_key / "
                    "past_value");
    NonPad = C.in(6);
    if (!NonPad)
      return;
    if (NonPad->Type.rank() != 1 || !isInteger(NonPad->Type.elem()))
      return C.fail("nonpad_kv_seqlen must be an integer vector [batch], got " +
                    NonPad->Type.str());
  }
  bool ThreeD = Q->Type.rank() == 3;
  int64_t Hq = C.attrInt("q_num_heads", 0), Hkv = C.attrInt("kv_num_heads", 0);
  Q = splitHeads(C, Q, Hq);
  K = splitHeads(C, K, Hkv);
  V = splitHeads(C, V, Hkv);
  if (C.has(4))
    K = C.op(OpKind::Concat, {C.in(4), K}, {aInt("axis", 2)});
  if (C.has(5))
    V = C.op(OpKind::Concat, {C.in(5), V}, {aInt("axis", 2)});
  if (C.wantsOutput(1))
    C.setOutput(1, K);
  if (C.wantsOutput(2))
    C.setOutput(2, V);
  if (C.failed() || !Q || !K || !V)
    return;
  // 16-bit floats compute in f32.
  DType OutE = Q->Type.elem();
  DType E = OutE == DType::F64 ? OutE : DType::F32;
  Q = C.cast(Q, E);
  K = C.cast(K, E);
  V = C.cast(V, E);
  if (C.failed() || !Q || !K || !V)
    return;
  if (Q->Type.rank() != 4 || K->Type.rank() != 4 || V->Type.rank() != 4)
    return C.fail("needs 3-D or 4-D query, key and value");
  K = repeatHeads(C, K, Q);
  V = repeatHeads(C, V, Q);
  if (C.failed())
    return;
  Value *Scale;
  if (C.hasAttr("scale"))
    Scale = C.scalar(E, C.attrFloat("scale", 1));
  else if (isStaticDim(Q, 3))
    Scale = C.scalar(E, 1.0 / std::sqrt(double(Q->Type.dim(3).size())));
  else
    Scale = C.op(OpKind::Rsqrt, {C.cast(C.dimOf(Q, 3), E)});
  Value *KT = C.op(OpKind::Transpose, {K}, {aInts("perm", {0, 1, 3, 2})});
  Value *S = C.op(OpKind::Mul, {C.op(OpKind::MatMul, {Q, KT}), Scale});
  int64_t Mode = C.attrInt("qk_matmul_output_mode", 0);
  if (Mode < 0 || Mode > 3)
    return C.fail("qk_matmul_output_mode " + llvm::Twine(Mode) +
                  " is not supported");
  Value *Raw = S;
  // The softcap bounds the scores before the mask is added (a -inf of the
  // mask stays -inf).
  double Cap = C.attrFloat("softcap", 0);
  if (Cap > 0) {
    Value *Cs = C.scalar(E, Cap);
    S = C.op(OpKind::Mul, {C.op(OpKind::Tanh, {C.op(OpKind::Div, {S, Cs})}), Cs});
  }
  Value *Capped = S;
  Value *Bias = attentionBias(C, Q, K, S, E, NonPad);
  if (C.failed())
    return;
  if (Bias)
    S = C.op(OpKind::Add, {S, Bias});
  Value *Masked = S;
  // A query row whose bias excludes every key has no weights: it is 0, not
  // the softmax's 0/0. Its scores enter the softmax as 0s, so neither the
  // result nor the gradient sees a NaN.
  Value *None = nullptr;
  if (Bias) {
    Value *Top = C.op(OpKind::ReduceMax, {Bias},
                      {aInts("axes", {-1}), aBool("keepdims", true)});
    None = C.op(OpKind::Equal, {Top, C.scalar(E, -INFINITY)});
    S = C.op(OpKind::Where, {None, C.scalar(E, 0), S});
  }
  Value *P = C.op(OpKind::Softmax, {S}, {aInt("axis", -1)});
  if (None)
    P = C.op(OpKind::Where, {None, C.scalar(E, 0), P});
  Value *Y = C.op(OpKind::MatMul, {P, V});
  if (ThreeD) {
    Y = C.op(OpKind::Transpose, {Y}, {aInts("perm", {0, 2, 1, 3})});
    Y = C.op(OpKind::Reshape, {Y}, {aInts("shape", {0, 0, -1})});
  }
  C.setOutput(0, C.cast(Y, OutE));
  if (C.wantsOutput(3)) {
    Value *Out[] = {Raw, Capped, Masked, P}; // modes 0..3
    C.setOutput(3, C.cast(Out[Mode], OutE));
  }
}

/// RotaryEmbedding: x [B, H, S, D] (or [B, S, H * D] with num_heads) with its
/// first rotary_embedding_dim features rotated pairwise (halves, or even /
/// odd entries when interleaved) by the cached cos / sin at each position.
static void rotaryEmbedding(NodeContext &C) {
  C.allowAttrs({"interleaved", "num_heads", "rotary_embedding_dim"});
  Value *In = C.in(0), *Cos = C.in(1), *Sin = C.in(2);
  if (!In || !Cos || !Sin)
    return;
  unsigned R = In->Type.rank();
  int64_t Heads = C.attrInt("num_heads", 0);
  bool Interleaved = C.attrInt("interleaved", 0) != 0;
  Value *X = nullptr;
  if (R == 4) {
    X = C.op(OpKind::Transpose, {In}, {aInts("perm", {0, 2, 1, 3})});
  } else if (R == 3 && Heads > 0) {
    X = C.op(OpKind::Reshape, {In}, {aInts("shape", {0, 0, Heads, -1})});
  } else {
    return C.fail("needs a 4-D input, or a 3-D one and num_heads, got " +
                  In->Type.str());
  }
  if (!X || !X->Type.dim(3).isStatic())
    return X ? C.failNeedsStatic(X->Type.dim(3), "needs a head size known at "
                                                   "import time")
             : C.fail("needs a head size known at import time");
  int64_t D = X->Type.dim(3).size();
  int64_t RD = C.attrInt("rotary_embedding_dim", 0);
  if (RD == 0)
    RD = D;
  if (RD < 0 || RD > D || RD % 2)
    return C.fail("rotary_embedding_dim " + llvm::Twine(RD) +
                  " must be even and at most the head size " + llvm::Twine(D));
  if (C.has(3)) {
    Value *Pos = C.in(3);
    Cos = C.op(OpKind::Gather, {Cos, Pos}, {aInt("axis", 0)});
    Sin = C.op(OpKind::Gather, {Sin, Pos}, {aInt("axis", 0)});
  }
  if (!Cos || !Sin || Cos->Type.rank() != 3)
    return C.fail("the cos / sin caches must give [batch, sequence, dim / 2]");
  Cos = C.op(OpKind::Unsqueeze, {Cos}, {aInts("axes", {2})});
  Sin = C.op(OpKind::Unsqueeze, {Sin}, {aInts("axes", {2})});
  auto slice = [&](Value *V, int64_t Start, int64_t End, int64_t Step) {
    return C.op(OpKind::Slice, {V}, {aInts("starts", {Start}),
                                     aInts("ends", {End}), aInts("axes", {3}),
                                     aInts("steps", {Step})});
  };
  Value *Rot = RD == D ? X : slice(X, 0, RD, 1);
  Value *X1 = Interleaved ? slice(Rot, 0, RD, 2) : slice(Rot, 0, RD / 2, 1);
  Value *X2 = Interleaved ? slice(Rot, 1, RD, 2) : slice(Rot, RD / 2, RD, 1);
  auto mul = [&](Value *A, Value *B) { return C.op(OpKind::Mul, {A, B}); };
  Value *Re = C.op(OpKind::Sub, {mul(Cos, X1), mul(Sin, X2)});
  Value *Im = C.op(OpKind::Add, {mul(Sin, X1), mul(Cos, X2)});
  Value *Y = nullptr;
  if (Interleaved) {
    Value *Pairs = C.op(OpKind::Concat,
                        {C.op(OpKind::Unsqueeze, {Re}, {aInts("axes", {4})}),
                         C.op(OpKind::Unsqueeze, {Im}, {aInts("axes", {4})})},
                        {aInt("axis", 4)});
    Y = C.op(OpKind::Reshape, {Pairs, Rot}, {aInts("shape", {})});
  } else {
    Y = C.op(OpKind::Concat, {Re, Im}, {aInt("axis", 3)});
  }
  if (RD < D)
    Y = C.op(OpKind::Concat, {Y, slice(X, RD, D, 1)}, {aInt("axis", 3)});
  if (R == 4)
    Y = C.op(OpKind::Transpose, {Y}, {aInts("perm", {0, 2, 1, 3})});
  else
    Y = C.op(OpKind::Reshape, {Y, In}, {aInts("shape", {})});
  C.setOutput(0, Y);
}

/// SwiGLU: a * sigmoid(alpha * a) * b.
static void swiGLU(NodeContext &C) {
  C.allowAttrs({"alpha"});
  Value *A = C.in(0), *B = C.in(1);
  if (!A || !B)
    return;
  if (!isFloat(A->Type.elem()))
    return C.fail("needs floating-point inputs, got " + A->Type.str());
  Value *S = C.op(OpKind::Sigmoid,
                  {C.op(OpKind::Mul, {A, C.scalar(A->Type.elem(),
                                                  C.attrFloat("alpha", 1.0))})});
  C.setOutput(0, C.op(OpKind::Mul, {C.op(OpKind::Mul, {A, S}), B}));
}

void onnximp::addAttentionOps(std::vector<OpEntry> &T) {
  T.push_back({"Attention", 23, attention, {}});
  T.push_back({"RotaryEmbedding", 23, rotaryEmbedding, {}});
  T.push_back({"SwiGLU", 1, swiGLU, {}});
}
