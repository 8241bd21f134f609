// Shape rules of the ops whose result sizes come from operand values
// (nonzero, unique, non_max_suppression): those sizes are '?' here; the
// executor's planner evaluates the op once the operand values are known
// (exec/Executable.cpp) and the interpreter sizes the results.
#include "ir/ShapeRules.h"

using namespace dlc;
using namespace dlc::shape;

Result shape::inferNonZero(const Ctx &C) {
  if (C.In[0].rank() == 0)
    return C.err("needs an operand of rank >= 1, got " + C.In[0].str());
  return C.one(TensorType(DType::I64, {Dim::fixed(C.In[0].rank()),
                                       Dim::unknown()}));
}

Result shape::inferUnique(const Ctx &C) {
  const TensorType &X = C.In[0];
  llvm::SmallVector<TensorType, 1> R;
  Shape Y;
  Dim Inverse = Dim::unknown();
  if (const Attribute *A = C.Op.findAttr("axis")) {
    auto Axis = normalizeAxis(A->getInt(), X.rank(), C.Op.L);
    if (!Axis)
      return Axis.takeError();
    Y = X.dims();
    Inverse = Y[*Axis];
    Y[*Axis] = Dim::unknown();
  } else {
    Y = {Dim::unknown()};
    Inverse = productDim(X.dims());
  }
  R.push_back(TensorType(X.elem(), Y));
  R.push_back(TensorType(DType::I64, {Dim::unknown()}));
  R.push_back(TensorType(DType::I64, {Inverse}));
  R.push_back(TensorType(DType::I64, {Dim::unknown()}));
  return R;
}

Result shape::inferNonMaxSuppression(const Ctx &C) {
  const TensorType &B = C.In[0], &S = C.In[1];
  if (B.rank() != 3 || (B.dim(2).isStatic() && B.dim(2).size() != 4))
    return C.err("boxes must be [batch, boxes, 4], got " + B.str());
  if (S.rank() != 3)
    return C.err("scores must be [batch, classes, boxes], got " + S.str());
  auto Same = [](const Dim &A, const Dim &D) {
    return !A.isStatic() || !D.isStatic() || A.size() == D.size();
  };
  if (!Same(B.dim(0), S.dim(0)) || !Same(B.dim(1), S.dim(2)))
    return C.err("boxes " + B.str() + " and scores " + S.str() +
                 " disagree on the batch or the number of boxes");
  if (C.Op.getInt("max_output") < 0)
    return C.err("max_output must be >= 0, got " +
                 std::to_string(C.Op.getInt("max_output")));
  return C.one(TensorType(DType::I64, {Dim::unknown(), Dim::fixed(3)}));
}
