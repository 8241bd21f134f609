// Training through the C++ API: a forward model (from the builder API, IR
// text or ONNX) becomes one compiled training step (forward, loss, backward
// by the autodiff pass, optimizer update) and one compiled evaluation
// function. The trainer owns the parameters and the optimizer state.
//
//   dlc::TrainerOptions Opts;
//   Opts.Loss = dlc::LossKind::SparseCategoricalCrossEntropy;
//   Opts.Optimizer.Kind = dlc::OptimizerKind::Adam;
//   dlc::Trainer T = Check(dlc::Trainer::create(*Forward, Opts));
//   for (...) { dlc::StepResult R = Check(T.step(Images, Labels)); }
//   dlc::StepResult Test = Check(T.evaluate(TestImages, TestLabels));
#ifndef DLC_API_TRAINER_H
#define DLC_API_TRAINER_H

#include "dist/Communicator.h"
#include "ir/IR.h"
#include "ir/Tensor.h"
#include "passes/TrainingStep.h"

#include "llvm/Support/Error.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dlc {

struct RunProfile; // api/Model.h

struct TrainerOptions {
  LossKind Loss = LossKind::SparseCategoricalCrossEntropy;
  OptimizerConfig Optimizer;
  /// "jit" (default) or "interp" (the reference interpreter, slow: tests).
  std::string Engine = "jit";
  /// "cpu", "cuda" or "cuda-emu" (see ModelOptions::Device). On a GPU the
  /// parameters and optimizer state stay in device memory between steps:
  /// only batches go in and the loss and count come out.
  std::string Device = "cpu";
  /// "fp32" (default), "tf32" or "bf16" (see ModelOptions::Precision).
  std::string Precision = "fp32";
  unsigned OptLevel = 3;
  unsigned Threads = 0; // 0: every hardware thread
  /// Seeds dropout masks: step k of a run uses seed Seed + k.
  int64_t Seed = 0;
  /// Running statistics of batch norms in training mode: running =
  /// momentum * running + (1 - momentum) * batch statistic (Keras' and
  /// ONNX's form; PyTorch's momentum 0.1 is 0.9 here). When set, it
  /// overrides every batch norm's; unset, each uses its own `momentum` (an
  /// ONNX node's) or DefaultBatchNormMomentum (0.99, Keras' default). See
  /// buildTrainingGraphs.
  std::optional<double> BatchNormMomentum;
  /// Called with each warning about the model (`<loc>: warning: ...`), for
  /// example a batch norm whose running statistics are constants and so
  /// never train. Null: warnings are dropped. Rank 0 only with several
  /// ranks.
  std::function<void(const std::string &)> OnWarning;
  /// Data parallelism: with a communicator of more than one rank (see
  /// dist/MpiCommunicator.h), create() makes every rank start from rank
  /// 0's parameters and optimizer state, and step() is collective: every
  /// rank passes its shard of the global batch (possibly empty), the
  /// gradients are averaged over the global batch (each rank's weighted by
  /// its number of examples) in buckets of BucketBytes, and every rank
  /// applies the same update, so the parameters stay bit-identical. The
  /// batch norms use the local batch's statistics and their running
  /// statistics are averaged over the ranks the same way (unless
  /// SyncBatchNorm). Dropout masks differ per rank. Null or
  /// one rank: the single-process step, unchanged. On a GPU device the
  /// gradients are summed as CommBackend says.
  std::shared_ptr<Communicator> Comm;
  /// With several ranks on a GPU, how the gradients are summed: "nccl"
  /// with NCCL in device memory (libnccl.so.2 loaded at run time, see
  /// runtime/Nccl.h; an error when it does not load on every rank or the
  /// device is not "cuda"), "mpi" through the host over Comm (each rank
  /// downloads its gradients, sums them and uploads the sums), or "auto"
  /// (default): NCCL on "cuda" when it loads, else MPI. The same buckets
  /// and scaling either way; commNote() says which was taken. Only "cuda"
  /// can use NCCL ("nccl" with another device is an error).
  std::string CommBackend = "auto";
  /// With NCCL: a sum not finished after this many seconds aborts the
  /// NCCL communicator and fails the step with an error naming the
  /// collective (NCCL itself waits forever for a dead peer); 0 waits
  /// forever. (MPI's limit is MpiOptions::TimeoutSeconds.)
  double CommTimeoutSeconds = 600;
  size_t BucketBytes = size_t(4) << 20;
  /// With several ranks: batch norms in training mode normalize with the
  /// global batch's statistics (summed over the ranks in the forward and
  /// the backward pass) instead of the local ones, so N ranks at batch B
  /// train like one process at batch N x B. Every rank then needs at least
  /// one example per step. On a GPU device the sums run on the device
  /// with NCCL (comm "nccl", or "auto" when it loads), else through the
  /// host. No effect in one process.
  bool SyncBatchNorm = false;
  /// With several ranks: start summing each bucket of gradients as soon as
  /// the backward pass has written its last gradient (MPI_Iallreduce),
  /// while the pass goes on, and wait for all before the update. Off: the
  /// blocking sums (MPI_Allreduce) after the whole pass. Same buckets and
  /// bits either way. (With the interpreter engine or on a GPU the
  /// non-blocking sums start after the pass.)
  bool OverlapComm = true;
};

