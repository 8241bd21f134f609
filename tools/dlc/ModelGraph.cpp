// Helpers of the driver's model views (see ModelGraph.h).
#include "ModelGraph.h"

using namespace dlc;

llvm::Expected<const Function *> dlc::entryFunction(const Module &M) {
  if (const Function *F = M.lookup("main"))
    return F;
  if (M.Functions.empty())
    return makeError("the model has no function");
  return M.Functions.front().get();
}

llvm::DenseSet<const Value *> dlc::inputDependent(const Function &F) {
  llvm::DenseSet<const Value *> Dep;
  for (const auto &In : F.Inputs)
    Dep.insert(In.get());
  for (const auto &Op : F.Body)
    if (llvm::any_of(Op->Operands, [&](Value *V) { return Dep.count(V); }))
      for (const auto &R : Op->Results)
        Dep.insert(R.get());
  return Dep;
}

std::string dlc::opDisplayName(const Operation &Op) {
  llvm::StringRef N = Op.L.Name;
  size_t Node = N.find("node '");
  if (Node != llvm::StringRef::npos)
    return N.drop_front(Node + 6)
        .take_until([](char C) { return C == '\''; })
        .str();
  if (Op.numResults() && !Op.result()->Name.empty())
    return "%" + Op.result()->Name;
  if (Op.L.Line)
    return "line " + std::to_string(Op.L.Line);
  return "-";
}
