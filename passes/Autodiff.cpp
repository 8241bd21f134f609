// --autodiff: reverse-mode differentiation of a function as a graph pass.
//
// 1. Decompose composites, so only primitives need rules.
// 2. Mark the values that depend on a differentiated value (forward sweep)
//    and the ops the output depends on (backward sweep); only ops in both
//    sets get gradients. Ops without a rule on that path are all reported
//    at once, before anything is built.
// 3. Seed d(output)/d(output) = 1 (broadcast to the output's shape), walk
//    the body backwards and apply each op's rule to its results' gradients.
//    A value used several times (fan-out) accumulates the sum of the
//    gradients of its uses.
// 4. Append one output `grad.<name>` per differentiated value (zeros when
//    the output does not depend on it).
// The gradient ops are ordinary graph IR: fold-constants, cse and dce clean
// them up like any other ops.
#include "passes/Autodiff.h"
#include "passes/Pass.h"

#include "llvm/ADT/DenseSet.h"

using namespace dlc;

std::string dlc::gradientName(const Value &V) { return "grad." + V.Name; }

namespace {
/// Which family of rules differentiates an op. One switch, no default: a
/// new op must be placed here.
enum class RuleFamily { None, NoGradient, Elementwise, Reduction, NN, Movement };
} // namespace

static RuleFamily ruleFamily(OpKind K) {
  switch (K) {
  // Composites are differentiated through their decomposition.
  case OpKind::Gelu: case OpKind::Softplus: case OpKind::Gemm:
  case OpKind::GlobalAvgPool: case OpKind::GlobalMaxPool:
  case OpKind::BatchNorm: case OpKind::LayerNorm: case OpKind::Softmax:
  case OpKind::LogSoftmax: case OpKind::Dropout:
  case OpKind::SoftmaxCrossEntropy: case OpKind::NllLoss:
  case OpKind::MseLoss: case OpKind::BceLoss:
  // A gradient's gradient (second order through max pooling): not yet.
  case OpKind::MaxPoolGrad:
  // Control flow: training through run-time branches and loops is not
  // supported (gradients() says so with the op's location).
  case OpKind::If: case OpKind::Loop: case OpKind::Scan:
    return RuleFamily::None;
  case OpKind::Sign: case OpKind::Floor: case OpKind::Ceil:
  case OpKind::Round: case OpKind::Not: case OpKind::And: case OpKind::Or:
  case OpKind::Xor: case OpKind::Equal: case OpKind::Less:
  case OpKind::LessEqual: case OpKind::Greater: case OpKind::GreaterEqual:
  case OpKind::ArgMax: case OpKind::ArgMin: case OpKind::OneHot:
  case OpKind::ShapeOf: case OpKind::Iota: case OpKind::ResizeCoords:
  case OpKind::Constant:
  case OpKind::Range: case OpKind::RandomUniform: case OpKind::RandomNormal:
  case OpKind::StringNormalizer: case OpKind::StringConcat:
  case OpKind::StringSplit: case OpKind::RegexFullMatch:
  case OpKind::LabelEncoder:
  case OpKind::NonZero: case OpKind::Unique: case OpKind::NonMaxSuppression:
  case OpKind::BitCast:
    return RuleFamily::NoGradient;
  case OpKind::Neg: case OpKind::Abs: case OpKind::Exp: case OpKind::Log:
  case OpKind::Sqrt: case OpKind::Rsqrt: case OpKind::Reciprocal:
  case OpKind::Tanh: case OpKind::Sigmoid: case OpKind::Relu:
  case OpKind::LeakyRelu: case OpKind::Elu: case OpKind::Erf:
  case OpKind::Clip: case OpKind::Sin: case OpKind::Cos: case OpKind::Atan:
  case OpKind::Identity: case OpKind::Cast: case OpKind::Add:
  case OpKind::AllReduceSum:
  case OpKind::Sub: case OpKind::Mul: case OpKind::Div: case OpKind::Pow:
  case OpKind::Max: case OpKind::Min: case OpKind::Where:
    return RuleFamily::Elementwise;
  case OpKind::ReduceSum: case OpKind::ReduceMean: case OpKind::ReduceMax:
  case OpKind::ReduceMin: case OpKind::ReduceProd:
  case OpKind::ReduceLogSumExp:
    return RuleFamily::Reduction;
  case OpKind::MatMul: case OpKind::Conv: case OpKind::MaxPool:
  case OpKind::AvgPool: case OpKind::ConvTranspose: case OpKind::Im2Col:
    return RuleFamily::NN;
  case OpKind::Reshape: case OpKind::Transpose: case OpKind::Flatten:
  case OpKind::Squeeze: case OpKind::Unsqueeze: case OpKind::Concat:
  case OpKind::Split: case OpKind::Slice: case OpKind::Pad:
  case OpKind::Expand: case OpKind::Gather: case OpKind::Tile:
    return RuleFamily::Movement;
  }
  llvm_unreachable("op kind out of range");
}

