// --kir-tile=N: strip-mines innermost loops.
//
// 1. Find every innermost loop with step 1 (its body holds no loop).
// 2. Replace it in its parent by a tile loop over [lo, hi) with step N whose
//    body computes min(t + N, hi) and runs the original loop over
//    [t, min(t + N, hi)). Iterations run in the same order, so the rewrite
//    is always legal.
// 3. A parallel mark moves to the tile loop (it stays at the top level);
//    vectorize and unroll marks stay on the inner loop.
#include "kernel/Schedule.h"

#include "ir/Location.h"

using namespace dlc;
using namespace dlc::kir;

static KValue *resultOf(KOp &Op, const std::string &Name) {
  Op.Result = std::make_unique<KValue>();
  Op.Result->Name = Name;
  Op.Result->Type = SType::index();
  Op.Result->Def = &Op;
  return Op.Result.get();
}

static void tileIn(std::vector<std::unique_ptr<KOp>> &Ops, unsigned N) {
  for (auto &Slot : Ops) {
    if (Slot->kind() != KOpKind::For)
      continue;
    bool Nested = false;
    for (auto &B : Slot->Body)
      Nested |= B->kind() == KOpKind::For;
    if (Nested) {
      tileIn(Slot->Body, N);
      continue;
    }
    if (Slot->Step != 1)
      continue;
    std::unique_ptr<KOp> Inner = std::move(Slot);
    const std::string &IV = Inner->IndVar->Name;
    auto Tile = std::make_unique<KOp>(KOpKind::For);
    Tile->Operands = Inner->Operands;
    Tile->Step = N;
    Tile->IndVar = std::make_unique<KValue>();
    Tile->IndVar->Name = IV + ".tile";
    Tile->IndVar->Type = SType::index();
    Tile->Marks.Parallel = Inner->Marks.Parallel;
    Inner->Marks.Parallel = false;
    auto Size = std::make_unique<KOp>(KOpKind::ConstIndex);
    Size->IntValue = N;
    KValue *SizeV = resultOf(*Size, IV + ".size");
    auto End = std::make_unique<KOp>(KOpKind::IndexArith);
    End->IOp = IndexOp::Add;
    End->Operands = {Tile->IndVar.get(), SizeV};
    KValue *EndV = resultOf(*End, IV + ".end");
    auto Hi = std::make_unique<KOp>(KOpKind::IndexArith);
    Hi->IOp = IndexOp::Min;
    Hi->Operands = {EndV, Inner->Operands[1]};
    KValue *HiV = resultOf(*Hi, IV + ".hi");
    Inner->Operands = {Tile->IndVar.get(), HiV};
    Tile->Body.push_back(std::move(Size));
    Tile->Body.push_back(std::move(End));
    Tile->Body.push_back(std::move(Hi));
    Tile->Body.push_back(std::move(Inner));
    Slot = std::move(Tile);
  }
}

llvm::Error kir::tileLoops(Kernel &K, unsigned N) {
  if (N < 2)
    return makeError("--kir-tile: the tile size must be at least 2, got " +
                     std::to_string(N));
  tileIn(K.Body, N);
  return verifyKernel(K);
}
