// The NVPTX code generator: GPU-mapped kernel IR to LLVM IR for nvptx64 and
// PTX text.
//
// 1. The shared kernel emitter (codegen/KernelEmitter.h) does loops, loads,
//    stores and scalar ops; this one supplies the GPU parts: the kernel is a
//    `ptx_kernel` function (also annotated in nvvm.annotations) with one
//    `ptr addrspace(1)` parameter, the BufferArg block; data pointers are
//    global (addrspace 1); `threads` regions are their body (every thread
//    runs it); thread_id / block_id / grid_dim read llvm.nvvm.read.ptx.sreg.*
//    and block_dim is the launch's constant; `barrier` is
//    llvm.nvvm.barrier0 (bar.sync 0); `shared` is an internal addrspace(3)
//    global per buffer; shuffles are llvm.nvvm.shfl.sync.{down,bfly}.{f32,
//    i32} over the warp's lanes (values of other widths are widened to 32
//    bits or split in two); mma_m16n8k8_tf32 is llvm.nvvm.mma.m16n8k8.row.
//    col.tf32 (mma.sync) and round_tf32 llvm.nvvm.f2tf32.rna.
// 2. Math calls become dlc's own functions (GpuMath.cpp), then LLVM's O3
//    pipeline runs with the NVPTX target machine, and its AsmPrinter writes
//    the PTX.
#include "codegen/GpuEmitter.h"

#include "codegen/KernelEmitter.h"
#include "codegen/LLVMEmitter.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/IR/IntrinsicsNVPTX.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"

#include <mutex>

extern "C" void LLVMInitializeNVPTXTargetInfo();
extern "C" void LLVMInitializeNVPTXTarget();
extern "C" void LLVMInitializeNVPTXTargetMC();
extern "C" void LLVMInitializeNVPTXAsmPrinter();

using namespace dlc;
using namespace dlc::kir;

namespace {
class GpuKernelEmitter : public KernelEmitter {
public:
  using KernelEmitter::KernelEmitter;

protected:
  llvm::Value *makeFunction() override {
    auto *FT = llvm::FunctionType::get(B.getVoidTy(), {B.getPtrTy(1)}, false);
    Fn = llvm::Function::Create(FT, llvm::Function::ExternalLinkage, K.Name, M);
    Fn->setCallingConv(llvm::CallingConv::PTX_Kernel);
    Fn->addFnAttr(llvm::Attribute::NoUnwind);
    Fn->getArg(0)->setName("params");
    llvm::NamedMDNode *Ann = M.getOrInsertNamedMetadata("nvvm.annotations");
    Ann->addOperand(llvm::MDNode::get(
        Ctx, {llvm::ValueAsMetadata::get(Fn), llvm::MDString::get(Ctx, "kernel"),
              llvm::ConstantAsMetadata::get(B.getInt32(1))}));
    if (const KOp *L = K.launch()) { // the block size, for ptxas
      int64_t N = L->Block[0] * L->Block[1] * L->Block[2];
      Ann->addOperand(llvm::MDNode::get(
          Ctx, {llvm::ValueAsMetadata::get(Fn), llvm::MDString::get(Ctx, "maxntidx"),
                llvm::ConstantAsMetadata::get(B.getInt32(uint32_t(N)))}));
    }
    Entry = llvm::BasicBlock::Create(Ctx, "entry", Fn);
    B.SetInsertPoint(Entry);
    return Fn->getArg(0);
  }

  llvm::Value *dataPointer(llvm::Value *P) override {
    return B.CreateAddrSpaceCast(P, B.getPtrTy(1));
  }

