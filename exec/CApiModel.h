// What the C API (CApi.cpp, CApiGpu.cpp) shares: the model behind a
// dlc_model handle and the helpers that turn errors into statuses.
#ifndef DLC_EXEC_CAPIMODEL_H
#define DLC_EXEC_CAPIMODEL_H

#include "exec/Executable.h"
#include "exec/GpuExecutable.h"
#include "exec/dlc_runtime.h"

struct dlc_model {
  std::unique_ptr<dlc::Module> M;
  std::unique_ptr<dlc::Executable> X;    // on the CPU
  std::unique_ptr<dlc::GpuExecutable> G; // or on a GPU (or its emulation)
};

namespace dlc {
namespace capi {

/// Writes Msg into Err (truncated, NUL-terminated; a leading "error: "
/// dropped) and returns Status.
int fail(int Status, llvm::StringRef Msg, char *Err, size_t ErrLen);
int fail(int Status, llvm::Error E, char *Err, size_t ErrLen);

/// Parses Img's graph (with its tensors) into Model.M and plans its steps
/// (for the GPU executor when Gpu: exec/Steps.h).
int loadGraph(const dlc_aot_image *Img, dlc_model &Model,
              std::vector<LoweredStep> &Steps, char *Err, size_t ErrLen, bool Gpu = false);

/// Loads Img with the GPU kernels of Gpu on Opts.device (CUDA or its
/// emulation) at Opts.precision into Model.G.
int createGpuModel(const dlc_aot_image *Img, const dlc_aot_gpu_image *Gpu,
                   const dlc_model_options &Opts, dlc_model &Model, char *Err,
                   size_t ErrLen);

} // namespace capi
} // namespace dlc

#endif
