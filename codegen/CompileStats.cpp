// The compile-time report printed by `dlc bench --profile`.
#include "codegen/CompileStats.h"
#include "codegen/Jit.h"

#include "llvm/Support/Format.h"

#include <algorithm>

using namespace dlc;

void CompileStats::print(llvm::raw_ostream &OS, bool Phases) const {
  auto Row = [&](const char *Name, double S, const std::string &Note = "") {
    OS << llvm::format("  %-22s %8.3f s", Name, S);
    if (!Note.empty())
      OS << "  " << Note;
    OS << "\n";
  };
  OS << llvm::format("compile time: %.3f s (%u compile thread%s)\n", Total,
                     Threads, Threads == 1 ? "" : "s");
  if (!Phases)
    return;
  Row("import", Import);
  Row("graph passes", Passes);
  Row("lower to kernel IR", Lower);
  Row("kernel keys", Keys,
      std::to_string(Kernels) + " kernels, " + std::to_string(Distinct) +
          " distinct");
  if (CacheEnabled)
    Row("disk cache", Cache,
        std::to_string(CacheHits) + " hits, " + std::to_string(CacheMisses) +
            " misses");
  else
    Row("disk cache", Cache,
        llvmOptionsGiven() ? "off (LLVM options given on the command line)" : "off");
  Row("LLVM IR emission", Emit, "CPU time, all threads");
  Row("LLVM optimization", Optimize, "CPU time, all threads");
  Row("machine code", Codegen, "CPU time, all threads");
  Row("  (backend wall)", BackendWall);
  Row("JIT link", Link);
  if (!Slowest.empty())
    OS << "  slowest kernels to compile:\n";
  // Fused kernels are named after their ops: long chains are cut short.
  for (auto &[Name, S] : Slowest)
    OS << llvm::format("    %8.3f s  ", S)
       << (Name.size() > 72 ? Name.substr(0, 69) + "..." : Name) << "\n";
}

void CompileStats::noteKernel(const std::string &Name, double Seconds) {
  auto It = std::find_if(Slowest.begin(), Slowest.end(),
                         [&](auto &P) { return P.second < Seconds; });
  Slowest.insert(It, {Name, Seconds});
  if (Slowest.size() > 5)
    Slowest.pop_back();
}
