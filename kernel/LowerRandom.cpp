// random_uniform and random_normal to kernel IR: one loop nest over the
// result; element i is the counter-based sample (seed, i) of ir/Random.h,
// computed by a `random_uniform` / `random_normal` scalar op on the seed and
// the flat index, so the JIT matches the interpreter bit for bit.
#include "kernel/Lowering.h"
#include "kernel/LoweringUtil.h"

#include "ir/Location.h"

using namespace dlc;
using namespace dlc::kir;

llvm::Expected<std::unique_ptr<Kernel>>
dlc::lowerRandom(const Operation &Op, llvm::StringRef Name) {
  if (!Op.info().has(Random))
    return makeError(Op.L, "'" + Op.mnemonic() + "' is not a random op");
  const TensorType &RT = Op.result()->Type;
  auto K = newKernel(Name);
  KBuilder B(*K);
  // Operands: [like (shape only),] [seed offset i64[],] then the result.
  KValue *Offset = nullptr;
  for (unsigned I = 0; I < Op.numOperands(); ++I) {
    KValue *A = B.arg(I == 0 ? "like" : "seed", dynamicLike(Op.operand(I)->Type));
    if (I == 1)
      Offset = A;
  }
  KValue *Out = B.arg("out", dynamicLike(RT));
  std::vector<std::pair<std::string, double>> Attrs;
  if (Op.kind() == OpKind::RandomUniform)
    Attrs = {{"low", Op.getFloat("low")}, {"high", Op.getFloat("high")}};
  else
    Attrs = {{"mean", Op.getFloat("mean")}, {"scale", Op.getFloat("scale")}};
  KValue *Zero = B.constIndex(0), *Flat = Zero;
  std::vector<KValue *> IVs;
  for (unsigned D = 0; D < RT.rank(); ++D) {
    KValue *Ext = B.dim(Out, D);
    IVs.push_back(B.beginFor(Zero, Ext));
    Flat = B.index(IndexOp::Add, B.index(IndexOp::Mul, Flat, Ext), IVs.back());
  }
  // The seed is read inside the nest (a parallel loop must be the only
  // top-level op); LLVM hoists it.
  SType I64 = SType::of(DType::I64);
  KValue *Seed = B.constFloat(DType::I64, double(Op.getInt("seed")));
  if (Offset)
    Seed = B.scalar(OpKind::Add, {Seed, B.load(Offset, {})}, I64);
  B.store(B.scalar(Op.kind(), {Seed, Flat}, SType::of(RT.elem()), Attrs), Out, IVs);
  KOp *Outer = nullptr;
  for (unsigned D = 0; D < RT.rank(); ++D)
    Outer = B.endFor();
  if (Outer)
    Outer->Marks.Parallel = true;
  return finishKernel(std::move(K));
}
