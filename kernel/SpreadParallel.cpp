// --kir-spread=N: gives the parallel loop the iterations of the loops nested
// directly in it, so that a kernel whose parallel loop runs over the batch
// still splits across threads at batch 1. Lowerings mark the outermost loop
// parallel; for an elementwise [1, 240, 14, 14] kernel or a global average
// pool that is one iteration, and one thread did all the work.
//
// 1. The chain: the top-level `parallel` loop, then while it is shorter
//    than N, the loop that is the only op of the last one's body, if it
//    runs from 0 with step 1 to a bound computed at the top level (not by
//    the nest), carries no marks and is not innermost (the innermost loop
//    is the vector loop: dividing its index out per element would cost
//    more than the threads gain).
// 2. The chain becomes one parallel loop over the product of its extents,
//    computed at the top level; at the top of its body each old induction
//    variable is recovered from the new one by division (outermost most
//    significant, so every thread still walks contiguous memory), and the
//    body of the last loop of the chain follows.
#include "kernel/Schedule.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

using namespace dlc;
using namespace dlc::kir;

namespace {

using Ops = std::vector<std::unique_ptr<KOp>>;

bool fromZeroStepOne(const KOp &L) {
  const KOp *Lo = L.Operands[0]->Def;
  return L.Step == 1 && Lo && Lo->kind() == KOpKind::ConstIndex && Lo->IntValue == 0;
}

bool hasLoop(const Ops &Body) {
  for (auto &Op : Body)
    if (Op->kind() == KOpKind::For)
      return true;
  return false;
}

void replaceUses(Ops &Body, const llvm::DenseMap<const KValue *, KValue *> &Map) {
  for (auto &Op : Body) {
    for (KValue *&V : Op->Operands)
      if (KValue *New = Map.lookup(V))
        V = New;
    replaceUses(Op->Body, Map);
  }
}

} // namespace

llvm::Error kir::spreadParallel(Kernel &K, unsigned N) {
  if (N < 2)
    return makeError("--kir-spread: it takes the most loops to merge, at least 2, got " +
                     std::to_string(N));
  if (K.isGpu())
    return verifyKernel(K);
  auto It = llvm::find_if(K.Body, [](const std::unique_ptr<KOp> &Op) {
    return Op->kind() == KOpKind::For && Op->Marks.Parallel;
  });
  if (It == K.Body.end() || !fromZeroStepOne(**It))
    return verifyKernel(K);
  KOp *P = It->get();
  llvm::DenseSet<const KValue *> TopLevel; // values the nest may take as bounds
  for (auto &Op : K.Body)
    if (Op->Result)
      TopLevel.insert(Op->Result.get());
  for (auto &A : K.Args)
    TopLevel.insert(A.get());
  std::vector<KOp *> Chain = {P};
  while (Chain.size() < N) {
    KOp &Last = *Chain.back();
    if (Last.Body.size() != 1 || Last.Body[0]->kind() != KOpKind::For)
      break;
    KOp &L = *Last.Body[0];
    bool Plain = !L.Marks.Parallel && !L.Marks.Vectorize && !L.Marks.Unroll &&
                 !L.Marks.Reassociate && !L.Marks.MaskedTail;
    if (!Plain || !fromZeroStepOne(L) || !TopLevel.contains(L.Operands[1]) ||
        !hasLoop(L.Body))
      break;
    Chain.push_back(&L);
  }
  if (Chain.size() < 2)
    return verifyKernel(K);

  // Step 2: the product at the top level, right before the loop.
  Ops Top;
  KBuilder TB(K, Top, P->IndVar->Name + ".sp");
  KValue *Product = P->Operands[1];
  for (size_t I = 1; I < Chain.size(); ++I)
    Product = TB.index(IndexOp::Mul, Product, Chain[I]->Operands[1]);
  auto NewIV = std::make_unique<KValue>();
  NewIV->Name = P->IndVar->Name + "s";
  NewIV->Type = SType::index();
  Ops Body;
  KBuilder BB(K, Body, P->IndVar->Name + ".ix");
  llvm::DenseMap<const KValue *, KValue *> Map;
  KValue *Rest = NewIV.get();
  for (size_t I = Chain.size(); I-- > 1;) {
    KValue *Extent = Chain[I]->Operands[1];
    KValue *Outer = BB.index(IndexOp::Div, Rest, Extent);
    Map[Chain[I]->IndVar.get()] =
        BB.index(IndexOp::Sub, Rest, BB.index(IndexOp::Mul, Outer, Extent));
    Rest = Outer;
  }
  Map[P->IndVar.get()] = Rest;
  for (auto &Op : Chain.back()->Body)
    Body.push_back(std::move(Op));
  replaceUses(Body, Map);
  // The old loops of the chain (the first one's body holds the rest) and
  // P's old induction variable go once nothing refers to them.
  Ops Dead = std::move(P->Body);
  std::unique_ptr<KValue> OldIV = std::move(P->IndVar);
  P->Body = std::move(Body);
  P->IndVar = std::move(NewIV);
  P->Operands[1] = Product;
  K.Body.insert(It, std::make_move_iterator(Top.begin()), std::make_move_iterator(Top.end()));
  return verifyKernel(K);
}
