// Where a model's compile time goes: per-phase seconds and kernel counts,
// filled by Model / CompiledFunction / JitModule and printed by
// `dlc bench --profile` and `dlc run --profile`.
#ifndef DLC_CODEGEN_COMPILESTATS_H
#define DLC_CODEGEN_COMPILESTATS_H

#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace dlc {

struct CompileStats {
  // Wall-clock seconds of the serial phases.
  double Import = 0;  // reading the model file (ONNX import or IR parse)
  double Passes = 0;  // graph passes (the `optimize` pipeline)
  double Lower = 0;   // graph to kernel IR
  double Keys = 0;    // canonical kernel hashes and deduplication
  double Cache = 0;   // reading and writing the on-disk kernel cache
  double Link = 0;    // JIT linking and symbol lookup
  // CPU seconds summed over the compile threads.
  double Emit = 0;     // kernel IR to LLVM IR
  double Optimize = 0; // the LLVM optimization pipeline
  double Codegen = 0;  // LLVM IR to machine code
  /// Wall-clock seconds of the (parallel) emit + optimize + codegen section.
  double BackendWall = 0;
  /// Wall-clock seconds from the start of import to the last symbol.
  double Total = 0;

  unsigned Kernels = 0;  // kernels of the function
  unsigned Distinct = 0; // distinct kernels after deduplication
  unsigned CacheHits = 0, CacheMisses = 0;
  bool CacheEnabled = false;
  unsigned Threads = 1; // compile threads
  /// The kernels that took longest to compile: (name, seconds), longest
  /// first, at most five.
  std::vector<std::pair<std::string, double>> Slowest;
  /// Records a kernel's compile time for Slowest.
  void noteKernel(const std::string &Name, double Seconds);

  /// One line with the total; with Phases, a row per phase below it.
  void print(llvm::raw_ostream &OS, bool Phases) const;
};

/// Seconds since construction.
class StopWatch {
public:
  StopWatch() : Start(Clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(Clock::now() - Start).count();
  }

private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point Start;
};

} // namespace dlc

#endif
