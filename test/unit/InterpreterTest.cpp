// Reference interpreter, part 1: elementwise ops, reductions, matmul and
// normalization against values computed by hand.
#include "InterpreterTestUtil.h"

using namespace dlc;
using namespace dlc::interp_test;

namespace {

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
  expectF32(run(OpKind::Atan, {f32({3}, {-1, 0, INFINITY})}), {3},
            {-M_PI / 4, 0, M_PI / 2});
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

TEST(InterpElementwise, BitwiseOnIntegers) {
  Tensor A = make(DType::I16, {3}, {12, -1, 5});
  Tensor B = make(DType::I16, {3}, {10, 3, -8});
  expectTensor(run(OpKind::And, {A, B}), DType::I16, {3}, {8, 3, 0});
  expectTensor(run(OpKind::Or, {A, B}), DType::I16, {3}, {14, -1, -3});
  expectTensor(run(OpKind::Xor, {A, B}), DType::I16, {3}, {6, -4, -3});
  expectTensor(run(OpKind::Not, {A}), DType::I16, {3}, {-13, 0, -6});
  Tensor U = make(DType::U8, {2}, {0, 200});
  expectTensor(run(OpKind::Not, {U}), DType::U8, {2}, {255, 55});
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

} // namespace
