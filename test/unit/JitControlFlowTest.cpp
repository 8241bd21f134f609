// Control flow as graph IR (if, loop, scan with regions): the text form
// round-trips, clones copy regions, the public dlc::Model runs loops whose
// trip count and condition arrive at run time (JIT and interpreter checked
// against a hand computation), the JIT agrees with the interpreter on
// branches of different shapes and reversed scans, the loop bound stops a
// loop that never ends, and autodiff refuses control flow with a located
// error; the GPU emulation runs the same models.
#include "TestUtil.h"

#include "api/Model.h"
#include "codegen/Executor.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "passes/Autodiff.h"
#include "passes/Pass.h"

#include "gtest/gtest.h"

#include <cstdlib>

using namespace dlc;

namespace {

// A low loop bound for every test of this binary (read once, on first use).
const int SetBound = setenv("DLC_MAX_LOOP_ITERATIONS", "5000", 1);

/// x_{k+1} = 2 x_k + 1 (elementwise), while k < n and sum(x_k) < limit;
/// also returns the sum before each iteration as a scan output.
const char *LoopText = R"(func @main(%n: i64[], %limit: f32[], %x: f32[3]) -> (y: f32[3], sums: f32[?]) {
  %s0 = reduce_sum %x {keepdims = false} : f32[]
  %go = less %s0, %limit : bool[]
  %y, %sums = loop %n, %go, %x, %limit {num_carried = 1} : f32[3], f32[?]
    body(%i: i64[], %c: bool[], %v: f32[3], %lim: f32[]) -> (c: bool[], v: f32[3], s: f32[]) {
      %two = constant {value = dense<f32[]>[2.0]} : f32[]
      %one = constant {value = dense<f32[]>[1.0]} : f32[]
      %d = mul %v, %two : f32[3]
      %w = add %d, %one : f32[3]
      %sum = reduce_sum %v {keepdims = false} : f32[]
      %sw = reduce_sum %w {keepdims = false} : f32[]
      %more = less %sw, %lim : bool[]
      return %more, %w, %sum
    }
  return %y, %sums
}
)";

Tensor scalarI64(int64_t V) {
  Tensor T(DType::I64, {});
  T.setI(0, V);
  return T;
}

Tensor scalarF32(float V) {
  Tensor T(DType::F32, {});
  T.setF(0, V);
  return T;
}

Tensor f32s(std::vector<int64_t> Shape, std::vector<float> V) {
  Tensor T(DType::F32, Shape);
  for (size_t I = 0; I < V.size(); ++I)
    T.setF(I, V[I]);
  return T;
}

std::string printed(const Module &M) {
  std::string S;
  llvm::raw_string_ostream OS(S);
  printModule(M, OS);
  return S;
}

TEST(ControlFlowText, RoundTripsAndClones) {
  auto M = parseModule(LoopText, "loop.dlc");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  std::string Once = printed(**M);
  EXPECT_EQ(Once, LoopText); // canonical already
  auto Again = parseModule(Once, "again.dlc");
  ASSERT_TRUE(bool(Again)) << errText(Again.takeError());
  EXPECT_EQ(printed(**Again), Once);
  // A clone copies the regions (new values, same text).
  Module C;
  C.Functions.push_back((*M)->Functions[0]->clone("main"));
  EXPECT_EQ(printed(C), Once);
  const Operation &Orig = *std::next((*M)->Functions[0]->Body.begin(), 2)->get();
  const Operation &Copy = *std::next(C.Functions[0]->Body.begin(), 2)->get();
  ASSERT_EQ(Copy.Regions.size(), 1u);
  EXPECT_NE(Orig.Regions[0].get(), Copy.Regions[0].get());
  EXPECT_NE(Orig.Regions[0]->Inputs[0].get(), Copy.Regions[0]->Inputs[0].get());
}

/// Ifs nested Depth deep inside @f, each passing %c and %x down.
std::string nestedIfs(int Depth) {
  std::string Close = "return %x\n}\n";
  std::string T = Close;
  for (int D = 0; D < Depth; ++D)
    T = "%y = if %c, %c, %x\nthen(%c: bool[], %x: f32[2]) -> (r: f32[2]) {\n" +
        T + "else(%c: bool[], %x: f32[2]) -> (r: f32[2]) {\nreturn %x\n}\n" +
        "return %y\n}\n";
  return "func @f(%c: bool[], %x: f32[2]) -> (y: f32[2]) {\n" + T;
}

TEST(ControlFlowText, NestingIsBounded) {
  auto Ok = parseModule(nestedIfs(10), "nested.dlc");
  ASSERT_TRUE(bool(Ok)) << errText(Ok.takeError());
  // Interpreted through all ten levels.
  Tensor C(DType::Bool, {});
  C.setI(0, 1);
  auto R = interpret(*(*Ok)->Functions[0], {C, f32s({2}, {3, 4})});
  ASSERT_TRUE(bool(R)) << errText(R.takeError());
  EXPECT_EQ((*R)[0].getF(1), 4);
  auto Deep = parseModule(nestedIfs(70), "nested.dlc");
  ASSERT_FALSE(bool(Deep));
  std::string E = errText(Deep.takeError());
  EXPECT_NE(E.find("nested.dlc:131:1: error: regions nested more than 64 deep"),
            std::string::npos)
      << E;
}

