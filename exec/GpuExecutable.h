// Runs a graph function's steps on a GPU (or on the CPU emulation of one):
// the kernels of a GpuProgram launched in step order on one stream per
// run, every intermediate in one device arena placed by liveness, copies
// only at the graph boundary and around host steps (ops on strings, and
// those whose results the device does not size: they run on the host
// between launches, on copies of what they read; control flow, whose
// regions run as GPU executables of their own). Inputs and outputs may
// stay on the device between runs (a training step's parameters and
// optimizer state).
#ifndef DLC_EXEC_GPUEXECUTABLE_H
#define DLC_EXEC_GPUEXECUTABLE_H

#include "exec/Executable.h"
#include "exec/GpuDevice.h"

#include <atomic>

namespace dlc {

/// A run's input or output: a host tensor, or a device one.
struct GpuTensor {
  Tensor Host;
  DeviceTensor Dev; // Dev.Buf is set when the tensor is on the device
  GpuTensor() = default;
  GpuTensor(Tensor T) : Host(std::move(T)) {}
  GpuTensor(DeviceTensor T) : Dev(std::move(T)) {}
  bool onDevice() const { return bool(Dev.Buf); }
  TensorType type() const { return onDevice() ? Dev.type() : Host.type(); }
};

class GpuExecutable {
public:
  /// Steps come from planSteps(F); Prog has one kernel per kernel step, in
  /// kernel-number order, each taking the step's buffers (inputs, outputs,
  /// then a fused group's space) in its parameter block. Parameters and
  /// constants are copied to the device here, once. Device memory comes
  /// from Pool (executables of one model share it). F must outlive the
  /// executable. Host runs the host steps other than collectives (ops on
  /// str tensors, data-sized results: the JIT and the C API pass the
  /// reference interpreter's evaluateOp) on host copies of their numeric
  /// operands; without it a function that has any is an error. `str`
  /// values never go to the device: str inputs and outputs stay host
  /// tensors.
  static llvm::Expected<std::unique_ptr<GpuExecutable>>
  create(const Function &F, std::vector<LoweredStep> Steps, GpuProgram Prog,
         std::shared_ptr<GpuMemoryPool> Pool, HostKernelFn Host = nullptr);
  ~GpuExecutable();

  /// Runs on host inputs, returning host outputs; see Executable::run.
  llvm::Expected<std::vector<Tensor>> run(llvm::ArrayRef<Tensor> Inputs,
                                          uint64_t *PeakBytes = nullptr) const;
  /// Runs on inputs that are on the host or on the device. Output K stays
  /// on the device when KeepOnDevice[K] (missing entries: false), in a
  /// buffer of its own. Safe to call from several threads at once. Device
  /// inputs are only read. PeakBytes: the run's device bytes besides the
  /// inputs, parameters and constants (its arena and kept outputs).
  llvm::Expected<std::vector<GpuTensor>>
  run(llvm::ArrayRef<GpuTensor> Inputs, llvm::ArrayRef<bool> KeepOnDevice,
      uint64_t *PeakBytes = nullptr) const;

  /// Control flow (if, loop, scan): R, a region of one of F's control-flow
  /// ops, runs as X (compiled for the same device, memory from the same
  /// pool) per branch taken or iteration, its values staying on the device
  /// (GpuControlFlow.cpp). Set before the first run. An op whose regions
  /// are not all set runs through the host kernel (the interpreter, as in
  /// the C API's GPU images), its operands copied to the host and its
  /// results back.
  void setRegion(const Function &R, std::unique_ptr<GpuExecutable> X);

  /// Copies between the host and the device (and waits for the copy).
  llvm::Expected<DeviceTensor> upload(const Tensor &T) const;
  llvm::Expected<Tensor> download(const DeviceTensor &T) const;

  const Function &function() const { return Planner->function(); }
  /// The CPU planner that checks its inputs (Executable::checkInputSpecs).
  const Executable &planner() const { return *Planner; }
  GpuDevice &device() const { return Pool->device(); }
  const std::shared_ptr<GpuMemoryPool> &pool() const { return Pool; }
  /// How many parameter-block images were written to the device: once per
  /// plan and set of device buffers bound to it.
  uint64_t blockImagesWritten() const { return ImagesWritten; }
  /// How many CUDA graphs were recorded (one per image and segment of
  /// launches, from the image's second run on, where the device has them).
  uint64_t graphsCaptured() const { return GraphsCaptured; }

