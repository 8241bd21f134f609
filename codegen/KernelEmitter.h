// The kernel IR to LLVM IR emitter, shared by the CPU (codegen/LLVMEmitter)
// and NVPTX (codegen/GpuEmitter) code generators: internal to codegen/.
#ifndef DLC_CODEGEN_KERNELEMITTER_H
#define DLC_CODEGEN_KERNELEMITTER_H

#include "codegen/ScalarOps.h"
#include "ir/Location.h"
#include "kernel/KernelIR.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/MDBuilder.h"

namespace dlc {

class KernelEmitter {
public:
  KernelEmitter(const kir::Kernel &K, llvm::Module &M)
      : K(K), M(M), Ctx(M.getContext()), B(Ctx) {}
  virtual ~KernelEmitter() = default;
  llvm::Error run();

protected:
  /// Creates Fn (the kernel's function) and returns the pointer to its
  /// BufferArg array. The CPU's: void(args, chunk, chunks).
  virtual llvm::Value *makeFunction();
  /// The GPU ops (launch, threads, indices, barrier, shared); the CPU
  /// emitter rejects them.
  virtual llvm::Error gpuOp(const kir::KOp &Op, llvm::Value *&R);
  /// An f32 value rounded to tf32 (round_tf32), as an f32.
  virtual llvm::Value *roundTf32(llvm::Value *X);
  /// An f32 value rounded to bf16 (round_bf16), as an f32.
  llvm::Value *roundBf16(llvm::Value *X);
  /// X (f32, scalar or vector) rounded to bf16 storage, without libcalls.
  virtual llvm::Value *truncBf16(llvm::Value *X);
  /// A buffer's data pointer as loaded from its BufferArg (targets may move
  /// it to another address space).
  virtual llvm::Value *dataPointer(llvm::Value *P) { return P; }
  /// The call of an elementwise op (targets may replace the math).
  virtual llvm::Value *scalarOp(const ScalarOpInput &In) {
    return emitScalarOp(B, M, In);
  }

  llvm::Type *computeType(kir::SType T) {
    llvm::Type *S = T.IsIndex ? B.getInt64Ty() : scalarComputeType(B, T.Elem);
    return T.isVector() ? llvm::FixedVectorType::get(S, T.Lanes) : S;
  }
  llvm::Type *storageType(DType E) {
    switch (E) {
    case DType::F16:
      return B.getHalfTy();
    case DType::BF16:
      return B.getBFloatTy();
    case DType::Bool:
      return B.getInt8Ty();
    default:
      return computeType(kir::SType::of(E));
    }
  }
  llvm::Error fail(const llvm::Twine &Msg) {
    return makeError("kernel @" + K.Name + ": " + Msg);
  }
  llvm::Value *get(const kir::KValue *V) { return Values.lookup(V); }
  llvm::Value *address(const kir::KOp &Op, size_t BufPos);
  llvm::Error block(const std::vector<std::unique_ptr<kir::KOp>> &Ops);
  llvm::Error op(const kir::KOp &Op);
  llvm::Error loop(const kir::KOp &Op);
  llvm::Expected<llvm::Value *> scalar(const kir::KOp &Op);
  const kir::Kernel &K;
  llvm::Module &M;
  llvm::LLVMContext &Ctx;
  llvm::IRBuilder<> B;
  llvm::Function *Fn = nullptr;
  llvm::BasicBlock *Entry = nullptr;
  llvm::DenseMap<const kir::KValue *, llvm::Value *> Values;
  /// Marks an access to Buf: it is in Buf's alias scope and does not alias
  /// the other buffers (kernel buffers never overlap; see the executor).
  void markAccess(llvm::Instruction *I, const kir::KValue *Buf) {
    const BufInfo &Info = Bufs.find(Buf)->second;
    if (!Info.Scope) // scratch: an alloca, which alias analysis sees through
      return;
    I->setMetadata(llvm::LLVMContext::MD_alias_scope, Info.Scope);
    I->setMetadata(llvm::LLVMContext::MD_noalias, Info.NoAlias);
    if (AccessGroup)
      I->setMetadata(llvm::LLVMContext::MD_access_group, AccessGroup);
  }
  /// The mask of a partial vector: lanes 0..Valid-1 of Lanes.
  llvm::Constant *laneMask(unsigned Lanes, unsigned Valid) {
    llvm::SmallVector<llvm::Constant *, 16> Bits;
    for (unsigned I = 0; I < Lanes; ++I)
      Bits.push_back(B.getInt1(I < Valid));
    return llvm::ConstantVector::get(Bits);
  }
  /// The access group of the innermost loop being emitted when its
  /// iterations are independent (see LLVMEmitter.cpp's independentIterations).
  llvm::MDNode *AccessGroup = nullptr;

  struct BufInfo {
    llvm::MDNode *Scope = nullptr, *NoAlias = nullptr;
    llvm::Value *Data;
    llvm::SmallVector<llvm::Value *, 4> Sizes, Strides;
  };
  llvm::DenseMap<const kir::KValue *, BufInfo> Bufs;
};


} // namespace dlc

#endif
