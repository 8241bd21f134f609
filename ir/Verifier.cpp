// The IR verifier: op structure against the table, SSA order, and result
// types against shape inference.
#include "ir/Verifier.h"
#include "ir/ShapeInference.h"
#include "ir/ControlFlow.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringSet.h"

using namespace dlc;

llvm::Error dlc::verifyOpStructure(const Operation &Op) {
  const OpInfo &I = Op.info();
  int N = int(Op.numOperands());
  if (N < I.MinOperands || (I.MaxOperands >= 0 && N > I.MaxOperands)) {
    std::string Want =
        I.MinOperands == I.MaxOperands ? std::to_string(I.MinOperands)
        : I.MaxOperands < 0 ? "at least " + std::to_string(I.MinOperands)
                            : std::to_string(I.MinOperands) + " to " +
                                  std::to_string(I.MaxOperands);
    return makeError(Op.L, "'" + I.Mnemonic + "' takes " + Want +
                               " operand(s), got " + std::to_string(N));
  }
  for (const NamedAttr &A : Op.attrs()) {
    const AttrSpec *S = I.findAttr(A.Name);
    if (!S)
      return makeError(Op.L, "op '" + I.Mnemonic + "' has no attribute '" +
                                 A.Name + "'");
    if (S->Kind != A.Value.kind())
      return makeError(Op.L, "attribute '" + A.Name + "' of '" + I.Mnemonic +
                                 "' must be " + attrKindName(S->Kind) +
                                 ", got " + attrKindName(A.Value.kind()));
  }
  for (const AttrSpec &S : I.Attrs)
    if (!S.Default && !Op.findAttr(S.Name))
      return makeError(Op.L, "'" + I.Mnemonic + "' requires attribute '" +
                                 S.Name + "' (" + attrKindName(S.Kind) + ")");
  if (Op.Regions.size() != numRegions(Op.kind()))
    return makeError(Op.L, "'" + I.Mnemonic + "' has " +
                               std::to_string(Op.Regions.size()) +
                               " region(s), expected " +
                               std::to_string(numRegions(Op.kind())));
  return llvm::Error::success();
}

static llvm::Error checkSize(const TensorType &T, const Loc &L) {
  auto N = T.numElements();
  if (N && *N > MaxElements)
    return makeError(L, "type " + T.str() + " has more than 2^40 elements");
  for (const Dim &D : T.dims())
    if (D.isStatic() && D.size() > MaxElements)
      return makeError(L, "dimension " + D.str() + " is too large");
  return llvm::Error::success();
}

llvm::Error dlc::verifyFunction(const Function &F) {
  llvm::DenseSet<const Value *> Defined;
  auto define = [&](const Value *V, const Loc &L) -> llvm::Error {
    if (!Defined.insert(V).second)
      return makeError(L, "value defined twice");
    return checkSize(V->Type, L.empty() ? F.L : L);
  };
  for (auto &V : F.Inputs)
    if (auto E = define(V.get(), V->L))
      return E;
  for (size_t I = 0; I < F.Params.size(); ++I) {
    if (auto E = define(F.Params[I].get(), F.Params[I]->L))
      return E;
    if (I < F.ParamInits.size() && F.ParamInits[I]) {
      const Attribute &A = *F.ParamInits[I];
      if (A.kind() != AttrKind::Tensor || !A.getTensor() ||
          A.getTensor()->type() != F.Params[I]->Type)
        return makeError(F.Params[I]->L, "initial value of parameter '" +
                                             F.Params[I]->Name +
                                             "' does not match its type " +
                                             F.Params[I]->Type.str());
    }
  }
  for (auto &Op : F.Body) {
    if (auto E = verifyOpStructure(*Op))
      return E;
    // Regions are closed: each verifies as a function of its own.
    for (auto &R : Op->Regions)
      if (auto E = verifyFunction(*R))
        return E;
    for (Value *O : Op->Operands)
      if (!O || !Defined.count(O))
        return makeError(Op->L, "'" + Op->mnemonic() +
                                    "' uses a value that is not defined "
                                    "before it");
    auto Types = inferResultTypes(*Op);
    if (!Types)
      return Types.takeError();
    if (Types->size() != Op->numResults())
      return makeError(Op->L, "'" + Op->mnemonic() + "' has " +
                                  std::to_string(Op->numResults()) +
                                  " results, shape inference gives " +
                                  std::to_string(Types->size()));
    for (unsigned I = 0; I < Op->numResults(); ++I) {
      Value *R = Op->result(I);
      if (R->Def != Op.get() || R->ResultNo != I)
        return makeError(Op->L, "result " + std::to_string(I) +
                                    " is not linked to its op");
      if (!compatible(R->Type, (*Types)[I]))
        return makeError(Op->L, "result type " + R->Type.str() + " of '" +
                                    Op->mnemonic() +
                                    "' does not match the inferred type " +
                                    (*Types)[I].str());
      if (auto E = define(R, Op->L))
        return E;
    }
  }
  if (F.Outputs.size() != F.OutputNames.size())
    return makeError(F.L, "function '@" + F.Name +
                              "' has mismatched output names");
  llvm::StringSet<> Names;
  for (size_t I = 0; I < F.Outputs.size(); ++I) {
    if (!F.Outputs[I] || !Defined.count(F.Outputs[I]))
      return makeError(F.L, "output '" + F.OutputNames[I] + "' of '@" +
                                F.Name + "' is not defined in the function");
    if (!Names.insert(F.OutputNames[I]).second)
      return makeError(F.L, "duplicate output name '" + F.OutputNames[I] +
                                "' in '@" + F.Name + "'");
  }
  return llvm::Error::success();
}

llvm::Error dlc::verifyModule(const Module &M) {
  for (auto &F : M.Functions)
    if (auto E = verifyFunction(*F))
      return E;
  return llvm::Error::success();
}
