// Helpers shared by the interpreter unit tests: tensor literals, attribute
// shorthands and single-op evaluation.
#ifndef DLC_TEST_UNIT_INTERPRETERTESTUTIL_H
#define DLC_TEST_UNIT_INTERPRETERTESTUTIL_H

#include "interp/Interpreter.h"
#include "ir/Parser.h"
#include "ir/Random.h"

#include "gtest/gtest.h"

#include <cmath>
#include <limits>

namespace dlc {
namespace interp_test {

inline const double Inf = std::numeric_limits<double>::infinity();
inline const double NaN = std::numeric_limits<double>::quiet_NaN();

inline Tensor make(DType E, std::vector<int64_t> Shape, std::vector<double> Vals) {
  Tensor T(E, Shape);
  EXPECT_EQ(int64_t(Vals.size()), T.numElements()) << "bad test tensor";
  for (size_t I = 0; I < Vals.size() && int64_t(I) < T.numElements(); ++I)
    T.setF(I, Vals[I]);
  return T;
}
inline Tensor f32(std::vector<int64_t> Shape, std::vector<double> Vals) {
  return make(DType::F32, std::move(Shape), std::move(Vals));
}
inline Tensor i64(std::vector<int64_t> Shape, std::vector<int64_t> Vals) {
  Tensor T(DType::I64, Shape);
  for (size_t I = 0; I < Vals.size(); ++I)
    T.setI(I, Vals[I]);
  return T;
}
/// 0, 1, 2, ... in the given shape.
inline Tensor iota(std::vector<int64_t> Shape, DType E = DType::F32) {
  Tensor T(E, Shape);
  for (int64_t I = 0; I < T.numElements(); ++I)
    T.setF(I, double(I));
  return T;
}

inline NamedAttr ints(const char *N, std::vector<int64_t> V) {
  return {N, Attribute::getInts(V)};
}
inline NamedAttr integer(const char *N, int64_t V) {
  return {N, Attribute::getInt(V)};
}
inline NamedAttr flt(const char *N, double V) { return {N, Attribute::getFloat(V)}; }
inline NamedAttr boolean(const char *N, bool V) { return {N, Attribute::getBool(V)}; }
inline NamedAttr str(const char *N, const char *V) {
  return {N, Attribute::getString(V)};
}
inline NamedAttr type(const char *N, DType V) { return {N, Attribute::getType(V)}; }

/// Evaluates one op on concrete tensors.
llvm::Expected<std::vector<Tensor>> eval(OpKind K, std::vector<Tensor> Ins,
                                         std::vector<NamedAttr> Attrs = {}) {
  Operation Op(K, Loc::named("test_op"));
  std::vector<std::unique_ptr<Value>> Vals;
  std::vector<const Tensor *> Ptrs;
  for (Tensor &T : Ins) {
    Vals.push_back(std::make_unique<Value>());
    Vals.back()->Type = T.type();
    Op.Operands.push_back(Vals.back().get());
    Ptrs.push_back(&T);
  }
  for (NamedAttr &A : Attrs)
    Op.setAttr(A.Name, A.Value);
  return evaluateOp(Op, Ptrs);
}

/// The single result of a successful evaluation.
inline Tensor run(OpKind K, std::vector<Tensor> Ins,
           std::vector<NamedAttr> Attrs = {}) {
  auto R = eval(K, std::move(Ins), std::move(Attrs));
  if (!R) {
    ADD_FAILURE() << llvm::toString(R.takeError());
    return Tensor();
  }
  EXPECT_EQ(R->size(), 1u);
  return R->empty() ? Tensor() : (*R)[0];
}

/// The error message of a failing evaluation.
inline std::string runErr(OpKind K, std::vector<Tensor> Ins,
                   std::vector<NamedAttr> Attrs = {}) {
  auto R = eval(K, std::move(Ins), std::move(Attrs));
  if (R) {
    ADD_FAILURE() << "expected an error";
    return "";
  }
  return llvm::toString(R.takeError());
}

inline std::vector<int64_t> shapeOf(const Tensor &T) {
  return std::vector<int64_t>(T.shape().begin(), T.shape().end());
}

/// Checks element type, shape and values (NaN matches NaN).
inline void expectTensor(const Tensor &T, DType E, std::vector<int64_t> Shape,
                  std::vector<double> Vals, double Tol = 1e-6) {
  EXPECT_EQ(dtypeName(T.elem()), dtypeName(E));
  ASSERT_EQ(shapeOf(T), Shape);
  ASSERT_EQ(T.numElements(), int64_t(Vals.size()));
  for (size_t I = 0; I < Vals.size(); ++I) {
    double V = T.getF(I);
    if (std::isnan(Vals[I]))
      EXPECT_TRUE(std::isnan(V)) << "element " << I;
    else if (std::isinf(Vals[I]))
      EXPECT_EQ(V, Vals[I]) << "element " << I;
    else
      EXPECT_NEAR(V, Vals[I], Tol * std::max(1.0, std::fabs(Vals[I])))
          << "element " << I;
  }
}
inline void expectF32(const Tensor &T, std::vector<int64_t> Shape,
               std::vector<double> Vals, double Tol = 1e-6) {
  expectTensor(T, DType::F32, std::move(Shape), std::move(Vals), Tol);
}
inline void expectI64(const Tensor &T, std::vector<int64_t> Shape,
               std::vector<int64_t> Vals) {
  EXPECT_EQ(dtypeName(T.elem()), "i64");
  ASSERT_EQ(shapeOf(T), Shape);
  ASSERT_EQ(T.numElements(), int64_t(Vals.size()));
  for (size_t I = 0; I < Vals.size(); ++I)
    EXPECT_EQ(T.getI(I), Vals[I]) << "element " << I;
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//


} // namespace interp_test
} // namespace dlc

#endif
