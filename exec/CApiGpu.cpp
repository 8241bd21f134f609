// The C API on a GPU: an artifact of `dlc compile --target nvptx` (its
// dlc_aot_gpu_image) loaded into the GPU executor, the same one the JIT's
// GPU devices use (exec/GpuExecutable): the driver is loaded with dlopen,
// the PTX of the chosen precision compiled by it, parameters copied to the
// device once.
//
// 1. CUDA: the driver first (so a machine without one hears that before
//    anything else), then the image's GPU half.
// 2. The program of the asked precision (the first one for the default);
//    a precision the image lacks is the caller's error.
// 3. CUDA: the GPU must be at least the PTX's target (the driver compiles
//    PTX forward, never back).
// 4. The kernels' table becomes a GpuProgram; GpuExecutable::create checks
//    it against the graph's steps and loads it.
#include "exec/CApiModel.h"

#include "interp/Interpreter.h"
#include "runtime/CudaDriver.h"

using namespace dlc;
using capi::fail;

static const char *precisionName(int32_t P) {
  return P == DLC_PRECISION_TF32   ? "tf32"
         : P == DLC_PRECISION_BF16 ? "bf16"
                                   : "fp32";
}

int capi::createGpuModel(const dlc_aot_image *Img,
                         const dlc_aot_gpu_image *Gpu,
                         const dlc_model_options &Opts, dlc_model &Model,
                         char *Err, size_t ErrLen) {
  bool Cuda = Opts.device == DLC_DEVICE_CUDA;
  rt::CudaDriver *Drv = nullptr;
  if (Cuda) {
    auto D = rt::CudaDriver::get();
    if (!D)
      return fail(DLC_ERR_DEVICE, D.takeError(), Err, ErrLen);
    Drv = &*D;
  }
  if (!Gpu || !Gpu->n_programs)
    return fail(DLC_ERR_DEVICE,
                "this compiled model has no GPU kernels: compile it with "
                "dlc compile --target nvptx, or use DLC_DEVICE_CPU",
                Err, ErrLen);
  if (Gpu->abi_version != DLC_AOT_GPU_ABI_VERSION || !Gpu->programs)
    return fail(DLC_ERR_BAD_IMAGE,
                "the compiled model's GPU kernels were made for another "
                "runtime version (GPU ABI " +
                    std::to_string(Gpu->abi_version) + ", this runtime has " +
                    std::to_string(DLC_AOT_GPU_ABI_VERSION) +
                    "): compile it again with the dlc of this runtime",
                Err, ErrLen);
  const dlc_aot_gpu_program *P = nullptr;
  std::string Has;
  for (uint32_t I = 0; I < Gpu->n_programs; ++I) {
    const dlc_aot_gpu_program &Q = Gpu->programs[I];
    Has += std::string(I ? ", " : "") + precisionName(Q.precision);
    if (!P && (Opts.precision == DLC_PRECISION_DEFAULT ||
               Q.precision == Opts.precision))
      P = &Q;
  }
  if (!P)
    return fail(DLC_ERR_INVALID_ARGUMENT,
                std::string("this compiled model has no ") +
                    precisionName(Opts.precision) + " kernels (it has " + Has +
                    "): compile it with dlc compile --target nvptx "
                    "--precision " + precisionName(Opts.precision),
                Err, ErrLen);
  if (!P->ptx || (P->n_kernels && !P->kernels))
    return fail(DLC_ERR_BAD_IMAGE, "the compiled model's GPU program is empty",
                Err, ErrLen);
  if (Cuda && Drv->computeCapability() < int(P->sm))
    return fail(DLC_ERR_DEVICE,
                "the GPU " + Drv->describe() + " is older than sm_" +
                    std::to_string(P->sm) +
                    ", which this model's PTX was compiled for: compile it "
                    "with dlc compile --target nvptx --gpu-arch for this GPU" +
                    (P->precision != DLC_PRECISION_FP32
                         ? std::string(" (") + precisionName(P->precision) +
                               " needs sm_80 or newer: --precision fp32)"
                         : std::string()),
                Err, ErrLen);
  std::vector<LoweredStep> Steps;
  if (int S = loadGraph(Img, Model, Steps, Err, ErrLen, /*Gpu=*/true))
    return S;
  GpuProgram Prog;
  Prog.Ptx.assign(P->ptx, P->ptx_len);
  for (uint64_t I = 0; I < P->n_kernels; ++I) {
    const dlc_aot_gpu_kernel &K = P->kernels[I];
    if (!K.name || !K.launch)
      return fail(DLC_ERR_BAD_IMAGE,
                  "GPU kernel " + std::to_string(I) +
                      " of the compiled model has no name or no launch "
                      "function",
                  Err, ErrLen);
    GpuKernelEntry E;
    E.Name = K.name;
    E.NumArgs = K.n_args;
    E.Launch = reinterpret_cast<GpuLaunchFn>(K.launch);
    E.Emulate = reinterpret_cast<GpuEmulateFn>(K.emulate);
    Prog.Kernels.push_back(std::move(E));
  }
  std::shared_ptr<GpuDevice> Dev;
  if (Cuda) {
    auto D = GpuDevice::cuda();
    if (!D)
      return fail(DLC_ERR_DEVICE, D.takeError(), Err, ErrLen);
    Dev = std::move(*D);
  } else {
    Dev = GpuDevice::emulator();
  }
  auto X = GpuExecutable::create(*Model.M->Functions.front(), std::move(Steps),
                                 std::move(Prog),
                                 GpuMemoryPool::create(std::move(Dev)),
                                 &evaluateOp);
  if (!X)
    return fail(DLC_ERR_DEVICE, X.takeError(), Err, ErrLen);
  Model.G = std::move(*X);
  return DLC_OK;
}
