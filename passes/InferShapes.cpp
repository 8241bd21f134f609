// --infer-shapes: recomputes every result type with shape inference, refining
// unknown dims ('?') and checking that nothing contradicts the rules.
//
// 1. Walk ops in order (operands are always inferred before their users).
// 2. Infer result types from the operands' current types.
// 3. Replace a result type with the inferred one when they are compatible
//    (the inferred one is at least as precise); report an error otherwise.
#include "passes/Pass.h"
#include "ir/ShapeInference.h"

using namespace dlc;

namespace {
class InferShapes : public Pass {
public:
  llvm::StringRef name() const override { return "infer-shapes"; }
  llvm::StringRef description() const override {
    return "Recompute result types, refining unknown dims";
  }
  llvm::Error run(Function &F) override {
    for (auto &Op : F.Body) {
      auto Types = inferResultTypes(*Op);
      if (!Types)
        return Types.takeError();
      for (unsigned I = 0; I < Op->numResults(); ++I) {
        TensorType &Cur = Op->result(I)->Type;
        const TensorType &New = (*Types)[I];
        if (!compatible(Cur, New))
          return makeError(Op->L, "result type " + Cur.str() + " of '" +
                                      Op->mnemonic() + "' contradicts " +
                                      New.str());
        Shape Merged = Cur.dims();
        for (unsigned D = 0; D < Merged.size(); ++D)
          if (Merged[D].isUnknown())
            Merged[D] = New.dim(D);
        Cur = TensorType(Cur.elem(), Merged);
      }
    }
    return llvm::Error::success();
  }
};
} // namespace

std::unique_ptr<Pass> dlc::createInferShapesPass() {
  return std::make_unique<InferShapes>();
}
