// Reference kernels of the ops whose result sizes come from the data
// (nonzero, unique, non_max_suppression). These are also what a compiled
// function runs for them: such ops are host steps (exec/Steps.h), planned
// once their operands' values are known.
#include "interp/Kernels.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

using namespace dlc;
using namespace dlc::interp;

namespace {

/// Element I of T as a number that orders and compares exactly (i64 fits a
/// long double's 64-bit mantissa).
long double key(const Tensor &T, int64_t I) {
  return isFloat(T.elem()) ? (long double)T.getF(I) : (long double)T.getI(I);
}

void copyValue(const Tensor &From, int64_t I, Tensor &To, int64_t J) {
  if (isFloat(From.elem()))
    To.setF(J, From.getF(I));
  else
    To.setI(J, From.getI(I));
}

llvm::Error nonZero(const Tensor &X, Tensor &R) {
  int64_t N = X.numElements(), Rank = X.rank(), Count = 0;
  for (int64_t I = 0; I < N; ++I)
    Count += X.getF(I) != 0;
  R = Tensor(DType::I64, {Rank, Count});
  int64_t Col = 0;
  for (int64_t I = 0; I < N; ++I) {
    if (X.getF(I) == 0)
      continue;
    int64_t Rest = I;
    for (int64_t D = Rank - 1; D >= 0; --D) {
      R.setI(D * Count + Col, Rest % X.shape()[D]);
      Rest /= X.shape()[D];
    }
    ++Col;
  }
  return llvm::Error::success();
}

/// Slices of X along Axis (each element when the op has no axis) as keys;
/// the distinct ones in order of first occurrence, or ascending when sorted.
llvm::Error unique(const Operation &Op, const Tensor &X, ResultList Out) {
  llvm::ArrayRef<int64_t> Sh = X.shape();
  int64_t Outer = 1, Len = X.numElements(), Inner = 1, Axis = -1;
  if (const Attribute *A = Op.findAttr("axis")) {
    Axis = A->getInt() < 0 ? A->getInt() + int64_t(Sh.size()) : A->getInt();
    if (Axis < 0 || Axis >= int64_t(Sh.size()))
      return opError(Op, "axis " + std::to_string(A->getInt()) +
                             " is out of range for " + shapeStr(Sh));
    Len = Sh[Axis];
    for (int64_t D = 0; D < Axis; ++D)
      Outer *= Sh[D];
    for (int64_t D = Axis + 1; D < int64_t(Sh.size()); ++D)
      Inner *= Sh[D];
  }
  auto at = [&](int64_t O, int64_t K, int64_t I) {
    return (O * Len + K) * Inner + I;
  };
  std::vector<std::vector<long double>> Keys(Len);
  for (int64_t K = 0; K < Len; ++K)
    for (int64_t O = 0; O < Outer; ++O)
      for (int64_t I = 0; I < Inner; ++I)
        Keys[K].push_back(key(X, at(O, K, I)));
  // First occurrence of each distinct slice, in order of appearance.
  std::map<std::vector<long double>, int64_t> Index;
  std::vector<int64_t> First, Counts, Of(Len);
  for (int64_t K = 0; K < Len; ++K) {
    auto [It, New] = Index.try_emplace(Keys[K], int64_t(First.size()));
    if (New) {
      First.push_back(K);
      Counts.push_back(0);
    }
    Of[K] = It->second;
    ++Counts[It->second];
  }
  int64_t U = First.size();
  std::vector<int64_t> Order(U); // position in Y -> distinct number
  std::iota(Order.begin(), Order.end(), 0);
  if (Op.getBool("sorted"))
    std::sort(Order.begin(), Order.end(), [&](int64_t A, int64_t B) {
      return Keys[First[A]] < Keys[First[B]];
    });
  std::vector<int64_t> Pos(U);
  for (int64_t P = 0; P < U; ++P)
    Pos[Order[P]] = P;
  std::vector<int64_t> YShape = {U};
  if (Axis >= 0) {
    YShape.assign(Sh.begin(), Sh.end());
    YShape[Axis] = U;
  }
  Out[0] = Tensor(X.elem(), YShape);
  Out[1] = Tensor(DType::I64, {U});
  Out[2] = Tensor(DType::I64, {Len});
  Out[3] = Tensor(DType::I64, {U});
  for (int64_t P = 0; P < U; ++P) {
    int64_t K = First[Order[P]];
    for (int64_t O = 0; O < Outer; ++O)
      for (int64_t I = 0; I < Inner; ++I)
        copyValue(X, at(O, K, I), Out[0], (O * U + P) * Inner + I);
    Out[1].setI(P, K);
    Out[3].setI(P, Counts[Order[P]]);
  }
  for (int64_t K = 0; K < Len; ++K)
    Out[2].setI(K, Pos[Of[K]]);
  return llvm::Error::success();
}

struct Box {
  double Y1, X1, Y2, X2;
  double area() const { return (Y2 - Y1) * (X2 - X1); }
};

double iou(const Box &A, const Box &B) {
  double AA = A.area(), AB = B.area();
  if (AA <= 0 || AB <= 0)
    return 0;
  double H = std::min(A.Y2, B.Y2) - std::max(A.Y1, B.Y1);
  double W = std::min(A.X2, B.X2) - std::max(A.X1, B.X1);
  if (H <= 0 || W <= 0)
    return 0;
  double I = H * W;
  return I / (AA + AB - I);
}

llvm::Error nonMaxSuppression(const Operation &Op, const Tensor &Boxes,
                              const Tensor &Scores, Tensor &R) {
  llvm::ArrayRef<int64_t> BS = Boxes.shape(), SS = Scores.shape();
  if (BS.size() != 3 || BS[2] != 4 || SS.size() != 3 || SS[0] != BS[0] ||
      SS[2] != BS[1])
    return opError(Op, "boxes " + shapeStr(BS) + " and scores " +
                           shapeStr(SS) +
                           " must be [batch, boxes, 4] and [batch, classes, "
                           "boxes]");
  int64_t NB = BS[0], N = BS[1], NC = SS[1];
  int64_t Max = Op.getInt("max_output");
  double Iou = Op.getFloat("iou_threshold");
  const Attribute *ST = Op.findAttr("score_threshold");
  bool Center = Op.getBool("center_point_box");
  std::vector<int64_t> Sel;
  for (int64_t B = 0; B < NB; ++B) {
    std::vector<Box> Bx(N);
    for (int64_t I = 0; I < N; ++I) {
      double V[4];
      for (int K = 0; K < 4; ++K)
        V[K] = Boxes.getF((B * N + I) * 4 + K);
      if (Center) // x_center, y_center, width, height
        Bx[I] = {V[1] - V[3] / 2, V[0] - V[2] / 2, V[1] + V[3] / 2,
                 V[0] + V[2] / 2};
      else // any two opposite corners (y1, x1, y2, x2)
        Bx[I] = {std::min(V[0], V[2]), std::min(V[1], V[3]),
                 std::max(V[0], V[2]), std::max(V[1], V[3])};
    }
    for (int64_t C = 0; C < NC; ++C) {
      std::vector<int64_t> Cand;
      auto score = [&](int64_t I) { return Scores.getF((B * NC + C) * N + I); };
      for (int64_t I = 0; I < N; ++I)
        if (!ST || score(I) > ST->getFloat())
          Cand.push_back(I);
      std::stable_sort(Cand.begin(), Cand.end(), [&](int64_t A, int64_t D) {
        return score(A) > score(D);
      });
      std::vector<int64_t> Kept;
      for (int64_t I : Cand) {
        if (int64_t(Kept.size()) >= Max)
          break;
        bool Drop = false;
        for (int64_t K : Kept)
          Drop |= iou(Bx[I], Bx[K]) > Iou;
        if (!Drop)
          Kept.push_back(I);
      }
      for (int64_t K : Kept)
        Sel.insert(Sel.end(), {B, C, K});
    }
  }
  R = Tensor(DType::I64, {int64_t(Sel.size() / 3), 3});
  for (size_t I = 0; I < Sel.size(); ++I)
    R.setI(I, Sel[I]);
  return llvm::Error::success();
}

} // namespace

llvm::Error interp::evalDataShape(const Operation &Op, TensorList In,
                                  ResultList Out) {
  if (Op.kind() == OpKind::NonZero)
    return nonZero(*In[0], Out[0]);
  if (Op.kind() == OpKind::Unique)
    return unique(Op, *In[0], Out);
  assert(Op.kind() == OpKind::NonMaxSuppression && "not a DataShape op");
  return nonMaxSuppression(Op, *In[0], *In[1], Out[0]);
}
