// The op-rewriting driver behind decompose and conv-to-gemm.
#include "passes/Rewrite.h"

using namespace dlc;

llvm::Error dlc::rewriteOps(
    Function &F, llvm::function_ref<RewriteResult(Operation &, OpBuilder &)> Rule) {
  ValueReplacer Repl;
  // Rewritten ops stay alive until the end: a freed result's address could
  // be reused by a new value and alias a key of Repl.
  std::vector<std::unique_ptr<Operation>> Dead;
  for (auto It = F.Body.begin(); It != F.Body.end();) {
    Operation &Op = **It;
    Repl.remapOperands(Op);
    OpBuilder B(F, It, Op.L);
    RewriteResult R = Rule(Op, B);
    if (!R)
      return R.takeError();
    if (R->empty()) {
      ++It;
      continue;
    }
    for (unsigned I = 0; I < Op.numResults(); ++I) {
      Value *New = (*R)[I];
      const TensorType &Orig = Op.result(I)->Type;
      if (New->Def && compatible(New->Type, Orig)) {
        Shape Dims = New->Type.dims();
        for (unsigned D = 0; D < Dims.size(); ++D)
          if (Dims[D].isUnknown())
            Dims[D] = Orig.dim(D);
        New->Type = TensorType(New->Type.elem(), Dims);
      }
      Repl.replace(Op.result(I), New);
    }
    Dead.push_back(std::move(*It));
    It = F.Body.erase(It);
  }
  Repl.finish(F);
  return llvm::Error::success();
}
