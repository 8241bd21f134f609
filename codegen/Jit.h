// The JIT: compiles kernels with LLVM ORC (LLJIT) for the host CPU, using
// its features (AVX-512 where present), and hands out callable functions.
#ifndef DLC_CODEGEN_JIT_H
#define DLC_CODEGEN_JIT_H

#include "codegen/CompileStats.h"
#include "codegen/LLVMEmitter.h"

#include "llvm/ADT/StringMap.h"

#include <functional>
#include <memory>

namespace llvm {
class raw_pwrite_stream;
class TargetMachine;
namespace orc {
class LLJIT;
class JITTargetMachineBuilder;
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

/// Whether one of LLVM's own command-line options (code generation
/// internals such as -time-passes) was given to this process: the disk
/// kernel cache is then bypassed, since its keys do not record them.
bool llvmOptionsGiven();

/// How the JIT compiles a set of kernels.
struct JitOptions {
  unsigned OptLevel = 3; // -O0..-O3
  /// Threads compiling distinct kernels at once; 0: every hardware thread.
  unsigned Threads = 0;
  /// Reuse and fill the on-disk kernel cache (see KernelCache.h) in
  /// CacheDir (empty: KernelCache::defaultDir()). A cache that cannot be
  /// opened or written is skipped silently: it never fails a compile.
  bool UseCache = false;
  std::string CacheDir;
  uint64_t CacheMaxBytes = 0; // 0: KernelCache::defaultMaxBytes()
  /// Where the phases' times and the kernel counts go (may be null).
  CompileStats *Stats = nullptr;
  /// More functions emitted after the kernels (the GPU emulation's host
  /// wrappers, which call the kernels by name). With Extra, the kernels and
  /// these functions are compiled as one module, without deduplication,
  /// parallelism or the cache.
  ModuleExtra Extra;
};

/// Compiles kernels for the host and links them in an ORC LLJIT:
/// 1. every kernel gets a key (KernelCache.h); kernels with equal keys are
///    compiled once and share one symbol, dlc_<key>;
/// 2. with the cache on, stored objects are loaded (and checked);
/// 3. the rest are compiled on Opts.Threads threads, largest first, each in
///    its own LLVMContext and module, to one object file each, which go into
///    the cache;
/// 4. the objects are linked and every kernel name resolved at once.
class JitModule {
public:
  /// Emits, optimizes and compiles the kernels.
  static llvm::Expected<std::unique_ptr<JitModule>>
  compile(llvm::ArrayRef<const kir::Kernel *> Kernels, const JitOptions &Opts);
  static llvm::Expected<std::unique_ptr<JitModule>>
  compile(llvm::ArrayRef<const kir::Kernel *> Kernels, unsigned OptLevel,
          const ModuleExtra &Extra = nullptr) {
    JitOptions O;
    O.OptLevel = OptLevel;
    O.Extra = Extra;
    return compile(Kernels, O);
  }
  ~JitModule();

  /// The compiled kernel called Name.
  llvm::Expected<KernelFn> lookup(llvm::StringRef Name);
  /// The address of any function of the module called Name (with Extra:
  /// its functions; without: the kernels, by their kernel-IR names).
  llvm::Expected<void *> lookupAddress(llvm::StringRef Name);

private:
  JitModule() = default;
  static llvm::Expected<std::unique_ptr<JitModule>>
  compileWithExtra(llvm::ArrayRef<const kir::Kernel *> Kernels,
                   const JitOptions &Opts,
                   llvm::orc::JITTargetMachineBuilder JTMB,
                   llvm::TargetMachine &TM);
  std::unique_ptr<llvm::orc::LLJIT> J;
  llvm::StringMap<KernelFn> Fns;
};

} // namespace dlc

#endif