  llvm::Error gpuOp(const KOp &Op, llvm::Value *&R) override {
    switch (Op.kind()) {
    case KOpKind::Launch:
      return llvm::Error::success();
    case KOpKind::Threads:
      return block(Op.Body);
    case KOpKind::Barrier:
      B.CreateIntrinsic(llvm::Intrinsic::nvvm_barrier0, {}, {});
      return llvm::Error::success();
    case KOpKind::GpuIndex: {
      static const llvm::Intrinsic::ID Tid[] = {
          llvm::Intrinsic::nvvm_read_ptx_sreg_tid_x,
          llvm::Intrinsic::nvvm_read_ptx_sreg_tid_y,
          llvm::Intrinsic::nvvm_read_ptx_sreg_tid_z};
      static const llvm::Intrinsic::ID Ctaid[] = {
          llvm::Intrinsic::nvvm_read_ptx_sreg_ctaid_x,
          llvm::Intrinsic::nvvm_read_ptx_sreg_ctaid_y,
          llvm::Intrinsic::nvvm_read_ptx_sreg_ctaid_z};
      static const llvm::Intrinsic::ID Nctaid[] = {
          llvm::Intrinsic::nvvm_read_ptx_sreg_nctaid_x,
          llvm::Intrinsic::nvvm_read_ptx_sreg_nctaid_y,
          llvm::Intrinsic::nvvm_read_ptx_sreg_nctaid_z};
      unsigned A = unsigned(Op.IntValue);
      if (Op.GpuId == GpuIdKind::BlockDim) {
        R = B.getInt64(K.launch()->Block[A]);
        return llvm::Error::success();
      }
      llvm::Intrinsic::ID ID = Op.GpuId == GpuIdKind::ThreadId  ? Tid[A]
                               : Op.GpuId == GpuIdKind::BlockId ? Ctaid[A]
                                                                : Nctaid[A];
      R = B.CreateZExt(B.CreateIntrinsic(ID, {}, {}), B.getInt64Ty());
      return llvm::Error::success();
    }
    case KOpKind::Shared: {
      const TensorType &T = Op.Result->BufType;
      auto *AT = llvm::ArrayType::get(storageType(T.elem()),
                                      uint64_t(*T.numElements()));
      auto *G = new llvm::GlobalVariable(
          M, AT, false, llvm::GlobalValue::InternalLinkage,
          llvm::UndefValue::get(AT), K.Name + ".shared." + Op.Result->Name,
          nullptr, llvm::GlobalValue::NotThreadLocal, 3);
      G->setAlignment(llvm::Align(16));
      BufInfo Info;
      Info.Data = G;
      for (int64_t S : T.staticSizes())
        Info.Sizes.push_back(B.getInt64(S));
      Info.Strides.resize(T.rank());
      int64_t Stride = 1;
      for (int D = int(T.rank()) - 1; D >= 0; --D) {
        Info.Strides[D] = B.getInt64(Stride);
        Stride *= T.dim(D).size();
      }
      Bufs[Op.Result.get()] = std::move(Info);
      R = G;
      return llvm::Error::success();
    }
    case KOpKind::Shuffle:
      R = shuffle(Op);
      return llvm::Error::success();
    case KOpKind::Mma: {
      if (!Tf32Ok)
        return fail(std::string(Op.IntValue ? "mma_m16n8k16_bf16"
                                            : "mma_m16n8k8_tf32") +
                    " needs sm_80 or newer");
      llvm::SmallVector<llvm::Value *, 10> Args;
      if (Op.IntValue) {
        // bf16: a's and b's values (bf16 already, as f32) packed two per
        // 32-bit register, the lower k index in the low half.
        for (unsigned I = 0; I < 2; ++I) {
          llvm::Value *V = get(Op.Operands[I]);
          unsigned N = unsigned(Op.Operands[I]->Type.Lanes);
          for (unsigned L = 0; L < N; L += 2) {
            auto bits = [&](unsigned E) {
              return B.CreateLShr(
                  B.CreateBitCast(B.CreateExtractElement(V, uint64_t(E)),
                                  B.getInt32Ty()),
                  16);
            };
            Args.push_back(B.CreateOr(bits(L), B.CreateShl(bits(L + 1), 16)));
          }
        }
        llvm::Value *Cv = get(Op.Operands[2]);
        for (unsigned L = 0; L < 4; ++L)
          Args.push_back(B.CreateExtractElement(Cv, uint64_t(L)));
        llvm::Value *D = B.CreateIntrinsic(
            llvm::Intrinsic::nvvm_mma_m16n8k16_row_col_bf16, {}, Args);
        R = llvm::PoisonValue::get(computeType(Op.Result->Type));
        for (unsigned L = 0; L < 4; ++L)
          R = B.CreateInsertElement(R, B.CreateExtractValue(D, L), uint64_t(L));
        return llvm::Error::success();
      }
      for (unsigned I = 0; I < 3; ++I) {
        llvm::Value *V = get(Op.Operands[I]);
        unsigned N = unsigned(Op.Operands[I]->Type.Lanes);
        for (unsigned L = 0; L < N; ++L) {
          llvm::Value *X = B.CreateExtractElement(V, uint64_t(L));
          Args.push_back(I < 2 ? B.CreateBitCast(X, B.getInt32Ty()) : X);
        }
      }
      llvm::Value *D = B.CreateIntrinsic(
          llvm::Intrinsic::nvvm_mma_m16n8k8_row_col_tf32, {}, Args);
      R = llvm::PoisonValue::get(computeType(Op.Result->Type));
      for (unsigned L = 0; L < 4; ++L)
        R = B.CreateInsertElement(R, B.CreateExtractValue(D, L), uint64_t(L));
      return llvm::Error::success();
    }
    default:
      return fail("not a GPU op");
    }
  }

