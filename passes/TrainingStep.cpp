// Builds the training step, evaluation and prediction functions of a
// forward model as graph IR.
//
// 1. Clone the forward function. In the training copy, dropout is switched
//    on and seeded with the `step` input, and batch norms whose running
//    statistics are parameters normalize with the batch's statistics and
//    update the running ones with each op's momentum (those parameters get
//    no optimizer update); dead ops go first (DCE).
// 2. Attach the loss to the scores. A final softmax under a cross-entropy
//    loss is folded into softmax_cross_entropy on its logits (the same
//    value, computed stably); a final log_softmax under NLL likewise.
//    `correct` counts argmax hits (or thresholded hits for one column).
// 3. Differentiate the loss with respect to the parameters (the autodiff
//    pass), then turn each parameter into an input and build its optimizer
//    update from its gradient, with the optimizer state as more inputs.
// 4. Outputs: loss, correct, the new parameters, the new state.
// 5. With Split, the same gradients again as a function of their own
//    (outputs: loss, correct, a slot per parameter) and the update as
//    another (inputs: parameters, state, slots), for data parallelism.
//    With SyncBatchNorm that gradient function sums batch statistics over
//    the ranks (all_reduce_sum) and differentiates its share of the global
//    batch's mean loss.
#include "passes/TrainingStep.h"
#include "passes/Autodiff.h"
#include "passes/Decompose.h"
#include "passes/OptimizerUpdate.h"
#include "passes/Pass.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <cmath>
#include <map>

using namespace dlc;

namespace {
struct NamedKind {
  const char *Name;
  int Kind;
};
const NamedKind Losses[] = {
    {"mse", int(LossKind::MeanSquaredError)},
    {"bce", int(LossKind::BinaryCrossEntropy)},
    {"categorical_crossentropy", int(LossKind::CategoricalCrossEntropy)},
    {"sparse_categorical_crossentropy", int(LossKind::SparseCategoricalCrossEntropy)},
    {"nll", int(LossKind::NegativeLogLikelihood)},
    {"cross_entropy", int(LossKind::CrossEntropy)}};
const NamedKind Optimizers[] = {
    {"sgd", int(OptimizerKind::SGD)},         {"momentum", int(OptimizerKind::Momentum)},
    {"nesterov", int(OptimizerKind::Nesterov)}, {"adam", int(OptimizerKind::Adam)},
    {"adamw", int(OptimizerKind::AdamW)},     {"rmsprop", int(OptimizerKind::RMSprop)},
    {"adagrad", int(OptimizerKind::Adagrad)}};

template <size_t N>
llvm::Expected<int> lookupName(const NamedKind (&Table)[N], llvm::StringRef Name,
                               llvm::StringRef What) {
  std::string Known;
  for (const NamedKind &K : Table) {
    if (Name == K.Name)
      return K.Kind;
    Known += (Known.empty() ? "" : ", ") + std::string(K.Name);
  }
  return makeError("unknown " + What + " '" + Name + "' (known: " + Known + ")");
}
template <size_t N>
llvm::StringRef nameOf(const NamedKind (&Table)[N], int Kind) {
  for (const NamedKind &K : Table)
    if (K.Kind == Kind)
      return K.Name;
  llvm_unreachable("kind without a name");
}
} // namespace

llvm::Expected<LossKind> dlc::parseLoss(llvm::StringRef Name) {
  auto K = lookupName(Losses, Name, "loss");
  if (!K)
    return K.takeError();
  return LossKind(*K);
}
llvm::Expected<OptimizerKind> dlc::parseOptimizer(llvm::StringRef Name) {
  auto K = lookupName(Optimizers, Name, "optimizer");
  if (!K)
    return K.takeError();
  return OptimizerKind(*K);
}
llvm::StringRef dlc::lossName(LossKind K) { return nameOf(Losses, int(K)); }
llvm::StringRef dlc::optimizerName(OptimizerKind K) {
  return nameOf(Optimizers, int(K));
}

