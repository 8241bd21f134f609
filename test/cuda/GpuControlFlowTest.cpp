// Control flow (if, loop, scan) on a GPU device (exec/GpuControlFlow.cpp)
// through dlc::Model with device "cuda" (the fake driver; ctest sets
// DLC_CUDA_DRIVER) and "cuda-emu", with dlc's real GPU code generator,
// against the reference interpreter: conditions and trip counts computed by
// kernels at run time, only the taken branch run, loop-carried values and
// scan outputs with run-time lengths, scans along inner axes in both
// directions; the regions' kernels launched per iteration and the carried
// values kept on the device (the fake driver counts the bytes).
#include "FakeCuda.h"
#include "api/Device.h"
#include "api/Model.h"
#include "codegen/GpuEmulation.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"
#include "ir/Random.h"

#include "gtest/gtest.h"

using namespace dlc;

namespace {

std::string errText(llvm::Error E) { return llvm::toString(std::move(E)); }

/// dlc's GPU code generator, with every kernel registered with the fake
/// driver (which runs a kernel through its emulation once it knows it).
llvm::Expected<GpuProgram> codegenOnFake(const Function &F,
                                         const std::vector<LoweredStep> &Steps,
                                         unsigned OptLevel,
                                         llvm::StringRef Arch, GpuPrecision P) {
  auto Prog = nvptxCodegen(F, Steps, OptLevel, Arch, P);
  if (Prog)
    for (const GpuKernelEntry &K : Prog->Kernels)
      dlcFakeCudaRegisterKernel(K.Name.c_str(), K.NumArgs, K.Emulate);
  return Prog;
}

class GpuControlFlow : public ::testing::TestWithParam<const char *> {
protected:
  void SetUp() override {
    dlcFakeCudaReset();
    Saved = setGpuCodegen(codegenOnFake);
  }
  void TearDown() override {
    setGpuCodegen(Saved);
    EXPECT_STREQ(dlcFakeCudaViolations(), "");
  }
  bool fake() const { return llvm::StringRef(GetParam()) == "cuda"; }
  std::unique_ptr<Model> model(const char *Text) {
    ModelOptions O;
    O.Device = GetParam();
    O.Threads = 1;
    auto M = Model::fromText(Text, "<test>", O);
    EXPECT_TRUE(bool(M)) << errText(M.takeError());
    return M ? std::make_unique<Model>(std::move(*M)) : nullptr;
  }
  /// Launches of kernels whose name contains Part since the reset.
  size_t launches(llvm::StringRef Part) const {
    size_t N = 0;
    for (size_t I = 0; I < dlcFakeCudaLaunchCount(); ++I)
      N += llvm::StringRef(dlcFakeCudaLaunchName(I)).contains(Part);
    return N;
  }
  GpuCodegenFn Saved = nullptr;
};

/// The interpreter's results for Text's function on In.
std::vector<Tensor> reference(const char *Text, llvm::ArrayRef<Tensor> In) {
  auto M = llvm::cantFail(parseModule(Text, "<test>"));
  return llvm::cantFail(interpret(*M->Functions[0], In));
}

void expectSame(llvm::ArrayRef<Tensor> Want, llvm::ArrayRef<Tensor> Got,
                const std::string &What) {
  ASSERT_EQ(Want.size(), Got.size()) << What;
  for (size_t K = 0; K < Want.size(); ++K) {
    ASSERT_EQ(Want[K].type(), Got[K].type()) << What << " output " << K;
    for (int64_t I = 0; I < Want[K].numElements(); ++I)
      ASSERT_NEAR(Want[K].getF(I), Got[K].getF(I),
                  1e-5 * (1 + std::abs(Want[K].getF(I))))
          << What << " output " << K << " element " << I;
  }
}

Tensor values(llvm::ArrayRef<int64_t> Shape, int Seed) {
  Tensor T(DType::F32, Shape);
  for (int64_t I = 0; I < T.numElements(); ++I)
    T.setF(I, uniformAt(Seed, I) * 2 - 1);
  return T;
}

Tensor scalar(DType E, double V) {
  Tensor T(E, {});
  T.setF(0, V);
  return T;
}

/// Two ifs on a condition a kernel computes: y's branches have one shape
/// (no planning on the host: only the GPU runs it), z's differ (the
/// planner sizes it first).
const char *Ifs =
    "func @f(%x: f32[N], %t: f32[]) -> (y: f32[N], z: f32[?], w: f32[N]) {\n"
    "  %zero = constant {value = dense<f32[]>[0.0]}\n"
    "  %c = greater %t, %zero\n"
    "  %e = exp %x\n"
    "  %y = if %c, %x, %e\n"
    "    then(%a: f32[M], %b: f32[M]) -> (r: f32[M]) {\n"
    "      %r = add %a, %b\n"
    "      return %r\n"
    "    }\n"
    "    else(%a: f32[M], %b: f32[M]) -> (r: f32[M]) {\n"
    "      %r = sub %a, %b\n"
    "      return %r\n"
    "    }\n"
    "  %z = if %c, %e\n"
    "    then(%a: f32[M]) -> (r: f32[2]) {\n"
    "      %h = slice %a {ends = [2], starts = [0]}\n"
    "      %r = mul %h, %h\n"
    "      return %r\n"
    "    }\n"
    "    else(%a: f32[M]) -> (r: f32[M]) {\n"
    "      %r = neg %a\n"
    "      return %r\n"
    "    }\n"
    "  %w = relu %y\n"
    "  return %y, %z, %w\n}\n";

TEST_P(GpuControlFlow, IfRunsTheTakenBranch) {
  auto M = model(Ifs);
  ASSERT_TRUE(M);
  for (int64_t N : {2, 7, 300})
    for (double T : {1.0, -1.0}) {
      std::vector<Tensor> In = {values({N}, int(N)), scalar(DType::F32, T)};
      size_t Sub = launches("_sub"), Add = launches("_add");
      auto Got = M->run(In);
      ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
      expectSame(reference(Ifs, In), *Got,
                 "N=" + std::to_string(N) + " t=" + std::to_string(T));
      if (fake()) { // only the taken branch's kernel ran
        EXPECT_EQ(launches("_add") > Add, T > 0) << N;
        EXPECT_EQ(launches("_sub") > Sub, T < 0) << N;
      }
    }
}

/// A loop with a run-time trip count (an input no kernel reads), a
/// condition computed in the body, two carried values and a capture; and
/// one with scan slices, whose length is known only by running it.
const char *Loops =
    "func @l(%x: f32[N], %n: i64[]) -> (v: f32[N], k: f32[], u: f32[N], "
    "s: f32[?,N]) {\n"
    "  %go = constant {value = dense<bool[]>[true]}\n"
    "  %k0 = constant {value = dense<f32[]>[0.5]}\n"
    "  %v0 = relu %x\n"
    "  %v, %k = loop %n, %go, %v0, %k0, %x {num_carried = 2}\n"
    "    body(%i: i64[], %c: bool[], %a: f32[M], %b: f32[], %y: f32[M]) -> "
    "(c: bool[], a: f32[M], b: f32[]) {\n"
    "      %one = constant {value = dense<f32[]>[1.0]}\n"
    "      %five = constant {value = dense<i64[]>[5]}\n"
    "      %a2 = add %a, %y\n"
    "      %b2 = mul %b, %one\n"
    "      %b3 = add %b2, %b2\n"
    "      %c2 = less %i, %five\n"
    "      return %c2, %a2, %b3\n"
    "    }\n"
    "  %u, %s = loop %n, %go, %x {num_carried = 1}\n"
    "    body(%i: i64[], %c: bool[], %a: f32[M]) -> (c: bool[], a: f32[M], "
    "s: f32[M]) {\n"
    "      %h = mul %a, %a\n"
    "      %a2 = sub %h, %a\n"
    "      return %c, %a2, %h\n"
    "    }\n"
    "  return %v, %k, %u, %s\n}\n";

TEST_P(GpuControlFlow, LoopCarriesValuesAndStacksScans) {
  auto M = model(Loops);
  ASSERT_TRUE(M);
  // Trip counts below the body's stop (6 iterations), above it, and 0.
  for (int64_t N : {1, 5, 1000})
    for (int64_t Trip : {0, 1, 3, 9}) {
      std::vector<Tensor> In = {values({N}, int(N + Trip)),
                                scalar(DType::I64, double(Trip))};
      auto Got = M->run(In);
      ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
      expectSame(reference(Loops, In), *Got,
                 "N=" + std::to_string(N) + " trip=" + std::to_string(Trip));
    }
}

/// Only a carried loop: its values stay on the device between iterations.
const char *Carried =
    "func @c(%x: f32[N], %n: i64[]) -> (v: f32[N]) {\n"
    "  %go = constant {value = dense<bool[]>[true]}\n"
    "  %v0 = relu %x\n"
    "  %v = loop %n, %go, %v0, %x {num_carried = 1}\n"
    "    body(%i: i64[], %c: bool[], %a: f32[M], %y: f32[M]) -> "
    "(c: bool[], a: f32[M]) {\n"
    "      %h = mul %a, %y\n"
    "      %a2 = add %h, %y\n"
    "      return %c, %a2\n"
    "    }\n"
    "  return %v\n}\n";

TEST_P(GpuControlFlow, CarriedValuesStayOnTheDevice) {
  auto M = model(Carried);
  ASSERT_TRUE(M);
  const int64_t N = 4096, Trip = 7;
  std::vector<Tensor> In = {values({N}, 3), scalar(DType::I64, Trip)};
  uint64_t Out0 = dlcFakeCudaBytes(1);
  size_t Body0 = launches("_mul");
  auto Got = M->run(In);
  ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
  expectSame(reference(Carried, In), *Got, "carried");
  if (fake()) {
    // The body's kernel ran once per iteration; to the host came the
    // output, the trip count and one condition per iteration (a few bytes
    // each), never the 16 KiB carried value.
    EXPECT_GE(launches("_mul") - Body0, size_t(Trip));
    EXPECT_LE(dlcFakeCudaBytes(1) - Out0, uint64_t(N * 4 + 64 + 16 * Trip));
  }
  // Again: the regions' plans and parameter blocks are reused.
  auto Again = M->run(In);
  ASSERT_TRUE(bool(Again)) << errText(Again.takeError());
  expectSame(*Got, *Again, "second run");
}

/// A scan over the inner axis of two inputs (one reversed), outputs
/// stacked along axes 1 (reversed) and 0, a state.
const char *Scans =
    "func @s(%x: f32[N,T], %h0: f32[N]) -> (h: f32[N], ys: f32[N,T], "
    "r: f32[T,N]) {\n"
    "  %e = exp %x\n"
    "  %h, %ys, %r = scan %h0, %e, %x {num_scan_inputs = 2, num_states = 1, "
    "scan_input_axes = [1, 1], scan_input_directions = [0, 1], "
    "scan_output_axes = [1, 0], scan_output_directions = [1, 0]}\n"
    "    body(%s: f32[A], %u: f32[A], %w: f32[A]) -> (s: f32[A], y: f32[A], "
    "q: f32[A]) {\n"
    "      %t = add %s, %u\n"
    "      %q = mul %t, %w\n"
    "      return %t, %t, %q\n"
    "    }\n"
    "  return %h, %ys, %r\n}\n";

TEST_P(GpuControlFlow, ScanAlongInnerAxes) {
  auto M = model(Scans);
  ASSERT_TRUE(M);
  for (auto [N, T] : {std::pair<int64_t, int64_t>{1, 1},
                      {3, 4},
                      {200, 5},
                      {4, 0}}) {
    std::vector<Tensor> In = {values({N, T}, int(N * 7 + T)),
                              values({N}, int(T))};
    auto Got = M->run(In);
    ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
    expectSame(reference(Scans, In), *Got,
               std::to_string(N) + "x" + std::to_string(T));
  }
}

/// Control flow nested in a region: an if inside a loop's body, on the
/// iteration number; the inner regions are GPU executables too.
const char *Nested =
    "func @n(%x: f32[N], %n: i64[]) -> (v: f32[N]) {\n"
    "  %go = constant {value = dense<bool[]>[true]}\n"
    "  %v = loop %n, %go, %x {num_carried = 1}\n"
    "    body(%i: i64[], %c: bool[], %a: f32[M]) -> (c: bool[], a: f32[M]) "
    "{\n"
    "      %two = constant {value = dense<i64[]>[2]}\n"
    "      %p = less %i, %two\n"
    "      %b = if %p, %a\n"
    "        then(%q: f32[K]) -> (r: f32[K]) {\n"
    "          %r = neg %q\n"
    "          return %r\n"
    "        }\n"
    "        else(%q: f32[K]) -> (r: f32[K]) {\n"
    "          %r = add %q, %q\n"
    "          return %r\n"
    "        }\n"
    "      return %c, %b\n"
    "    }\n"
    "  return %v\n}\n";

TEST_P(GpuControlFlow, NestedIfInLoop) {
  auto M = model(Nested);
  ASSERT_TRUE(M);
  for (int64_t Trip : {0, 1, 2, 5}) {
    std::vector<Tensor> In = {values({9}, int(Trip)),
                              scalar(DType::I64, double(Trip))};
    size_t Neg = launches("_neg"), Add = launches("_add");
    auto Got = M->run(In);
    ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
    expectSame(reference(Nested, In), *Got, "trip=" + std::to_string(Trip));
    if (fake()) {
      EXPECT_EQ(launches("_neg") - Neg, size_t(std::min<int64_t>(Trip, 2)));
      EXPECT_EQ(launches("_add") - Add, size_t(std::max<int64_t>(Trip - 2, 0)));
    }
  }
}

/// A region's error names the op, the region and the iteration.
TEST_P(GpuControlFlow, BadTripCountIsLocated) {
  const char *Text =
      "func @b(%x: f32[2], %n: i64[K]) -> (v: f32[2]) {\n"
      "  %go = constant {value = dense<bool[]>[true]}\n"
      "  %v = loop %n, %go, %x {num_carried = 1}\n"
      "    body(%i: i64[], %c: bool[], %a: f32[2]) -> (c: bool[], "
      "a: f32[2]) {\n"
      "      %a2 = neg %a\n"
      "      return %c, %a2\n"
      "    }\n"
      "  return %v\n}\n";
  ModelOptions O;
  O.Device = GetParam();
  auto M = Model::fromText(Text, "<test>", O);
  if (!M) { // refused when compiled: fine, if it says why
    EXPECT_NE(errText(M.takeError()).find("trip"), std::string::npos);
    return;
  }
  Tensor N(DType::I64, {2});
  auto Got = M->run({values({2}, 1), N});
  ASSERT_FALSE(bool(Got));
  std::string E = errText(Got.takeError());
  EXPECT_NE(E.find("'loop': the trip count must have one element"),
            std::string::npos)
      << E;
}

INSTANTIATE_TEST_SUITE_P(Devices, GpuControlFlow,
                         ::testing::Values("cuda", "cuda-emu"),
                         [](const auto &I) {
                           return llvm::StringRef(I.param) == "cuda"
                                      ? std::string("FakeCuda")
                                      : std::string("Emulation");
                         });

} // namespace
