// The ai.onnx.preview.training domain: the optimizer update rules Adagrad,
// Adam and Momentum (standard and Nesterov), for any number of tensors,
// composed of elementwise ops (the learning rate R and the step count T are
// run-time scalars), and Gradient, built by dlc's autodiff over the ops
// imported so far.
#include "frontend/onnx/NodeContext.h"
#include "passes/Autodiff.h"

using namespace dlc;
using namespace dlc::onnximp;

namespace {
/// The per-tensor operands of an optimizer node: inputs R, T, then Groups
/// lists of N tensors each (X, G, and the optimizer's state).
struct OptimizerNode {
  NodeContext &C;
  unsigned N = 0;
  Value *R = nullptr, *T = nullptr;

  OptimizerNode(NodeContext &C, unsigned Groups) : C(C) {
    if (C.numInputs() < 2 || (C.numInputs() - 2) % Groups != 0 ||
        C.numInputs() == 2) {
      C.fail("needs R, T and " + llvm::Twine(Groups) +
             " equally long lists of tensors");
      return;
    }
    N = (C.numInputs() - 2) / Groups;
    if (C.numOutputs() != (Groups - 1) * N) {
      C.fail("needs " + llvm::Twine((Groups - 1) * N) + " outputs");
      return;
    }
    R = C.in(0);
    T = C.in(1);
    if (R && T && (R->Type.rank() != 0 || T->Type.rank() != 0))
      C.fail("R and T must be scalars");
  }
  /// Tensor I of group K (0: X, 1: G, 2 and on: state).
  Value *in(unsigned K, unsigned I) { return C.in(2 + K * N + I); }
  /// A float scalar of X's element type.
  Value *num(Value *X, double V) { return C.scalar(X->Type.elem(), V); }
  /// T as a float of X's element type.
  Value *steps(Value *X) { return C.cast(T, X->Type.elem()); }
  /// T > 0.
  Value *started() {
    return C.op(OpKind::Greater, {T, C.scalar(T->Type.elem(), 0)});
  }
  /// norm_coefficient * X + G.
  Value *regularized(Value *X, Value *G) {
    double Norm = C.attrFloat("norm_coefficient", 0);
    if (Norm == 0)
      return G;
    return C.op(OpKind::Add, {C.op(OpKind::Mul, {num(X, Norm), X}), G});
  }
};
} // namespace

/// Adagrad: r = R / (1 + T * decay_factor); H' = H + g^2;
/// X' = X - r * g / (sqrt(H') + epsilon), g the regularized gradient.
static void adagrad(NodeContext &C) {
  C.allowAttrs({"decay_factor", "epsilon", "norm_coefficient"});
  OptimizerNode O(C, 3);
  if (C.failed())
    return;
  double Decay = C.attrFloat("decay_factor", 0), Eps = C.attrFloat("epsilon", 0);
  for (unsigned I = 0; I < O.N && !C.failed(); ++I) {
    Value *X = O.in(0, I), *G = O.in(1, I), *H = O.in(2, I);
    if (!X || !G || !H)
      return;
    Value *R = C.cast(O.R, X->Type.elem());
    Value *Den = C.op(OpKind::Add, {O.num(X, 1),
                                    C.op(OpKind::Mul, {O.steps(X), O.num(X, Decay)})});
    Value *Rate = C.op(OpKind::Div, {R, Den});
    Value *Gr = O.regularized(X, G);
    Value *H2 = C.op(OpKind::Add, {H, C.op(OpKind::Mul, {Gr, Gr})});
    Value *Sq = C.op(OpKind::Add, {C.op(OpKind::Sqrt, {H2}), O.num(X, Eps)});
    Value *Step = C.op(OpKind::Div, {C.op(OpKind::Mul, {Rate, Gr}), Sq});
    C.setOutput(I, C.op(OpKind::Sub, {X, Step}));
    C.setOutput(O.N + I, H2);
  }
}

/// Momentum: V' = alpha * V + (T > 0 ? beta : 1) * g; standard:
/// X' = X - R * V'; nesterov: X' = X - R * (g + alpha * V').
static void momentum(NodeContext &C) {
  C.allowAttrs({"alpha", "beta", "mode", "norm_coefficient"});
  OptimizerNode O(C, 3);
  if (C.failed())
    return;
  double Alpha = C.attrFloat("alpha", 0), Beta = C.attrFloat("beta", 0);
  std::string Mode = C.attrStr("mode", "");
  if (Mode != "standard" && Mode != "nesterov")
    return C.fail("mode must be \"standard\" or \"nesterov\", not \"" + Mode +
                  "\"");
  for (unsigned I = 0; I < O.N && !C.failed(); ++I) {
    Value *X = O.in(0, I), *G = O.in(1, I), *V = O.in(2, I);
    if (!X || !G || !V)
      return;
    Value *R = C.cast(O.R, X->Type.elem());
    Value *Gr = O.regularized(X, G);
    Value *B = C.op(OpKind::Where, {O.started(), O.num(X, Beta), O.num(X, 1)});
    Value *V2 = C.op(OpKind::Add, {C.op(OpKind::Mul, {O.num(X, Alpha), V}),
                                   C.op(OpKind::Mul, {B, Gr})});
    Value *Dir = V2;
    if (Mode == "nesterov")
      Dir = C.op(OpKind::Add, {Gr, C.op(OpKind::Mul, {O.num(X, Alpha), V2})});
    C.setOutput(I, C.op(OpKind::Sub, {X, C.op(OpKind::Mul, {R, Dir})}));
    C.setOutput(O.N + I, V2);
  }
}