static bool isClassification(LossKind L) {
  return L == LossKind::CategoricalCrossEntropy ||
         L == LossKind::SparseCategoricalCrossEntropy ||
         L == LossKind::NegativeLogLikelihood || L == LossKind::CrossEntropy;
}
static bool sparseLabels(LossKind L) {
  return L == LossKind::SparseCategoricalCrossEntropy ||
         L == LossKind::NegativeLogLikelihood || L == LossKind::CrossEntropy;
}

/// Adds the labels input and the loss and `correct` outputs to F (a clone
/// of the forward function whose only output is the scores).
static llvm::Error attachLoss(Function &F, LossKind Loss, int64_t Classes) {
  Value *S = F.Outputs[0];
  const TensorType &ST = S->Type;
  DType E = ST.elem();
  Value *Labels = F.addInput(
      "labels", sparseLabels(Loss) ? TensorType(DType::I64, {ST.dim(0)}) : ST);
  F.Outputs.clear();
  F.OutputNames.clear();
  OpBuilder B(F, F.Body.end(), F.L);
  Value *LossV = nullptr;
  Value *Scores = S; // what accuracy is computed from
  Operation *Last = S->Def;
  switch (Loss) {
  case LossKind::CategoricalCrossEntropy:
  case LossKind::SparseCategoricalCrossEntropy:
    if (Last && Last->kind() == OpKind::Softmax) {
      Scores = Last->operand(0);
      LossV = B.create(OpKind::SoftmaxCrossEntropy, {Scores, Labels});
    } else {
      // Probabilities from elsewhere: -log(max(p, 1e-7)) at the label.
      Value *LogP = B.create(OpKind::Log, {B.create(OpKind::Max, {S, B.scalar(E, 1e-7)})});
      LossV = Loss == LossKind::SparseCategoricalCrossEntropy
                  ? B.create(OpKind::NllLoss, {LogP, Labels})
                  : B.create(OpKind::ReduceMean,
                             {B.create(OpKind::Neg,
                                       {B.create(OpKind::ReduceSum,
                                                 {B.create(OpKind::Mul, {Labels, LogP})},
                                                 {intsAttr("axes", {1}),
                                                  boolAttr("keepdims", false)})})},
                             {boolAttr("keepdims", false)});
    }
    break;
  case LossKind::NegativeLogLikelihood:
    LossV = B.create(OpKind::NllLoss, {S, Labels});
    break;
  case LossKind::CrossEntropy: // from logits: softmax and loss in one op
    LossV = B.create(OpKind::SoftmaxCrossEntropy, {S, Labels});
    break;
  case LossKind::MeanSquaredError:
    LossV = B.create(OpKind::MseLoss, {S, Labels});
    break;
  case LossKind::BinaryCrossEntropy:
    LossV = B.create(OpKind::BceLoss, {S, Labels});
    break;
  }
  // Hits: argmax against the label, or both sides of 0.5 for one column.
  Value *Hit;
  if (Classes > 1) {
    auto ArgMax = [&](Value *V) {
      return B.create(OpKind::ArgMax, {V},
                      {intAttr("axis", 1), boolAttr("keepdims", false)});
    };
    Hit = B.create(OpKind::Equal,
                   {ArgMax(Scores), sparseLabels(Loss) ? Labels : ArgMax(Labels)});
  } else {
    Value *Half = B.scalar(E, 0.5);
    Hit = B.create(OpKind::Equal, {B.create(OpKind::Greater, {S, Half}),
                                   B.create(OpKind::Greater, {Labels, Half})});
  }
  Value *Correct = B.create(
      OpKind::ReduceSum,
      {B.create(OpKind::Cast, {Hit}, {{"to", Attribute::getType(DType::I64)}})},
      {boolAttr("keepdims", false)});
  F.addOutput("loss", LossV);
  F.addOutput("correct", Correct);
  return llvm::Error::success();
}

/// Moves every parameter to the end of the inputs (their order kept).
static void paramsToInputs(Function &F) {
  for (auto &P : F.Params)
    F.Inputs.push_back(std::move(P));
  F.Params.clear();
  F.ParamInits.clear();
}

