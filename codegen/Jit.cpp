// The host target machine, the LLVM pipeline for kernels, object and
// assembly emission, and the JIT: kernels deduplicated by key, loaded from
// the kernel cache or compiled in parallel, linked with ORC LLJIT.
#include "codegen/Jit.h"

#include "codegen/KernelCache.h"

#include "ir/Location.h"

#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include "llvm/Support/SmallVectorMemoryBuffer.h"

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

using namespace dlc;

static void initTargets() {
  static std::once_flag Once;
  std::call_once(Once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

bool dlc::llvmOptionsGiven() {
  // LLVM's internal options live in the general category of the top level;
  // tools put their own options in categories of their own.
  for (auto &Entry : llvm::cl::getRegisteredOptions()) {
    const llvm::cl::Option *O = Entry.second;
    if (O->getNumOccurrences() > 0 &&
        llvm::is_contained(O->Categories, &llvm::cl::getGeneralCategory()))
      return true;
  }
  return false;
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
            llvm::TargetMachine &TM, llvm::LLVMContext &Ctx,
            const ModuleExtra &Extra) {
  auto M = std::make_unique<llvm::Module>("dlc", Ctx);
  M->setDataLayout(TM.createDataLayout());
  M->setTargetTriple(TM.getTargetTriple().str());
  for (const kir::Kernel *K : Kernels)
    if (auto E = emitKernel(*K, *M))
      return std::move(E);
  if (Extra)
    if (auto E = Extra(*M))
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

namespace {
/// One distinct kernel: the first kernel with its key, and its object.
struct Unit {
  const kir::Kernel *K;
  KernelKey Key;
  std::string Symbol;
  size_t Cost; // the kernel IR's length: compile the big ones first
  std::unique_ptr<llvm::MemoryBuffer> Object;
  bool Compiled = false;
};

/// Time spent by one compile thread.
struct ThreadTimes {
  double Emit = 0, Optimize = 0, Codegen = 0;
  std::vector<std::pair<std::string, double>> PerKernel;
};
} // namespace

/// Whether a loop of Ops carries a schedule mark (vectorize or unroll).
static bool hasMarks(const std::vector<std::unique_ptr<kir::KOp>> &Ops) {
  for (auto &Op : Ops)
    if (Op->kind() == kir::KOpKind::For &&
        (Op->Marks.Vectorize || Op->Marks.Unroll || hasMarks(Op->Body)))
      return true;
  return false;
}

/// K compiled alone, in its own context, to an object file whose only
/// global symbol is Symbol.
static llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
compileObject(const kir::Kernel &K, llvm::StringRef Symbol,
              llvm::TargetMachine &TM, unsigned OptLevel, ThreadTimes &T) {
  StopWatch EmitW;
  llvm::LLVMContext Ctx;
  llvm::Module M(Symbol, Ctx);
  M.setDataLayout(TM.createDataLayout());
  M.setTargetTriple(TM.getTargetTriple().str());
  if (auto E = emitKernel(K, M))
    return std::move(E);
  M.getFunction(K.Name)->setName(Symbol);
  for (llvm::Function &F : M)
    if (!F.isDeclaration()) {
      F.addFnAttr("target-cpu", TM.getTargetCPU());
      F.addFnAttr("target-features", TM.getTargetFeatureString());
      // Kernels the scheduler left alone (copies, im2col, transposes) are
      // vectorized and unrolled by LLVM into very long blocks, on which the
      // host CPU's scheduling model can take a second (znver4's post-RA
      // list scheduler); the generic model schedules them in a fraction of
      // that, and measured no slower (BENCHMARKS.md, compile time).
      if (!hasMarks(K.Body))
        F.addFnAttr("tune-cpu", "generic");
    }
  T.Emit += EmitW.seconds();
  StopWatch OptW;
  optimizeModule(M, OptLevel, &TM);
  T.Optimize += OptW.seconds();
  StopWatch CodegenW;
  llvm::SmallVector<char, 0> Obj;
  llvm::raw_svector_ostream OS(Obj);
  if (auto E = writeMachineCode(M, TM, EmitKind::Object, OS))
    return std::move(E);
  T.Codegen += CodegenW.seconds();
  return std::make_unique<llvm::SmallVectorMemoryBuffer>(std::move(Obj), Symbol,
                                                         false);
}

/// Compiles the units without an object on up to Threads threads, each with
/// its own target machine, largest first.
static llvm::Error compileUnits(std::vector<Unit> &Units, unsigned OptLevel,
                                unsigned Threads, CompileStats &S) {
  std::vector<Unit *> Todo;
  for (Unit &U : Units)
    if (!U.Object)
      Todo.push_back(&U);
  if (Todo.empty())
    return llvm::Error::success();
  llvm::stable_sort(Todo, [](const Unit *A, const Unit *B) {
    return A->Cost > B->Cost;
  });
  if (Threads == 0)
    Threads = std::max(1u, std::thread::hardware_concurrency());
  Threads = std::max<size_t>(1, std::min<size_t>(Threads, Todo.size()));
  S.Threads = Threads;
  std::atomic<size_t> Next{0};
  std::mutex Mu;
  llvm::Error First = llvm::Error::success();
  bool Failed = false;
  auto Work = [&] {
    ThreadTimes T;
    llvm::Error E = [&]() -> llvm::Error {
      auto TM = hostTargetMachine(OptLevel);
      if (!TM)
        return TM.takeError();
      for (size_t I; (I = Next++) < Todo.size();) {
        {
          std::lock_guard<std::mutex> L(Mu);
          if (Failed)
            break;
        }
        Unit &U = *Todo[I];
        StopWatch KernelW;
        auto Obj = compileObject(*U.K, U.Symbol, **TM, OptLevel, T);
        if (!Obj)
          return Obj.takeError();
        T.PerKernel.push_back({U.K->Name, KernelW.seconds()});
        U.Object = std::move(*Obj);
        U.Compiled = true;
      }
      return llvm::Error::success();
    }();
    std::lock_guard<std::mutex> L(Mu);
    S.Emit += T.Emit;
    S.Optimize += T.Optimize;
    S.Codegen += T.Codegen;
    for (auto &[Name, Sec] : T.PerKernel)
      S.noteKernel(Name, Sec);
    if (E && !Failed) {
      Failed = true;
      First = std::move(E);
    } else {
      llvm::consumeError(std::move(E));
    }
  };
  std::vector<std::thread> Pool;
  for (unsigned I = 1; I < Threads; ++I)
    Pool.emplace_back(Work);
  Work();
  for (std::thread &T : Pool)
    T.join();
  return First;
}

/// The JIT for a new module: libm (tanhf, erff, expm1f) comes from the host
/// process.
static llvm::Expected<std::unique_ptr<llvm::orc::LLJIT>>
makeJit(llvm::orc::JITTargetMachineBuilder JTMB) {
  auto J = llvm::orc::LLJITBuilder()
               .setJITTargetMachineBuilder(std::move(JTMB))
               .create();
  if (!J)
    return J.takeError();
  auto Gen = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      (*J)->getDataLayout().getGlobalPrefix());
  if (!Gen)
    return Gen.takeError();
  (*J)->getMainJITDylib().addGenerator(std::move(*Gen));
  return J;
}

/// Kernels plus Opts.Extra's functions as one module (the GPU emulation's
/// host wrappers call the kernels by name).
llvm::Expected<std::unique_ptr<JitModule>>
JitModule::compileWithExtra(llvm::ArrayRef<const kir::Kernel *> Kernels,
                            const JitOptions &Opts,
                            llvm::orc::JITTargetMachineBuilder JTMB,
                            llvm::TargetMachine &TM) {
  auto Ctx = std::make_unique<llvm::LLVMContext>();
  auto Built = buildHostModule(Kernels, Opts.OptLevel, TM, *Ctx, Opts.Extra);
  if (!Built)
    return Built.takeError();
  auto J = makeJit(std::move(JTMB));
  if (!J)
    return J.takeError();
  if (auto E = (*J)->addIRModule(
          llvm::orc::ThreadSafeModule(std::move(*Built), std::move(Ctx))))
    return std::move(E);
  std::unique_ptr<JitModule> R(new JitModule());
  for (const kir::Kernel *K : Kernels) {
    auto Addr = (*J)->lookup(K->Name);
    if (!Addr)
      return Addr.takeError();
    R->Fns[K->Name] = Addr->toPtr<KernelFn>();
  }
  R->J = std::move(*J);
  return R;
}

llvm::Expected<std::unique_ptr<JitModule>>
JitModule::compile(llvm::ArrayRef<const kir::Kernel *> Kernels,
                   const JitOptions &Opts) {
  CompileStats Unused;
  CompileStats &S = Opts.Stats ? *Opts.Stats : Unused;
  llvm::orc::JITTargetMachineBuilder JTMB(llvm::Triple{});
  auto TM = hostMachine(Opts.OptLevel, &JTMB);
  if (!TM)
    return TM.takeError();
  if (Opts.Extra)
    return compileWithExtra(Kernels, Opts, std::move(JTMB), **TM);
  TargetId Target{(*TM)->getTargetCPU().str(),
                  (*TM)->getTargetFeatureString().str(), Opts.OptLevel};

  // 1. Keys: kernels with equal keys share one unit.
  StopWatch KeysW;
  std::vector<Unit> Units;
  std::map<KernelKey, size_t> UnitOf;
  std::vector<size_t> KernelUnit;
  for (const kir::Kernel *K : Kernels) {
    std::string Text = canonicalKernelText(*K);
    KernelKey Key = kernelKey(Text, Target);
    auto [It, New] = UnitOf.try_emplace(Key, Units.size());
    if (New)
      Units.push_back({K, Key, "dlc_" + keyHex(Key).substr(0, 32), Text.size(),
                       nullptr});
    KernelUnit.push_back(It->second);
  }
  S.Kernels += Kernels.size();
  S.Distinct += Units.size();
  S.Keys += KeysW.seconds();

  // 2. Objects stored by earlier compiles, unless one of LLVM's own
  // options was given (-time-passes, -disable-lsr, ...): the key cannot
  // hold what they change, and a kernel built without them must not stand
  // in for one built with them (nor the reverse).
  std::unique_ptr<KernelCache> Cache;
  if (Opts.UseCache && !llvmOptionsGiven()) {
    StopWatch CacheW;
    auto C = KernelCache::open(Opts.CacheDir.empty() ? KernelCache::defaultDir()
                                                     : Opts.CacheDir,
                               Opts.CacheMaxBytes);
    if (C) {
      Cache = std::move(*C);
      S.CacheEnabled = true;
      for (Unit &U : Units)
        if ((U.Object = Cache->load(U.Key)))
          ++S.CacheHits;
        else
          ++S.CacheMisses;
    } else {
      llvm::consumeError(C.takeError()); // no cache: compile everything
    }
    S.Cache += CacheW.seconds();
  }

  // 3. The rest, in parallel.
  StopWatch BackendW;
  if (auto E = compileUnits(Units, Opts.OptLevel, Opts.Threads, S))
    return std::move(E);
  S.BackendWall += BackendW.seconds();

  // 4. New objects go into the cache; a failed write only costs a compile
  //    next time.
  if (Cache) {
    StopWatch CacheW;
    bool Wrote = false;
    for (Unit &U : Units)
      if (U.Compiled) {
        if (auto E = Cache->store(U.Key, U.Object->getBuffer()))
          llvm::consumeError(std::move(E));
        else
          Wrote = true;
      }
    if (Wrote)
      Cache->trim();
    S.Cache += CacheW.seconds();
  }

  // 5. Link every object and resolve every kernel at once.
  StopWatch LinkW;
  std::unique_ptr<JitModule> R(new JitModule());
  auto J = makeJit(std::move(JTMB));
  if (!J)
    return J.takeError();
  llvm::orc::SymbolLookupSet Names;
  for (Unit &U : Units) {
    if (auto E = (*J)->addObjectFile(std::move(U.Object)))
      return std::move(E);
    Names.add((*J)->mangleAndIntern(U.Symbol));
  }
  auto &ES = (*J)->getExecutionSession();
  auto Syms = ES.lookup(
      llvm::orc::makeJITDylibSearchOrder(&(*J)->getMainJITDylib()),
      std::move(Names));
  if (!Syms)
    return Syms.takeError();
  for (size_t I = 0; I < Kernels.size(); ++I) {
    auto It = Syms->find((*J)->mangleAndIntern(Units[KernelUnit[I]].Symbol));
    assert(It != Syms->end() && "a kernel symbol was not resolved");
    R->Fns[Kernels[I]->Name] = It->second.getAddress().toPtr<KernelFn>();
  }
  R->J = std::move(*J);
  S.Link += LinkW.seconds();
  return R;
}

llvm::Expected<KernelFn> JitModule::lookup(llvm::StringRef Name) {
  auto It = Fns.find(Name);
  if (It != Fns.end())
    return It->second;
  // Functions of a module compiled with Extra keep their own names.
  auto Addr = lookupAddress(Name);
  if (!Addr) {
    llvm::consumeError(Addr.takeError());
    return makeError("no compiled kernel named '" + Name.str() + "'");
  }
  return reinterpret_cast<KernelFn>(*Addr);
}

llvm::Expected<void *> JitModule::lookupAddress(llvm::StringRef Name) {
  auto It = Fns.find(Name);
  if (It != Fns.end())
    return reinterpret_cast<void *>(It->second);
  auto Addr = J->lookup(Name);
  if (!Addr)
    return Addr.takeError();
  return Addr->toPtr<void *>();
}
