// The steps of a compiled graph function.
//
// 1. Each fusion group (ops marked `fusion = K` by --fuse) becomes one
//    kernel step where its last op stands; every other op becomes a kernel,
//    a view (sharing its operand's bytes) or a constant step.
// 2. A kernel step must read only values computed before it.
// 3. Elementwise steps whose output may overwrite a dying operand get that
//    pair marked (the memory plan uses it; the LLVM emitter keeps the two
//    buffers in one alias scope).
#include "exec/Steps.h"

#include "llvm/ADT/DenseSet.h"

#include <map>

using namespace dlc;

bool dlc::isViewOp(OpKind K) {
  return K == OpKind::Reshape || K == OpKind::Flatten ||
         K == OpKind::Squeeze || K == OpKind::Unsqueeze ||
         K == OpKind::Identity || K == OpKind::BitCast;
}

/// The fusion group of Op (0: none).
static int64_t fusionGroup(const Operation &Op) {
  const Attribute *A = Op.findAttr(FusionAttr);
  return A ? A->getInt() : 0;
}

/// An in-place pair for a kernel step: an input read exactly where the
/// output of the same type is written (elementwise, or the full space of an
/// elementwise / reduction group). In a group only the last op's result
/// qualifies: the other outputs are stored as their ops compute them, which
/// may come before a later op loads the input.
static void findInPlace(LoweredStep &S) {
  if (S.Plan && (S.Plan->Kind == GroupKind::MatMul ||
                 S.Plan->Kind == GroupKind::Conv))
    return;
  if (!S.Plan && !(S.Op->info().has(Elementwise) && S.Op->numResults() == 1))
    return;
  for (size_t I = 0; I < S.Ins.size(); ++I)
    for (size_t O = 0; O < S.Outs.size(); ++O) {
      if (S.Ins[I]->Type != S.Outs[O]->Type)
        continue;
      if (S.Plan && (S.Ins[I]->Type != S.Plan->Full ||
                     S.Plan->SpaceOf.lookup(S.Outs[O]) != Space::Full ||
                     S.Outs[O] != S.Op->result(0)))
        continue;
      S.InPlaceIn = I;
      S.InPlaceOut = O;
      return;
    }
}

bool dlc::hasGpuDataShapeKernel(const Operation &Op) {
  return Op.kind() == OpKind::NonZero && !touchesStrings(Op);
}

llvm::Expected<std::vector<LoweredStep>> dlc::planSteps(const Function &F,
                                                        bool Gpu) {
  std::vector<LoweredStep> Steps;
  std::map<int64_t, std::vector<const Operation *>> Groups;
  for (auto &Op : F.Body)
    if (int64_t G = fusionGroup(*Op))
      Groups[G].push_back(Op.get());
  ValueUsers Users = usersOf(F);
  llvm::DenseSet<const Value *> Available;
  for (auto &V : F.Inputs)
    Available.insert(V.get());
  for (auto &V : F.Params)
    Available.insert(V.get());
  int Kernels = 0;
  for (auto &Op : F.Body) {
    LoweredStep S;
    S.Op = Op.get();
    int64_t G = fusionGroup(*Op);
    auto GI = Groups.find(G);
    bool Fused = G && GI->second.size() > 1;
    if (Fused && GI->second.back() != Op.get())
      continue; // runs with the group's last op
    if (Fused) {
      auto P = planFusionGroup(GI->second, F, Users);
      if (!P)
        return P.takeError();
      S.Ins = P->Inputs;
      S.Outs = P->Outputs;
      S.Space = P->SpaceValue;
      S.Plan = std::make_shared<const FusionPlan>(std::move(*P));
    } else if (runsOnHost(*Op) && Op->kind() != OpKind::Constant &&
               !(Gpu && hasGpuDataShapeKernel(*Op))) {
      S.K = LoweredStep::Kind::Host;
      S.Ins.assign(Op->Operands.begin(), Op->Operands.end());
      for (auto &R : Op->Results)
        S.Outs.push_back(R.get());
      for (const Value *V : S.Ins)
        if (!Available.count(V))
          return makeError(Op->L, "'" + Op->mnemonic().str() + "' reads " +
                                      "a value computed after it");
      for (const Value *V : S.Outs)
        Available.insert(V);
      Steps.push_back(std::move(S));
      continue;
    } else if (Op->kind() == OpKind::Constant || isViewOp(Op->kind())) {
      S.K = Op->kind() == OpKind::Constant ? LoweredStep::Kind::Constant
                                           : LoweredStep::Kind::View;
      Available.insert(Op->result());
      Steps.push_back(std::move(S));
      continue;
    } else {
      S.Ins.assign(Op->Operands.begin(), Op->Operands.end());
      for (auto &R : Op->Results)
        S.Outs.push_back(R.get());
    }
    for (const Value *V : S.Ins)
      if (!Available.count(V))
        return makeError(
            Op->L, (Fused ? "fusion group " + std::to_string(G)
                          : "'" + Op->mnemonic().str() + "'") +
                       " reads " + (V->Name.empty() ? "a value" : "%" + V->Name) +
                       ", which is computed after it (a fusion group runs "
                       "where its last op stands)");
    for (const Value *V : S.Outs)
      Available.insert(V);
    findInPlace(S);
    S.Kernel = Kernels++;
    Steps.push_back(std::move(S));
  }
  return Steps;
}
