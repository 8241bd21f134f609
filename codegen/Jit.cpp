// ORC LLJIT set-up for the host CPU.
#include "codegen/Jit.h"

#include "ir/Location.h"

#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
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

llvm::Expected<std::unique_ptr<JitModule>>
JitModule::compile(llvm::ArrayRef<const kir::Kernel *> Kernels,
                   unsigned OptLevel) {
  initTargets();
  auto JTMB = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!JTMB)
    return JTMB.takeError();
  JTMB->setCodeGenOptLevel(OptLevel == 0 ? llvm::CodeGenOptLevel::None
                                         : llvm::CodeGenOptLevel::Aggressive);
  auto TM = JTMB->createTargetMachine();
  if (!TM)
    return TM.takeError();

  auto Ctx = std::make_unique<llvm::LLVMContext>();
  auto M = std::make_unique<llvm::Module>("dlc", *Ctx);
  M->setDataLayout((*TM)->createDataLayout());
  M->setTargetTriple((*TM)->getTargetTriple().str());
  for (const kir::Kernel *K : Kernels)
    if (auto E = emitKernel(*K, *M))
      return std::move(E);
  // Let the vectorizer and code generator use the host's features.
  for (llvm::Function &F : *M)
    if (!F.isDeclaration()) {
      F.addFnAttr("target-cpu", (*TM)->getTargetCPU());
      F.addFnAttr("target-features", (*TM)->getTargetFeatureString());
    }
  optimizeModule(*M, OptLevel, TM->get());

  std::unique_ptr<JitModule> R(new JitModule());
  llvm::raw_string_ostream OS(R->IR);
  M->print(OS, nullptr);

  auto J = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(*JTMB)).create();
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
  return R;
}

llvm::Expected<KernelFn> JitModule::lookup(llvm::StringRef Name) {
  auto Addr = J->lookup(Name);
  if (!Addr)
    return Addr.takeError();
  return Addr->toPtr<KernelFn>();
}