/// Loss averaged over the batch, and how many predictions were right
/// (argmax of the scores against the label; for one output column, the
/// score thresholded at 0.5).
struct StepResult {
  double Loss = 0;
  int64_t Correct = 0;
  int64_t Count = 0;
};

class Trainer {
public:
  /// Forward: one input (a batch, batch dim first, symbolic or not) and one
  /// output (the scores), with every parameter initialized. A final softmax
  /// under a cross-entropy loss is fused with the loss (the loss then reads
  /// its logits), as is a final log_softmax under NLL. Errors name what
  /// does not fit (for example an output that is not [N,C] under a
  /// cross-entropy loss).
  static llvm::Expected<Trainer> create(const Function &Forward,
                                        const TrainerOptions &Opts);
  Trainer(Trainer &&);
  Trainer &operator=(Trainer &&);
  ~Trainer();

  /// One training step on a batch: updates the parameters and the optimizer
  /// state. Labels: i64[N] for sparse cross-entropy and NLL, else a tensor
  /// shaped like the output. Labels out of range are an error, checked
  /// before anything changes. With a communicator of several ranks, the
  /// batch is this rank's shard and the result is the global batch's
  /// (mean loss, correct and count summed over the ranks).
  llvm::Expected<StepResult> step(const Tensor &Inputs, const Tensor &Labels);
  /// Loss and accuracy in inference mode (dropout off), no update. Local:
  /// never communicates.
  llvm::Expected<StepResult> evaluate(const Tensor &Inputs,
                                      const Tensor &Labels) const;
  /// The forward model's output in inference mode.
  llvm::Expected<Tensor> predict(const Tensor &Inputs) const;
  /// Where the time of one training step on this batch goes, kernel by
  /// kernel (as Model::profile): the step runs once to warm up, then Runs
  /// times, and its results are dropped (no update, stepsDone() unchanged).
  /// The JIT on the CPU in one process only; otherwise an error.
  llvm::Expected<RunProfile> profileStep(const Tensor &Inputs,
                                         const Tensor &Labels,
                                         unsigned Runs) const;

  /// The forward function with the current weights as parameter initial
  /// values (to save, export or compile for inference). On a GPU the
  /// weights are copied back from the device; null if that fails (see
  /// trainedModel for the error).
  std::unique_ptr<Module> currentModel() const;
  llvm::Expected<std::unique_ptr<Module>> trainedModel() const;
  /// The training step as graph IR before optimization (for tests, and
  /// `dlc train --print-ir`).
  const Function &trainStepFunction() const;
  int64_t stepsDone() const;
  /// With several ranks: the seconds this rank has waited for the gradient
  /// sums after its own backward pass ended (sums that finished during the
  /// pass cost nothing here; a slower rank's lag does), over all steps. 0
  /// in one process.
  double commWaitSeconds() const;
  /// How the gradients are summed, for a note on rank 0: "gradient sums:
  /// NCCL 2.21.5 (libnccl.so.2) on the GPU", "gradient sums: MPI through
  /// the host (NCCL: <why not>)", ...; "" in one process.
  const std::string &commNote() const;
  /// What training changes: the parameters, then the optimizer state, in
  /// the step's slot order. With stepsDone() (which seeds dropout), what a
  /// checkpoint holds to resume bit for bit. (On a GPU it is copied back
  /// from the device, which may fail.)
  llvm::Expected<std::vector<Tensor>> trainingState() const;
  /// Restores a trainingState() and stepsDone() of a trainer made from the
  /// same model and options; each tensor is checked (count, element type,
  /// shape) before anything changes. With several ranks it is collective
  /// and rank 0's state and step count win.
  llvm::Error restoreTrainingState(std::vector<Tensor> State, int64_t Steps);
  /// Number of classes (output's last dim), or 1 for a single column.
  int64_t numClasses() const;

private:
  struct Impl;
  explicit Trainer(std::unique_ptr<Impl> I);
  std::unique_ptr<Impl> P;
};

} // namespace dlc

#endif
