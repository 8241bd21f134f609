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
//    global per buffer.
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
    default:
      return fail("not a GPU op");
    }
  }
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
    if (auto E = GpuKernelEmitter(*K, *M).run())
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
