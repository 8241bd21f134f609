// --kir-gpu-map=N: maps a CPU kernel's parallel loops to a GPU grid of
// blocks of N threads (one thread per iteration), with a bounds guard.
//
// 1. A kernel already GPU-mapped (by --kir-gpu-rows, say) stays as it is.
// 2. The top level is split: index arithmetic (sizes, bounds) moves before
//    the launch, where the host runs it to size the grid from the buffers'
//    run-time sizes; so one kernel serves every batch size.
// 3. The parallel loop and the loops perfectly nested in it (the only op of
//    the body, bounds independent of the outer loops) are collapsed: with
//    trip counts T1..Td, thread g = block_id * N + thread_id of the
//    ceil(T1*...*Td / N) blocks runs the iteration whose indices are the
//    mixed-radix digits of g. The loops stay, narrowed to that one
//    iteration; the outermost is empty for g >= T1*...*Td (the guard).
// 4. A kernel without a parallel loop runs in one thread of one block.
// 5. Thread-private scratch buffers move into the threads region.
#include "kernel/GpuMapping.h"
#include "kernel/Schedule.h"

#include "ir/Location.h"

#include "llvm/ADT/SmallPtrSet.h"

using namespace dlc;
using namespace dlc::kir;

llvm::Error kir::gpuMapLoops(Kernel &K, unsigned N) {
  if (N < 1 || N > 1024)
    return makeError("--kir-gpu-map: threads per block must be in 1..1024, got " +
                     std::to_string(N));
  if (K.isGpu())
    return llvm::Error::success();
  std::vector<std::unique_ptr<KOp>> Rest;
  K.Body = takeTopLevel(K, Rest);
  std::unique_ptr<KOp> Par;
  std::vector<std::unique_ptr<KOp>> Others;
  for (auto &Op : Rest)
    if (Op->kind() == KOpKind::For && Op->Marks.Parallel)
      Par = std::move(Op);
    else
      Others.push_back(std::move(Op));

  KBuilder B(K, K.Body, "gm");
  KValue *One = B.constIndex(1);
  if (!Par) {
    B.launch(One, One, One, 1);
    B.beginThreads();
    KOp *T = B.endThreads();
    T->Body = std::move(Others);
    return verifyKernel(K);
  }

  // The collapsible nest.
  std::vector<KOp *> Nest = {Par.get()};
  llvm::SmallPtrSet<const KValue *, 4> IVs = {Par->IndVar.get()};
  while (Nest.back()->Body.size() == 1 &&
         Nest.back()->Body[0]->kind() == KOpKind::For) {
    KOp *In = Nest.back()->Body[0].get();
    if (IVs.count(In->Operands[0]) || IVs.count(In->Operands[1]))
      break;
    bool Local = false; // bounds defined inside the nest
    for (KValue *V : In->Operands)
      Local |= V->Def && !isPureTopLevel(*V->Def);
    if (Local)
      break;
    Nest.push_back(In);
    IVs.insert(In->IndVar.get());
  }
  KValue *Zero = B.constIndex(0);
  std::vector<KValue *> Trips;
  KValue *Total = nullptr;
  for (KOp *L : Nest) {
    KValue *Span = B.index(IndexOp::Max,
                           B.index(IndexOp::Sub, L->Operands[1], L->Operands[0]), Zero);
    KValue *T = L->Step == 1 ? Span : ceilDiv(B, Span, B.constIndex(L->Step));
    Trips.push_back(T);
    Total = Total ? B.index(IndexOp::Mul, Total, T) : T;
  }
  KValue *BlockN = B.constIndex(N);
  B.launch(ceilDiv(B, Total, BlockN), One, One, N);

  B.beginThreads();
  KOp *Region = K.Body.back().get();
  for (auto &Op : Others) // thread-private scratch
    Region->Body.push_back(std::move(Op));
  KValue *Bid = B.gpuIndex(GpuIdKind::BlockId, 0);
  KValue *Tid = B.gpuIndex(GpuIdKind::ThreadId, 0);
  KValue *G = B.index(IndexOp::Add, B.index(IndexOp::Mul, Bid, BlockN), Tid);
  // Mixed-radix digits of g, innermost loop fastest.
  std::vector<KValue *> Start(Nest.size());
  KValue *Left = G;
  for (size_t I = Nest.size(); I-- > 0;) {
    KValue *Digit = I == 0 ? Left : B.index(IndexOp::Rem, Left, Trips[I]);
    if (I)
      Left = B.index(IndexOp::Div, Left, Trips[I]);
    KOp *L = Nest[I];
    if (L->Step != 1)
      Digit = B.index(IndexOp::Mul, Digit, B.constIndex(L->Step));
    Start[I] = B.index(IndexOp::Add, L->Operands[0], Digit);
  }
  // The guard: the outermost loop runs once when g < total, else never.
  KValue *Has = B.index(IndexOp::Max,
                        B.index(IndexOp::Min, B.index(IndexOp::Sub, Total, G), One),
                        Zero);
  for (size_t I = 0; I < Nest.size(); ++I) {
    KOp *L = Nest[I];
    L->Operands = {Start[I], B.index(IndexOp::Add, Start[I], I == 0 ? Has : One)};
    L->Marks = LoopMarks();
  }
  B.endThreads();
  Region->Body.push_back(std::move(Par));
  return verifyKernel(K);
}