bool dlc::hasGradientRule(OpKind K) { return ruleFamily(K) != RuleFamily::None; }

static bool isDifferentiable(const Value &V) { return isFloat(V.Type.elem()); }

llvm::Expected<std::vector<Value *>>
dlc::gradients(Function &F, Value *Out, llvm::ArrayRef<Value *> Wrt) {
  // Forward sweep: values that depend on a differentiated value.
  llvm::DenseSet<const Value *> Varies(Wrt.begin(), Wrt.end());
  for (auto &Op : F.Body) {
    if (Op->info().has(NonDiff))
      continue;
    bool Any = false;
    for (Value *V : Op->Operands)
      Any |= Varies.count(V) > 0;
    if (Any)
      for (auto &R : Op->Results)
        if (isDifferentiable(*R))
          Varies.insert(R.get());
  }
  // Backward sweep: ops the output depends on, through varying values.
  llvm::DenseSet<const Value *> Needed;
  if (Varies.count(Out))
    Needed.insert(Out);
  std::vector<Operation *> Path;
  for (auto It = F.Body.rbegin(); It != F.Body.rend(); ++It) {
    Operation &Op = **It;
    bool Feeds = false;
    for (auto &R : Op.Results)
      Feeds |= Needed.count(R.get()) > 0;
    if (!Feeds)
      continue;
    Path.push_back(&Op);
    for (Value *V : Op.Operands)
      if (Varies.count(V))
        Needed.insert(V);
  }
  std::string Missing;
  for (Operation *Op : Path)
    if (!hasGradientRule(Op->kind()))
      Missing += "\n  " + Op->L.str() + ": '" + Op->mnemonic().str() + "'" +
                 (Op->info().has(ControlFlow)
                      ? " (training through control flow decided at run "
                        "time is not supported; an ONNX Loop or Scan with "
                        "a count known at import time, or an If with a "
                        "constant condition, is unrolled and trains)"
                      : "");
  if (!Missing.empty())
    return makeError(F.L, "autodiff: no gradient rule for these ops on the "
                          "path to the output:" + Missing);

  // The backward sweep proper.
  OpBuilder B(F, F.Body.end(), F.L);
  llvm::DenseMap<const Value *, Value *> Grad;
  auto Accumulate = [&](Value *V, Value *G) {
    Value *&Slot = Grad[V];
    Slot = Slot ? B.create(OpKind::Add, {Slot, G}) : G;
  };
  Accumulate(Out, grad::broadcastLike(B, B.scalar(Out->Type.elem(), 1.0), Out));
  for (Operation *Op : Path) {
    llvm::SmallVector<Value *, 2> ResultGrads;
    bool AnyGrad = false;
    for (auto &R : Op->Results) {
      ResultGrads.push_back(Grad.lookup(R.get()));
      AnyGrad |= ResultGrads.back() != nullptr;
    }
    if (!AnyGrad) // only non-differentiable paths reach the output from here
      continue;
    B.setLoc(Op->L);
    llvm::SmallVector<bool, 3> Need;
    for (Value *V : Op->Operands)
      Need.push_back(Varies.count(V) > 0);
    llvm::SmallVector<Value *, 3> OperandGrads;
    if (auto E = grad::gradientOf(*Op, ResultGrads, Need, B, OperandGrads))
      return std::move(E);
    for (unsigned I = 0; I < Op->numOperands(); ++I)
      if (OperandGrads[I] && Varies.count(Op->operand(I)))
        Accumulate(Op->operand(I), OperandGrads[I]);
  }

  B.setLoc(F.L);
  std::vector<Value *> Grads;
  for (Value *V : Wrt) {
    Value *G = Grad.lookup(V);
    if (!G)
      G = grad::broadcastLike(B, B.scalar(V->Type.elem(), 0.0), V);
    Grads.push_back(G);
  }
  return Grads;
}

