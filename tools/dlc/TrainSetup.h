// The parts of `dlc train` that come before the trainer: argument values,
// the model (a .dlc file or a built-in tutorial model), and whether it fits
// the data and the loss. Everything here reports errors before training
// starts.
#ifndef DLC_TOOLS_DLC_TRAINSETUP_H
#define DLC_TOOLS_DLC_TRAINSETUP_H

#include "api/Trainer.h"
#include "dist/Communicator.h"
#include "frontend/data/Dataset.h"

#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <string>

namespace dlc {

/// "--epochs must be a positive integer, got 'x'" and the like.
llvm::Expected<int64_t> parsePositiveInt(llvm::StringRef Flag,
                                         llvm::StringRef Text);
llvm::Expected<int64_t> parseNonNegativeInt(llvm::StringRef Flag,
                                            llvm::StringRef Text);
llvm::Expected<int64_t> parseInt(llvm::StringRef Flag, llvm::StringRef Text);
/// A finite number > 0 (learning rates).
llvm::Expected<double> parsePositiveNumber(llvm::StringRef Flag,
                                           llvm::StringRef Text);

/// The model to train and the function in it.
struct TrainModel {
  std::unique_ptr<Module> M;
  Function *F = nullptr;
  std::string Label; // the file or "--model NAME", for messages
};

/// Exactly one of File (IR text, or ONNX: its float initializers become the
/// parameters to train) and Name (a tutorial model built with Seed). The
/// function is "main", else the first; it must have parameters, one input
/// and one output.
llvm::Expected<TrainModel> loadTrainModel(llvm::StringRef File,
                                          llvm::StringRef Name, int64_t Seed);

/// The loss a model's output suggests when none is given: "nll" after a
/// final log_softmax, "sparse_categorical_crossentropy" after a softmax or
/// sigmoid, else "cross_entropy" (logits).
llvm::StringRef defaultLossName(const Function &F);

/// How the data meets the model.
struct DataFit {
  /// The input's batch dim when it is a number (then every batch must have
  /// exactly that size), else -1.
  int64_t StaticBatch = -1;
};

/// Checks F against images [*,1,H,W] with NumClasses classes and the loss
/// (LossLabel is its command-line name, for messages): one float input of
/// shape [N,1,H,W], [N,H,W] or [N,H*W]; one output [N,NumClasses]; the
/// output's last op fits the loss (as in Keras, the cross-entropies read
/// probabilities: a final softmax or sigmoid; nll needs a final
/// log_softmax; bce is for two classes, so it never fits these data).
llvm::Expected<DataFit> checkModelFits(const Function &F, const Dataset &D,
                                       LossKind Loss, llvm::StringRef LossLabel);

/// The images reshaped to the model input's rank ([B,1,H,W] as [B,H,W] or
/// [B,H*W]).
Tensor imagesForModel(const Tensor &Images, const TensorType &Input);

/// Labels as the loss wants them: i64[B] for the sparse cross-entropy and
/// nll, one-hot f32[B,NumClasses] for the others.
Tensor targetsForLoss(const Tensor &Labels, LossKind Loss, int64_t NumClasses);

/// Checks that -o's directory exists.
llvm::Error checkOutputPath(llvm::StringRef Path);

/// Keras' validation_split: the last Fraction of D (before any shuffling)
/// becomes the validation set, returned; D keeps the rest. Both must keep
/// at least one example.
llvm::Expected<Dataset> splitOffValidation(Dataset &D, double Fraction);
/// Writes M as IR text to Path with its weights in Path's stem + ".weights"
/// next to it (named relative to the text, so the pair can move together),
/// or, for a path ending in .onnx, as an ONNX model (weights inside).
llvm::Error saveTrainedModel(Module &M, llvm::StringRef Path);

/// The communicator of `dlc train`: MPI's when this process is one rank
/// of several (mpirun -np N) or Distributed asks for MPI, else a single
/// process. Errors: dlc was built without MPI, MPI_Init failed.
llvm::Expected<std::shared_ptr<Communicator>>
trainCommunicator(bool Distributed, double TimeoutSeconds);

/// llvm::ExitOnError for every rank: one process prints the error and
/// exits 1, as ExitOnError does; with several ranks the message names the
/// rank ("dlc train: rank 1 of 2: error: ...") and the communicator's
/// abort ends every rank (MPI_Abort), so no rank waits for a dead one.
class RankCheck {
public:
  explicit RankCheck(Communicator &C) : C(C) {}
  void operator()(llvm::Error E) {
    if (E)
      fail(std::move(E));
  }
  template <typename T> T operator()(llvm::Expected<T> &&E) {
    if (!E)
      fail(E.takeError());
    return std::move(*E);
  }
  [[noreturn]] void fail(llvm::Error E);

private:
  Communicator &C;
};

/// The examples Order[Begin, End) as a batch; empty (no rows) when Begin
/// == End, as a rank's shard of a small last batch may be.
Batch shardBatch(const Dataset &D, llvm::ArrayRef<int64_t> Order,
                 int64_t Begin, int64_t End);

} // namespace dlc

#endif
