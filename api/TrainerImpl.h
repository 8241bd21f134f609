// dlc::Trainer's state, shared by api/Trainer.cpp (creation, the
// single-process step, evaluation, state) and api/TrainerParallel.cpp (the
// data-parallel step). Internal: not part of the API.
#ifndef DLC_API_TRAINERIMPL_H
#define DLC_API_TRAINERIMPL_H

#include "api/Trainer.h"

#include "codegen/Executor.h"
#include "exec/GpuExecutable.h"
#include "interp/Interpreter.h"

namespace dlc {

struct Trainer::Impl {
  TrainerOptions Opts;
  TrainingGraphs G;                  // as built, for trainStepFunction()
  std::unique_ptr<Function> Forward; // for currentModel()
  std::unique_ptr<Module> Exec;      // optimized copies that run
  const Function *StepF = nullptr, *EvalF = nullptr, *PredictF = nullptr;
  std::unique_ptr<CompiledFunction> StepC, EvalC, PredictC;
  /// The step's inputs [x, labels, params..., state..., step]; the
  /// parameters and state live here between steps (on a GPU: in GArgs,
  /// on the device, and Args keeps only the batch and the step).
  std::vector<Tensor> Args;
  std::unique_ptr<GpuExecutable> StepG, EvalG, PredictG;
  std::vector<GpuTensor> GArgs;
  size_t NumParams = 0;
  int64_t Steps = 0;
  double CommWait = 0; // see commWaitSeconds()
  /// Data parallelism (more than one rank): the step in two halves, with
  /// the gradient sums between them.
  std::shared_ptr<Communicator> Comm;
  const Function *GradF = nullptr, *ApplyF = nullptr;
  std::unique_ptr<CompiledFunction> GradC, ApplyC;
  std::unique_ptr<GpuExecutable> GradG, ApplyG;

  /// The device executable that moves tensors to and from the GPU; null
  /// on the CPU.
  const GpuExecutable *gpu() const {
    return StepG ? StepG.get() : ApplyG.get();
  }
  llvm::Expected<std::vector<Tensor>> run(const Function &F,
                                          const CompiledFunction *C,
                                          llvm::ArrayRef<Tensor> In) const {
    if (C)
      return C->run(In);
    return interpret(F, In);
  }
  llvm::Expected<Tensor> checkLabels(const Tensor &X,
                                     const Tensor &Labels) const;
  /// Every rank takes rank 0's Slots (parameters and optimizer state, on
  /// the host) and step count, after a check that every rank holds tensors
  /// of the same types.
  llvm::Error syncSlots(llvm::MutableArrayRef<Tensor> Slots,
                        int64_t &StepCount);
  llvm::Expected<StepResult> parallelStep(const Tensor &X, Tensor Labels);

private:
  llvm::Expected<std::vector<Tensor>>
  localGradients(const Tensor &X, Tensor Labels, double Sums[2],
                 OverlappedSum &Sum, llvm::ArrayRef<int> SumIndex);
  llvm::Error applySummed(std::vector<Tensor> Slots);
};

} // namespace dlc

#endif
