// --dce: removes ops whose results are never used. Every op in the table is
// free of side effects (random ops are pure functions of their seed).
//
// 1. Count the uses of every value (outputs count as uses).
// 2. Walk the body backwards; an op with no used result is erased and the
//    use counts of its operands drop, so whole dead chains go in one sweep.
#include "passes/Pass.h"

using namespace dlc;

namespace {
class DCE : public Pass {
public:
  llvm::StringRef name() const override { return "dce"; }
  llvm::StringRef description() const override {
    return "Remove ops whose results are unused";
  }
  llvm::Error run(Function &F) override {
    auto Uses = F.countUses();
    for (auto It = F.Body.end(); It != F.Body.begin();) {
      --It;
      Operation &Op = **It;
      bool Used = false;
      for (unsigned I = 0; I < Op.numResults(); ++I)
        Used |= Uses.lookup(Op.result(I)) > 0;
      if (Used)
        continue;
      for (Value *O : Op.Operands)
        --Uses[O];
      It = F.Body.erase(It);
    }
    return llvm::Error::success();
  }
};
} // namespace

std::unique_ptr<Pass> dlc::createDCEPass() { return std::make_unique<DCE>(); }