/// X's batch size (its dim 0 at run time) as an E[1].
static Value *batchSize(OpBuilder &B, Value *X, DType E) {
  Tensor First(DType::I64, {1});
  return B.create(
      OpKind::Cast,
      {B.create(OpKind::Gather, {B.create(OpKind::ShapeOf, {X}),
                                 B.constant(std::move(First))})},
      {{"to", Attribute::getType(E)}});
}

/// Batch normalization in training mode. Every batch_norm whose running
/// mean and variance (operands 3 and 4) are parameters normalizes with the
/// batch's statistics instead: mean and biased variance over every axis but
/// the channel axis 1, computed in the graph, so the gradient flows through
/// them. The running statistics get Keras' (and ONNX's) update, running =
/// momentum * running + (1 - momentum) * batch statistic (biased variance),
/// returned in Running (one slot per parameter, null for the trained ones);
/// momentum is Override when given, else the op's own, else the default.
/// The op is then in inference form over the batch's statistics (its
/// `training` is dropped). Running statistics that are constants keep the
/// op as it is (see batchNormWarnings).
///
/// Sync (synchronized batch norm): the statistics are the global batch's.
/// Each rank's per-channel sums and its element count go through
/// all_reduce_sum (identity in one process): mean = sum over ranks of
/// sum(x) / sum over ranks of the count, var = the same of sum((x - mean)^2).
/// The count comes from x's run-time shape, so a rank with a smaller shard
/// (the last partial global batch) counts what it has. The gradient flows
/// through the sums (all_reduce_sum's gradient is itself), so the backward
/// pass sums the statistics' gradients over the ranks too.
static llvm::Error useBatchStatistics(Function &F,
                                      std::optional<double> Override,
                                      std::vector<Value *> &Running,
                                      bool Sync) {
  Value *In0 = F.Inputs.empty() ? nullptr : F.Inputs[0].get();
  llvm::DenseMap<const Value *, unsigned> ParamIndex;
  for (unsigned I = 0; I < F.Params.size(); ++I)
    ParamIndex[F.Params[I].get()] = I;
  Running.assign(F.Params.size(), nullptr);
  // Uses of each parameter outside the statistics slots of batch norms.
  llvm::DenseMap<const Value *, unsigned> OtherUses;
  for (auto &Op : F.Body)
    for (unsigned K = 0; K < Op->numOperands(); ++K)
      if (!(Op->kind() == OpKind::BatchNorm && (K == 3 || K == 4)))
        ++OtherUses[Op->operand(K)];
  for (auto It = F.Body.begin(); It != F.Body.end(); ++It) {
    Operation &Op = **It;
    if (Op.kind() != OpKind::BatchNorm)
      continue;
    auto MI = ParamIndex.find(Op.operand(3)), VI = ParamIndex.find(Op.operand(4));
    if (MI == ParamIndex.end() || VI == ParamIndex.end())
      continue;
    for (auto *PI : {&*MI, &*VI}) {
      const Value &P = *F.Params[PI->second];
      if (Running[PI->second] || OtherUses.lookup(&P) || MI->second == VI->second)
        return makeError(P.L, "parameter '" + P.Name +
                                  "' holds running statistics of a batch_norm "
                                  "and has other uses; training needs it to "
                                  "belong to one batch_norm only");
    }
    const TensorType &XT = Op.operand(0)->Type;
    DType E = XT.elem();
    llvm::SmallVector<int64_t, 4> Axes = {0};
    for (unsigned A = 2; A < XT.rank(); ++A)
      Axes.push_back(A);
    OpBuilder B(F, It, Op.L);
    Value *X = Op.operand(0), *MeanK, *Var;
    if (Sync) {
      // The count is a float of x's type: 16-bit floats would overflow it
      // (65504) or round it.
      if (E != DType::F32 && E != DType::F64)
        return makeError(Op.L, "synchronized batch norm needs f32 or f64 "
                               "activations; this batch_norm's input is " +
                                   XT.str());
      // Elements per channel over the ranks. When x's batch dim is the
      // model input's and its other dims are static, that is the global
      // batch size (one sum over the ranks, which CSE shares between every
      // batch norm and the loss) times the elements per example; else the
      // product of x's run-time dims but 1, summed over the ranks.
      int64_t PerExample = 1;
      bool Static = true;
      for (unsigned A = 2; A < XT.rank(); ++A) {
        Static &= XT.dim(A).isStatic();
        PerExample *= Static ? XT.dim(A).size() : 1;
      }
      Value *Total;
      if (Static && XT.dim(0).isSymbol() && In0 && In0->Type.rank() > 0 &&
          In0->Type.dim(0) == XT.dim(0)) {
        Total = B.create(OpKind::AllReduceSum, {batchSize(B, In0, E)});
        if (PerExample != 1)
          Total = B.create(OpKind::Mul, {Total, B.scalar(E, double(PerExample))});
      } else {
        Tensor AxesT(DType::I64, {int64_t(Axes.size())});
        for (size_t A = 0; A < Axes.size(); ++A)
          AxesT.setI(A, Axes[A]);
        Value *Dims = B.create(OpKind::Cast, {B.create(OpKind::ShapeOf, {X})},
                               {{"to", Attribute::getType(E)}});
        Value *Count = B.create(
            OpKind::ReduceProd,
            {B.create(OpKind::Gather, {Dims, B.constant(std::move(AxesT))})},
            {boolAttr("keepdims", false)});
        Total = B.create(OpKind::AllReduceSum, {Count});
      }
      auto GlobalSum = [&](Value *V, bool Keep) {
        Value *S = B.create(OpKind::ReduceSum, {V},
                            {intsAttr("axes", Axes), boolAttr("keepdims", Keep)});
        return B.create(OpKind::Div,
                        {B.create(OpKind::AllReduceSum, {S}), Total});
      };
      MeanK = GlobalSum(X, true);
      Value *D = B.create(OpKind::Sub, {X, MeanK});
      Var = GlobalSum(B.create(OpKind::Mul, {D, D}), false);
    } else {
      MeanK = B.create(OpKind::ReduceMean, {X}, {intsAttr("axes", Axes)});
      Value *D = B.create(OpKind::Sub, {X, MeanK});
      Var = B.create(OpKind::ReduceMean, {B.create(OpKind::Mul, {D, D})},
                     {intsAttr("axes", Axes), boolAttr("keepdims", false)});
    }
    Value *Mean = B.create(OpKind::Squeeze, {MeanK}, {intsAttr("axes", Axes)});
    double Momentum = DefaultBatchNormMomentum;
    if (Override)
      Momentum = *Override;
    else if (const Attribute *A = Op.findAttr("momentum"))
      Momentum = A->getFloat();
    auto Ema = [&](Value *Old, Value *New) {
      return B.create(OpKind::Add, {B.create(OpKind::Mul, {Old, B.scalar(E, Momentum)}),
                                    B.create(OpKind::Mul, {New, B.scalar(E, 1 - Momentum)})});
    };
    Running[MI->second] = Ema(Op.operand(3), Mean);
    Running[VI->second] = Ema(Op.operand(4), Var);
    Op.Operands[3] = Mean;
    Op.Operands[4] = Var;
    Op.removeAttr("training");
  }
  return llvm::Error::success();
}

