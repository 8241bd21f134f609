// Elementwise graph ops to kernel IR.
//
// 1. One loop per result dim, bounds read from the result buffer.
// 2. Each operand is indexed through numpy broadcasting: a dim known to be 1
//    reads index 0, a dim known to equal the result's reads the loop
//    variable, and any other dim reads min(i, dim - 1), which is right for
//    both sizes broadcasting allows (1 and the result's size).
// 3. The body loads one scalar per operand, applies the op and stores.
#include "kernel/Lowering.h"
#include "kernel/LoweringUtil.h"

#include "ir/Location.h"
#include "ir/LowPrecision.h"

using namespace dlc;
using namespace dlc::kir;

void kir::castAttrs(const Operation &Op,
                    std::vector<std::pair<std::string, double>> &Attrs) {
  if (Op.kind() != OpKind::Cast)
    return;
  if (!Op.getBool("saturate"))
    Attrs.push_back({"saturate", 0.0});
  if (auto R = parseE8M0Round(Op.getString("round_mode")))
    if (*R != E8M0Round::Up)
      Attrs.push_back({"round_mode", double(int(*R))});
}

llvm::Expected<std::unique_ptr<Kernel>>
dlc::lowerElementwise(const Operation &Op, llvm::StringRef Name) {
  if (!Op.info().has(Elementwise) || Op.info().has(Composite))
    return makeError(Op.L, "'" + Op.mnemonic() +
                               "' is not a primitive elementwise op");
  auto K = newKernel(Name);
  KBuilder B(*K);
  std::vector<KValue *> Ins;
  for (unsigned I = 0; I < Op.numOperands(); ++I)
    Ins.push_back(B.arg("in" + std::to_string(I), dynamicLike(Op.operand(I)->Type)));
  const TensorType &RT = Op.result()->Type;
  KValue *Out = B.arg("out", dynamicLike(RT));
  unsigned R = RT.rank();

  KValue *Zero = B.constIndex(0), *One = B.constIndex(1);
  std::vector<KValue *> Sizes;
  for (unsigned D = 0; D < R; ++D)
    Sizes.push_back(B.dim(Out, D));
  // Last-dim extents of the operands, needed for min(i, dim - 1).
  std::vector<std::vector<KValue *>> Last(Ins.size());
  for (size_t K2 = 0; K2 < Ins.size(); ++K2) {
    const TensorType &T = Op.operand(K2)->Type;
    for (unsigned J = 0; J < T.rank(); ++J) {
      const Dim &D = T.dim(J), &OD = RT.dim(J + R - T.rank());
      bool Known = (D.isStatic() && D.size() == 1) || (D == OD && !D.isUnknown());
      Last[K2].push_back(Known ? nullptr
                               : B.index(IndexOp::Sub, B.dim(Ins[K2], J), One));
    }
  }
  std::vector<KValue *> IVs;
  for (unsigned D = 0; D < R; ++D)
    IVs.push_back(B.beginFor(Zero, Sizes[D]));

  std::vector<KValue *> Scalars;
  for (size_t K2 = 0; K2 < Ins.size(); ++K2) {
    const TensorType &T = Op.operand(K2)->Type;
    std::vector<KValue *> Idx;
    for (unsigned J = 0; J < T.rank(); ++J) {
      KValue *IV = IVs[J + R - T.rank()];
      const Dim &D = T.dim(J);
      if (D.isStatic() && D.size() == 1)
        Idx.push_back(Zero);
      else if (!Last[K2][J])
        Idx.push_back(IV);
      else
        Idx.push_back(B.index(IndexOp::Min, IV, Last[K2][J]));
    }
    Scalars.push_back(B.load(Ins[K2], Idx));
  }
  std::vector<std::pair<std::string, double>> Attrs;
  for (const AttrSpec &S : Op.info().Attrs)
    if (S.Kind == AttrKind::Float)
      Attrs.push_back({S.Name.str(), Op.getFloat(S.Name)});
  castAttrs(Op, Attrs);
  KValue *V = B.scalar(Op.kind(), Scalars, SType::of(RT.elem()), Attrs);
  B.store(V, Out, IVs);
  // Result elements are independent: the outermost loop runs in parallel.
  for (unsigned D = 0; D < R; ++D)
    B.endFor()->Marks.Parallel = D + 1 == R;
  return finishKernel(std::move(K));
}
