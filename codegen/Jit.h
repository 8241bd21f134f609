// The JIT: compiles kernels with LLVM ORC (LLJIT) for the host CPU, using
// its features (AVX-512 where present), and hands out callable functions.
#ifndef DLC_CODEGEN_JIT_H
#define DLC_CODEGEN_JIT_H

#include "codegen/LLVMEmitter.h"

#include <functional>
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

/// Emits more functions into a module after its kernels (host wrappers of
/// GPU kernels, for instance); null for none.
using ModuleExtra = std::function<llvm::Error(llvm::Module &)>;

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
                llvm::TargetMachine &TM, llvm::LLVMContext &Ctx,
                const ModuleExtra &Extra = nullptr);

/// Writes M as assembly or an object file (Kind is not LLVM).
llvm::Error writeMachineCode(llvm::Module &M, llvm::TargetMachine &TM,
                             EmitKind Kind, llvm::raw_pwrite_stream &OS);

class JitModule {
public:
  /// Emits, optimizes (-O0..-O3) and compiles the kernels into one module.
  static llvm::Expected<std::unique_ptr<JitModule>>
  compile(llvm::ArrayRef<const kir::Kernel *> Kernels, unsigned OptLevel,
          const ModuleExtra &Extra = nullptr);
  ~JitModule();

  /// The compiled kernel called Name.
  llvm::Expected<KernelFn> lookup(llvm::StringRef Name);
  /// The address of any function of the module called Name.
  llvm::Expected<void *> lookupAddress(llvm::StringRef Name);
  /// The optimized LLVM IR, for --emit=llvm and tests.
  const std::string &llvmIR() const { return IR; }

private:
  JitModule() = default;
  std::unique_ptr<llvm::orc::LLJIT> J;
  std::string IR;
};

} // namespace dlc

#endif