/// One warning per batch_norm whose running statistics are not both
/// parameters: training cannot update them.
static std::vector<std::string> batchNormWarnings(const Function &F) {
  llvm::DenseSet<const Value *> Params;
  for (auto &P : F.Params)
    Params.insert(P.get());
  std::vector<std::string> W;
  for (auto &Op : F.Body) {
    if (Op->kind() != OpKind::BatchNorm ||
        (Params.count(Op->operand(3)) && Params.count(Op->operand(4))))
      continue;
    std::string Where = Op->L.empty() ? "" : Op->L.str() + ": ";
    bool Training = Op->getBool("training");
    W.push_back(
        Where + "warning: this batch_norm's running mean and variance are " +
        "constants, not parameters, so training " +
        (Training ? "normalizes with the batch's statistics but never updates "
                    "the running ones, which evaluation and the trained model "
                    "use"
                  : "normalizes with them as a fixed scale and shift and never "
                    "updates them") +
        "; to train it as a batch norm, make them parameters (in ONNX, "
        "initializers rather than Constant nodes; in IR text, function "
        "parameters)");
  }
  return W;
}

void dlc::setInferenceMode(Function &F) {
  for (auto &Op : F.Body)
    if (Op->kind() == OpKind::Dropout || Op->kind() == OpKind::BatchNorm)
      Op->removeAttr("training");
}

