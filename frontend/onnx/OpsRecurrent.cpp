// ONNX RNN, GRU and LSTM, unrolled over a sequence length known at import
// time into matmuls and elementwise gate math (forward, reverse and
// bidirectional; layout; clip; sequence_lens; LSTM peepholes and
// input_forget; GRU linear_before_reset). A sequence length that the file
// leaves symbolic (a dynamic sequence axis) is reported as a dim the import
// needs static: dlc::Model then imports the model once per run-time length
// with that input dim bound (onnxStaticDimInputs), the batch dim and the
// others staying symbolic.
#include "frontend/onnx/NodeContext.h"

using namespace dlc;
using namespace dlc::onnximp;

namespace {
enum class Cell { RNN, GRU, LSTM };

struct Rnn {
  NodeContext &C;
  Cell Kind;
  int64_t H = 0;
  DType F = DType::F32;
  double Clip = 0; // 0: no clipping
  std::vector<std::string> Acts;

  Value *s(double V) { return C.scalar(F, V); }
  Value *add(Value *A, Value *B) { return C.op(OpKind::Add, {A, B}); }
  Value *mul(Value *A, Value *B) { return C.op(OpKind::Mul, {A, B}); }
  Value *sub(Value *A, Value *B) { return C.op(OpKind::Sub, {A, B}); }
  Value *matmul(Value *A, Value *B) { return C.op(OpKind::MatMul, {A, B}); }

  /// Activation number I of direction D (applied after the clip).
  Value *act(unsigned D, unsigned I, unsigned PerDir, Value *X) {
    if (Clip > 0)
      X = C.op(OpKind::Clip, {X}, {aFloat("min", -Clip), aFloat("max", Clip)});
    const std::string &A = Acts[D * PerDir + I];
    if (A == "Tanh")
      return C.op(OpKind::Tanh, {X});
    if (A == "Sigmoid")
      return C.op(OpKind::Sigmoid, {X});
    if (A == "Relu")
      return C.op(OpKind::Relu, {X});
    C.fail("activation '" + A + "' is not supported");
    return nullptr;
  }
  /// Entry D of a [num_directions, ...] tensor.
  Value *dir(Value *X, unsigned D) {
    return X ? C.op(OpKind::Gather, {X, C.scalar(DType::I64, D)},
                    {aInt("axis", 0)})
             : nullptr;
  }
  /// [B, G * H] cut into G pieces [B, H] (G nulls after a failure).
  llvm::SmallVector<Value *, 4> gates(Value *X, unsigned G) {
    auto Parts = C.opN(OpKind::Split, {X},
                       {aInt("axis", 1),
                        aInts("sizes", std::vector<int64_t>(G, H))});
    llvm::SmallVector<Value *, 4> R(Parts.begin(), Parts.end());
    if (R.size() != G) {
      C.fail("could not split the gates");
      R.assign(G, nullptr);
    }
    return R;
  }
  /// Checks that static dim I of operand Name (value V) is Want.
  bool fits(Value *V, const char *Name, unsigned I, int64_t Want,
            const char *What) {
    if (!V || I >= V->Type.rank() || !V->Type.dim(I).isStatic() ||
        V->Type.dim(I).size() == Want)
      return true;
    C.fail(llvm::Twine(Name) + " does not fit hidden_size " + llvm::Twine(H) +
           ": dim " + llvm::Twine(I) + " of " + V->Type.str() +
           " must be " + What + " = " + llvm::Twine(Want));
    return false;
  }
};
} // namespace

