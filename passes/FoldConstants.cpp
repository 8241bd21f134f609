// --fold-constants: evaluates ops whose operands are all constants, using
// the reference interpreter, and replaces them with constants.
//
// 1. Walk ops in order; an op qualifies when every operand is the result of
//    a `constant` (sources such as range and seeded random ops have none),
//    or when it is `shape` of a statically shaped value. Collectives
//    (all_reduce_sum) never qualify: their value comes from other ranks.
// 2. Evaluate it with evaluateOp (the interpreter's kernel for that op).
// 3. Replace each result with a new `constant` placed before the op; the op
//    itself is left for --dce. Results above FoldLimit elements are not
//    folded when they outgrow the operands, so a small constant expanded to
//    a huge tensor stays an op; a large weight's transpose or reshape (no
//    bigger than its operand) still folds, so it is not redone every run.
#include "passes/Pass.h"
#include "interp/Interpreter.h"

#include <algorithm>

using namespace dlc;

namespace {
constexpr int64_t FoldLimit = 1 << 20;

class FoldConstants : public Pass {
public:
  llvm::StringRef name() const override { return "fold-constants"; }
  llvm::StringRef description() const override {
    return "Evaluate ops whose operands are constants";
  }
  llvm::Error run(Function &F) override {
    ValueReplacer R;
    for (auto It = F.Body.begin(); It != F.Body.end(); ++It) {
      Operation &Op = **It;
      R.remapOperands(Op);
      // A collective's value depends on the other ranks: never folded.
      // Control flow is not folded either (a loop may run long).
      if (Op.kind() == OpKind::Constant || Op.info().has(Collective) ||
          Op.info().has(ControlFlow))
        continue;
      OpBuilder B(F, It, Op.L);
      if (Op.kind() == OpKind::ShapeOf && Op.operand(0)->Type.isStatic()) {
        auto Sizes = Op.operand(0)->Type.staticSizes();
        Tensor T(DType::I64, {int64_t(Sizes.size())});
        for (size_t I = 0; I < Sizes.size(); ++I)
          T.setI(I, Sizes[I]);
        R.replace(Op.result(), B.constant(std::move(T)));
        continue;
      }
      llvm::SmallVector<const Tensor *, 4> Args;
      for (Value *V : Op.Operands) {
        if (!V->Def || V->Def->kind() != OpKind::Constant)
          break;
        Args.push_back(V->Def->attr("value").getTensor().get());
      }
      if (Args.size() != Op.numOperands())
        continue;
      int64_t InElems = 0, OutElems = 0;
      bool Small = true;
      for (const Tensor *T : Args)
        InElems += T->numElements();
      for (unsigned I = 0; I < Op.numResults(); ++I) {
        auto N = Op.result(I)->Type.numElements();
        Small &= bool(N);
        OutElems += N ? *N : 0;
      }
      Small &= OutElems <= std::max(FoldLimit, InElems);
      if (!Small)
        continue;
      auto Results = evaluateOp(Op, Args);
      if (!Results) {
        // A run-time error (say, an out-of-range gather index) stays where
        // it is and is reported when the graph runs.
        llvm::consumeError(Results.takeError());
        continue;
      }
      for (unsigned I = 0; I < Op.numResults(); ++I) {
        Value *C = B.constant(std::move((*Results)[I]));
        C->Name = Op.result(I)->Name; // the folded op goes away with --dce
        R.replace(Op.result(I), C);
      }
    }
    R.finish(F);
    return llvm::Error::success();
  }
};
} // namespace

std::unique_ptr<Pass> dlc::createFoldConstantsPass() {
  return std::make_unique<FoldConstants>();
}
