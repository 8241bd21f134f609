// The JIT: compiles kernels with LLVM ORC (LLJIT) for the host CPU, using
// its features (AVX-512 where present), and hands out callable functions.
#ifndef DLC_CODEGEN_JIT_H
#define DLC_CODEGEN_JIT_H

#include "codegen/CompileStats.h"
#include "codegen/LLVMEmitter.h"

#include <memory>

namespace llvm {
class raw_pwrite_stream;
class TargetMachine;
namespace orc {
class LLJIT;
}
} // namespace llvm

namespace dlc {

enum class EmitKind { LLVM, Asm, Object };

/// Emits the kernels, optimized for the host CPU, as LLVM IR, assembly or a
/// relocatable object file (position-independent code).
llvm::Error emitKernels(llvm::ArrayRef<const kir::Kernel *> Kernels,
                        unsigned OptLevel, EmitKind Kind,
                        llvm::raw_pwrite_stream &OS);

/// The host target machine at the given optimization level (PIC).
llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
hostTargetMachine(unsigned OptLevel);

/// Emits the kernels into one module of Ctx for TM and optimizes it.
llvm::Expected<std::unique_ptr<llvm::Module>>
buildHostModule(llvm::ArrayRef<const kir::Kernel *> Kernels, unsigned OptLevel,
                llvm::TargetMachine &TM, llvm::LLVMContext &Ctx);

/// Writes M as assembly or an object file (Kind is not LLVM).
llvm::Error writeMachineCode(llvm::Module &M, llvm::TargetMachine &TM,
                             EmitKind Kind, llvm::raw_pwrite_stream &OS);

/// How the JIT compiles a set of kernels.
struct JitOptions {
  unsigned OptLevel = 3; // -O0..-O3
  /// Where the phases' times and the kernel counts go (may be null).
  CompileStats *Stats = nullptr;
};

class JitModule {
public:
  /// Emits, optimizes and compiles the kernels.
  static llvm::Expected<std::unique_ptr<JitModule>>
  compile(llvm::ArrayRef<const kir::Kernel *> Kernels, const JitOptions &Opts);
  static llvm::Expected<std::unique_ptr<JitModule>>
  compile(llvm::ArrayRef<const kir::Kernel *> Kernels, unsigned OptLevel) {
    JitOptions O;
    O.OptLevel = OptLevel;
    return compile(Kernels, O);
  }
  ~JitModule();

  /// The compiled kernel called Name.
  llvm::Expected<KernelFn> lookup(llvm::StringRef Name);

private:
  JitModule() = default;
  std::unique_ptr<llvm::orc::LLJIT> J;
};

} // namespace dlc

#endif
