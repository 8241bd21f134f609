// Ahead-of-time compilation: a relocatable object holding a graph
// function's kernels, its optimized graph IR and C entry points that hand
// both to libdlc_runtime (exec/dlc_runtime.h), and the C header that
// declares them.
#ifndef DLC_CODEGEN_AOT_H
#define DLC_CODEGEN_AOT_H

#include "exec/GpuAbi.h"
#include "exec/Steps.h"
#include "ir/IR.h"
#include "kernel/KernelIR.h"

#include "llvm/IR/Module.h"

namespace llvm {
class raw_pwrite_stream;
class TargetMachine;
}

namespace dlc {

struct AotOptions {
  std::string Prefix;       // C identifier that starts every symbol
  std::string Source;       // the model file, for the header's comment
  unsigned OptLevel = 3;    // -O0..-O3
  unsigned Threads = 0;     // default thread count; 0: every hardware thread
  /// GPU artifacts (dlc compile --target nvptx): PTX for this architecture
  /// ("sm_80"); empty for the CPU.
  std::string GpuArch;
  /// The precisions whose kernels a GPU artifact holds; the first is its
  /// default (DLC_PRECISION_DEFAULT).
  std::vector<GpuPrecision> Precisions = {GpuPrecision::Fp32};
};

/// Whether S is a C identifier (and not one of C's keywords).
bool isCIdentifier(llvm::StringRef S);

/// Lowers and compiles F into an object file with <Prefix>_create,
/// <Prefix>_run and <Prefix>_destroy; kernels and data are internal.
llvm::Error emitAotObject(const Function &F, const AotOptions &Opts,
                          llvm::raw_pwrite_stream &OS);

/// The GPU artifact (Opts.GpuArch set): for each precision, F's GPU kernels
/// as PTX with their host functions (launch geometry, CPU emulation), in a
/// dlc_aot_gpu_image beside F's graph; <Prefix>_create runs it on the GPU
/// (codegen/AotGpu.cpp).
llvm::Error emitGpuAotObject(const Function &F, const AotOptions &Opts,
                             llvm::raw_pwrite_stream &OS);

/// What both kinds of artifact end with (Aot.cpp): F's graph and tensors,
/// the image of CPU kernels Fns (with their parallel flags Par; none in a
/// GPU artifact), the entry points (<Prefix>_create, _create_with, _run,
/// _destroy; GpuImage, when not null, is passed to the runtime and makes
/// _create pick the GPU), and the object file for TM.
llvm::Error finishAotObject(const Function &F, const AotOptions &Opts,
                            llvm::Module &M, llvm::TargetMachine &TM,
                            llvm::ArrayRef<llvm::Constant *> Fns,
                            llvm::ArrayRef<llvm::Constant *> Par,
                            llvm::GlobalVariable *GpuImage,
                            llvm::raw_pwrite_stream &OS);

/// The C header of that object: the API, and F's inputs and outputs with
/// names, dtypes and shapes (symbolic dims as -1, with their names).
std::string aotHeader(const Function &F, const AotOptions &Opts);

} // namespace dlc

#endif
