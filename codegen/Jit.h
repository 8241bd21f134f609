// The JIT: compiles kernels with LLVM ORC (LLJIT) for the host CPU, using
// its features (AVX-512 where present), and hands out callable functions.
#ifndef DLC_CODEGEN_JIT_H
#define DLC_CODEGEN_JIT_H

#include "codegen/LLVMEmitter.h"

#include <memory>

namespace llvm {
class raw_pwrite_stream;
namespace orc {
class LLJIT;
}
} // namespace llvm

namespace dlc {

using KernelFn = void (*)(const BufferArg *Args, int64_t Chunk, int64_t Chunks);

enum class EmitKind { LLVM, Asm, Object };

/// Emits the kernels, optimized for the host CPU, as LLVM IR, assembly or a
/// relocatable object file (position-independent code).
llvm::Error emitKernels(llvm::ArrayRef<const kir::Kernel *> Kernels,
                        unsigned OptLevel, EmitKind Kind,
                        llvm::raw_pwrite_stream &OS);

class JitModule {
public:
  /// Emits, optimizes (-O0..-O3) and compiles the kernels into one module.
  static llvm::Expected<std::unique_ptr<JitModule>>
  compile(llvm::ArrayRef<const kir::Kernel *> Kernels, unsigned OptLevel);
  ~JitModule();

  /// The compiled kernel called Name.
  llvm::Expected<KernelFn> lookup(llvm::StringRef Name);
  /// The optimized LLVM IR, for --emit=llvm and tests.
  const std::string &llvmIR() const { return IR; }

private:
  JitModule() = default;
  std::unique_ptr<llvm::orc::LLJIT> J;
  std::string IR;
};

} // namespace dlc

#endif