/// The loop of LoopText by hand: final x and the sums before each step.
std::pair<std::vector<float>, std::vector<float>>
handLoop(int64_t N, float Limit, std::vector<float> X) {
  std::vector<float> Sums;
  auto sum = [](const std::vector<float> &V) { return V[0] + V[1] + V[2]; };
  bool Go = sum(X) < Limit;
  for (int64_t I = 0; I < N && Go; ++I) {
    Sums.push_back(sum(X));
    for (float &E : X)
      E = E * 2 + 1;
    Go = sum(X) < Limit;
  }
  return {X, Sums};
}

TEST(ControlFlowModel, TripCountAndConditionAtRunTime) {
  for (const char *Engine : {"jit", "interp"}) {
    ModelOptions O;
    O.Engine = Engine;
    O.Cache = false;
    auto M = Model::fromText(LoopText, "loop.dlc", O);
    ASSERT_TRUE(bool(M)) << errText(M.takeError());
    EXPECT_EQ(M->engine(), Engine);
    struct Case {
      int64_t N;
      float Limit;
    } Cases[] = {{10, 100}, {2, 100}, {0, 100}, {10, -1}, {10, 1e6}, {3, 40}};
    std::vector<float> X = {0.5f, -1.f, 2.f};
    for (const Case &K : Cases) {
      auto Out = M->run({scalarI64(K.N), scalarF32(K.Limit), f32s({3}, X)});
      ASSERT_TRUE(bool(Out)) << Engine << ": " << errText(Out.takeError());
      auto [Y, Sums] = handLoop(K.N, K.Limit, X);
      ASSERT_EQ((*Out)[1].type().str(),
                "f32[" + std::to_string(Sums.size()) + "]")
          << Engine << " n=" << K.N << " limit=" << K.Limit;
      for (size_t I = 0; I < Sums.size(); ++I)
        EXPECT_FLOAT_EQ((*Out)[1].getF(I), Sums[I]) << Engine << " " << I;
      for (int I = 0; I < 3; ++I)
        EXPECT_FLOAT_EQ((*Out)[0].getF(I), Y[I]) << Engine << " n=" << K.N;
    }
  }
}

TEST(ControlFlowModel, LoopBoundStopsALoopThatNeverEnds) {
  // No trip count to speak of and a condition that stays true.
  const char *Text = R"(func @main(%x: f32[2]) -> (y: f32[2]) {
  %n = constant {value = dense<i64[]>[9223372036854775807]} : i64[]
  %t = constant {value = dense<bool[]>[true]} : bool[]
  %y = loop %n, %t, %x {num_carried = 1} : f32[2]
    body(%i: i64[], %c: bool[], %v: f32[2]) -> (c: bool[], v: f32[2]) {
      %w = neg %v : f32[2]
      return %c, %w
    }
  return %y
}
)";
  for (const char *Engine : {"jit", "interp"}) {
    ModelOptions O;
    O.Engine = Engine;
    O.Cache = false;
    auto M = Model::fromText(Text, "forever.dlc", O);
    ASSERT_TRUE(bool(M)) << errText(M.takeError());
    auto Out = M->run({f32s({2}, {1, 2})});
    ASSERT_FALSE(bool(Out)) << Engine;
    std::string E = errText(Out.takeError());
    EXPECT_NE(E.find("forever.dlc:4:8: error: 'loop': the loop ran 5000 "
                     "iterations and its condition still holds"),
              std::string::npos)
        << E;
    EXPECT_NE(E.find("DLC_MAX_LOOP_ITERATIONS"), std::string::npos) << E;
  }
}

/// Branches of different shapes, a reversed scan along axis 1 with a
/// capture, and a loop growing its carried value: JIT against interpreter.
const char *MixedText = R"(func @main(%c: bool[], %x: f32[N,4], %s0: f32[N], %k: f32[]) -> (a: f32[?,4], b: f32[N], d: f32[N,4], g: f32[?]) {
  %a = if %c, %x : f32[?,4]
    then(%p: f32[M,4]) -> (r: f32[M,4]) {
      %e = exp %p : f32[M,4]
      return %e
    }
    else(%p: f32[M,4]) -> (r: f32[1,4]) {
      %m = reduce_max %p {axes = [0]} : f32[1,4]
      return %m
    }
  %b, %d = scan %s0, %x, %k {num_scan_inputs = 1, num_states = 1, scan_input_axes = [1], scan_input_directions = [1], scan_output_axes = [1]} : f32[N], f32[N,4]
    body(%s: f32[N], %col: f32[N], %kk: f32[]) -> (s: f32[N], o: f32[N]) {
      %t = mul %col, %kk : f32[N]
      %u = add %s, %t : f32[N]
      %w = tanh %u : f32[N]
      return %u, %w
    }
  %three = constant {value = dense<i64[]>[3]} : i64[]
  %yes = constant {value = dense<bool[]>[true]} : bool[]
  %g = loop %three, %yes, %s0 {num_carried = 1} : f32[?]
    body(%i: i64[], %cc: bool[], %v: f32[?]) -> (c: bool[], v: f32[?]) {
      %cat = concat %v, %v {axis = 0} : f32[?]
      return %cc, %cat
    }
  return %a, %b, %d, %g
}
)";

