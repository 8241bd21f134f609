// Unit tests of the reference interpreter against hand-computed values.
#include "interp/Interpreter.h"

#include "ir/Parser.h"
#include "ir/Random.h"

#include "gtest/gtest.h"

#include <cmath>
#include <limits>

using namespace dlc;

namespace {

const double Inf = std::numeric_limits<double>::infinity();
const double NaN = std::numeric_limits<double>::quiet_NaN();

Tensor make(DType E, std::vector<int64_t> Shape, std::vector<double> Vals) {
  Tensor T(E, Shape);
  EXPECT_EQ(int64_t(Vals.size()), T.numElements()) << "bad test tensor";
  for (size_t I = 0; I < Vals.size() && int64_t(I) < T.numElements(); ++I)
    T.setF(I, Vals[I]);
  return T;
}
Tensor f32(std::vector<int64_t> Shape, std::vector<double> Vals) {
  return make(DType::F32, std::move(Shape), std::move(Vals));
}
Tensor i64(std::vector<int64_t> Shape, std::vector<int64_t> Vals) {
  Tensor T(DType::I64, Shape);
  for (size_t I = 0; I < Vals.size(); ++I)
    T.setI(I, Vals[I]);
  return T;
}
/// 0, 1, 2, ... in the given shape.
Tensor iota(std::vector<int64_t> Shape, DType E = DType::F32) {
  Tensor T(E, Shape);
  for (int64_t I = 0; I < T.numElements(); ++I)
    T.setF(I, double(I));
  return T;
}

NamedAttr ints(const char *N, std::vector<int64_t> V) {
  return {N, Attribute::getInts(V)};
}
NamedAttr integer(const char *N, int64_t V) {
  return {N, Attribute::getInt(V)};
}
NamedAttr flt(const char *N, double V) { return {N, Attribute::getFloat(V)}; }
NamedAttr boolean(const char *N, bool V) { return {N, Attribute::getBool(V)}; }
NamedAttr str(const char *N, const char *V) {
  return {N, Attribute::getString(V)};
}
NamedAttr type(const char *N, DType V) { return {N, Attribute::getType(V)}; }

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
Tensor run(OpKind K, std::vector<Tensor> Ins,
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
std::string runErr(OpKind K, std::vector<Tensor> Ins,
                   std::vector<NamedAttr> Attrs = {}) {
  auto R = eval(K, std::move(Ins), std::move(Attrs));
  if (R) {
    ADD_FAILURE() << "expected an error";
    return "";
  }
  return llvm::toString(R.takeError());
}

std::vector<int64_t> shapeOf(const Tensor &T) {
  return std::vector<int64_t>(T.shape().begin(), T.shape().end());
}

/// Checks element type, shape and values (NaN matches NaN).
void expectTensor(const Tensor &T, DType E, std::vector<int64_t> Shape,
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
void expectF32(const Tensor &T, std::vector<int64_t> Shape,
               std::vector<double> Vals, double Tol = 1e-6) {
  expectTensor(T, DType::F32, std::move(Shape), std::move(Vals), Tol);
}
void expectI64(const Tensor &T, std::vector<int64_t> Shape,
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

TEST(InterpElementwise, BroadcastAdd2x1With1x3) {
  Tensor R = run(OpKind::Add, {f32({2, 1}, {1, 2}), f32({1, 3}, {10, 20, 30})});
  expectF32(R, {2, 3}, {11, 21, 31, 12, 22, 32});
}

TEST(InterpElementwise, BroadcastScalarAndRank3) {
  Tensor R = run(OpKind::Mul, {iota({2, 1, 2}), f32({}, {3})});
  expectF32(R, {2, 1, 2}, {0, 3, 6, 9});
  R = run(OpKind::Sub, {f32({3}, {1, 2, 3}), f32({2, 1}, {10, 20})});
  expectF32(R, {2, 3}, {-9, -8, -7, -19, -18, -17});
}

TEST(InterpElementwise, IntegerDivisionTruncatesTowardZero) {
  Tensor R =
      run(OpKind::Div, {i64({4}, {7, -7, 7, -7}), i64({4}, {2, 2, -2, -2})});
  expectI64(R, {4}, {3, -3, -3, 3});
  std::string E = runErr(OpKind::Div, {i64({2}, {1, 2}), i64({2}, {1, 0})});
  EXPECT_NE(E.find("test_op: error: div: integer division by zero"),
            std::string::npos)
      << E;
}

TEST(InterpElementwise, Int64IsExact) {
  int64_t Big = (int64_t(1) << 62) + 1;
  Tensor R = run(OpKind::Add, {i64({1}, {Big}), i64({1}, {2})});
  expectI64(R, {1}, {Big + 2});
  R = run(OpKind::Mul, {i64({1}, {Big}), i64({}, {1})});
  expectI64(R, {1}, {Big});
}

TEST(InterpElementwise, I32Arithmetic) {
  Tensor A = make(DType::I32, {3}, {5, -3, 100});
  Tensor B = make(DType::I32, {3}, {2, 2, 7});
  Tensor R = run(OpKind::Sub, {A, B});
  expectTensor(R, DType::I32, {3}, {3, -5, 93});
  R = run(OpKind::Max, {A, B});
  expectTensor(R, DType::I32, {3}, {5, 2, 100});
  R = run(OpKind::Abs, {A});
  expectTensor(R, DType::I32, {3}, {5, 3, 100});
}

TEST(InterpElementwise, CastSaturatesAndTruncates) {
  Tensor X = f32({5}, {300, -5, 3.7, -3.7, NaN});
  expectTensor(run(OpKind::Cast, {X}, {type("to", DType::U8)}), DType::U8, {5},
               {255, 0, 3, 0, 0});
  expectTensor(run(OpKind::Cast, {X}, {type("to", DType::I8)}), DType::I8, {5},
               {127, -5, 3, -3, 0});
  expectTensor(
      run(OpKind::Cast, {f32({3}, {0, 0.5, -2})}, {type("to", DType::Bool)}),
      DType::Bool, {3}, {0, 1, 1});
  expectTensor(run(OpKind::Cast, {i64({2}, {7, -1})}, {type("to", DType::F64)}),
               DType::F64, {2}, {7, -1});
  // Integer narrowing wraps.
  expectTensor(
      run(OpKind::Cast, {i64({2}, {300, -1})}, {type("to", DType::U8)}),
      DType::U8, {2}, {44, 255});
}

TEST(InterpElementwise, RoundHalfToEven) {
  Tensor R = run(OpKind::Round,
                 {f32({8}, {0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6, -2.5})});
  expectF32(R, {8}, {0, 2, 2, 0, -2, 2, 3, -2});
  EXPECT_TRUE(std::signbit(R.getF(3))); // -0.5 rounds to -0
}

TEST(InterpElementwise, FloorCeilSign) {
  Tensor X = f32({4}, {-1.5, -0.0, 0.25, 3});
  expectF32(run(OpKind::Floor, {X}), {4}, {-2, 0, 0, 3});
  expectF32(run(OpKind::Ceil, {X}), {4}, {-1, 0, 1, 3});
  expectF32(run(OpKind::Sign, {X}), {4}, {-1, 0, 1, 1});
}

TEST(InterpElementwise, Activations) {
  Tensor X = f32({4}, {-2, -0.5, 0, 1});
  expectF32(run(OpKind::Relu, {X}), {4}, {0, 0, 0, 1});
  expectF32(run(OpKind::LeakyRelu, {X}), {4}, {-0.02, -0.005, 0, 1});
  expectF32(run(OpKind::LeakyRelu, {X}, {flt("alpha", 0.5)}), {4},
            {-1, -0.25, 0, 1});
  expectF32(run(OpKind::Elu, {X}), {4},
            {std::exp(-2.0) - 1, std::exp(-0.5) - 1, 0, 1});
  expectF32(run(OpKind::Sigmoid, {X}), {4},
            {0.11920292, 0.37754067, 0.5, 0.73105858});
  expectF32(run(OpKind::Softplus, {X}), {4},
            {0.12692801, 0.47407698, 0.69314718, 1.31326169});
  expectF32(run(OpKind::Tanh, {X}), {4},
            {-0.96402758, -0.46211716, 0, 0.76159416});
  expectF32(run(OpKind::Neg, {X}), {4}, {2, 0.5, 0, -1});
}

TEST(InterpElementwise, GeluExactAndTanh) {
  Tensor X = f32({3}, {-1, 0, 1});
  expectF32(run(OpKind::Gelu, {X}), {3}, {-0.15865525, 0, 0.84134475});
  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) at x = 1: 0.8411920.
  expectF32(run(OpKind::Gelu, {X}, {str("approximate", "tanh")}), {3},
            {-0.15880801, 0, 0.84119199});
}

TEST(InterpElementwise, MathFunctions) {
  Tensor X = f32({3}, {1, 4, 0.25});
  expectF32(run(OpKind::Sqrt, {X}), {3}, {1, 2, 0.5});
  expectF32(run(OpKind::Rsqrt, {X}), {3}, {1, 0.5, 2});
  expectF32(run(OpKind::Reciprocal, {X}), {3}, {1, 0.25, 4});
  expectF32(run(OpKind::Log, {X}), {3}, {0, std::log(4.0), std::log(0.25)});
  expectF32(run(OpKind::Exp, {f32({2}, {0, 1})}), {2}, {1, 2.71828183});
  expectF32(run(OpKind::Erf, {f32({2}, {0, 1})}), {2}, {0, 0.84270079});
  expectF32(run(OpKind::Sin, {f32({1}, {M_PI / 2})}), {1}, {1});
  expectF32(run(OpKind::Cos, {f32({1}, {0})}), {1}, {1});
  expectF32(run(OpKind::Pow, {f32({3}, {2, 3, 4}), f32({}, {2})}), {3},
            {4, 9, 16});
}

TEST(InterpElementwise, ClipFloatAndInt) {
  expectF32(run(OpKind::Clip, {f32({4}, {-1, 2, 7, 3})},
                {flt("min", 0), flt("max", 6)}),
            {4}, {0, 2, 6, 3});
  expectF32(run(OpKind::Clip, {f32({2}, {-Inf, Inf})}), {2}, {-Inf, Inf});
  expectI64(run(OpKind::Clip, {i64({3}, {-5, 5, 50})},
                {flt("min", -1), flt("max", 10)}),
            {3}, {-1, 5, 10});
}

TEST(InterpElementwise, MaxMinPropagateNaN) {
  Tensor R = run(OpKind::Max, {f32({2}, {NaN, 1}), f32({2}, {1, 2})});
  expectF32(R, {2}, {NaN, 2});
  R = run(OpKind::Min, {f32({2}, {NaN, 1}), f32({2}, {1, 2})});
  expectF32(R, {2}, {NaN, 1});
}

TEST(InterpElementwise, CompareAndLogic) {
  Tensor A = f32({3}, {1, 2, 3}), B = f32({}, {2});
  expectTensor(run(OpKind::Less, {A, B}), DType::Bool, {3}, {1, 0, 0});
  expectTensor(run(OpKind::LessEqual, {A, f32({3}, {2, 2, 2})}), DType::Bool,
               {3}, {1, 1, 0});
  expectTensor(run(OpKind::Greater, {A, f32({3}, {2, 2, 2})}), DType::Bool, {3},
               {0, 0, 1});
  expectTensor(run(OpKind::GreaterEqual, {A, f32({3}, {2, 2, 2})}), DType::Bool,
               {3}, {0, 1, 1});
  expectTensor(run(OpKind::Equal, {i64({3}, {1, 2, 3}), i64({3}, {1, 0, 3})}),
               DType::Bool, {3}, {1, 0, 1});
  Tensor P = make(DType::Bool, {4}, {0, 0, 1, 1});
  Tensor Q = make(DType::Bool, {4}, {0, 1, 0, 1});
  expectTensor(run(OpKind::And, {P, Q}), DType::Bool, {4}, {0, 0, 0, 1});
  expectTensor(run(OpKind::Or, {P, Q}), DType::Bool, {4}, {0, 1, 1, 1});
  expectTensor(run(OpKind::Xor, {P, Q}), DType::Bool, {4}, {0, 1, 1, 0});
  expectTensor(run(OpKind::Not, {P}), DType::Bool, {4}, {1, 1, 0, 0});
}

TEST(InterpElementwise, WhereBroadcasts) {
  Tensor C = make(DType::Bool, {2, 1}, {1, 0});
  Tensor R = run(OpKind::Where, {C, iota({2, 3}), f32({}, {-1})});
  expectF32(R, {2, 3}, {0, 1, 2, -1, -1, -1});
}

TEST(InterpElementwise, IdentityKeepsBits) {
  Tensor X = i64({2}, {std::numeric_limits<int64_t>::min(), 5});
  EXPECT_TRUE(run(OpKind::Identity, {X}) == X);
}

TEST(InterpElementwise, DropoutTrainingAndInference) {
  Tensor X = f32({64}, std::vector<double>(64, 3.0));
  Tensor R =
      run(OpKind::Dropout, {X},
          {flt("ratio", 0.5), integer("seed", 7), boolean("training", true)});
  int Kept = 0;
  for (int64_t I = 0; I < 64; ++I) {
    bool Keep = uniformAt(7, I) >= 0.5;
    Kept += Keep;
    EXPECT_EQ(R.getF(I), Keep ? 6.0 : 0.0) << I;
  }
  EXPECT_GT(Kept, 10);
  EXPECT_LT(Kept, 54);
  EXPECT_TRUE(run(OpKind::Dropout, {X}, {flt("ratio", 0.5)}) == X);
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

TEST(InterpReduce, SumKeepdimsAndAxes) {
  Tensor X = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  expectF32(run(OpKind::ReduceSum, {X}, {ints("axes", {1})}), {2, 1}, {6, 15});
  expectF32(run(OpKind::ReduceSum, {X},
                {ints("axes", {0}), boolean("keepdims", false)}),
            {3}, {5, 7, 9});
  expectF32(run(OpKind::ReduceSum, {X}), {1, 1}, {21});
  expectF32(run(OpKind::ReduceSum, {X}, {boolean("keepdims", false)}), {},
            {21});
  expectF32(run(OpKind::ReduceSum, {iota({2, 2, 2})}, {ints("axes", {0, -1})}),
            {1, 2, 1}, {0 + 1 + 4 + 5, 2 + 3 + 6 + 7});
}

TEST(InterpReduce, MeanMaxMinProd) {
  Tensor X = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  expectF32(run(OpKind::ReduceMean, {X}, {ints("axes", {-1})}), {2, 1}, {2, 5});
  expectF32(run(OpKind::ReduceMax, {X}, {ints("axes", {0})}), {1, 3},
            {4, 5, 6});
  expectF32(run(OpKind::ReduceMin, {X}, {ints("axes", {1})}), {2, 1}, {1, 4});
  expectF32(run(OpKind::ReduceProd, {X}, {ints("axes", {1})}), {2, 1},
            {6, 120});
}

TEST(InterpReduce, LogSumExpIsStable) {
  Tensor X = f32({2, 2}, {0, 0, 1000, 1000});
  expectF32(run(OpKind::ReduceLogSumExp, {X},
                {ints("axes", {1}), boolean("keepdims", false)}),
            {2}, {std::log(2.0), 1000 + std::log(2.0)});
}

TEST(InterpReduce, IntegerSumIsExact) {
  int64_t Big = int64_t(1) << 60;
  expectI64(run(OpKind::ReduceSum, {i64({3}, {Big, 1, 2})},
                {boolean("keepdims", false)}),
            {}, {Big + 3});
  expectI64(run(OpKind::ReduceMax, {i64({3}, {-5, 9, 2})}), {1}, {9});
}

TEST(InterpReduce, EmptyAxes) {
  Tensor X(DType::F32, {2, 0});
  expectF32(run(OpKind::ReduceSum, {X}, {ints("axes", {1})}), {2, 1}, {0, 0});
  expectF32(run(OpKind::ReduceProd, {X}, {ints("axes", {1})}), {2, 1}, {1, 1});
  expectF32(run(OpKind::ReduceMax, {X}, {ints("axes", {1})}), {2, 1},
            {-Inf, -Inf});
  expectF32(run(OpKind::ReduceSum, {X}, {ints("axes", {0})}), {1, 0}, {});
}

TEST(InterpReduce, ArgMaxTies) {
  Tensor X = f32({4}, {1, 3, 3, 2});
  expectI64(run(OpKind::ArgMax, {X}), {1}, {1});
  expectI64(run(OpKind::ArgMax, {X}, {boolean("select_last_index", true)}), {1},
            {2});
  Tensor Y = f32({2, 3}, {2, 1, 1, 0, 5, 0});
  expectI64(run(OpKind::ArgMin, {Y}, {integer("axis", 1)}), {2, 1}, {1, 0});
  expectI64(run(OpKind::ArgMin, {Y},
                {integer("axis", -1), boolean("keepdims", false),
                 boolean("select_last_index", true)}),
            {2}, {2, 2});
  expectI64(run(OpKind::ArgMax, {Y}, {boolean("keepdims", false)}), {3},
            {0, 1, 0});
}

//===----------------------------------------------------------------------===//
// Matmul, gemm, normalization
//===----------------------------------------------------------------------===//

TEST(InterpLinear, MatMul2x3By3x2) {
  Tensor A = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor B = f32({3, 2}, {7, 8, 9, 10, 11, 12});
  expectF32(run(OpKind::MatMul, {A, B}), {2, 2}, {58, 64, 139, 154});
}

TEST(InterpLinear, MatMulPromotes1D) {
  Tensor A = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor B = f32({3, 2}, {7, 8, 9, 10, 11, 12});
  Tensor V = f32({3}, {1, 2, 3});
  expectF32(run(OpKind::MatMul, {V, f32({3}, {4, 5, 6})}), {}, {32});
  expectF32(run(OpKind::MatMul, {V, B}), {2}, {58, 64});
  expectF32(run(OpKind::MatMul, {A, f32({3}, {1, 1, 1})}), {2}, {6, 15});
}

TEST(InterpLinear, MatMulBroadcastsBatch) {
  // a[2,1,2,2]: identity, then 2 * identity; b[3,2,2] = iota.
  Tensor A = f32({2, 1, 2, 2}, {1, 0, 0, 1, 2, 0, 0, 2});
  Tensor B = iota({3, 2, 2});
  Tensor R = run(OpKind::MatMul, {A, B});
  ASSERT_EQ(shapeOf(R), (std::vector<int64_t>{2, 3, 2, 2}));
  for (int64_t I = 0; I < 24; ++I)
    EXPECT_EQ(R.getF(I), double((I / 12) + 1) * double(I % 12)) << I;
}

TEST(InterpLinear, Gemm) {
  Tensor A = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor Bt = f32({2, 3}, {7, 9, 11, 8, 10, 12}); // B transposed
  Tensor C = f32({2}, {1, -1});
  expectF32(run(OpKind::Gemm, {A, Bt, C}, {boolean("trans_b", true)}), {2, 2},
            {59, 63, 140, 153});
  expectF32(run(OpKind::Gemm, {A, Bt, C},
                {boolean("trans_b", true), flt("alpha", 0.5), flt("beta", 2)}),
            {2, 2}, {31, 30, 71.5, 75});
  Tensor At = f32({3, 2}, {1, 4, 2, 5, 3, 6});
  expectF32(run(OpKind::Gemm, {At, Bt},
                {boolean("trans_a", true), boolean("trans_b", true)}),
            {2, 2}, {58, 64, 139, 154});
}

TEST(InterpNorm, SoftmaxOf123) {
  Tensor X = f32({3}, {1, 2, 3});
  expectF32(run(OpKind::Softmax, {X}), {3},
            {0.09003057, 0.24472847, 0.66524096});
  expectF32(run(OpKind::LogSoftmax, {X}), {3},
            {-2.40760596, -1.40760596, -0.40760596});
  // Stable for large inputs.
  expectF32(run(OpKind::Softmax, {f32({3}, {1001, 1002, 1003})}), {3},
            {0.09003057, 0.24472847, 0.66524096});
  expectF32(run(OpKind::LogSoftmax, {f32({2}, {-1000, 0})}), {2}, {-1000, 0});
}

TEST(InterpNorm, SoftmaxAxis0) {
  Tensor X = f32({2, 2}, {0, 1, 0, 1});
  expectF32(run(OpKind::Softmax, {X}, {integer("axis", 0)}), {2, 2},
            {0.5, 0.5, 0.5, 0.5});
}

TEST(InterpNorm, BatchNorm) {
  Tensor X = f32({1, 2, 1, 2}, {1, 3, 2, 6});
  Tensor Scale = f32({2}, {2, 3}), Bias = f32({2}, {1, 1});
  Tensor Mean = f32({2}, {0, 1}), Var = f32({2}, {1, 4});
  expectF32(
      run(OpKind::BatchNorm, {X, Scale, Bias, Mean, Var}, {flt("epsilon", 0)}),
      {1, 2, 1, 2}, {3, 7, 2.5, 8.5});
}

TEST(InterpNorm, LayerNorm) {
  Tensor X = f32({2, 4}, {1, 2, 3, 4, 0, 2, 4, 6});
  double S = 1 / std::sqrt(1.25), T = 1 / std::sqrt(5.0);
  expectF32(run(OpKind::LayerNorm, {X}, {flt("epsilon", 0)}), {2, 4},
            {-1.5 * S, -0.5 * S, 0.5 * S, 1.5 * S, -3 * T, -T, T, 3 * T}, 1e-5);
  Tensor G = f32({4}, {1, 2, 1, 2}), B = f32({4}, {0, 0, 1, 1});
  expectF32(run(OpKind::LayerNorm, {X, G, B}, {flt("epsilon", 0)}), {2, 4},
            {-1.5 * S, -1.0 * S, 1 + 0.5 * S, 1 + 3 * S, -3 * T, -2 * T, 1 + T,
             1 + 6 * T},
            1e-5);
  // axis 0 normalizes everything.
  Tensor R = run(OpKind::LayerNorm, {X}, {integer("axis", 0)});
  double Sum = 0;
  for (int I = 0; I < 8; ++I)
    Sum += R.getF(I);
  EXPECT_NEAR(Sum, 0, 1e-5);
}

//===----------------------------------------------------------------------===//
// Convolution and pooling
//===----------------------------------------------------------------------===//

TEST(InterpConv, Conv3x3With2x2Kernel) {
  Tensor X = f32({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor W = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  expectF32(run(OpKind::Conv, {X, W}), {1, 1, 2, 2}, {37, 47, 67, 77});
  expectF32(run(OpKind::Conv, {X, W, f32({1}, {1})}), {1, 1, 2, 2},
            {38, 48, 68, 78});
}

TEST(InterpConv, PadsAndStrides) {
  Tensor X = f32({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor W = f32({1, 1, 2, 2}, {1, 1, 1, 1});
  expectF32(run(OpKind::Conv, {X, W},
                {ints("pads", {1, 1, 1, 1}), ints("strides", {2, 2})}),
            {1, 1, 2, 2}, {1, 5, 11, 28});
  // Asymmetric pads: only the left column is padded.
  expectF32(run(OpKind::Conv, {X, W}, {ints("pads", {0, 1, 0, 0})}),
            {1, 1, 2, 3}, {5, 12, 16, 11, 24, 28});
}

TEST(InterpConv, GroupsAndDilations) {
  Tensor X = f32({1, 2, 1, 2}, {1, 2, 3, 4});
  Tensor W = f32({2, 1, 1, 1}, {2, 3});
  expectF32(run(OpKind::Conv, {X, W}, {integer("group", 2)}), {1, 2, 1, 2},
            {2, 4, 9, 12});
  Tensor X1 = f32({1, 1, 5}, {1, 2, 3, 4, 5});
  Tensor W1 = f32({1, 1, 2}, {1, 1});
  expectF32(run(OpKind::Conv, {X1, W1}, {ints("dilations", {2})}), {1, 1, 3},
            {4, 6, 8});
  // Two output channels summing two input channels each.
  Tensor W2 = f32({2, 2, 1, 1}, {1, 1, 1, -1});
  expectF32(run(OpKind::Conv, {X, W2}), {1, 2, 1, 2}, {4, 6, -2, -2});
}

TEST(InterpConv, ConvTranspose) {
  Tensor X = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor W = f32({1, 1, 2, 2}, {1, 1, 1, 1});
  expectF32(run(OpKind::ConvTranspose, {X, W}), {1, 1, 3, 3},
            {1, 3, 2, 4, 10, 6, 3, 7, 4});
  expectF32(run(OpKind::ConvTranspose, {X, W}, {ints("strides", {2, 2})}),
            {1, 1, 4, 4}, {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  expectF32(run(OpKind::ConvTranspose, {X, W, f32({1}, {10})},
                {ints("strides", {2, 2}), ints("output_padding", {1, 1})}),
            {1, 1, 5, 5}, {11, 11, 12, 12, 10, 11, 11, 12, 12, 10, 13, 13, 14,
                           14, 10, 13, 13, 14, 14, 10, 10, 10, 10, 10, 10});
  expectF32(run(OpKind::ConvTranspose, {X, W}, {ints("pads", {1, 1, 1, 1})}),
            {1, 1, 1, 1}, {10});
  Tensor Xg = f32({1, 2, 1, 1}, {1, 2});
  Tensor Wg = f32({2, 1, 1, 1}, {3, 4});
  expectF32(run(OpKind::ConvTranspose, {Xg, Wg}, {integer("group", 2)}),
            {1, 2, 1, 1}, {3, 8});
}

TEST(InterpPool, MaxPoolWithPads) {
  Tensor X = f32({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  expectF32(run(OpKind::MaxPool, {X},
                {ints("kernel", {2, 2}), ints("pads", {1, 1, 1, 1})}),
            {1, 1, 4, 4}, {1, 2, 3, 3, 4, 5, 6, 6, 7, 8, 9, 9, 7, 8, 9, 9});
  expectF32(run(OpKind::MaxPool, {f32({1, 1, 4}, {-1, -2, -3, -4})},
                {ints("kernel", {2}), ints("strides", {2})}),
            {1, 1, 2}, {-1, -3});
}

TEST(InterpPool, AvgPoolCountIncludePad) {
  Tensor X = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  std::vector<NamedAttr> A = {ints("kernel", {2, 2}),
                              ints("pads", {1, 1, 1, 1})};
  expectF32(run(OpKind::AvgPool, {X}, A), {1, 1, 3, 3},
            {1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4});
  A.push_back(boolean("count_include_pad", true));
  expectF32(run(OpKind::AvgPool, {X}, A), {1, 1, 3, 3},
            {0.25, 0.75, 0.5, 1, 2.5, 1.5, 0.75, 1.75, 1});
}

TEST(InterpPool, CeilMode) {
  Tensor X = f32({1, 1, 1, 5}, {1, 2, 3, 4, 5});
  std::vector<NamedAttr> A = {ints("kernel", {1, 2}), ints("strides", {1, 2}),
                              boolean("ceil_mode", true)};
  expectF32(run(OpKind::AvgPool, {X}, A), {1, 1, 1, 3}, {1.5, 3.5, 5});
  expectF32(run(OpKind::MaxPool, {X}, A), {1, 1, 1, 3}, {2, 4, 5});
  A.push_back(boolean("count_include_pad", true));
  expectF32(run(OpKind::AvgPool, {X}, A), {1, 1, 1, 3}, {1.5, 3.5, 5});
  expectF32(run(OpKind::AvgPool, {X},
                {ints("kernel", {1, 2}), ints("strides", {1, 2})}),
            {1, 1, 1, 2}, {1.5, 3.5});
}

TEST(InterpPool, GlobalPools) {
  Tensor X = f32({1, 2, 2, 2}, {1, 2, 3, 4, -1, -2, -3, -4});
  expectF32(run(OpKind::GlobalAvgPool, {X}), {1, 2, 1, 1}, {2.5, -2.5});
  expectF32(run(OpKind::GlobalMaxPool, {X}), {1, 2, 1, 1}, {4, -1});
}

//===----------------------------------------------------------------------===//
// Movement
//===----------------------------------------------------------------------===//

TEST(InterpMovement, ReshapeFlattenSqueezeUnsqueeze) {
  Tensor X = iota({2, 3, 4});
  Tensor R = run(OpKind::Reshape, {X}, {ints("shape", {-1, 6})});
  EXPECT_EQ(shapeOf(R), (std::vector<int64_t>{4, 6}));
  EXPECT_EQ(R.bytes(), X.bytes());
  EXPECT_EQ(shapeOf(run(OpKind::Flatten, {X})), (std::vector<int64_t>{2, 12}));
  EXPECT_EQ(shapeOf(run(OpKind::Flatten, {X}, {integer("axis", 0)})),
            (std::vector<int64_t>{1, 24}));
  Tensor Y = iota({1, 3, 1});
  EXPECT_EQ(shapeOf(run(OpKind::Squeeze, {Y})), (std::vector<int64_t>{3}));
  EXPECT_EQ(shapeOf(run(OpKind::Squeeze, {Y}, {ints("axes", {-1})})),
            (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(
      shapeOf(run(OpKind::Unsqueeze, {iota({3})}, {ints("axes", {0, -1})})),
      (std::vector<int64_t>{1, 3, 1}));
  std::string E = runErr(OpKind::Reshape, {X}, {ints("shape", {5, -1})});
  EXPECT_NE(E.find("test_op: error:"), std::string::npos) << E;
}

TEST(InterpMovement, Transpose) {
  Tensor X = iota({2, 3});
  expectF32(run(OpKind::Transpose, {X}), {3, 2}, {0, 3, 1, 4, 2, 5});
  Tensor Y = iota({2, 1, 3});
  expectF32(run(OpKind::Transpose, {Y}, {ints("perm", {2, 0, 1})}), {3, 2, 1},
            {0, 3, 1, 4, 2, 5});
}

TEST(InterpMovement, ConcatAndSplit) {
  Tensor A = iota({2, 1}), B = f32({2, 2}, {10, 11, 12, 13});
  expectF32(run(OpKind::Concat, {A, B}, {integer("axis", 1)}), {2, 3},
            {0, 10, 11, 1, 12, 13});
  expectF32(run(OpKind::Concat, {A, f32({0, 1}, {}), A}, {integer("axis", 0)}),
            {4, 1}, {0, 1, 0, 1});
  auto R = eval(OpKind::Split, {iota({2, 3})},
                {integer("axis", 1), ints("sizes", {1, 2})});
  ASSERT_TRUE(bool(R)) << llvm::toString(R.takeError());
  ASSERT_EQ(R->size(), 2u);
  expectF32((*R)[0], {2, 1}, {0, 3});
  expectF32((*R)[1], {2, 2}, {1, 2, 4, 5});
}

TEST(InterpMovement, SliceNegativeStepsAndClamping) {
  Tensor X = iota({10});
  expectF32(run(OpKind::Slice, {X},
                {ints("starts", {8}), ints("ends", {1}), ints("steps", {-3})}),
            {3}, {8, 5, 2});
  expectF32(
      run(OpKind::Slice, {X},
          {ints("starts", {-1}), ints("ends", {-100}), ints("steps", {-4})}),
      {3}, {9, 5, 1});
  expectF32(run(OpKind::Slice, {X},
                {ints("starts", {std::numeric_limits<int64_t>::max()}),
                 ints("ends", {std::numeric_limits<int64_t>::min()}),
                 ints("steps", {-1})}),
            {10}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
  expectF32(
      run(OpKind::Slice, {X}, {ints("starts", {-3}), ints("ends", {100})}), {3},
      {7, 8, 9});
  expectF32(run(OpKind::Slice, {X}, {ints("starts", {5}), ints("ends", {2})}),
            {0}, {});
  Tensor Y = iota({3, 4});
  expectF32(run(OpKind::Slice, {Y},
                {ints("starts", {1}), ints("ends", {100}), ints("axes", {-1}),
                 ints("steps", {2})}),
            {3, 2}, {1, 3, 5, 7, 9, 11});
}

TEST(InterpMovement, PadModes) {
  Tensor X = f32({3}, {1, 2, 3});
  expectF32(
      run(OpKind::Pad, {X}, {ints("pads", {2, 2}), str("mode", "reflect")}),
      {7}, {3, 2, 1, 2, 3, 2, 1});
  expectF32(run(OpKind::Pad, {X}, {ints("pads", {2, 2}), str("mode", "edge")}),
            {7}, {1, 1, 1, 2, 3, 3, 3});
  expectF32(run(OpKind::Pad, {X}, {ints("pads", {2, 2}), flt("value", 9)}), {7},
            {9, 9, 1, 2, 3, 9, 9});
  expectF32(run(OpKind::Pad, {X}, {ints("pads", {-1, 1})}), {3}, {2, 3, 0});
  Tensor Y = iota({2, 2});
  expectF32(run(OpKind::Pad, {Y},
                {ints("pads", {0, 1, 1, 0}), str("mode", "reflect")}),
            {3, 3}, {1, 0, 1, 3, 2, 3, 1, 0, 1});
}

TEST(InterpMovement, GatherNegativeIndices) {
  Tensor X = f32({3, 2}, {1, 2, 3, 4, 5, 6});
  expectF32(run(OpKind::Gather, {X, i64({2}, {-1, 0})}), {2, 2}, {5, 6, 1, 2});
  expectF32(run(OpKind::Gather, {X, i64({1, 1}, {1})}, {integer("axis", 1)}),
            {3, 1, 1}, {2, 4, 6});
  expectF32(run(OpKind::Gather, {X, i64({}, {-2})}), {2}, {3, 4});
  std::string E = runErr(OpKind::Gather, {X, i64({2}, {0, 3})});
  EXPECT_NE(E.find("test_op: error: gather: index 3 is out of range"),
            std::string::npos)
      << E;
  E = runErr(OpKind::Gather, {X, i64({1}, {-4})});
  EXPECT_NE(E.find("out of range"), std::string::npos) << E;
}

TEST(InterpMovement, ExpandTileOneHot) {
  Tensor X = f32({3, 1}, {1, 2, 3});
  expectF32(run(OpKind::Expand, {X}, {ints("shape", {2, 1, 2})}), {2, 3, 2},
            {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
  expectF32(run(OpKind::Tile, {f32({2}, {1, 2})}, {ints("repeats", {3})}), {6},
            {1, 2, 1, 2, 1, 2});
  expectF32(run(OpKind::Tile, {X}, {ints("repeats", {1, 2})}), {3, 2},
            {1, 1, 2, 2, 3, 3});
  expectF32(run(OpKind::OneHot, {i64({3}, {2, 0, 5})}, {integer("depth", 3)}),
            {3, 3}, {0, 0, 1, 1, 0, 0, 0, 0, 0});
  expectTensor(run(OpKind::OneHot, {i64({1}, {1})},
                   {integer("depth", 2), type("dtype", DType::I64)}),
               DType::I64, {1, 2}, {0, 1});
}

//===----------------------------------------------------------------------===//
// Sources
//===----------------------------------------------------------------------===//

TEST(InterpSource, ShapeConstantRange) {
  expectI64(run(OpKind::ShapeOf, {iota({2, 0, 5})}), {3}, {2, 0, 5});
  Tensor C = f32({2}, {1.5, -2});
  auto Ref = std::make_shared<const Tensor>(C);
  EXPECT_TRUE(
      run(OpKind::Constant, {}, {{"value", Attribute::getTensor(Ref)}}) == C);
  expectF32(run(OpKind::Range, {},
                {flt("start", 1), flt("limit", 9), flt("delta", 2)}),
            {4}, {1, 3, 5, 7});
  expectI64(
      run(OpKind::Range, {},
          {flt("limit", -3), flt("delta", -1), type("dtype", DType::I64)}),
      {3}, {0, -1, -2});
}

TEST(InterpSource, RandomIsReproducible) {
  Tensor U = run(OpKind::RandomUniform, {},
                 {ints("shape", {100}), flt("low", 2), flt("high", 4),
                  integer("seed", 3)});
  ASSERT_EQ(U.numElements(), 100);
  for (int64_t I = 0; I < 100; ++I) {
    EXPECT_NEAR(U.getF(I), 2 + 2 * uniformAt(3, I), 1e-6);
    EXPECT_GE(U.getF(I), 2.0);
    EXPECT_LT(U.getF(I), 4.0);
  }
  Tensor N = run(OpKind::RandomNormal, {iota({4, 5})},
                 {flt("mean", 1), flt("scale", 2), integer("seed", 9)});
  ASSERT_EQ(shapeOf(N), (std::vector<int64_t>{4, 5}));
  for (int64_t I = 0; I < 20; ++I)
    EXPECT_NEAR(N.getF(I), 1 + 2 * normalAt(9, I), 1e-5);
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

TEST(InterpLoss, SoftmaxCrossEntropy) {
  Tensor X = f32({2, 3}, {1, 2, 3, 1, 2, 3});
  expectF32(run(OpKind::SoftmaxCrossEntropy, {X, i64({2}, {2, 0})},
                {str("reduction", "none")}),
            {2}, {0.40760596, 2.40760596});
  expectF32(run(OpKind::SoftmaxCrossEntropy, {X, i64({2}, {2, 0})}), {},
            {1.40760596});
  expectF32(run(OpKind::SoftmaxCrossEntropy, {X, i64({2}, {2, 0})},
                {str("reduction", "sum")}),
            {}, {2.81521192});
  // Probability labels: half on class 0, half on class 2.
  Tensor P = f32({2, 3}, {0.5, 0, 0.5, 0, 0, 1});
  expectF32(
      run(OpKind::SoftmaxCrossEntropy, {X, P}, {str("reduction", "none")}), {2},
      {1.40760596, 0.40760596});
  std::string E = runErr(OpKind::SoftmaxCrossEntropy, {X, i64({2}, {3, 0})});
  EXPECT_NE(E.find("out of range"), std::string::npos) << E;
}

TEST(InterpLoss, NllMseBce) {
  Tensor LP = f32({2, 2}, {-1, -2, -3, -4});
  Tensor L = i64({2}, {1, 0});
  expectF32(run(OpKind::NllLoss, {LP, L}, {str("reduction", "none")}), {2},
            {2, 3});
  expectF32(run(OpKind::NllLoss, {LP, L}), {}, {2.5});
  expectF32(run(OpKind::NllLoss, {LP, L}, {str("reduction", "sum")}), {}, {5});
  expectF32(run(OpKind::MseLoss, {f32({2}, {1, 2}), f32({2}, {3, 5})}), {},
            {6.5});
  expectF32(run(OpKind::MseLoss, {f32({2}, {1, 2}), f32({2}, {3, 5})},
                {str("reduction", "none")}),
            {2}, {4, 9});
  expectF32(run(OpKind::BceLoss, {f32({3}, {0.5, 0, 1}), f32({3}, {1, 1, 1})},
                {str("reduction", "none")}),
            {3}, {std::log(2.0), 100, 0});
  expectF32(run(OpKind::BceLoss, {f32({2}, {0.25, 0.5}), f32({2}, {0, 1})},
                {str("reduction", "sum")}),
            {}, {-std::log(0.75) + std::log(2.0)});
}

//===----------------------------------------------------------------------===//
// Zero-element tensors, op coverage
//===----------------------------------------------------------------------===//

TEST(InterpEdge, ZeroElementTensors) {
  Tensor E(DType::F32, {0, 3});
  expectF32(run(OpKind::Add, {E, f32({3}, {1, 2, 3})}), {0, 3}, {});
  expectF32(run(OpKind::MatMul, {E, iota({3, 2})}), {0, 2}, {});
  expectF32(run(OpKind::MatMul, {iota({2, 0}), Tensor(DType::F32, {0, 2})}),
            {2, 2}, {0, 0, 0, 0});
  expectF32(run(OpKind::Softmax, {E}), {0, 3}, {});
  expectF32(run(OpKind::ReduceSum, {E}, {ints("axes", {0})}), {1, 3},
            {0, 0, 0});
  expectF32(run(OpKind::Transpose, {E}), {3, 0}, {});
  expectF32(run(OpKind::Gather, {iota({3}), Tensor(DType::I64, {0})}), {0}, {});
  expectF32(run(OpKind::Conv, {Tensor(DType::F32, {0, 1, 3, 3}),
                               f32({1, 1, 2, 2}, {1, 1, 1, 1})}),
            {0, 1, 2, 2}, {});
  expectF32(run(OpKind::MaxPool, {Tensor(DType::F32, {0, 2, 4, 4})},
                {ints("kernel", {2, 2})}),
            {0, 2, 3, 3}, {});
}

TEST(InterpEdge, EveryOpIsSupported) {
  for (const OpInfo &I : allOps())
    EXPECT_TRUE(interpreterSupports(I.Kind)) << I.Mnemonic.str();
}

/// Splits "{a = 1, b = [1, 2]}" into named attributes of the op's kinds.
std::vector<NamedAttr> parseExampleAttrs(const OpInfo &I) {
  std::vector<NamedAttr> Attrs;
  llvm::StringRef Text = I.ExampleAttrs.trim();
  if (Text.empty())
    return Attrs;
  Text = Text.drop_front().drop_back(); // braces
  std::vector<std::string> Items(1);
  int Depth = 0;
  bool Quoted = false;
  for (char C : Text) {
    if (C == '"')
      Quoted = !Quoted;
    if (!Quoted && (C == '[' || C == '<'))
      ++Depth;
    if (!Quoted && (C == ']' || C == '>'))
      --Depth;
    if (C == ',' && Depth == 0 && !Quoted)
      Items.emplace_back();
    else
      Items.back() += C;
  }
  for (const std::string &Item : Items) {
    auto [Name, Val] = llvm::StringRef(Item).split('=');
    const AttrSpec *S = I.findAttr(Name.trim());
    EXPECT_TRUE(S) << I.Mnemonic.str() << ": " << Name.str();
    if (!S)
      continue;
    auto A = parseAttributeText(Val.trim(), S->Kind);
    EXPECT_TRUE(bool(A)) << llvm::toString(A.takeError());
    if (A)
      Attrs.push_back({S->Name.str(), *A});
  }
  return Attrs;
}

/// A concrete tensor for a type, symbolic dims set to 2: floats in (0, 1),
/// integers 0 (valid labels and indices), bools alternating.
Tensor exampleTensor(const TensorType &Ty) {
  std::vector<int64_t> Shape;
  for (const Dim &D : Ty.dims())
    Shape.push_back(D.isStatic() ? D.size() : 2);
  Tensor T(Ty.elem(), Shape);
  for (int64_t I = 0; I < T.numElements(); ++I) {
    if (isFloat(Ty.elem()))
      T.setF(I, 0.05 + 0.1 * double(I % 9));
    else if (Ty.elem() == DType::Bool)
      T.setI(I, I % 2);
  }
  return T;
}

TEST(InterpEdge, EveryTableExampleEvaluates) {
  for (const OpInfo &I : allOps()) {
    SCOPED_TRACE(I.Mnemonic.str());
    std::vector<Tensor> Ins;
    llvm::SmallVector<llvm::StringRef, 4> Parts;
    if (!I.ExampleOperands.empty())
      I.ExampleOperands.split(Parts, ';');
    for (llvm::StringRef P : Parts) {
      auto Ty = parseTensorType(P.trim());
      ASSERT_TRUE(bool(Ty)) << llvm::toString(Ty.takeError());
      Ins.push_back(exampleTensor(*Ty));
    }
    auto R = eval(I.Kind, Ins, parseExampleAttrs(I));
    ASSERT_TRUE(bool(R)) << llvm::toString(R.takeError());
    Parts.clear();
    I.ExampleResults.split(Parts, ';');
    ASSERT_EQ(R->size(), Parts.size());
    for (size_t J = 0; J < Parts.size(); ++J) {
      auto Ty = parseTensorType(Parts[J].trim());
      ASSERT_TRUE(bool(Ty)) << llvm::toString(Ty.takeError());
      Tensor Want = exampleTensor(*Ty);
      EXPECT_EQ((*R)[J].type(), Want.type());
      for (int64_t K = 0; K < (*R)[J].numElements(); ++K)
        if (isFloat((*R)[J].elem())) {
          ASSERT_TRUE(std::isfinite((*R)[J].getF(K))) << K;
        }
    }
  }
}

TEST(InterpEdge, OperandCountMismatchIsAnError) {
  Operation Op(OpKind::Add, Loc::named("x"));
  auto R = evaluateOp(Op, {});
  ASSERT_FALSE(bool(R));
  EXPECT_NE(llvm::toString(R.takeError()).find("error"), std::string::npos);
}

//===----------------------------------------------------------------------===//
// Function level
//===----------------------------------------------------------------------===//

/// f(x: f32[N,3], y: f32[N,3], w: param f32[3]) = (x + y) * w.
std::unique_ptr<Function> makeFunction(bool WithInit) {
  auto F = std::make_unique<Function>();
  F->Name = "f";
  Shape S = {Dim::symbol("N"), Dim::fixed(3)};
  Value *X = F->addInput("x", TensorType(DType::F32, S));
  Value *Y = F->addInput("y", TensorType(DType::F32, S));
  std::optional<Attribute> Init;
  if (WithInit)
    Init = Attribute::getTensor(
        std::make_shared<const Tensor>(f32({3}, {1, 2, 3})));
  Value *W = F->addParam("w", TensorType::get(DType::F32, {3}), Init);
  OpBuilder B(*F, F->Body.end());
  Value *Sum = B.create(OpKind::Add, {X, Y});
  F->addOutput("out", B.create(OpKind::Mul, {Sum, W}));
  return F;
}

TEST(InterpFunction, RunsWithParamInits) {
  auto F = makeFunction(true);
  auto R = interpret(*F, {f32({2, 3}, {1, 1, 1, 2, 2, 2}), iota({2, 3})});
  ASSERT_TRUE(bool(R)) << llvm::toString(R.takeError());
  ASSERT_EQ(R->size(), 1u);
  expectF32((*R)[0], {2, 3}, {1, 4, 9, 5, 12, 21});
  // Explicit parameter values override the initial ones.
  R = interpret(*F, {iota({1, 3}), iota({1, 3})}, {f32({3}, {1, 1, 1})});
  ASSERT_TRUE(bool(R)) << llvm::toString(R.takeError());
  expectF32((*R)[0], {1, 3}, {0, 2, 4});
}

TEST(InterpFunction, SymbolBoundTwiceIsAnError) {
  auto F = makeFunction(true);
  auto R = interpret(*F, {iota({5, 3}), iota({3, 3})});
  ASSERT_FALSE(bool(R));
  EXPECT_EQ(llvm::toString(R.takeError()),
            "error: input 'y' dim 0 (N) is 3 but N was bound to 5 by input "
            "'x'");
}

TEST(InterpFunction, InputChecks) {
  auto F = makeFunction(true);
  auto Msg = [&](std::vector<Tensor> In) {
    auto R = interpret(*F, In);
    return R ? std::string("ok") : llvm::toString(R.takeError());
  };
  EXPECT_NE(Msg({iota({2, 3})}).find("expects 2 inputs, got 1"),
            std::string::npos);
  EXPECT_NE(Msg({iota({2, 3}), iota({2, 3}, DType::F64)})
                .find("input 'y' has element type f64"),
            std::string::npos);
  EXPECT_NE(Msg({iota({2, 3}), iota({6})}).find("input 'y' has rank 1"),
            std::string::npos);
  EXPECT_NE(Msg({iota({2, 3}), iota({2, 4})}).find("input 'y' dim 1 is 4"),
            std::string::npos);
  EXPECT_EQ(Msg({Tensor(DType::F32, {0, 3}), Tensor(DType::F32, {0, 3})}),
            "ok");
}

TEST(InterpFunction, ParamWithoutValue) {
  auto F = makeFunction(false);
  auto R = interpret(*F, {iota({1, 3}), iota({1, 3})});
  ASSERT_FALSE(bool(R));
  EXPECT_NE(llvm::toString(R.takeError()).find("parameter 'w' has no value"),
            std::string::npos);
  R = interpret(*F, {iota({1, 3}), iota({1, 3})}, {iota({4})});
  ASSERT_FALSE(bool(R));
  EXPECT_NE(llvm::toString(R.takeError()).find("parameter 'w' dim 0 is 4"),
            std::string::npos);
}

TEST(InterpFunction, RuntimeErrorCarriesOpLocation) {
  Function F;
  F.Name = "g";
  Value *D = F.addInput("d", TensorType::get(DType::F32, {3}));
  Value *I = F.addInput("i", TensorType::get(DType::I64, {1}));
  OpBuilder B(F, F.Body.end(), Loc::at("g.dlc", 4, 7));
  F.addOutput("out", B.create(OpKind::Gather, {D, I}));
  auto R = interpret(F, {iota({3}), i64({1}, {7})});
  ASSERT_FALSE(bool(R));
  EXPECT_EQ(llvm::toString(R.takeError()),
            "g.dlc:4:7: error: gather: index 7 is out of range for dim 0 of "
            "size 3");
}

} // namespace