namespace {
/// The training copy of a forward function, differentiated: inputs
/// [x, step, labels, params...], outputs [loss, correct]; per parameter its
/// gradient, or (Running) the new value of a batch norm's running
/// statistic, which gets no gradient.
struct Differentiated {
  Function *F = nullptr;
  Value *StepIn = nullptr;
  std::vector<Value *> Params, Grads, Running;
};
} // namespace

/// With Sync (synchronized batch norm across ranks), the statistics are
/// the global batch's and the loss that is differentiated is this rank's
/// share of the global batch's mean loss: loss x (examples here) / (sum
/// over ranks of the examples). The gradients are then those of the global
/// mean loss, already weighted, and the ranks only add them up. (The
/// `loss` output stays the local mean.)
static llvm::Expected<Differentiated>
buildGradients(Module &M, const Function &Forward, llvm::StringRef Name,
               LossKind Loss, int64_t Classes, int64_t DropoutSeed,
               std::optional<double> BatchNormMomentum, bool Sync = false) {
  M.Functions.push_back(Forward.clone(Name));
  Differentiated D;
  Function &S = *M.Functions.back();
  // Dead ops (such as an imported batch norm's unused running-statistics
  // outputs) must not count as other uses of the running statistics.
  if (auto E = createDCEPass()->run(S))
    return std::move(E);
  D.F = &S;
  D.StepIn = S.addInput("step", TensorType(DType::I64, {}));
  for (auto &Op : S.Body)
    if (Op->kind() == OpKind::Dropout) {
      Op->setAttr("training", Attribute::getBool(true));
      Op->setAttr("seed", Attribute::getInt(Op->getInt("seed") + DropoutSeed));
      Op->Operands.resize(1);
      Op->Operands.push_back(D.StepIn);
    }
  if (auto E = useBatchStatistics(S, BatchNormMomentum, D.Running, Sync))
    return std::move(E);
  Value *X = S.Inputs[0].get();
  if (auto E = attachLoss(S, Loss, Classes))
    return std::move(E);
  // The running statistics are outputs while autodiff runs, so nothing
  // drops them; they are off the loss's path.
  unsigned NumRunning = 0;
  for (unsigned I = 0; I < D.Running.size(); ++I)
    if (D.Running[I]) {
      S.addOutput("running." + S.Params[I]->Name, D.Running[I]);
      ++NumRunning;
    }
  AutodiffOptions AD;
  AD.WrtParams = true;
  unsigned Extra = 0;
  if (Sync) { // this rank's share of the global mean loss
    OpBuilder B(S, S.Body.end(), S.L);
    Value *LossV = S.Outputs[0];
    DType E = LossV->Type.elem();
    Value *N = batchSize(B, X, E);
    Value *Share = B.create(
        OpKind::Squeeze,
        {B.create(OpKind::Div, {N, B.create(OpKind::AllReduceSum, {N})})},
        {intsAttr("axes", {0})});
    AD.Output = S.Outputs.size();
    S.addOutput("loss.share", B.create(OpKind::Mul, {LossV, Share}));
    Extra = 1;
  }
  if (auto E = differentiate(S, AD))
    return std::move(E);
  for (unsigned I = 0, K = 2; I < D.Running.size(); ++I)
    if (D.Running[I])
      D.Running[I] = S.Outputs[K++];
  D.Grads.assign(S.Outputs.begin() + 2 + NumRunning + Extra, S.Outputs.end());
  S.Outputs.resize(2);
  S.OutputNames.resize(2);
  for (auto &P : S.Params)
    D.Params.push_back(P.get());
  paramsToInputs(S);
  return std::move(D);
}

