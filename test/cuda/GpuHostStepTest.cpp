// Ops the GPU executor runs that are not plain kernels, through dlc::Model
// with device "cuda" (the fake driver; ctest sets DLC_CUDA_DRIVER) and
// "cuda-emu", with dlc's real GPU code generator, against the reference
// interpreter:
//  - nonzero (and ONNX Compress's nonzero + gather) as a GPU kernel of its
//    own (kernel/GpuNonZero.cpp) at sizes 1, 7, 33, 1000 and more than a
//    block's threads per segment;
//  - host steps between launches (exec/GpuHostStep.cpp): unique,
//    non_max_suppression and string ops, with str inputs and outputs on the
//    host, only the bytes the host step reads copied to the host, and CUDA
//    graphs cut at the host steps.
#include "FakeCuda.h"
#include "api/Device.h"
#include "api/Model.h"
#include "codegen/GpuEmulation.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"
#include "ir/Random.h"

#include "gtest/gtest.h"

#include <cmath>

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

class GpuHostSteps : public ::testing::TestWithParam<const char *> {
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
    if (Want[K].elem() == DType::Str) {
      EXPECT_EQ(Want[K].strings(), Got[K].strings()) << What << " output " << K;
      continue;
    }
    for (int64_t I = 0; I < Want[K].numElements(); ++I)
      ASSERT_EQ(Want[K].getF(I), Got[K].getF(I))
          << What << " output " << K << " element " << I;
  }
}

/// f32 values with about one in Every nonzero (NaN and -0.0 among them).
Tensor sparse(llvm::ArrayRef<int64_t> Shape, int Every, int Seed) {
  Tensor T(DType::F32, Shape);
  for (int64_t I = 0; I < T.numElements(); ++I) {
    double U = uniformAt(Seed, I);
    T.setF(I, int64_t(U * 1000) % Every ? 0.0 : U - 0.5);
  }
  if (T.numElements() > 3) {
    T.setF(1, -0.0);
    T.setF(T.numElements() - 2, NAN);
  }
  return T;
}

const char *NonZero2D = "func @f(%x: f32[N,M]) -> (i: i64[2,?]) {\n"
                        "  %i = nonzero %x\n"
                        "  return %i\n}\n";

TEST_P(GpuHostSteps, NonZeroIsAGpuKernel) {
  auto M = model(NonZero2D);
  ASSERT_TRUE(M);
  // Rows of one element, odd sizes, and 1000 x 9 (more elements than the
  // block's 256 threads take one at a time).
  for (auto [N, C] : {std::pair<int64_t, int64_t>{1, 1},
                      {7, 1},
                      {1, 7},
                      {33, 3},
                      {1000, 9},
                      {5, 0}}) {
    for (int Every : {1, 3, 50}) {
      std::vector<Tensor> In = {sparse({N, C}, Every, int(N + C + Every))};
      auto Got = M->run(In);
      ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
      expectSame(reference(NonZero2D, In), *Got,
                 std::to_string(N) + "x" + std::to_string(C) + " every " +
                     std::to_string(Every));
    }
  }
  if (fake()) { // a launch of its own kernel, no host step
    bool Launched = false;
    for (size_t I = 0; I < dlcFakeCudaLaunchCount(); ++I)
      Launched |= llvm::StringRef(dlcFakeCudaLaunchName(I)).contains("nonzero");
    EXPECT_TRUE(Launched);
  }
}

/// ONNX Compress as the importer writes it: nonzero of a bool condition,
/// then a gather; other element types for nonzero too.
const char *Compress =
    "func @c(%x: f32[N], %k: i32[N], %h: f16[N]) -> (y: f32[?], j: i64[1,?], "
    "g: i64[1,?]) {\n"
    "  %z = constant {value = dense<f32[]>[0.25]}\n"
    "  %m = greater %x, %z\n"
    "  %i = nonzero %m\n"
    "  %f = reshape %i {shape = [-1]}\n"
    "  %y = gather %x, %f {axis = 0}\n"
    "  %j = nonzero %k\n"
    "  %g = nonzero %h\n"
    "  return %y, %j, %g\n}\n";

TEST_P(GpuHostSteps, CompressThroughNonZero) {
  auto M = model(Compress);
  ASSERT_TRUE(M);
  for (int64_t N : {1, 7, 33, 1000, 4099}) {
    Tensor X(DType::F32, {N}), K(DType::I32, {N}), H(DType::F16, {N});
    for (int64_t I = 0; I < N; ++I) {
      X.setF(I, uniformAt(3, I));
      K.setI(I, int64_t(uniformAt(4, I) * 5) - 2);
      H.setF(I, uniformAt(5, I) < 0.3 ? 0.0 : uniformAt(6, I));
    }
    std::vector<Tensor> In = {X, K, H};
    auto Got = M->run(In);
    ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
    expectSame(reference(Compress, In), *Got, "N=" + std::to_string(N));
  }
}

