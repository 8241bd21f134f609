// Kernel IR to LLVM IR. Every kernel becomes a function
//   void @name(const dlc_buffer *args, int64_t chunk, int64_t chunks)
// where dlc_buffer is { void *data; const int64_t *sizes; } per kernel
// argument, in order. Buffers are dense and row-major. A kernel with a
// parallel loop runs chunk `chunk` of `chunks` of its iterations; call it
// once per chunk (0, 1) for a serial run.
#ifndef DLC_CODEGEN_LLVMEMITTER_H
#define DLC_CODEGEN_LLVMEMITTER_H

#include "exec/KernelAbi.h"
#include "kernel/KernelIR.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

namespace llvm {
class TargetMachine;
}

namespace dlc {

/// Emits K into M as a function named K.Name. Errors name what the emitter
/// cannot handle yet (an elementwise op without a lowering, for instance).
llvm::Error emitKernel(const kir::Kernel &K, llvm::Module &M);

/// Runs LLVM's optimization pipeline (O0..O3) on M. With a target machine
/// the vectorizer and cost models know the target's vector registers.
void optimizeModule(llvm::Module &M, unsigned OptLevel,
                    llvm::TargetMachine *TM = nullptr);

/// Whether the emitter can lower the elementwise op K on element type E.
bool emitterSupports(OpKind K, DType E);

} // namespace dlc

#endif
