// The training step as graph IR: a forward model plus a loss, its gradient
// (the autodiff pass) and an optimizer update, all in one function that the
// JIT compiles like any other.
#ifndef DLC_PASSES_TRAININGSTEP_H
#define DLC_PASSES_TRAININGSTEP_H

#include "ir/IR.h"

#include <optional>

namespace dlc {

enum class LossKind {
  MeanSquaredError,          // "mse": targets shaped like the output
  BinaryCrossEntropy,        // "bce": probabilities against targets in [0,1]
  CategoricalCrossEntropy,   // "categorical_crossentropy": one-hot [N,C]
  SparseCategoricalCrossEntropy, // "sparse_categorical_crossentropy": i64[N]
  NegativeLogLikelihood,     // "nll": log-probabilities [N,C], labels i64[N]
  CrossEntropy,              // "cross_entropy": logits [N,C], labels i64[N]
                             // (PyTorch's CrossEntropyLoss)
};

enum class OptimizerKind { SGD, Momentum, Nesterov, Adam, AdamW, RMSprop, Adagrad };

/// The names accepted on the command line ("mse", "adam", ...).
llvm::Expected<LossKind> parseLoss(llvm::StringRef Name);
llvm::Expected<OptimizerKind> parseOptimizer(llvm::StringRef Name);
llvm::StringRef lossName(LossKind K);
llvm::StringRef optimizerName(OptimizerKind K);

struct OptimizerConfig {
  OptimizerKind Kind = OptimizerKind::Adam;
  double LearningRate = 1e-3;
  double WeightDecay = 0;  // L2 added to the gradient; decoupled for AdamW
  double Momentum = 0.9;   // Momentum and Nesterov
  double Beta1 = 0.9, Beta2 = 0.999; // Adam and AdamW
  double Rho = 0.9;        // RMSprop's moving average of squared gradients
  double Epsilon = 1e-7;   // Adam, AdamW, RMSprop, Adagrad
};

/// The functions of a training setup, in one module. Each takes the
/// parameters as inputs after its data inputs, in the forward function's
/// parameter order, so the caller owns them (and the step's inputs begin
/// exactly like evaluate's):
///   @train_step(x, labels, params..., state..., step: i64[])
///       -> (loss: f32[], correct: i64[], new params..., new state...)
///   @evaluate(x, labels, params...) -> (loss, correct)
///   @predict(x, params...) -> (scores)
/// `step` counts from 0: Adam's bias correction uses step + 1, and dropout
/// masks take it as their seed offset, so each step draws a new mask.
/// State tensors (momentum, Adam moments, ...) start at zero; StateOf gives
/// the parameter each one belongs to.
///
/// Split (data-parallel training) adds the step cut in two, so that the
/// gradients can be summed across processes between the halves:
///   @train_gradients(x, labels, params..., step)
///       -> (loss, correct, slot per parameter...)
///   @apply_update(params..., state..., slots..., step)
///       -> (new params..., new state...)
/// A parameter's slot is its gradient (of the batch's mean loss), or for a
/// batch norm's running statistic its new running value. @train_gradients'
/// step only seeds dropout; @apply_update's is the optimizer's step count.
struct TrainingGraphs {
  std::unique_ptr<Module> M;
  Function *Step = nullptr, *Eval = nullptr, *Predict = nullptr;
  Function *Gradients = nullptr, *Apply = nullptr; // with Split only
  std::vector<unsigned> StateOf;
  /// Per parameter: whether its slot is a batch norm's running statistic.
  std::vector<bool> RunningSlot;
  /// @train_gradients synchronizes batch norms (see buildTrainingGraphs).
  bool SyncBatchNorm = false;
  int64_t NumClasses = 1;
  /// Things that train but probably not as meant, one located message each
  /// (`<loc>: warning: ...`): for example a batch_norm whose running
  /// statistics are constants. The caller decides where they go.
  std::vector<std::string> Warnings;
};

/// The momentum of batch norms that carry none (and no override is given).
constexpr double DefaultBatchNormMomentum = 0.99;

/// Builds the three functions from Forward (one input, one output, float
/// parameters). Errors name what does not fit: an output that is not
/// [N, C] under a classification loss, a parameter without a gradient
/// rule on its path, a bad optimizer setting.
///
/// Batch normalization: a batch_norm whose running mean and variance are
/// parameters (as the builder's BatchNorm layer makes them) is in training
/// mode in @train_step: it normalizes with the batch's mean and biased
/// variance over every axis but 1, and the step's "new" values of those
/// two parameters are the running averages (Keras' and ONNX's convention):
///   running = momentum * running + (1 - momentum) * batch
/// with momentum = BatchNormMomentum when given (it overrides every op's),
/// else the op's `momentum` attribute (an imported ONNX node's), else
/// DefaultBatchNormMomentum. They get no optimizer update. @evaluate and
/// @predict are in inference form (setInferenceMode): they use the running
/// statistics, and dropout is off. A batch_norm whose running statistics
/// are not parameters (constants) normalizes with them in @train_step, or
/// with the batch's statistics if it has `training`, and its running
/// statistics never change: each gets a warning in Warnings.
///
/// SyncBatchNorm (with Split): @train_gradients normalizes with the global
/// batch's statistics, the sums over every rank (all_reduce_sum ops, which
/// call the run's communicator: see interp/Collective.h), forward and
/// backward; its gradients are those of the global batch's mean loss (each
/// rank differentiates loss x its examples / all ranks' examples), so the
/// ranks only add them up, and its running statistics are the same on every
/// rank. @train_step keeps local statistics.
llvm::Expected<TrainingGraphs>
buildTrainingGraphs(const Function &Forward, LossKind Loss,
                    const OptimizerConfig &Opt, int64_t DropoutSeed = 0,
                    std::optional<double> BatchNormMomentum = std::nullopt,
                    bool Split = false, bool SyncBatchNorm = false);

/// Switches F's dropout and batch_norm ops to inference form (`training`
/// off: no dropout, running statistics), as evaluation, prediction and a
/// trained model that is saved or exported run them.
void setInferenceMode(Function &F);

} // namespace dlc

#endif
