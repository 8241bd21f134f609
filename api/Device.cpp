// The device switch: device names, GPU memory per device kind, and
// compilation for a GPU through the registered code generator.
#include "api/Device.h"

#include "codegen/GpuEmulation.h"
#include "interp/Interpreter.h"
#include "runtime/CudaDriver.h"

#include <atomic>

using namespace dlc;

/// The GPU code generator: dlc's NVPTX one (codegen/GpuEmulation.h) unless
/// replaced; with none set, a GPU device is refused with a message naming
/// what is missing.
static std::atomic<GpuCodegenFn> Codegen{&nvptxCodegen};

GpuCodegenFn dlc::setGpuCodegen(GpuCodegenFn Fn) { return Codegen.exchange(Fn); }

llvm::Expected<DeviceKind> dlc::parseDevice(llvm::StringRef Name) {
  if (Name == "cpu")
    return DeviceKind::Cpu;
  if (Name == "cuda")
    return DeviceKind::Cuda;
  if (Name == "cuda-emu")
    return DeviceKind::CudaEmu;
  return makeError("device must be 'cpu', 'cuda' or 'cuda-emu', got '" + Name +
                   "'");
}

llvm::Expected<GpuPrecision> dlc::parsePrecision(llvm::StringRef Name) {
  if (Name == "fp32")
    return GpuPrecision::Fp32;
  if (Name == "tf32")
    return GpuPrecision::Tf32;
  if (Name == "bf16")
    return GpuPrecision::Bf16;
  return makeError("precision must be 'fp32', 'tf32' or 'bf16', got '" + Name +
                   "'");
}

llvm::StringRef dlc::precisionName(GpuPrecision P) {
  return gpuPrecisionName(P);
}

llvm::Error dlc::checkPrecision(DeviceKind D, GpuPrecision P) {
  if (P != GpuPrecision::Fp32 && D == DeviceKind::Cpu)
    return makeError("precision '" + precisionName(P) + "' is for GPU tensor "
                     "cores: use device 'cuda' or 'cuda-emu', or precision "
                     "'fp32' on the CPU");
  return llvm::Error::success();
}

llvm::StringRef dlc::deviceName(DeviceKind D) {
  switch (D) {
  case DeviceKind::Cpu:
    return "cpu";
  case DeviceKind::Cuda:
    return "cuda";
  case DeviceKind::CudaEmu:
    return "cuda-emu";
  }
  llvm_unreachable("bad device kind");
}

llvm::Expected<std::shared_ptr<GpuMemoryPool>> dlc::gpuMemory(DeviceKind D) {
  assert(D != DeviceKind::Cpu && "the CPU has no GPU memory");
  if (D == DeviceKind::CudaEmu)
    return GpuMemoryPool::create(GpuDevice::emulator());
  auto Dev = GpuDevice::cuda();
  if (!Dev) // as every user error reads: "error: ..."
    return makeError(llvm::toString(Dev.takeError()));
  return GpuMemoryPool::create(std::move(*Dev));
}

llvm::Expected<std::unique_ptr<GpuExecutable>>
dlc::compileForGpu(const Function &F, DeviceKind D, unsigned OptLevel,
                   std::shared_ptr<GpuMemoryPool> Pool, GpuPrecision P) {
  if (auto E = checkPrecision(D, P))
    return std::move(E);
  GpuCodegenFn Gen = Codegen.load();
  if (!Gen)
    return makeError("device '" + deviceName(D) +
                     "' is not supported yet: this dlc has no GPU code "
                     "generator (kernel IR to NVPTX, issue 11); use --device "
                     "cpu");
  auto Steps = planSteps(F, /*Gpu=*/true);
  if (!Steps)
    return Steps.takeError();
  // PTX for the device's architecture (dlc's newest, sm_90, for newer
  // GPUs: the driver compiles PTX forward); none for the emulation.
  std::string Arch;
  if (D == DeviceKind::Cuda) {
    auto Drv = rt::CudaDriver::get();
    if (!Drv)
      return makeError(llvm::toString(Drv.takeError()));
    int Cc = Drv->computeCapability();
    for (int Known : {60, 70, 75, 80, 86, 89, 90})
      if (Known <= Cc)
        Arch = "sm_" + std::to_string(Known);
    if (Arch.empty())
      return makeError("the GPU " + Drv->describe() + " is older than sm_60, "
                       "the oldest dlc compiles for: use --device cpu");
    if (P != GpuPrecision::Fp32 && Cc < 80)
      return makeError("precision '" + precisionName(P) + "' needs tensor "
                       "cores with " + precisionName(P) + " (sm_80 "
                       "or newer); the GPU " + Drv->describe() +
                       " has none: use precision 'fp32'");
  }
  auto Prog = Gen(F, *Steps, OptLevel, Arch, P);
  if (!Prog)
    return Prog.takeError();
  // Host steps (strings, unique, non_max_suppression) run the reference
  // interpreter's kernels on the host, between launches.
  auto X = GpuExecutable::create(F, std::move(*Steps), std::move(*Prog),
                                 std::move(Pool), &evaluateOp);
  if (!X)
    return X.takeError();
  // Control flow: each region compiled once for the device, as a function
  // of its own (its kernels, fusion groups and nested control flow), and
  // launched per branch taken or iteration (exec/GpuControlFlow.cpp).
  for (auto &Op : F.Body)
    for (auto &R : Op->Regions) {
      auto RX = compileForGpu(*R, D, OptLevel, (*X)->pool(), P);
      if (!RX)
        return RX.takeError();
      (*X)->setRegion(*R, std::move(*RX));
    }
  return X;
}