/// step + 1 (Adam's t) as an i64 scalar.
static Value *stepPlusOne(OpBuilder &B, Value *Step) {
  Tensor One(DType::I64, {});
  One.setI(0, 1);
  return B.create(OpKind::Add, {Step, B.constant(std::move(One))});
}

/// @apply_update(params..., state..., slots..., step) -> (new params...,
/// new state...): the optimizer update of the step from summed gradients;
/// the slot of a running statistic is its new value, passed through.
static Function *buildApply(Module &M, const Function &Forward,
                            const Differentiated &D,
                            const OptimizerConfig &Opt) {
  Function &A = *M.addFunction("apply_update");
  A.L = Forward.L;
  std::vector<Value *> Params, Slots;
  for (Value *P : D.Params)
    Params.push_back(A.addInput(P->Name, P->Type));
  for (unsigned I = 0; I < D.Params.size(); ++I)
    Slots.push_back(A.addInput((D.Running[I] ? "running." : "grad.") +
                                   D.Params[I]->Name,
                               D.Params[I]->Type));
  Value *StepIn = A.addInput("step", TensorType(DType::I64, {}));
  OpBuilder B(A, A.Body.end(), A.L);
  std::vector<unsigned> StateOf;
  OptimizerUpdate U{A, B, Opt, stepPlusOne(B, StepIn), StateOf, {}, {}};
  for (unsigned I = 0; I < Params.size(); ++I)
    A.addOutput("new." + Params[I]->Name,
                D.Running[I] ? Slots[I] : U.update(Params[I], I, Slots[I]));
  for (auto &[Name, V] : U.NewState)
    A.addOutput("new." + Name, V);
  // [params, slots, step, state] -> [params, state, slots, step].
  size_t P = Params.size();
  std::rotate(A.Inputs.begin() + P, A.Inputs.begin() + 2 * P + 1,
              A.Inputs.end());
  return &A;
}

static llvm::Error checkConfig(const OptimizerConfig &O) {
  auto Finite = [](double V) { return std::isfinite(V); };
  if (!Finite(O.LearningRate) || O.LearningRate <= 0)
    return makeError("the learning rate must be a positive number, got " +
                     std::to_string(O.LearningRate));
  if (!Finite(O.WeightDecay) || O.WeightDecay < 0)
    return makeError("weight decay must be >= 0");
  if (!(O.Momentum >= 0 && O.Momentum < 1) || !(O.Beta1 >= 0 && O.Beta1 < 1) ||
      !(O.Beta2 >= 0 && O.Beta2 < 1) || !(O.Rho >= 0 && O.Rho < 1))
    return makeError("momentum, beta1, beta2 and rho must be in [0, 1)");
  if (!Finite(O.Epsilon) || O.Epsilon <= 0)
    return makeError("epsilon must be a positive number");
  return llvm::Error::success();
}

