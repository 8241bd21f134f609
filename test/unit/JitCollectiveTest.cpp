// The collective op all_reduce_sum in one process: the identity without a
// communicator; with a stand-in for several ranks (CollectiveHook), the
// interpreter and the JIT (a host step) give the same sums, constant
// folding leaves it alone, and its gradient is itself. Also the executor's
// OutputReady callback, which data-parallel training uses to start summing
// gradients during the backward pass.
#include "JitTestUtil.h"

#include "interp/Collective.h"
#include "passes/Autodiff.h"
#include "passes/Pass.h"

using namespace dlc;
using namespace dlc::jit_test;

namespace {

/// Stands for Ranks ranks that hold the same values, plus Offset added to
/// each element (so that a skipped sum shows): sum = Ranks * x + Offset.
class FakeRanks final : public CollectiveHook {
public:
  FakeRanks(int Ranks, double Offset = 0) : Ranks(Ranks), Offset(Offset) {}
  llvm::Error allReduceSum(llvm::MutableArrayRef<float> D) override {
    ++Calls;
    Floats += D.size();
    if (Fail)
      return makeError("the network is down");
    for (float &V : D)
      V = V * float(Ranks) + float(Offset);
    return llvm::Error::success();
  }
  llvm::Error allReduceSum(llvm::MutableArrayRef<double> D) override {
    ++Calls;
    for (double &V : D)
      V = V * Ranks + Offset;
    return llvm::Error::success();
  }
  int Ranks;
  double Offset;
  int Calls = 0;
  size_t Floats = 0;
  bool Fail = false;
};

std::unique_ptr<Module> parse(const std::string &Text) {
  auto M = parseModule(Text, "<test>");
  EXPECT_TRUE(bool(M)) << errText(M.takeError());
  return M ? std::move(*M) : nullptr;
}

const char *SumTwice =
    "func @f(%x: f32[N,33]) -> (y: f32[N,33]) {\n"
    "  %a = all_reduce_sum %x\n"
    "  %b = mul %a, %x\n"
    "  %y = all_reduce_sum %b\n"
    "  return %y\n}\n";

TEST(AllReduceSum, IdentityInOneProcess) {
  for (int64_t N : {1, 7, 33})
    checkOneOp("%x: f32[N,5]", "all_reduce_sum %x", "f32[N,5]",
               {random({N, 5}, 3)}, 0, {0, 3});
  checkOneOp("%x: f64[1000]", "all_reduce_sum %x", "f64[1000]",
             {[] {
               Tensor T(DType::F64, {1000});
               for (int64_t I = 0; I < 1000; ++I)
                 T.setF(I, uniformAt(9, I));
               return T;
             }()},
             0, {3});
  // Not for integers: FloatOnly.
  EXPECT_FALSE(bool(parseModule("func @f(%x: i64[3]) -> (y: i64[3]) {\n"
                                "  %y = all_reduce_sum %x\n  return %y\n}\n",
                                "<test>")));
}

TEST(AllReduceSum, InterpreterAndJitSumOverTheRanks) {
  auto M = parse(SumTwice);
  ASSERT_TRUE(M);
  const Function &F = *M->Functions[0];
  auto C = CompiledFunction::compile(F, 3);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  // Host steps: one per collective, never fused with the mul.
  int Host = 0;
  for (const LoweredStep &S : (*C)->executable().steps())
    Host += S.K == LoweredStep::Kind::Host;
  EXPECT_EQ(Host, 2);
  for (int64_t N : {1, 7, 33}) {
    Tensor X = random({N, 33}, 40 + N);
    FakeRanks Interp(3, 0.5), Jit(3, 0.5);
    std::vector<Tensor> Want, Got;
    {
      CollectiveScope S(&Interp);
      Want = llvm::cantFail(interpret(F, {X}));
    }
    {
      CollectiveScope S(&Jit);
      Got = llvm::cantFail((*C)->run({X}));
    }
    EXPECT_EQ(currentCollective(), nullptr) << "scope not undone";
    EXPECT_EQ(Interp.Calls, 2);
    EXPECT_EQ(Jit.Calls, 2);
    EXPECT_EQ(Jit.Floats, size_t(2 * N * 33));
    ASSERT_EQ(Want[0].type(), Got[0].type());
    for (int64_t I = 0; I < X.numElements(); ++I) {
      double A = 3 * X.getF(I) + 0.5;
      ASSERT_NEAR(Got[0].getF(I), 3 * (A * X.getF(I)) + 0.5,
                  1e-5 * (1 + std::fabs(A)));
      ASSERT_EQ(Got[0].getF(I), Want[0].getF(I)) << I;
    }
  }
  // Without a hook: the identity, x * x.
  Tensor X = random({2, 33}, 5);
  auto R = llvm::cantFail((*C)->run({X}));
  for (int64_t I = 0; I < X.numElements(); ++I)
    ASSERT_EQ(R[0].getF(I), float(X.getF(I) * X.getF(I)));
}

TEST(AllReduceSum, ErrorsOfTheCommunicatorNameTheOp) {
  auto M = parse(SumTwice);
  ASSERT_TRUE(M);
  auto C = CompiledFunction::compile(*M->Functions[0], 1);
  ASSERT_TRUE(bool(C));
  FakeRanks H(2);
  H.Fail = true;
  CollectiveScope S(&H);
  auto R = (*C)->run({random({2, 33}, 1)});
  ASSERT_FALSE(bool(R));
  EXPECT_EQ(errText(R.takeError()),
            "<test>:2:8: error: all_reduce_sum: the network is down");
  EXPECT_EQ(H.Calls, 1) << "the run stops at the first error";
}

TEST(AllReduceSum, NeverFolded) {
  // The sum of a constant over the ranks is not the constant: the optimize
  // pipeline must keep the op (and the shape it sums).
  auto M = parse("func @f(%x: f32[4]) -> (y: f32[4]) {\n"
                 "  %c = constant {value = dense<f32[4]>[2.0]}\n"
                 "  %s = all_reduce_sum %c\n"
                 "  %y = add %s, %x\n"
                 "  return %y\n}\n");
  ASSERT_TRUE(M);
  PassManager PM;
  ASSERT_FALSE(bool(PM.addPipeline("optimize")));
  ASSERT_FALSE(bool(PM.run(*M)));
  int Ops = 0;
  for (auto &Op : M->Functions[0]->Body)
    Ops += Op->kind() == OpKind::AllReduceSum;
  EXPECT_EQ(Ops, 1);
  auto C = CompiledFunction::compile(*M->Functions[0], 3);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  FakeRanks H(4);
  CollectiveScope S(&H);
  auto R = llvm::cantFail((*C)->run({random({4}, 2)}));
  Tensor X = random({4}, 2);
  for (int64_t I = 0; I < 4; ++I)
    EXPECT_EQ(R[0].getF(I), float(8 + X.getF(I)));
}

TEST(AllReduceSum, GradientIsTheSumOfTheGradients) {
  // loss = sum(all_reduce_sum(x * w) * v). With R ranks holding the same
  // x, w, v, every rank's loss depends on every rank's x * w, so the
  // gradient of the sum of the losses for x is R * v * w on each rank: the
  // backward all_reduce_sum sums v over the ranks.
  const char *Text =
      "func @f(%x: f32[N,7], %w: f32[7], %v: f32[N,7]) -> (loss: f32[]) {\n"
      "  %p = mul %x, %w\n"
      "  %s = all_reduce_sum %p\n"
      "  %q = mul %s, %v\n"
      "  %loss = reduce_sum %q {keepdims = false}\n"
      "  return %loss\n}\n";
  auto M = parse(Text);
  ASSERT_TRUE(M);
  Function &F = *M->Functions[0];
  AutodiffOptions O;
  O.WrtInputs = true;
  ASSERT_FALSE(bool(differentiate(F, O)));
  int Sums = 0;
  for (auto &Op : F.Body)
    Sums += Op->kind() == OpKind::AllReduceSum;
  EXPECT_EQ(Sums, 2) << "the forward sum and its gradient";
  auto C = CompiledFunction::compile(F, 3);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  for (int64_t N : {1, 7}) {
    std::vector<Tensor> In = {random({N, 7}, 1), random({7}, 2),
                              random({N, 7}, 3)};
    FakeRanks H1(3), H2(3);
    std::vector<Tensor> Want, Got;
    {
      CollectiveScope S(&H1);
      Want = llvm::cantFail(interpret(F, In));
    }
    {
      CollectiveScope S(&H2);
      Got = llvm::cantFail((*C)->run(In));
    }
    // Outputs: loss, d/dx, d/dw, d/dv.
    for (int64_t R = 0; R < N; ++R)
      for (int64_t K = 0; K < 7; ++K) {
        double Want_dx = 3 * In[2].getF(R * 7 + K) * In[1].getF(K);
        ASSERT_NEAR(Got[1].getF(R * 7 + K), Want_dx, 1e-5);
        ASSERT_NEAR(Want[1].getF(R * 7 + K), Want_dx, 1e-5);
      }
    for (size_t K = 0; K < Want.size(); ++K)
      for (int64_t I = 0; I < Want[K].numElements(); ++I)
        ASSERT_NEAR(Got[K].getF(I), Want[K].getF(I),
                    1e-5 * (1 + std::fabs(Want[K].getF(I))));
  }
}

TEST(OutputReady, EachOutputOnceWithItsFinalBytesInStepOrder) {
  // y0 is ready after the first kernel, y2 is an input (ready before any
  // step), y1 only at the end.
  auto M = parse("func @f(%x: f32[N,9], %w: f32[9,4]) -> (y0: f32[N,9], "
                 "y1: f32[N], y2: f32[N,9]) {\n"
                 "  %a = exp %x\n"
                 "  %b = matmul %a, %w\n"
                 "  %c = reduce_sum %b {axes = [1], keepdims = false}\n"
                 "  return %a, %c, %x\n}\n");
  ASSERT_TRUE(M);
  auto C = CompiledFunction::compile(*M->Functions[0], 3);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  Tensor X = random({5, 9}, 8), W = random({9, 4}, 9);
  std::vector<std::pair<unsigned, std::vector<uint8_t>>> Seen;
  auto OnOutput = [&](unsigned O, const uint8_t *D, size_t B) -> llvm::Error {
    Seen.push_back({O, std::vector<uint8_t>(D, D + B)});
    return llvm::Error::success();
  };
  auto R = (*C)->run({X, W}, nullptr, nullptr, OnOutput);
  ASSERT_TRUE(bool(R)) << errText(R.takeError());
  ASSERT_EQ(Seen.size(), 3u);
  EXPECT_EQ(Seen[0].first, 2u);
  EXPECT_EQ(Seen[1].first, 0u);
  EXPECT_EQ(Seen[2].first, 1u);
  for (auto &[O, Bytes] : Seen)
    EXPECT_EQ(Bytes, (*R)[O].bytes()) << "output " << O;
  // An error from the callback ends the run with it.
  auto Stop = [&](unsigned O, const uint8_t *, size_t) -> llvm::Error {
    return O == 0 ? makeError("stop at y0") : llvm::Error::success();
  };
  auto R2 = (*C)->run({X, W}, nullptr, nullptr, Stop);
  ASSERT_FALSE(bool(R2));
  EXPECT_EQ(errText(R2.takeError()), "error: stop at y0");
}

} // namespace
