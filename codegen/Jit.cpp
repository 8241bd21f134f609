// ORC LLJIT set-up for the host CPU.
#include "codegen/Jit.h"

#include "ir/Location.h"

#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <mutex>

using namespace dlc;

static void initTargets() {
  static std::once_flag Once;
  std::call_once(Once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

JitModule::~JitModule() = default;

/// The host target machine at the given optimization level; Out receives
/// its builder, for the JIT.
static llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
hostMachine(unsigned OptLevel, llvm::orc::JITTargetMachineBuilder *Out) {
  initTargets();
  auto JTMB = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!JTMB)
    return JTMB.takeError();
  JTMB->setCodeGenOptLevel(OptLevel == 0 ? llvm::CodeGenOptLevel::None
                                         : llvm::CodeGenOptLevel::Aggressive);
  JTMB->setRelocationModel(llvm::Reloc::PIC_);
  auto TM = JTMB->createTargetMachine();
  if (Out)
    *Out = *JTMB;
  return TM;
}

llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
dlc::hostTargetMachine(unsigned OptLevel) {
  return hostMachine(OptLevel, nullptr);
}

llvm::Expected<std::unique_ptr<llvm::Module>>
dlc::buildHostModule(llvm::ArrayRef<const kir::Kernel *> Kernels, unsigned OptLevel,
            llvm::TargetMachine &TM, llvm::LLVMContext &Ctx) {
  auto M = std::make_unique<llvm::Module>("dlc", Ctx);
  M->setDataLayout(TM.createDataLayout());
  M->setTargetTriple(TM.getTargetTriple().str());
  for (const kir::Kernel *K : Kernels)
    if (auto E = emitKernel(*K, *M))
      return std::move(E);
  // Let the vectorizer and code generator use the host's features.
  for (llvm::Function &F : *M)
    if (!F.isDeclaration()) {
      F.addFnAttr("target-cpu", TM.getTargetCPU());
      F.addFnAttr("target-features", TM.getTargetFeatureString());
    }
  optimizeModule(*M, OptLevel, &TM);
  return M;
}

llvm::Error dlc::emitKernels(llvm::ArrayRef<const kir::Kernel *> Kernels,
                             unsigned OptLevel, EmitKind Kind,
                             llvm::raw_pwrite_stream &OS) {
  auto TM = hostTargetMachine(OptLevel);
  if (!TM)
    return TM.takeError();
  llvm::LLVMContext Ctx;
  auto M = buildHostModule(Kernels, OptLevel, **TM, Ctx);
  if (!M)
    return M.takeError();
  if (Kind == EmitKind::LLVM) {
    (*M)->print(OS, nullptr);
    return llvm::Error::success();
  }
  return writeMachineCode(**M, **TM, Kind, OS);
}

llvm::Error dlc::writeMachineCode(llvm::Module &M, llvm::TargetMachine &TM,
                                  EmitKind Kind, llvm::raw_pwrite_stream &OS) {
  llvm::legacy::PassManager PM;
  if (TM.addPassesToEmitFile(PM, OS, nullptr,
                             Kind == EmitKind::Asm
                                 ? llvm::CodeGenFileType::AssemblyFile
                                 : llvm::CodeGenFileType::ObjectFile))
    return makeError("the host target cannot emit this file type");
  PM.run(M);
  return llvm::Error::success();
}

llvm::Expected<std::unique_ptr<JitModule>>
JitModule::compile(llvm::ArrayRef<const kir::Kernel *> Kernels,
                   const JitOptions &Opts) {
  CompileStats Unused;
  CompileStats &S = Opts.Stats ? *Opts.Stats : Unused;
  StopWatch Backend;
  llvm::orc::JITTargetMachineBuilder JTMB(llvm::Triple{});
  auto TM = hostMachine(Opts.OptLevel, &JTMB);
  if (!TM)
    return TM.takeError();
  auto Ctx = std::make_unique<llvm::LLVMContext>();
  auto M = std::make_unique<llvm::Module>("dlc", *Ctx);
  M->setDataLayout((*TM)->createDataLayout());
  M->setTargetTriple((*TM)->getTargetTriple().str());
  StopWatch EmitW;
  for (const kir::Kernel *K : Kernels)
    if (auto E = emitKernel(*K, *M))
      return std::move(E);
  for (llvm::Function &F : *M)
    if (!F.isDeclaration()) {
      F.addFnAttr("target-cpu", (*TM)->getTargetCPU());
      F.addFnAttr("target-features", (*TM)->getTargetFeatureString());
    }
  S.Emit += EmitW.seconds();
  StopWatch OptW;
  optimizeModule(*M, Opts.OptLevel, TM->get());
  S.Optimize += OptW.seconds();

  std::unique_ptr<JitModule> R(new JitModule());
  auto J = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(JTMB)).create();
  if (!J)
    return J.takeError();
  // libm (tanhf, erff, expm1f) comes from the host process.
  auto Gen = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      (*J)->getDataLayout().getGlobalPrefix());
  if (!Gen)
    return Gen.takeError();
  (*J)->getMainJITDylib().addGenerator(std::move(*Gen));
  if (auto E = (*J)->addIRModule(
          llvm::orc::ThreadSafeModule(std::move(M), std::move(Ctx))))
    return std::move(E);
  R->J = std::move(*J);
  // The first lookup generates machine code and links it.
  StopWatch CodegenW;
  for (const kir::Kernel *K : Kernels)
    if (auto F = R->lookup(K->Name); !F)
      return F.takeError();
  S.Codegen += CodegenW.seconds();
  S.Kernels += Kernels.size();
  S.Distinct += Kernels.size();
  S.BackendWall += Backend.seconds();
  return R;
}

llvm::Expected<KernelFn> JitModule::lookup(llvm::StringRef Name) {
  auto Addr = J->lookup(Name);
  if (!Addr)
    return Addr.takeError();
  return Addr->toPtr<KernelFn>();
}
