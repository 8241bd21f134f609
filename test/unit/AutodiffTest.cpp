// Autodiff: a numeric gradient check generated over the op table (every op
// with a gradient rule, composites through their decomposition), plus
// broadcasting, fan-out, parameters vs inputs and error cases.
#include "TestUtil.h"

#include "interp/Interpreter.h"
#include "ir/OpExample.h"
#include "ir/Parser.h"
#include "passes/Autodiff.h"
#include "passes/Decompose.h"

#include <gtest/gtest.h>

#include <cmath>
#include <regex>

using namespace dlc;

namespace {

/// The op's example with every float type widened to f64, so central
/// differences are accurate to ~1e-10.
std::string f64Example(const OpInfo &I) {
  return std::regex_replace(exampleText(I), std::regex("\\b(f32|f16|bf16)\\b"),
                            "f64");
}

/// Ops whose example needs positive operands (logs, roots, powers) or
/// probabilities.
bool positiveDomain(OpKind K) {
  switch (K) {
  case OpKind::Log: case OpKind::Sqrt: case OpKind::Rsqrt: case OpKind::Pow:
  case OpKind::BceLoss: case OpKind::ReduceProd: case OpKind::BatchNorm:
    return true;
  default:
    return false;
  }
}

/// F's example with its float results contracted against fixed random
/// weights (extra inputs w0, w1, ...) into one scalar output `loss`.
std::unique_ptr<Module> lossModule(const std::string &Text,
                                   unsigned &NumOpInputs) {
  auto M = llvm::cantFail(parseModule(Text, "<example>"));
  Function &F = *M->Functions[0];
  NumOpInputs = F.Inputs.size();
  OpBuilder B(F, F.Body.end());
  Value *Loss = nullptr;
  for (size_t K = 0; K < F.Outputs.size(); ++K) {
    Value *R = F.Outputs[K];
    if (!isFloat(R->Type.elem()))
      continue;
    Value *W = F.addInput("w" + std::to_string(K), R->Type);
    Value *T = B.create(OpKind::ReduceSum, {B.create(OpKind::Mul, {R, W})},
                        {boolAttr("keepdims", false)});
    Loss = Loss ? B.create(OpKind::Add, {Loss, T}) : T;
  }
  F.Outputs.clear();
  F.OutputNames.clear();
  if (Loss)
    F.addOutput("loss", Loss);
  return M;
}

std::vector<Tensor> sampleInputs(const Function &F, OpKind K) {
  std::vector<Tensor> In = functionInputs(F, 2, 100);
  for (size_t I = 0; I < In.size(); ++I) {
    if (!isFloat(In[I].elem()) || positiveDomain(K))
      continue;
    // Both signs, but |x| >= 0.1: away from the kinks of relu, abs, clip.
    for (int64_t E = 0; E < In[I].numElements(); ++E)
      if (uniformAt(500 + I, E) < 0.5)
        In[I].setF(E, -In[I].getF(E));
  }
  return In;
}

/// Checks the gradient of Text's function (its float results contracted
/// to a scalar) against central differences at sampled elements of every
/// float input.
void checkGradient(const std::string &Text, OpKind K, llvm::StringRef What) {
  unsigned NumOpInputs = 0;
  auto Fwd = lossModule(Text, NumOpInputs);
  Function &FF = *Fwd->Functions[0];
  auto Grad = lossModule(Text, NumOpInputs);
  AutodiffOptions Opts;
  Opts.WrtInputs = true;
  llvm::Error E = differentiate(*Grad->Functions[0], Opts);
  ASSERT_FALSE(bool(E)) << What.str() << ": " << errText(std::move(E));

  std::vector<Tensor> In = sampleInputs(FF, K);
  auto Analytic = interpret(*Grad->Functions[0], In);
  ASSERT_TRUE(bool(Analytic)) << errText(Analytic.takeError());
  auto LossAt = [&](const std::vector<Tensor> &X) {
    auto R = interpret(FF, X);
    EXPECT_TRUE(bool(R)) << errText(R.takeError());
    return R ? (*R)[0].getF(0) : NAN;
  };
  // Gradient outputs follow the float inputs in order (weights included).
  unsigned Slot = 1;
  const double H = 1e-6;
  for (unsigned I = 0; I < FF.Inputs.size(); ++I) {
    if (!isFloat(In[I].elem()))
      continue;
    const Tensor &G = (*Analytic)[Slot++];
    if (I >= NumOpInputs)
      continue; // the contraction weights
    ASSERT_EQ(G.shape(), In[I].shape());
    int64_t N = In[I].numElements(), Step = std::max<int64_t>(1, N / 48);
    for (int64_t Idx = 0; Idx < N; Idx += Step) {
      std::vector<Tensor> Plus = In, Minus = In;
      Plus[I].setF(Idx, In[I].getF(Idx) + H);
      Minus[I].setF(Idx, In[I].getF(Idx) - H);
      double Numeric = (LossAt(Plus) - LossAt(Minus)) / (2 * H);
      ASSERT_NEAR(G.getF(Idx), Numeric, 1e-6 + 1e-5 * std::fabs(Numeric))
          << What.str() << ": d loss / d input " << I << "[" << Idx << "]";
    }
  }
}

/// Ops whose rule covers only some configurations, and not their Ops.def
/// example's; each has a test below with a configuration it covers.
bool exampleOutsideRule(OpKind K) {
  return K == OpKind::Slice /* steps 2 and 3 */;
}

class GradCheck : public ::testing::TestWithParam<OpKind> {};

TEST_P(GradCheck, MatchesCentralDifferences) {
  const OpInfo &I = getOpInfo(GetParam());
  if (I.has(NonDiff))
    GTEST_SKIP() << "non-differentiable";
  std::string Text = f64Example(I);
  unsigned NumOpInputs = 0;
  auto Probe = lossModule(Text, NumOpInputs);
  Function &PF = *Probe->Functions[0];
  bool AnyFloatInput = false;
  for (unsigned K = 0; K < NumOpInputs; ++K)
    AnyFloatInput |= isFloat(PF.Inputs[K]->Type.elem());
  if (PF.Outputs.empty() || !AnyFloatInput)
    GTEST_SKIP() << "the example has no float operand or result (see "
                    "GradCheckConfigs for the float cases)";
  bool HasRule = hasGradientRule(I.Kind) || I.has(Composite);
  if (!HasRule || exampleOutsideRule(I.Kind)) {
    // It must say so clearly, naming the op.
    AutodiffOptions Opts;
    Opts.WrtInputs = true;
    std::string Msg = errText(differentiate(PF, Opts));
    EXPECT_NE(Msg.find("no gradient"), std::string::npos) << Msg;
    EXPECT_NE(Msg.find(I.Mnemonic.str()), std::string::npos) << Msg;
    return;
  }
  checkGradient(Text, I.Kind, I.Mnemonic);
}

TEST(GradCheckConfigs, AbsAndMulOnFloats) {
  checkGradient("func @f(%x: f64[3,4], %y: f64[4]) -> (a: f64[3,4], m: f64[3,4]) {\n"
                "  %a = abs %x\n  %m = mul %x, %y\n  return %a, %m\n}\n",
                OpKind::Abs, "abs and mul");
}

// The op table's example is batch_norm in training mode (the batch's
// statistics); this is the inference form, over the running statistics.
TEST(GradCheckConfigs, BatchNormInference) {
  checkGradient("func @f(%x: f64[3,2,4], %s: f64[2], %b: f64[2], %m: f64[2], "
                "%v: f64[2]) -> (y: f64[3,2,4]) {\n"
                "  %y = batch_norm %x, %s, %b, %m, %v {epsilon = 0.01}\n"
                "  return %y\n}\n",
                OpKind::BatchNorm, "batch_norm (inference)");
}

TEST(GradCheckConfigs, UnitStepSlice) {
  checkGradient("func @f(%x: f64[3,10,10]) -> (y: f64[3,6,9]) {\n"
                "  %y = slice %x {axes = [1, 2], ends = [8, -1], starts = [2, 0]}\n"
                "  return %y\n}\n",
                OpKind::Slice, "slice");
}

TEST(GradCheckConfigs, TilingPoolsWithRemainder) {
  for (const char *Op : {"max_pool", "avg_pool"})
    checkGradient(std::string("func @f(%x: f64[2,3,7,6]) -> (y: f64[2,3,3,3]) {\n"
                              "  %y = ") + Op +
                      " %x {kernel = [2, 2], strides = [2, 2]}\n"
                      "  return %y\n}\n",
                  OpKind::MaxPool, Op);
}

TEST(GradCheckConfigs, OverlappingPaddedAndCeilModePools) {
  // {op on x: f64[2,3,7,6], its result type}
  const std::pair<const char *, const char *> Configs[] = {
      {"max_pool %x {kernel = [3, 3], pads = [1, 1, 1, 1], strides = [2, 2]}",
       "f64[2,3,4,3]"},
      {"max_pool %x {kernel = [3, 2], pads = [0, 1, 2, 0], strides = [1, 2]}",
       "f64[2,3,7,3]"},
      {"max_pool %x {ceil_mode = true, kernel = [2, 2], strides = [2, 2]}",
       "f64[2,3,4,3]"},
      {"max_pool %x {dilations = [2, 1], kernel = [2, 2], strides = [1, 1]}",
       "f64[2,3,5,5]"},
      {"avg_pool %x {kernel = [3, 3], pads = [1, 1, 1, 1], strides = [2, 2]}",
       "f64[2,3,4,3]"},
      {"avg_pool %x {count_include_pad = true, kernel = [3, 3], pads = [1, 1, 1, "
       "1], strides = [2, 2]}",
       "f64[2,3,4,3]"},
      {"avg_pool %x {kernel = [3, 3], strides = [1, 1]}", "f64[2,3,5,4]"},
      {"avg_pool %x {ceil_mode = true, count_include_pad = true, kernel = [3, 3], "
       "pads = [1, 0, 1, 0], strides = [2, 2]}",
       "f64[2,3,4,3]"},
  };
  for (auto [Op, Type] : Configs)
    checkGradient(std::string("func @f(%x: f64[2,3,7,6]) -> (y: ") + Type +
                      ") {\n  %y = " + Op + "\n  return %y\n}\n",
                  OpKind::MaxPool, Op);
}

TEST(GradCheckConfigs, ConvTransposeWithWindow) {
  checkGradient("func @f(%x: f64[2,3,4,3], %w: f64[3,2,3,2], %b: f64[2]) -> "
                "(y: f64[2,2,8,6]) {\n"
                "  %y = conv_transpose %x, %w, %b {dilations = [1, 2], output_padding = "
                "[1, 0], pads = [1, 0, 1, 1], strides = [2, 2]}\n  return %y\n}\n",
                OpKind::ConvTranspose, "conv_transpose");
}

TEST(GradCheckConfigs, GroupedConvAndConvTranspose) {
  checkGradient("func @f(%x: f64[2,4,5,5], %w: f64[6,2,3,2], %b: f64[6]) -> "
                "(y: f64[2,6,2,3]) {\n"
                "  %y = conv %x, %w, %b {group = 2, pads = [0, 1, 0, 0], strides = [2, 2]}\n"
                "  return %y\n}\n",
                OpKind::Conv, "grouped conv");
  checkGradient("func @f(%x: f64[2,4,3,3], %w: f64[4,3,2,2], %b: f64[6]) -> "
                "(y: f64[2,6,6,6]) {\n"
                "  %y = conv_transpose %x, %w, %b {group = 2, strides = [2, 2]}\n"
                "  return %y\n}\n",
                OpKind::ConvTranspose, "grouped conv_transpose");
}

TEST(GradCheckConfigs, StridedDilatedIm2Col) {
  checkGradient("func @f(%x: f64[2,2,7,6]) -> (y: f64[2,9,12]) {\n"
                "  %y = im2col %x {dilations = [1, 2], kernel = [3, 2], pads = [1, 0, 0, 1], "
                "strides = [2, 2]}\n  return %y\n}\n",
                OpKind::Im2Col, "im2col");
  // The channel-major layout [N, C*K, P] (what conv-to-gemm emits).
  checkGradient("func @f(%x: f64[2,2,7,6]) -> (y: f64[2,12,9]) {\n"
                "  %y = im2col %x {channel_major = true, dilations = [1, 2], kernel = [3, 2], "
                "pads = [1, 0, 0, 1], strides = [2, 2]}\n  return %y\n}\n",
                OpKind::Im2Col, "channel-major im2col");
}

TEST(GradCheckConfigs, GatherInnerAxisWithRepeatsAndNegativeIndices) {
  checkGradient("func @f(%x: f64[3,5,2]) -> (y: f64[3,2,2,2]) {\n"
                "  %i = constant {value = dense<i64[2,2]>[4, -1, 0, 1]}\n"
                "  %y = gather %x, %i {axis = 1}\n  return %y\n}\n",
                OpKind::Gather, "gather");
}

TEST(GradCheckConfigs, Tile3D) {
  checkGradient("func @f(%x: f64[2,1,3]) -> (y: f64[2,4,6]) {\n"
                "  %y = tile %x {repeats = [1, 4, 2]}\n  return %y\n}\n",
                OpKind::Tile, "tile");
}

TEST(GradCheckConfigs, StridedPaddedDilatedConv) {
  checkGradient("func @f(%x: f64[2,3,9,8], %w: f64[4,3,3,2], %b: f64[4]) -> "
                "(y: f64[2,4,4,4]) {\n"
                "  %y = conv %x, %w, %b {dilations = [2, 1], pads = [2, 1, 1, 0], "
                "strides = [2, 2]}\n  return %y\n}\n",
                OpKind::Conv, "conv");
}

TEST(GradCheckConfigs, BatchedBroadcastMatMulAndVectors) {
  checkGradient("func @f(%a: f64[2,1,3,4], %b: f64[5,4,2], %v: f64[4], %u: f64[3]) "
                "-> (y: f64[2,5,3,2], z: f64[3], s: f64[]) {\n"
                "  %y = matmul %a, %b\n  %m = reshape %a {shape = [6, 4]}\n"
                "  %z0 = matmul %m, %v\n  %z = slice %z0 {ends = [3], starts = [0]}\n"
                "  %s = matmul %u, %z\n  return %y, %z, %s\n}\n",
                OpKind::MatMul, "matmul");
}

std::vector<OpKind> everyOp() {
  std::vector<OpKind> V;
  for (const OpInfo &I : allOps())
    V.push_back(I.Kind);
  return V;
}

INSTANTIATE_TEST_SUITE_P(AllOps, GradCheck, ::testing::ValuesIn(everyOp()),
                         [](const ::testing::TestParamInfo<OpKind> &P) {
                           return getOpInfo(P.param).Mnemonic.str();
                         });

/// Runs F (parsed from Text) and returns its outputs.
std::vector<Tensor> run(Function &F, std::vector<Tensor> In) {
  auto R = interpret(F, In);
  EXPECT_TRUE(bool(R)) << errText(R.takeError());
  return R ? *R : std::vector<Tensor>{};
}

TEST(Autodiff, BroadcastAndFanOutAccumulate) {
  // y = sum(x * b + x), b broadcast over rows: dy/dx = b + 1,
  // dy/db = sum over rows of x.
  auto M = llvm::cantFail(parseModule(
      "func @f(%x: f64[2,3], %b: f64[3]) -> (y: f64[]) {\n"
      "  %m = mul %x, %b\n  %s = add %m, %x\n"
      "  %y = reduce_sum %s {keepdims = false}\n  return %y\n}\n",
      "t"));
  Function &F = *M->Functions[0];
  ASSERT_FALSE(bool(differentiate(F)));
  ASSERT_EQ(F.OutputNames, (std::vector<std::string>{"y", "grad.x", "grad.b"}));
  Tensor X(DType::F64, {2, 3}), Bv(DType::F64, {3});
  for (int I = 0; I < 6; ++I)
    X.setF(I, I + 1);
  for (int I = 0; I < 3; ++I)
    Bv.setF(I, 10 * (I + 1));
  auto Out = run(F, {X, Bv});
  ASSERT_EQ(Out.size(), 3u);
  for (int I = 0; I < 6; ++I)
    EXPECT_EQ(Out[1].getF(I), 10 * (I % 3 + 1) + 1);
  EXPECT_EQ(Out[2].getF(0), 1 + 4);
  EXPECT_EQ(Out[2].getF(1), 2 + 5);
  EXPECT_EQ(Out[2].getF(2), 3 + 6);
}

TEST(Autodiff, ParamsByDefaultAndIntegerInputsSkipped) {
  auto M = llvm::cantFail(parseModule(
      "func @f(%x: f32[N,4], %y: i64[N]) params(%w: f32[4,3], %u: f32[2]) "
      "-> (loss: f32[]) {\n"
      "  %z = matmul %x, %w\n  %l = softmax_cross_entropy %z, %y\n"
      "  return %l\n}\n",
      "t"));
  Function &F = *M->Functions[0];
  ASSERT_FALSE(bool(differentiate(F)));
  // Only the parameters; %u does not reach the loss: its gradient is zero.
  ASSERT_EQ(F.OutputNames,
            (std::vector<std::string>{"loss", "grad.w", "grad.u"}));
  Tensor X(DType::F32, {2, 4}), Y(DType::I64, {2}), W(DType::F32, {4, 3}),
      U(DType::F32, {2});
  for (int I = 0; I < 8; ++I)
    X.setF(I, 0.1 * I);
  Y.setI(0, 2);
  Y.setI(1, 0);
  auto Out = interpret(F, {X, Y}, {W, U});
  ASSERT_TRUE(bool(Out)) << errText(Out.takeError());
  // W = 0: softmax is uniform; dL/dz = (1/3 - onehot) / 2, dL/dW = x^T dz.
  for (int K = 0; K < 4; ++K)
    for (int C = 0; C < 3; ++C) {
      double Want = 0;
      for (int N = 0; N < 2; ++N)
        Want += X.getF(N * 4 + K) *
                (1.0 / 3 - (Y.getI(N) == C ? 1.0 : 0.0)) / 2;
      EXPECT_NEAR((*Out)[1].getF(K * 3 + C), Want, 1e-6);
    }
  EXPECT_EQ((*Out)[2].getF(0), 0.0);
  EXPECT_EQ((*Out)[2].getF(1), 0.0);
}

TEST(Autodiff, UnsupportedConfigurationNamesOpAndLine) {
  auto M = llvm::cantFail(parseModule(
      "func @f(%x: f32[4,6]) -> (y: f32[]) {\n"
      "  %s = slice %x {ends = [6], starts = [0], steps = [2], axes = [1]}\n"
      "  %y = reduce_sum %s {keepdims = false}\n  return %y\n}\n",
      "t.dlc"));
  std::string Msg = errText(differentiate(*M->Functions[0]));
  EXPECT_NE(Msg.find("'slice'"), std::string::npos) << Msg;
  EXPECT_NE(Msg.find("t.dlc:2:"), std::string::npos) << Msg;
  EXPECT_NE(Msg.find("steps"), std::string::npos) << Msg;
}

TEST(Autodiff, IntegerOutputIsAnError) {
  auto M = llvm::cantFail(parseModule(
      "func @f(%x: f32[4,3]) -> (y: i64[4]) {\n"
      "  %y = argmax %x {axis = 1, keepdims = false}\n  return %y\n}\n",
      "t"));
  std::string Msg = errText(differentiate(*M->Functions[0]));
  EXPECT_NE(Msg.find("no gradient"), std::string::npos) << Msg;
}

} // namespace