template <Cell K> static void recurrent(NodeContext &C) {
  C.allowAttrs({"activations", "activation_alpha", "activation_beta", "clip",
                "direction", "hidden_size", "layout", "input_forget",
                "linear_before_reset"});
  Rnn S{C, K, 0, DType::F32, 0, {}};
  const unsigned G = K == Cell::RNN ? 1 : K == Cell::GRU ? 3 : 4;
  const unsigned PerDir = K == Cell::RNN ? 1 : K == Cell::GRU ? 2 : 3;
  Value *X = C.in(0), *W = C.in(1), *R = C.in(2);
  if (!X || !W || !R)
    return;
  if (X->Type.rank() != 3 || W->Type.rank() != 3 || R->Type.rank() != 3 ||
      !isFloat(X->Type.elem()))
    return C.fail("X, W and R must be float tensors of rank 3");
  S.F = X->Type.elem();
  S.H = C.attrInt("hidden_size", 0);
  if (S.H <= 0)
    return C.fail("needs a positive hidden_size");
  S.Clip = C.attrFloat("clip", 0);
  bool Layout = C.attrInt("layout", 0) != 0;
  bool InputForget = C.attrInt("input_forget", 0) != 0;
  bool LinearBeforeReset = C.attrInt("linear_before_reset", 0) != 0;
  if (C.hasAttr("activation_alpha") || C.hasAttr("activation_beta"))
    return C.fail("activation_alpha / activation_beta are not supported");
  std::string Direction = C.attrStr("direction", "forward");
  if (Direction != "forward" && Direction != "reverse" &&
      Direction != "bidirectional")
    return C.fail("unknown direction '" + Direction + "'");
  unsigned NumDir = Direction == "bidirectional" ? 2 : 1;
  if (!W->Type.dim(0).isStatic())
    return C.failNeedsStatic(W->Type.dim(0),
                             "W's first dim (the number of directions) must "
                             "be known at import time, got " + W->Type.str());
  if (W->Type.dim(0).size() != NumDir)
    return C.fail("W's first dim must be the number of directions " +
                  llvm::Twine(NumDir) + ", got " + W->Type.str());
  // W [dirs, G*H, I], R [dirs, G*H, H] (static dims are checked here, the
  // others by the matmuls' shape rules).
  const Dim &ID = X->Type.dim(2);
  if (!S.fits(W, "W", 1, G * S.H, "gates x hidden_size") ||
      !S.fits(R, "R", 1, G * S.H, "gates x hidden_size") ||
      !S.fits(R, "R", 2, S.H, "hidden_size") ||
      (ID.isStatic() &&
       !S.fits(W, "W", 2, ID.size(), "the input size")) ||
      !S.fits(R, "R", 0, NumDir, "the number of directions"))
    return;
  if (C.has(3) && C.in(3) &&
      (C.in(3)->Type.rank() != 2 ||
       !S.fits(C.in(3), "B", 1, 2 * G * S.H, "2 x gates x hidden_size")))
    return C.fail("B must be [directions, 2 x gates x hidden_size], got " +
                  C.in(3)->Type.str());
  if (K == Cell::LSTM && C.has(7) && C.in(7) &&
      (C.in(7)->Type.rank() != 2 ||
       !S.fits(C.in(7), "P", 1, 3 * S.H, "3 x hidden_size")))
    return C.fail("P must be [directions, 3 x hidden_size], got " +
                  C.in(7)->Type.str());
  const onnx::AttributeProto *ActAttr = nullptr;
  for (const onnx::AttributeProto &A : C.Node.attribute())
    if (A.name() == "activations")
      ActAttr = &A;
  if (ActAttr) {
    for (const std::string &A : ActAttr->strings())
      S.Acts.push_back(A);
    if (S.Acts.size() != PerDir * NumDir)
      return C.fail("needs " + llvm::Twine(PerDir * NumDir) + " activations");
  } else {
    for (unsigned D = 0; D < NumDir; ++D) {
      if (K == Cell::RNN)
        S.Acts.push_back("Tanh");
      else
        S.Acts.insert(S.Acts.end(), {"Sigmoid", "Tanh"});
      if (K == Cell::LSTM)
        S.Acts.push_back("Tanh");
    }
  }
  if (Layout)
    X = C.op(OpKind::Transpose, {X}, {aInts("perm", {1, 0, 2})});
  const Dim &TD = X->Type.dim(0);
  if (!TD.isStatic())
    return C.failNeedsStatic(
        TD, "needs a sequence length known at import time, got " +
                X->Type.str());
  int64_t T = TD.size();
  Value *B = C.has(3) ? C.in(3) : nullptr;
  Value *Lens = C.has(4) ? C.in(4) : nullptr;
  auto initial = [&](unsigned I) -> Value * {
    if (!C.has(I))
      return nullptr;
    Value *V = C.in(I);
    return Layout && V ? C.op(OpKind::Transpose, {V}, {aInts("perm", {1, 0, 2})})
                       : V;
  };
  Value *H0 = initial(5), *C0 = K == Cell::LSTM ? initial(6) : nullptr;
  Value *P = K == Cell::LSTM && C.has(7) ? C.in(7) : nullptr;
  if (C.failed())
    return;

  std::vector<Value *> Ys(NumDir), Hs(NumDir), Cs(NumDir);
  for (unsigned D = 0; D < NumDir && !C.failed(); ++D) {
    bool Reverse = Direction == "reverse" || D == 1;
    Value *WT = C.op(OpKind::Transpose, {S.dir(W, D)}, {aInts("perm", {1, 0})});
    Value *RT = C.op(OpKind::Transpose, {S.dir(R, D)}, {aInts("perm", {1, 0})});
    // Input projections of every step at once: [T, B, G * H].
    Value *XW = S.matmul(X, WT);
    Value *RB = nullptr;
    if (B) {
      auto Halves = C.opN(OpKind::Split, {S.dir(B, D)},
                          {aInt("axis", 0), aInts("sizes", {G * S.H, G * S.H})});
      if (Halves.size() != 2)
        return;
      if (K == Cell::GRU && LinearBeforeReset) {
        XW = S.add(XW, Halves[0]);
        RB = Halves[1];
      } else {
        XW = S.add(XW, S.add(Halves[0], Halves[1]));
      }
    }
    llvm::SmallVector<Value *, 3> Peep;
    if (P)
      Peep = C.opN(OpKind::Split, {S.dir(P, D)},
                   {aInt("axis", 0), aInts("sizes", {S.H, S.H, S.H})});
    if (P && Peep.size() != 3)
      return C.fail("could not split the peepholes P");
    Value *Step0 = C.op(OpKind::Gather, {XW, C.scalar(DType::I64, 0)},
                        {aInt("axis", 0)});
    Value *Zeros = C.op(OpKind::Expand, {S.s(0.0), S.gates(Step0, G)[0]});
    Value *Ht = H0 ? S.dir(H0, D) : Zeros;
    Value *Ct = K == Cell::LSTM ? (C0 ? S.dir(C0, D) : Zeros) : nullptr;
    std::vector<Value *> Steps(T);
    for (int64_t I = 0; I < T && !C.failed(); ++I) {
      int64_t Tt = Reverse ? T - 1 - I : I;
      Value *Xt = C.op(OpKind::Gather, {XW, C.scalar(DType::I64, Tt)},
                       {aInt("axis", 0)});
      auto XG = S.gates(Xt, G);
      Value *HR = S.matmul(Ht, RT);
      if (RB) // GRU with linear_before_reset: R's bias stays inside
        HR = S.add(HR, RB);
      Value *Hn = nullptr, *Cn = nullptr;
      if (K == Cell::RNN) {
        Hn = S.act(D, 0, PerDir, S.add(XG[0], HR));
      } else if (K == Cell::GRU) {
        // Gates z, r, h; R's h block multiplies after or before the reset.
        auto RG = S.gates(HR, G);
        Value *Z = S.act(D, 0, PerDir, S.add(XG[0], RG[0]));
        Value *Rt = S.act(D, 0, PerDir, S.add(XG[1], RG[1]));
        Value *Rh = nullptr;
        if (LinearBeforeReset) {
          Rh = S.mul(Rt, RG[2]);
        } else {
          Value *RhW = C.op(OpKind::Slice, {RT}, {aInts("starts", {2 * S.H}),
                                                  aInts("ends", {3 * S.H}),
                                                  aInts("axes", {1})});
          Rh = S.matmul(S.mul(Rt, Ht), RhW);
        }
        Value *Hh = S.act(D, 1, PerDir, S.add(XG[2], Rh));
        Hn = S.add(S.mul(S.sub(S.s(1.0), Z), Hh), S.mul(Z, Ht));
      } else {
        // Gates i, o, f, c; peepholes i, o, f.
        auto RG = S.gates(HR, G);
        Value *PI = S.add(XG[0], RG[0]), *PO = S.add(XG[1], RG[1]);
        Value *PF = S.add(XG[2], RG[2]);
        if (P) {
          PI = S.add(PI, S.mul(Peep[0], Ct));
          PF = S.add(PF, S.mul(Peep[2], Ct));
        }
        Value *It = S.act(D, 0, PerDir, PI);
        Value *Ft = InputForget ? S.sub(S.s(1.0), It) : S.act(D, 0, PerDir, PF);
        Value *Gt = S.act(D, 1, PerDir, S.add(XG[3], RG[3]));
        Cn = S.add(S.mul(Ft, Ct), S.mul(It, Gt));
        if (P)
          PO = S.add(PO, S.mul(Peep[1], Cn));
        Value *Ot = S.act(D, 0, PerDir, PO);
        Hn = S.mul(Ot, S.act(D, 2, PerDir, Cn));
      }
      if (C.failed())
        return;
      Value *Yt = Hn;
      if (Lens) {
        // Steps at or past a batch entry's length keep the state; Y is 0.
        Value *Live = C.op(OpKind::Unsqueeze,
                           {C.op(OpKind::Less, {C.scalar(Lens->Type.elem(), Tt),
                                                Lens})},
                           {aInts("axes", {1})});
        Hn = C.op(OpKind::Where, {Live, Hn, Ht});
        if (Cn)
          Cn = C.op(OpKind::Where, {Live, Cn, Ct});
        Yt = C.op(OpKind::Where, {Live, Hn, S.s(0.0)});
      }
      Ht = Hn;
      Ct = Cn;
      Steps[Tt] = C.op(OpKind::Unsqueeze, {Yt}, {aInts("axes", {0, 1})});
    }
    Ys[D] = C.op(OpKind::Concat, Steps, {aInt("axis", 0)});
    Hs[D] = C.op(OpKind::Unsqueeze, {Ht}, {aInts("axes", {0})});
    if (Ct)
      Cs[D] = C.op(OpKind::Unsqueeze, {Ct}, {aInts("axes", {0})});
  }
  if (C.failed())
    return;
  auto join = [&](std::vector<Value *> &V, int64_t Axis) {
    return V.size() == 1 ? V[0] : C.op(OpKind::Concat, V, {aInt("axis", Axis)});
  };
  Value *Y = join(Ys, 1), *YH = join(Hs, 0);
  Value *YC = K == Cell::LSTM ? join(Cs, 0) : nullptr;
  if (Layout) {
    Y = C.op(OpKind::Transpose, {Y}, {aInts("perm", {2, 0, 1, 3})});
    YH = C.op(OpKind::Transpose, {YH}, {aInts("perm", {1, 0, 2})});
    if (YC)
      YC = C.op(OpKind::Transpose, {YC}, {aInts("perm", {1, 0, 2})});
  }
  if (C.wantsOutput(0))
    C.setOutput(0, Y);
  if (C.wantsOutput(1))
    C.setOutput(1, YH);
  if (K == Cell::LSTM && C.wantsOutput(2))
    C.setOutput(2, YC);
}

void onnximp::addRecurrentOps(std::vector<OpEntry> &T) {
  T.insert(T.end(), {
      {"RNN", 7, recurrent<Cell::RNN>, {}},
      {"GRU", 7, recurrent<Cell::GRU>, {}},
      {"LSTM", 7, recurrent<Cell::LSTM>, {}},
  });
}
