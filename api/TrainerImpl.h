// dlc::Trainer's state, shared by api/Trainer.cpp (creation, the
// single-process step, evaluation, state) and api/TrainerParallel.cpp (the
// data-parallel step). Internal: not part of the API.
#ifndef DLC_API_TRAINERIMPL_H
#define DLC_API_TRAINERIMPL_H

#include "api/Device.h"
#include "api/Trainer.h"

#include "codegen/Executor.h"
#include "dist/NcclCommunicator.h"
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
  /// On a CUDA device with NCCL: the gradients are summed on the device.
  std::unique_ptr<NcclCommunicator> Nccl;
  std::string CommNote; // see commNote()

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
  /// Chooses how gradients are summed (Opts.CommBackend; collective: NCCL
  /// is set up over Comm) and sets CommNote. After syncSlots.
  llvm::Error setUpSums(DeviceKind Device);

private:
  llvm::Expected<std::vector<Tensor>>
  localGradients(const Tensor &X, Tensor Labels, double Sums[2],
                 OverlappedSum &Sum, llvm::ArrayRef<int> SumIndex);
  llvm::Error applySummed(std::vector<Tensor> Slots);
  /// The NCCL step's halves: gradients kept on the device, and the update
  /// on the summed device slots.
  llvm::Expected<std::vector<GpuTensor>>
  deviceGradients(const Tensor &X, Tensor Labels, double Sums[2]);
  llvm::Error applySummedOnDevice(std::vector<GpuTensor> Slots);
};

} // namespace dlc

#endif