TEST(ControlFlowJit, AgreesWithTheInterpreter) {
  auto M = parseModule(MixedText, "mixed.dlc");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  auto Ref = parseModule(MixedText, "mixed.dlc");
  ASSERT_TRUE(bool(Ref));
  PassManager PM;
  ASSERT_FALSE(bool(PM.addPipeline("optimize")));
  ASSERT_FALSE(bool(PM.run(**M)));
  auto C = CompiledFunction::compile(*(*M)->Functions[0], 2);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  for (int64_t N : {1, 7, 33})
    for (bool Cond : {true, false}) {
      auto In = functionInputs(*(*Ref)->Functions[0], N, 17);
      In[0].setI(0, Cond);
      auto Want = interpret(*(*Ref)->Functions[0], In);
      ASSERT_TRUE(bool(Want)) << errText(Want.takeError());
      auto Got = (*C)->run(In);
      ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
      ASSERT_EQ(Want->size(), Got->size());
      EXPECT_EQ((*Got)[0].type().str(),
                Cond ? "f32[" + std::to_string(N) + ",4]" : "f32[1,4]");
      EXPECT_EQ((*Got)[3].type().str(), "f32[" + std::to_string(8 * N) + "]");
      for (size_t K = 0; K < Want->size(); ++K) {
        ASSERT_EQ((*Want)[K].type(), (*Got)[K].type()) << K;
        for (int64_t E = 0; E < (*Want)[K].numElements(); ++E)
          EXPECT_NEAR((*Want)[K].getF(E), (*Got)[K].getF(E),
                      1e-5 * (1 + std::abs((*Want)[K].getF(E))))
              << "output " << K << " element " << E << " N=" << N;
      }
    }
}

TEST(ControlFlowModel, RunsOnTheGpuEmulation) {
  // The GPU executor (here its CPU emulation) runs control flow on the host
  // and its regions as GPU kernels (exec/GpuControlFlow.cpp): the
  // interpreter's results for branches of different shapes, a reversed
  // scan, a carried value that grows, a loop stopped by its body's
  // condition and one that does not start.
  ModelOptions O;
  O.Device = "cuda-emu";
  O.Cache = false;
  for (const char *Text : {MixedText, LoopText}) {
    bool Loop = Text == LoopText;
    auto M = Model::fromText(Text, "cf.dlc", O);
    ASSERT_TRUE(bool(M)) << errText(M.takeError());
    auto Ref = parseModule(Text, "cf.dlc");
    ASSERT_TRUE(bool(Ref)) << errText(Ref.takeError());
    const Function &F = *(*Ref)->Functions[0];
    for (int64_t N : {1, 7})
      for (bool Cond : {true, false}) {
        auto In = functionInputs(F, N, 17);
        if (Loop) { // trip count 6 or 0, stopped by the sum at 100
          In[0].setI(0, Cond ? 6 : 0);
          In[1].setF(0, 100);
        } else {
          In[0].setI(0, Cond);
        }
        auto Want = interpret(F, In);
        ASSERT_TRUE(bool(Want)) << errText(Want.takeError());
        auto Got = M->run(In);
        ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
        ASSERT_EQ(Want->size(), Got->size());
        for (size_t K = 0; K < Want->size(); ++K) {
          ASSERT_EQ((*Want)[K].type(), (*Got)[K].type()) << K;
          for (int64_t E = 0; E < (*Want)[K].numElements(); ++E)
            EXPECT_NEAR((*Want)[K].getF(E), (*Got)[K].getF(E),
                        1e-5 * (1 + std::abs((*Want)[K].getF(E))))
                << "output " << K << " element " << E << " N=" << N;
        }
      }
  }
}

TEST(ControlFlowAutodiff, RefusesWithALocatedError) {
  auto M = parseModule(R"(func @f(%n: i64[], %t: bool[], %x: f32[2]) -> (y: f32[]) {
  %v = loop %n, %t, %x {num_carried = 1}
    body(%i: i64[], %c: bool[], %a: f32[2]) -> (c: bool[], a: f32[2]) {
      %b = mul %a, %a
      return %c, %b
    }
  %y = reduce_sum %v {keepdims = false}
  return %y
}
)",
                       "grad.dlc");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  AutodiffOptions Opts;
  Opts.WrtInputs = true;
  std::string E = errText(differentiate(*(*M)->Functions[0], Opts));
  EXPECT_NE(E.find("grad.dlc:2:8: 'loop' (training through control flow "
                   "decided at run time is not supported"),
            std::string::npos)
      << E;
}

} // namespace