  llvm::Value *roundTf32(llvm::Value *X) override {
    if (!Tf32Ok || X->getType()->isVectorTy())
      return KernelEmitter::roundTf32(X);
    return B.CreateBitCast(
        B.CreateIntrinsic(llvm::Intrinsic::nvvm_f2tf32_rna, {}, {X}),
        B.getFloatTy());
  }

  /// PTX converts to bf16 itself (cvt.rn.bf16.f32, sm_80 and later).
  llvm::Value *truncBf16(llvm::Value *X) override {
    llvm::Type *T = B.getBFloatTy();
    if (auto *VT = llvm::dyn_cast<llvm::VectorType>(X->getType()))
      T = llvm::VectorType::get(T, VT->getElementCount());
    return B.CreateFPTrunc(X, T);
  }

  /// A shuffle over the warp (the whole block when it is smaller): mask of
  /// its lanes, clamp at its last lane (segment mask 0).
  llvm::Value *shuffle(const KOp &Op) {
    const KOp *L = K.launch();
    int64_t W = std::min<int64_t>(32, L->Block[0] * L->Block[1] * L->Block[2]);
    llvm::Value *Mask = B.getInt32(W == 32 ? 0xffffffffu : (1u << W) - 1);
    llvm::Value *Off = B.getInt32(uint32_t(Op.IntValue));
    llvm::Value *Clamp = B.getInt32(uint32_t(W - 1));
    bool Down = Op.Shfl == ShflMode::Down;
    auto shfl32 = [&](llvm::Value *V) {
      bool F = V->getType()->isFloatTy();
      llvm::Intrinsic::ID ID =
          Down ? (F ? llvm::Intrinsic::nvvm_shfl_sync_down_f32
                    : llvm::Intrinsic::nvvm_shfl_sync_down_i32)
               : (F ? llvm::Intrinsic::nvvm_shfl_sync_bfly_f32
                    : llvm::Intrinsic::nvvm_shfl_sync_bfly_i32);
      return B.CreateIntrinsic(ID, {}, {Mask, V, Off, Clamp});
    };
    llvm::Value *V = get(Op.Operands[0]);
    llvm::Type *T = V->getType();
    if (T->isFloatTy() || T->isIntegerTy(32))
      return shfl32(V);
    unsigned Bits = unsigned(M.getDataLayout().getTypeSizeInBits(T));
    llvm::Value *I = B.CreateBitCast(V, B.getIntNTy(Bits));
    if (Bits <= 32)
      return B.CreateBitCast(
          B.CreateTrunc(shfl32(B.CreateZExt(I, B.getInt32Ty())),
                        B.getIntNTy(Bits)),
          T);
    // 64 bits: the two halves.
    llvm::Value *Lo = shfl32(B.CreateTrunc(I, B.getInt32Ty()));
    llvm::Value *Hi = shfl32(B.CreateTrunc(B.CreateLShr(I, 32), B.getInt32Ty()));
    llvm::Value *W64 = B.CreateOr(B.CreateZExt(Lo, B.getInt64Ty()),
                                  B.CreateShl(B.CreateZExt(Hi, B.getInt64Ty()), 32));
    return B.CreateBitCast(W64, T);
  }

public:
  /// Whether the target has tf32 (sm_80 and newer).
  bool Tf32Ok = false;
};

std::once_flag InitOnce;
} // namespace