/// unique and a string op as host steps between GPU kernels: kernels read
/// each host step's numeric result (two after unique: a segment that
/// CUDA graphs record).
const char *Mixed =
    "func @m(%x: f32[N], %s: str[N]) -> (y: f32[?], c: i64[?], e: f32[N], "
    "t: str[N]) {\n"
    "  %r = relu %x\n"
    "  %u, %first, %inv, %c = unique %r\n"
    "  %q = mul %u, %u\n"
    "  %y = concat %q, %u {axis = 0}\n"
    "  %l = label_encoder %s {default = dense<i64[]>[-1], keys = "
    "dense<str[3]>[\"a\", \"b\", \"c\"], values = dense<i64[3]>[10, 20, 30]}\n"
    "  %lf = cast %l {to = f32}\n"
    "  %e = add %lf, %x\n"
    "  %t = string_normalizer %s {case_change_action = \"UPPER\"}\n"
    "  return %y, %c, %e, %t\n}\n";

std::vector<Tensor> mixedInputs(int64_t N, int Seed) {
  Tensor X(DType::F32, {N}), S(DType::Str, {N});
  const char *Words[] = {"a", "b", "c", "d", "bb"};
  for (int64_t I = 0; I < N; ++I) {
    X.setF(I, double(int64_t(uniformAt(Seed, I) * 9)) - 4);
    S.strings()[I] = Words[int64_t(uniformAt(Seed + 1, I) * 5)];
  }
  return {X, S};
}

TEST_P(GpuHostSteps, HostStepsBetweenKernels) {
  auto M = model(Mixed);
  ASSERT_TRUE(M);
  for (int64_t N : {1, 7, 33, 1000}) {
    std::vector<Tensor> In = mixedInputs(N, int(N));
    uint64_t Out0 = dlcFakeCudaBytes(1);
    // Three runs: the third replays CUDA graphs recorded in the second.
    for (int Run = 0; Run < 3; ++Run) {
      auto Got = M->run(In);
      ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
      auto Want = reference(Mixed, In);
      expectSame(Want, *Got, "N=" + std::to_string(N));
      if (fake() && Run == 0) {
        // To the host: relu's result for unique, and the numeric outputs;
        // the str values never left it.
        uint64_t Want0 = uint64_t(N) * 4 + Want[0].byteSize() +
                         Want[1].byteSize() + Want[2].byteSize();
        EXPECT_EQ(dlcFakeCudaBytes(1) - Out0, Want0) << "N=" << N;
      }
    }
  }
  if (fake())
    EXPECT_GT(dlcFakeCudaGraphOps(), 0u) << "no segment was replayed";
}

const char *Nms =
    "func @n(%b: f32[1,N,4], %s: f32[1,2,N]) -> (k: i64[?,3], w: f32[1,2,N]) "
    "{\n"
    "  %e = exp %s\n"
    "  %k = non_max_suppression %b, %e {max_output = 3, iou_threshold = 0.5, "
    "score_threshold = 1.2}\n"
    "  %w = neg %s\n"
    "  return %k, %w\n}\n";

TEST_P(GpuHostSteps, NonMaxSuppressionOnTheHost) {
  auto M = model(Nms);
  ASSERT_TRUE(M);
  for (int64_t N : {1, 7, 33}) {
    Tensor B(DType::F32, {1, N, 4}), S(DType::F32, {1, 2, N});
    for (int64_t I = 0; I < N; ++I) {
      double X = uniformAt(8, I) * 4, Y = uniformAt(9, I) * 4;
      B.setF(4 * I, X), B.setF(4 * I + 1, Y);
      B.setF(4 * I + 2, X + 1), B.setF(4 * I + 3, Y + 1);
      S.setF(I, uniformAt(10, I)), S.setF(N + I, uniformAt(11, I));
    }
    std::vector<Tensor> In = {B, S};
    uint64_t Copies = dlcFakeCudaCalls("cuMemcpyHtoDAsync_v2");
    auto Got = M->run(In);
    ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
    auto Want = reference(Nms, In);
    expectSame(Want, *Got, "N=" + std::to_string(N));
    // To the device: the scores, the new plan's parameter blocks and the
    // selection; never the boxes, which only the host step reads.
    if (fake())
      EXPECT_EQ(dlcFakeCudaCalls("cuMemcpyHtoDAsync_v2") - Copies,
                2u + (Want[0].numElements() > 0))
          << "N=" << N;
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, GpuHostSteps,
                         ::testing::Values("cuda", "cuda-emu"),
                         [](const auto &I) {
                           return llvm::StringRef(I.param) == "cuda"
                                      ? std::string("FakeCuda")
                                      : std::string("Emulation");
                         });

} // namespace
