// Pass interface, registry and pass manager.
#ifndef DLC_PASSES_PASS_H
#define DLC_PASSES_PASS_H

#include "ir/IR.h"

#include "llvm/Support/raw_ostream.h"

#include <functional>
#include <memory>

namespace dlc {

/// A transformation of one function. Passes are stateless between runs.
class Pass {
public:
  virtual ~Pass() = default;
  /// The flag name (`cse` for `--cse`).
  virtual llvm::StringRef name() const = 0;
  virtual llvm::StringRef description() const = 0;
  virtual llvm::Error run(Function &F) = 0;
  /// Whether the pass manager also runs it on the regions of control-flow
  /// ops (closed functions: see ir/ControlFlow.h), innermost first.
  virtual bool runsOnRegions() const { return true; }
};

using PassFactory = std::function<std::unique_ptr<Pass>()>;

struct PassInfo {
  std::string Name, Description;
  PassFactory Create;
};

/// Every pass, registered once in PassRegistry.cpp.
llvm::ArrayRef<PassInfo> allPasses();
const PassInfo *lookupPass(llvm::StringRef Name);

struct PassManagerOptions {
  bool VerifyEach = false;
  /// Print the IR after these passes ("all" for every pass).
  std::vector<std::string> PrintAfter;
  bool TimePasses = false;
  llvm::raw_ostream *DiagOS = nullptr; // where --print-ir-after/--time-passes go
};

class PassManager {
public:
  explicit PassManager(PassManagerOptions Opts = {}) : Opts(std::move(Opts)) {}
  void add(std::unique_ptr<Pass> P) { Passes.push_back(std::move(P)); }
  /// Adds passes from a comma-separated list of names.
  llvm::Error addPipeline(llvm::StringRef Pipeline);
  llvm::Error run(Module &M);
  size_t size() const { return Passes.size(); }

private:
  std::vector<std::unique_ptr<Pass>> Passes;
  PassManagerOptions Opts;
};

/// The standard graph optimization pipeline (see Pipelines.cpp for the
/// reason behind each step), as a --pass-pipeline string.
std::string optimizePipeline();

// Pass constructors, one per file.
std::unique_ptr<Pass> createInferShapesPass();
std::unique_ptr<Pass> createCanonicalizePass();
std::unique_ptr<Pass> createFoldConstantsPass();
std::unique_ptr<Pass> createCSEPass();
std::unique_ptr<Pass> createDCEPass();
std::unique_ptr<Pass> createDecomposePass();
std::unique_ptr<Pass> createConvToGemmPass();
std::unique_ptr<Pass> createSinkReshapesPass();
std::unique_ptr<Pass> createFusePass();
/// Fuse with its bound on elementwise hoists lowered to HoistStepLimit (0:
/// the automatic bound), so that tests can reach the internal error that
/// stands in for a hang.
std::unique_ptr<Pass> createFusePassWithHoistLimit(uint64_t HoistStepLimit);
std::unique_ptr<Pass> createAutodiffPass();

} // namespace dlc

#endif