llvm::Error dlc::checkGpuArch(llvm::StringRef Arch) {
  static const char *const Known[] = {"sm_60", "sm_61", "sm_70", "sm_72",
                                      "sm_75", "sm_80", "sm_86", "sm_87",
                                      "sm_89", "sm_90"};
  for (const char *K : Known)
    if (Arch == K)
      return llvm::Error::success();
  std::string List;
  for (const char *K : Known)
    List += std::string(List.empty() ? "" : ", ") + K;
  return makeError("unknown --gpu-arch '" + Arch + "' (one of " + List + ")");
}

static llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
nvptxMachine(const GpuTarget &T) {
  if (auto E = checkGpuArch(T.Arch))
    return std::move(E);
  std::call_once(InitOnce, [] {
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
  });
  std::string Err;
  const char *Triple = "nvptx64-nvidia-cuda";
  const llvm::Target *Tgt = llvm::TargetRegistry::lookupTarget(Triple, Err);
  if (!Tgt)
    return makeError("the NVPTX target is not available: " + Err);
  llvm::TargetOptions Opts;
  std::unique_ptr<llvm::TargetMachine> TM(Tgt->createTargetMachine(
      Triple, T.Arch, "+ptx78", Opts, std::nullopt, std::nullopt,
      T.OptLevel == 0 ? llvm::CodeGenOptLevel::None
                      : llvm::CodeGenOptLevel::Aggressive));
  if (!TM)
    return makeError("cannot create the NVPTX target machine for " + T.Arch);
  return std::move(TM);
}

static llvm::Expected<std::unique_ptr<llvm::Module>>
buildWith(llvm::ArrayRef<const Kernel *> Kernels, const GpuTarget &T,
          llvm::TargetMachine &TM, llvm::LLVMContext &Ctx) {
  auto M = std::make_unique<llvm::Module>("dlc_gpu", Ctx);
  M->setTargetTriple(TM.getTargetTriple().str());
  M->setDataLayout(TM.createDataLayout());
  for (const Kernel *K : Kernels) {
    if (!K->isGpu())
      return makeError("kernel @" + K->Name + " is not GPU-mapped");
    if (auto E = verifyKernel(*K))
      return std::move(E);
    GpuKernelEmitter KE(*K, *M);
    KE.Tf32Ok = llvm::StringRef(T.Arch).substr(3) >= "80";
    if (auto E = KE.run())
      return std::move(E);
  }
  if (auto E = replaceGpuMath(*M))
    return std::move(E);
  for (llvm::Function &F : *M)
    if (!F.isDeclaration()) {
      F.addFnAttr("target-cpu", T.Arch);
      F.addFnAttr("target-features", "+ptx78");
    }
  optimizeModule(*M, T.OptLevel, &TM);
  return std::move(M);
}

llvm::Expected<std::unique_ptr<llvm::Module>>
dlc::buildGpuModule(llvm::ArrayRef<const Kernel *> Kernels, const GpuTarget &T,
                    llvm::LLVMContext &Ctx) {
  auto TM = nvptxMachine(T);
  if (!TM)
    return TM.takeError();
  return buildWith(Kernels, T, **TM, Ctx);
}

llvm::Expected<std::string> dlc::emitPtx(llvm::ArrayRef<const Kernel *> Kernels,
                                         const GpuTarget &T) {
  auto TM = nvptxMachine(T);
  if (!TM)
    return TM.takeError();
  llvm::LLVMContext Ctx;
  auto M = buildWith(Kernels, T, **TM, Ctx);
  if (!M)
    return M.takeError();
  llvm::SmallString<0> Ptx;
  llvm::raw_svector_ostream OS(Ptx);
  llvm::legacy::PassManager PM;
  if ((*TM)->addPassesToEmitFile(PM, OS, nullptr, llvm::CodeGenFileType::AssemblyFile))
    return makeError("the NVPTX target cannot emit PTX");
  PM.run(**M);
  return std::string(Ptx.str());
}

llvm::Expected<std::string>
dlc::emitGpuLLVM(llvm::ArrayRef<const Kernel *> Kernels, const GpuTarget &T) {
  llvm::LLVMContext Ctx;
  auto M = buildGpuModule(Kernels, T, Ctx);
  if (!M)
    return M.takeError();
  std::string S;
  llvm::raw_string_ostream OS(S);
  (*M)->print(OS, nullptr);
  return S;
}