  struct GpuPlan;
  struct Instance;
  struct Image;
  struct HostValues;

private:
  GpuExecutable() = default;
  /// One input of a run: on the host or on the device.
  struct RunInput {
    const Tensor *Host;
    const DeviceTensor *Dev;
  };
  llvm::Expected<std::vector<GpuTensor>>
  runImpl(llvm::ArrayRef<RunInput> In, llvm::ArrayRef<bool> Keep,
          uint64_t *PeakBytes) const;
  llvm::Expected<std::shared_ptr<GpuPlan>>
  gpuPlanFor(std::shared_ptr<const Executable::RunPlan> P,
             std::vector<bool> DeviceIn, std::vector<bool> Keep) const;
  llvm::Error checkGather(const GpuPlan &G, llvm::ArrayRef<RunInput> In,
                          const LoweredStep &S, Instance &I,
                          DeviceAddr IndexAddr) const;
  /// A collective host step (all_reduce_sum, GpuCollective.cpp): Out
  /// gets In summed over the ranks of the thread's CollectiveHook (In
  /// itself without one).
  llvm::Error runCollective(const LoweredStep &S,
                            const Executable::RunPlan &P, Instance &I,
                            DeviceAddr In, DeviceAddr Out) const;
  /// A host step other than a collective (GpuHostStep.cpp): waits for the
  /// launches before it, copies the numeric operands the op reads to the
  /// host (or takes their host bytes: OnHost), runs Host on them, and
  /// queues the copies of its numeric results into their device buffers
  /// (Addr); str values stay in V.
  llvm::Error
  runHostStep(const LoweredStep &S, const Executable::RunPlan &P,
              Instance &I, llvm::function_ref<DeviceAddr(const Value *)> Addr,
              llvm::function_ref<const Tensor *(const Value *)> OnHost,
              HostValues &V) const;
  /// A control-flow host step whose regions are set (GpuControlFlow.cpp):
  /// the op's logic on the host, its regions on the device, values on the
  /// device; the arguments are runHostStep's.
  llvm::Error
  runRegions(const LoweredStep &S, const Executable::RunPlan &P, Instance &I,
             llvm::function_ref<DeviceAddr(const Value *)> Addr,
             llvm::function_ref<const Tensor *(const Value *)> OnHost,
             HostValues &V) const;
  /// Whether every region of Op runs on the device (setRegion).
  bool regionsSet(const Operation &Op) const;
  /// Launches segment Seg of G's launches (Kernels of them not skipped):
  /// directly, or as the image's CUDA graph (recorded now if due).
  llvm::Error launchSegment(const GpuPlan &G, Instance &I,
                            Image &Img, size_t Seg,
                            unsigned Kernels) const;
  std::string describeRun() const;

  std::unique_ptr<Executable> Planner; // input checks and run plans
  HostKernelFn Host = nullptr;
  std::shared_ptr<GpuMemoryPool> Pool;
  std::unique_ptr<GpuModule> Module;
  std::vector<GpuKernelEntry> Kernels;
  std::shared_ptr<const void> ProgramOwner; // their host functions' code
  /// Parameters and constants on the device, for the executable's life.
  llvm::DenseMap<const Value *, std::shared_ptr<GpuBuffer>> Resident;
  llvm::DenseMap<const Value *, const Tensor *> HostCopy; // their host data
  /// The compiled regions of F's control-flow ops (setRegion).
  llvm::DenseMap<const Function *, std::unique_ptr<GpuExecutable>> Regions;
  mutable std::mutex PlanMutex;
  mutable std::map<std::vector<uintptr_t>, std::shared_ptr<GpuPlan>> Plans;
  mutable std::atomic<uint64_t> ImagesWritten{0};
  mutable std::atomic<uint64_t> GraphsCaptured{0};
};

} // namespace dlc

#endif
