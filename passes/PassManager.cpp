// The pass registry and the pass manager (verify-each, print-after, timing).
#include "passes/Pass.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"

#include "llvm/Support/Format.h"

#include <chrono>

using namespace dlc;

llvm::ArrayRef<PassInfo> dlc::allPasses() {
  // The one list of passes: dlc-opt's flags and --help come from here.
  static const std::vector<PassInfo> Passes = [] {
    std::vector<PassInfo> V;
    for (PassFactory F :
         {PassFactory(createInferShapesPass), PassFactory(createCanonicalizePass),
          PassFactory(createFoldConstantsPass), PassFactory(createCSEPass),
          PassFactory(createDCEPass), PassFactory(createDecomposePass),
          PassFactory(createConvToGemmPass), PassFactory(createSinkReshapesPass),
          PassFactory(createAutodiffPass),
          PassFactory(createFusePass)}) {
      auto P = F();
      V.push_back({P->name().str(), P->description().str(), F});
    }
    return V;
  }();
  return Passes;
}

const PassInfo *dlc::lookupPass(llvm::StringRef Name) {
  for (const PassInfo &P : allPasses())
    if (P.Name == Name)
      return &P;
  return nullptr;
}

llvm::Error PassManager::addPipeline(llvm::StringRef Pipeline) {
  if (Pipeline == "optimize")
    return addPipeline(optimizePipeline());
  llvm::SmallVector<llvm::StringRef, 8> Names;
  Pipeline.split(Names, ',', -1, /*KeepEmpty=*/true);
  for (llvm::StringRef N : Names) {
    N = N.trim();
    if (N.empty())
      return makeError("empty pass name in pipeline '" + Pipeline + "'");
    const PassInfo *P = lookupPass(N);
    if (!P) {
      std::string Known;
      for (const PassInfo &I : allPasses())
        Known += (Known.empty() ? "" : ", ") + I.Name;
      return makeError("unknown pass '" + N + "' (known: " + Known + ")");
    }
    add(P->Create());
  }
  return llvm::Error::success();
}

/// Runs P on the regions of F's ops (innermost first), then on F.
static llvm::Error runWithRegions(Pass &P, Function &F) {
  if (P.runsOnRegions())
    for (auto &Op : F.Body)
      for (auto &R : Op->Regions)
        if (auto E = runWithRegions(P, *R))
          return E;
  return P.run(F);
}

llvm::Error PassManager::run(Module &M) {
  llvm::raw_ostream &OS = Opts.DiagOS ? *Opts.DiagOS : llvm::errs();
  std::vector<double> Seconds(Passes.size(), 0.0);
  for (auto &F : M.Functions) {
    for (size_t I = 0; I < Passes.size(); ++I) {
      Pass &P = *Passes[I];
      auto T0 = std::chrono::steady_clock::now();
      if (auto E = runWithRegions(P, *F))
        return E;
      Seconds[I] += std::chrono::duration<double>(
                        std::chrono::steady_clock::now() - T0)
                        .count();
      if (Opts.VerifyEach)
        if (auto E = verifyFunction(*F))
          return llvm::createStringError(
              llvm::inconvertibleErrorCode(),
              llvm::toString(std::move(E)) + " (IR invalid after pass '" +
                  P.name() + "')");
      for (const std::string &Name : Opts.PrintAfter)
        if (Name == "all" || Name == P.name()) {
          OS << "// -----// IR after " << P.name() << " //----- //\n";
          printFunction(*F, OS);
          break;
        }
    }
  }
  if (Opts.TimePasses) {
    double Total = 0;
    for (double S : Seconds)
      Total += S;
    OS << "===-------------------------------------------------------===\n"
       << "                      Pass execution timing\n"
       << "===-------------------------------------------------------===\n";
    for (size_t I = 0; I < Passes.size(); ++I)
      OS << llvm::format("  %10.6f s  %5.1f%%  ", Seconds[I],
                         Total > 0 ? 100.0 * Seconds[I] / Total : 0.0)
         << Passes[I]->name() << "\n";
    OS << llvm::format("  %10.6f s  100.0%%  total\n", Total);
  }
  return llvm::Error::success();
}