/// Adam: V' = alpha * V + (1 - alpha) * g; H' = beta * H + (1 - beta) * g^2;
/// r = T > 0 ? R * sqrt(1 - beta^T) / (1 - alpha^T) : R;
/// X' = (1 - norm_coefficient_post) * (X - r * V' / (sqrt(H') + epsilon)).
static void adam(NodeContext &C) {
  C.allowAttrs({"alpha", "beta", "epsilon", "norm_coefficient",
                "norm_coefficient_post"});
  OptimizerNode O(C, 4);
  if (C.failed())
    return;
  double Alpha = C.attrFloat("alpha", 0.9), Beta = C.attrFloat("beta", 0.999),
         Eps = C.attrFloat("epsilon", 1e-6),
         Post = C.attrFloat("norm_coefficient_post", 0);
  for (unsigned I = 0; I < O.N && !C.failed(); ++I) {
    Value *X = O.in(0, I), *G = O.in(1, I), *V = O.in(2, I), *H = O.in(3, I);
    if (!X || !G || !V || !H)
      return;
    Value *R = C.cast(O.R, X->Type.elem());
    Value *Gr = O.regularized(X, G);
    Value *V2 = C.op(OpKind::Add, {C.op(OpKind::Mul, {O.num(X, Alpha), V}),
                                   C.op(OpKind::Mul, {O.num(X, 1 - Alpha), Gr})});
    Value *H2 = C.op(OpKind::Add,
                     {C.op(OpKind::Mul, {O.num(X, Beta), H}),
                      C.op(OpKind::Mul, {O.num(X, 1 - Beta), C.op(OpKind::Mul, {Gr, Gr})})});
    Value *Sq = C.op(OpKind::Add, {C.op(OpKind::Sqrt, {H2}), O.num(X, Eps)});
    Value *Tf = O.steps(X);
    Value *BetaT = C.op(OpKind::Pow, {O.num(X, Beta), Tf});
    Value *AlphaT = C.op(OpKind::Pow, {O.num(X, Alpha), Tf});
    Value *Adj = C.op(OpKind::Div,
                      {C.op(OpKind::Mul, {R, C.op(OpKind::Sqrt, {C.op(OpKind::Sub, {O.num(X, 1), BetaT})})}),
                       C.op(OpKind::Sub, {O.num(X, 1), AlphaT})});
    Value *Rate = C.op(OpKind::Where, {O.started(), Adj, R});
    Value *X2 = C.op(OpKind::Sub, {X, C.op(OpKind::Mul, {Rate, C.op(OpKind::Div, {V2, Sq})})});
    if (Post != 0)
      X2 = C.op(OpKind::Mul, {O.num(X, 1 - Post), X2});
    C.setOutput(I, X2);
    C.setOutput(O.N + I, V2);
    C.setOutput(2 * O.N + I, H2);
  }
}

/// Gradient: d(y)/d(x) for each x of `xs` (names of graph values), y a
/// value of the graph so far; the node's inputs list the xs again.
static void gradient(NodeContext &C) {
  C.allowAttrs({"xs", "y", "zs"});
  if (C.hasAttr("zs"))
    return C.fail("attribute 'zs' is not supported");
  std::string YName = C.attrStr("y", "");
  Value *Y = C.valueNamed(YName);
  if (!Y)
    return C.fail("y ('" + YName + "') is not a value of the graph");
  std::vector<Value *> Xs;
  for (const auto &A : C.Node.attribute())
    if (A.name() == "xs")
      for (const std::string &N : A.strings()) {
        Value *X = C.valueNamed(N);
        if (!X)
          return C.fail("xs entry '" + N + "' is not a value of the graph");
        Xs.push_back(X);
      }
  if (Xs.size() != C.numOutputs())
    return C.fail("needs one output per entry of xs");
  if (!isFloat(Y->Type.elem()))
    return C.fail("y must be a float tensor, not " + Y->Type.str());
  for (Value *X : Xs)
    if (!isFloat(X->Type.elem()))
      return C.fail("every xs must be a float tensor, not " + X->Type.str());
  auto Gs = gradients(C.function(), Y, Xs);
  if (!Gs)
    return C.fail(llvm::toString(Gs.takeError()));
  for (unsigned I = 0; I < Xs.size(); ++I)
    C.setOutput(I, (*Gs)[I]);
}

void onnximp::addTrainingOps(std::vector<OpEntry> &T) {
  T.insert(T.end(), {
      {"ai.onnx.preview.training.Adagrad", 1, adagrad, {}},
      {"ai.onnx.preview.training.Adam", 1, adam, {}},
      {"ai.onnx.preview.training.Momentum", 1, momentum, {}},
      {"ai.onnx.preview.training.Gradient", 1, gradient, {}},
  });
}