llvm::Expected<TrainingGraphs>
dlc::buildTrainingGraphs(const Function &Forward, LossKind Loss,
                         const OptimizerConfig &Opt, int64_t DropoutSeed,
                         std::optional<double> BatchNormMomentum, bool Split,
                         bool SyncBatchNorm) {
  if (auto E = checkConfig(Opt))
    return std::move(E);
  if (BatchNormMomentum && !(*BatchNormMomentum >= 0 && *BatchNormMomentum < 1))
    return makeError("the batch norm momentum must be in [0, 1) (the weight "
                     "of the old running statistics; PyTorch's 0.1 is 0.9), "
                     "got " + std::to_string(*BatchNormMomentum));
  if (Forward.Inputs.size() != 1 || Forward.Outputs.size() != 1)
    return makeError(Forward.L, "training needs a model with one input and one "
                                "output; '@" + Forward.Name + "' has " +
                                    std::to_string(Forward.Inputs.size()) +
                                    " inputs and " +
                                    std::to_string(Forward.Outputs.size()) +
                                    " outputs");
  for (size_t I = 0; I < Forward.Params.size(); ++I)
    if (I >= Forward.ParamInits.size() || !Forward.ParamInits[I])
      return makeError(Forward.Params[I]->L, "parameter '" +
                                                 Forward.Params[I]->Name +
                                                 "' has no initial value");
  const TensorType &ST = Forward.Outputs[0]->Type;
  if (!isFloat(ST.elem()))
    return makeError(Forward.L, "the model's output is " + ST.str() +
                                    "; training needs float scores");
  int64_t Classes = ST.rank() == 2 && ST.dim(1).isStatic() ? ST.dim(1).size() : 1;
  if (isClassification(Loss) && (ST.rank() != 2 || Classes < 2))
    return makeError(Forward.L, "loss '" + lossName(Loss) +
                                    "' needs scores [N, classes] with at least 2 "
                                    "classes; the model's output is " + ST.str());
  if (Loss == LossKind::BinaryCrossEntropy && ST.rank() == 2 && Classes > 1)
    return makeError(Forward.L, "loss 'bce' needs one probability per sample "
                                "([N, 1] or [N]); the model's output is " + ST.str());

  TrainingGraphs G;
  G.M = std::make_unique<Module>();
  G.NumClasses = Classes;
  G.Warnings = batchNormWarnings(Forward);

  // The training step: gradients and the update in one function.
  auto D = buildGradients(*G.M, Forward, "train_step", Loss, Classes,
                          DropoutSeed, BatchNormMomentum);
  if (!D)
    return D.takeError();
  Function &S = *D->F;
  {
    OpBuilder B(S, S.Body.end(), S.L);
    OptimizerUpdate U{S, B, Opt, stepPlusOne(B, D->StepIn), G.StateOf, {}, {}};
    for (unsigned I = 0; I < D->Params.size(); ++I)
      S.addOutput("new." + D->Params[I]->Name,
                  D->Running[I] ? D->Running[I]
                                : U.update(D->Params[I], I, D->Grads[I]));
    for (auto &[Name, V] : U.NewState)
      S.addOutput("new." + Name, V);
  }
  // [x, step, labels, params, state] -> [x, labels, params, state, step]: the
  // inputs then begin like evaluate's.
  std::rotate(S.Inputs.begin() + 1, S.Inputs.begin() + 2, S.Inputs.end());
  G.Step = &S;
  for (Value *R : D->Running)
    G.RunningSlot.push_back(R != nullptr);
  G.SyncBatchNorm = Split && SyncBatchNorm;

  if (Split) {
    // The same gradients with the slot values as outputs, for a caller that
    // sums them across processes before the update.
    auto GD = buildGradients(*G.M, Forward, "train_gradients", Loss, Classes,
                             DropoutSeed, BatchNormMomentum, SyncBatchNorm);
    if (!GD)
      return GD.takeError();
    Function &GF = *GD->F;
    for (unsigned I = 0; I < GD->Params.size(); ++I)
      GF.addOutput((GD->Running[I] ? "running." : "grad.") +
                       GD->Params[I]->Name,
                   GD->Running[I] ? GD->Running[I] : GD->Grads[I]);
    std::rotate(GF.Inputs.begin() + 1, GF.Inputs.begin() + 2, GF.Inputs.end());
    G.Gradients = &GF;
    G.Apply = buildApply(*G.M, Forward, *D, Opt);
  }

  // Evaluation: the same loss, in inference form (dropout off, running
  // statistics).
  G.M->Functions.push_back(Forward.clone("evaluate"));
  Function &Ev = *G.M->Functions.back();
  setInferenceMode(Ev);
  if (auto E = attachLoss(Ev, Loss, Classes))
    return std::move(E);
  paramsToInputs(Ev);
  G.Eval = &Ev;

  G.M->Functions.push_back(Forward.clone("predict"));
  setInferenceMode(*G.M->Functions.back());
  paramsToInputs(*G.M->Functions.back());
  G.Predict = G.M->Functions.back().get();
  return std::move(G);
}