llvm::Error dlc::differentiate(Function &F, const AutodiffOptions &Opts) {
  if (Opts.Output >= F.Outputs.size())
    return makeError(F.L, "autodiff: function '@" + F.Name + "' has no output " +
                              std::to_string(Opts.Output));
  if (auto E = createDecomposePass()->run(F))
    return E;
  Value *Out = F.Outputs[Opts.Output];
  if (!isDifferentiable(*Out))
    return makeError(F.L, "autodiff: output '" + F.OutputNames[Opts.Output] +
                              "' has element type " +
                              dtypeName(Out->Type.elem()) +
                              ", which has no gradient");

  // What to differentiate with respect to.
  bool Params = Opts.WrtParams, Inputs = Opts.WrtInputs;
  if (!Params && !Inputs)
    (F.Params.empty() ? Inputs : Params) = true;
  std::vector<Value *> Wrt;
  if (Params)
    for (auto &P : F.Params)
      if (isDifferentiable(*P))
        Wrt.push_back(P.get());
  if (Inputs)
    for (auto &In : F.Inputs)
      if (isDifferentiable(*In))
        Wrt.push_back(In.get());

  // 2. The sweeps, then one output per differentiated value.
  auto Grads = gradients(F, Out, Wrt);
  if (!Grads)
    return Grads.takeError();
  for (size_t I = 0; I < Wrt.size(); ++I)
    F.addOutput(gradientName(*Wrt[I]), (*Grads)[I]);
  return llvm::Error::success();
}

llvm::Error grad::unsupported(const Operation &Op, const llvm::Twine &Why) {
  return makeError(Op.L, "autodiff: '" + Op.mnemonic() +
                             "': no gradient for " + Why);
}

llvm::Error grad::gradientOf(Operation &Op, llvm::ArrayRef<Value *> ResultGrads,
                             llvm::ArrayRef<bool> Need, OpBuilder &B,
                             llvm::SmallVectorImpl<Value *> &Out) {
  Out.assign(Op.numOperands(), nullptr);
  Value *G = ResultGrads.empty() ? nullptr : ResultGrads[0];
  switch (ruleFamily(Op.kind())) {
  case RuleFamily::None:
    return unsupported(Op, "this op");
  case RuleFamily::NoGradient:
    return llvm::Error::success();
  case RuleFamily::Elementwise:
    return elementwiseGrad(Op, G, B, Out);
  case RuleFamily::Reduction:
    return reductionGrad(Op, G, B, Out);
  case RuleFamily::NN:
    return nnGrad(Op, G, Need, B, Out);
  case RuleFamily::Movement:
    return movementGrad(Op, ResultGrads, B, Out);
  }
  llvm_unreachable("rule family out of range");
}

namespace {
class AutodiffPass : public Pass {
public:
  llvm::StringRef name() const override { return "autodiff"; }
  llvm::StringRef description() const override {
    return "append d(output 0)/d(params) (or inputs) as grad.* outputs";
  }
  llvm::Error run(Function &F) override { return differentiate(F); }
  bool runsOnRegions() const override { return false; }
};
} // namespace

std::unique_ptr<Pass> dlc::createAutodiffPass() {
  return std::make_unique<AutodiffPass>();
}
