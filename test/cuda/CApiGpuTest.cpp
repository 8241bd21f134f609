// The C API's device and precision choice (dlc_model_create_with) on GPU
// images: a graph compiled by dlc's GPU code generator at fp32 and tf32 and
// put into a dlc_aot_gpu_image the way `dlc compile --target nvptx` lays it
// out, loaded through libdlc_runtime.so alone on the CPU emulation of the
// GPU and on the fake CUDA driver (ctest sets DLC_CUDA_DRIVER; the fake runs
// a kernel through its emulation once it is registered by name), against
// the interpreter; plus every refusal: a precision the image lacks, tf32 on
// the CPU, a GPU older than the PTX, unknown values, old GPU ABIs, short
// option structs.
#include "FakeCuda.h"

#include "exec/dlc_runtime.h"

#include "codegen/GpuEmitter.h"
#include "codegen/GpuEmulation.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "passes/Pass.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

using namespace dlc;

namespace {

/// tf32 changes the product (k = 33 terms of about 0.25), fp32 does not.
const char Text[] = R"(func @f(%a: f32[N,33], %b: f32[33,19], %c: f32[19]) -> (y: f32[N,19], s: f32[N,19]) {
  %m = matmul %a, %b
  %t = add %m, %c
  %y = relu %t
  %s = softmax %y
  return %y, %s
}
)";

/// One program of a GPU image, with what its table points at.
struct Program {
  std::unique_ptr<GpuCompilation> C;
  std::vector<dlc_aot_gpu_kernel> Table;
  dlc_aot_gpu_program P{};
};

/// The graph (optimized, as dlc compile does) and its GPU programs.
struct Images {
  std::unique_ptr<Module> M;
  std::string Ir;
  dlc_aot_image Cpu{};
  std::vector<std::unique_ptr<Program>> Progs;
  std::vector<dlc_aot_gpu_program> List;
  dlc_aot_gpu_image Gpu{};

  /// Programs at Precs (the first is the default), PTX for sm_Sm, of
  /// Model's function.
  void build(std::initializer_list<int32_t> Precs, unsigned Sm = 80,
             const char *Model = Text) {
    auto Mod = parseModule(Model, "<test>");
    ASSERT_TRUE(bool(Mod)) << llvm::toString(Mod.takeError());
    M = std::move(*Mod);
    PassManager PM;
    ASSERT_FALSE(bool(PM.addPipeline("optimize")));
    ASSERT_FALSE(bool(PM.run(*M)));
    llvm::raw_string_ostream OS(Ir);
    printFunction(*M->Functions[0], OS);
    Cpu.abi_version = DLC_AOT_ABI_VERSION;
    Cpu.ir = Ir.data();
    Cpu.ir_len = Ir.size();
    for (int32_t Prec : Precs) {
      auto P = std::make_unique<Program>();
      GpuTarget T;
      T.Arch = "sm_" + std::to_string(Sm);
      GpuOptions G;
      G.Tf32 = Prec == DLC_PRECISION_TF32;
      G.Bf16 = Prec == DLC_PRECISION_BF16;
      auto C = GpuCompilation::compile(*M->Functions[0], &T, 1, G);
      ASSERT_TRUE(bool(C)) << llvm::toString(C.takeError());
      P->C = std::move(*C);
      for (const GpuKernelEntry &E : P->C->entries())
        P->Table.push_back({E.Name.c_str(), E.NumArgs, 0,
                            reinterpret_cast<dlc_gpu_launch_fn>(E.Launch),
                            reinterpret_cast<dlc_gpu_emulate_fn>(E.Emulate)});
      P->P = {Prec,           Sm,
              P->C->ptx().c_str(), P->C->ptx().size(),
              P->Table.data(), P->Table.size()};
      List.push_back(P->P);
      Progs.push_back(std::move(P));
    }
    Gpu = {DLC_AOT_GPU_ABI_VERSION, uint32_t(List.size()), List.data()};
  }

  /// The fake driver runs program I's kernels through their emulation.
  void registerWithFake(size_t I) const {
    for (const GpuKernelEntry &E : Progs[I]->C->entries())
      dlcFakeCudaRegisterKernel(E.Name.c_str(), E.NumArgs, E.Emulate);
  }
};

dlc_model_options options(int Device, int Precision) {
  dlc_model_options O;
  dlc_model_options_init(&O);
  O.device = Device;
  O.precision = Precision;
  return O;
}

/// Inputs at batch N: values of both signs, so relu cuts some.
std::vector<Tensor> inputs(int64_t N) {
  std::vector<Tensor> In;
  In.emplace_back(DType::F32, llvm::SmallVector<int64_t, 2>{N, 33});
  In.emplace_back(DType::F32, llvm::SmallVector<int64_t, 2>{33, 19});
  In.emplace_back(DType::F32, llvm::SmallVector<int64_t, 1>{19});
  for (size_t K = 0; K < In.size(); ++K)
    for (int64_t I = 0; I < In[K].numElements(); ++I)
      In[K].as<float>()[I] =
          float(0.6 * std::sin(0.7 * double(I) + 1.3 * double(K)) + 0.1);
  return In;
}

/// Runs M on In through the C API; the outputs as tensors.
std::vector<Tensor> runC(dlc_model *M, const std::vector<Tensor> &In) {
  std::vector<dlc_tensor> C(In.size());
  for (size_t K = 0; K < In.size(); ++K) {
    C[K].dtype = DLC_F32;
    C[K].rank = int32_t(In[K].rank());
    for (unsigned D = 0; D < In[K].rank(); ++D)
      C[K].shape[D] = In[K].shape()[D];
    C[K].data = const_cast<void *>(static_cast<const void *>(In[K].data()));
  }
  dlc_tensor Out[2] = {};
  char Err[512] = "";
  int S = dlc_model_run(M, C.data(), C.size(), Out, 2, Err, sizeof Err);
  EXPECT_EQ(S, DLC_OK) << Err;
  std::vector<Tensor> R;
  if (S != DLC_OK)
    return R;
  for (dlc_tensor &T : Out) {
    EXPECT_EQ(T.dtype, DLC_F32);
    Tensor X(DType::F32, llvm::ArrayRef<int64_t>(T.shape, T.rank));
    std::memcpy(X.data(), T.data, X.byteSize());
    R.push_back(std::move(X));
    dlc_tensor_free(&T);
  }
  return R;
}

/// The largest difference between A and B, relative to 1 + |B|.
double maxRelDiff(const Tensor &A, const Tensor &B) {
  EXPECT_EQ(A.type().str(), B.type().str());
  double W = 0;
  for (int64_t I = 0; I < A.numElements() && I < B.numElements(); ++I) {
    double X = A.as<float>()[I], Y = B.as<float>()[I];
    W = std::max(W, std::fabs(X - Y) / (1 + std::fabs(Y)));
    if (std::isnan(X) != std::isnan(Y))
      return 1e30;
  }
  return W;
}

class CApiGpu : public ::testing::Test {
protected:
  void SetUp() override { dlcFakeCudaReset(); }
  /// Creates on Device at Precision; fails the test unless it works.
  dlc_model *create(const Images &I, int Device, int Precision) {
    dlc_model_options O = options(Device, Precision);
    dlc_model *M = nullptr;
    char Err[512] = "";
    EXPECT_EQ(dlc_model_create_with(&I.Cpu, &I.Gpu, &O, &M, Err, sizeof Err),
              DLC_OK)
        << Err;
    return M;
  }
  /// The error status and message of a create that must fail.
  std::pair<int, std::string> refuse(const Images &I,
                                     const dlc_model_options *O,
                                     const dlc_aot_gpu_image *Gpu) {
    dlc_model *M = reinterpret_cast<dlc_model *>(this);
    char Err[512] = "";
    int S = dlc_model_create_with(&I.Cpu, Gpu, O, &M, Err, sizeof Err);
    EXPECT_EQ(M, nullptr);
    return {S, Err};
  }
};

TEST_F(CApiGpu, Fp32MatchesTheInterpreterOnEmulationAndFakeDriver) {
  Images I;
  I.build({DLC_PRECISION_FP32});
  I.registerWithFake(0);
  for (int64_t N : {1, 7, 70}) {
    auto In = inputs(N);
    auto Want = interpret(*I.M->Functions[0], In);
    ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
    for (int Dev : {DLC_DEVICE_CUDA_EMU, DLC_DEVICE_CUDA}) {
      size_t Before = dlcFakeCudaLaunchCount();
      dlc_model *M = create(I, Dev, DLC_PRECISION_DEFAULT);
      ASSERT_NE(M, nullptr);
      auto Got = runC(M, In);
      ASSERT_EQ(Got.size(), 2u);
      EXPECT_LT(maxRelDiff(Got[0], (*Want)[0]), 1e-5) << N << " " << Dev;
      EXPECT_LT(maxRelDiff(Got[1], (*Want)[1]), 1e-5) << N << " " << Dev;
      dlc_model_destroy(M);
      // Only the real (fake) driver launches: matmul+relu, softmax.
      EXPECT_EQ(dlcFakeCudaLaunchCount() - Before,
                Dev == DLC_DEVICE_CUDA ? I.Progs[0]->Table.size() : 0u);
    }
  }
  EXPECT_STREQ(dlcFakeCudaViolations(), "");
  EXPECT_EQ(dlcFakeCudaLiveAllocations(), 0u);
}

TEST_F(CApiGpu, PrecisionPicksTheProgram) {
  Images I;
  I.build({DLC_PRECISION_TF32, DLC_PRECISION_FP32});
  auto In = inputs(9);
  auto Want = interpret(*I.M->Functions[0], In);
  ASSERT_TRUE(bool(Want));
  // The tf32 reference: the interpreter on inputs rounded to tf32.
  auto Rounded = inputs(9);
  for (size_t K = 0; K < 2; ++K)
    for (int64_t E = 0; E < Rounded[K].numElements(); ++E) {
      float &X = Rounded[K].as<float>()[E];
      uint32_t U;
      std::memcpy(&U, &X, 4);
      U = (U + 0x1000u) & 0xffffe000u;
      std::memcpy(&X, &U, 4);
    }
  auto WantTf32 = interpret(*I.M->Functions[0], Rounded);
  ASSERT_TRUE(bool(WantTf32));
  ASSERT_GT(maxRelDiff((*WantTf32)[0], (*Want)[0]), 1e-4)
      << "the test cannot tell tf32 from fp32";
  for (int Dev : {DLC_DEVICE_CUDA_EMU, DLC_DEVICE_CUDA}) {
    // The default is the image's first program: tf32.
    for (int Prec : {DLC_PRECISION_DEFAULT, DLC_PRECISION_TF32}) {
      dlcFakeCudaReset();
      I.registerWithFake(0);
      dlc_model *M = create(I, Dev, Prec);
      ASSERT_NE(M, nullptr);
      auto Got = runC(M, In);
      ASSERT_EQ(Got.size(), 2u);
      EXPECT_LT(maxRelDiff(Got[0], (*WantTf32)[0]), 1e-5) << Dev << Prec;
      EXPECT_GT(maxRelDiff(Got[0], (*Want)[0]), 1e-4) << Dev << Prec;
      dlc_model_destroy(M);
    }
    dlcFakeCudaReset();
    I.registerWithFake(1);
    dlc_model *M = create(I, Dev, DLC_PRECISION_FP32);
    ASSERT_NE(M, nullptr);
    auto Got = runC(M, In);
    ASSERT_EQ(Got.size(), 2u);
    EXPECT_LT(maxRelDiff(Got[0], (*Want)[0]), 1e-5) << Dev;
    dlc_model_destroy(M);
  }
}

/// The interpreter on In with the matmul operands (inputs 0 and 1) rounded
/// by Round.
template <typename Fn>
std::vector<Tensor> roundedReference(const Images &I, int64_t N, Fn Round) {
  auto In = inputs(N);
  for (size_t K = 0; K < 2; ++K)
    for (int64_t E = 0; E < In[K].numElements(); ++E) {
      float &X = In[K].as<float>()[E];
      uint32_t U;
      std::memcpy(&U, &X, 4);
      U = Round(U);
      std::memcpy(&X, &U, 4);
    }
  auto W = interpret(*I.M->Functions[0], In);
  EXPECT_TRUE(bool(W));
  return W ? std::move(*W) : std::vector<Tensor>{};
}

TEST_F(CApiGpu, Bf16ProgramByPrecision) {
  Images I;
  I.build({DLC_PRECISION_FP32, DLC_PRECISION_BF16});
  auto In = inputs(6);
  auto Want = interpret(*I.M->Functions[0], In);
  ASSERT_TRUE(bool(Want));
  auto WantBf16 = roundedReference(I, 6, [](uint32_t U) {
    return (U + 0x7fffu + ((U >> 16) & 1u)) & 0xffff0000u;
  });
  ASSERT_EQ(WantBf16.size(), 2u);
  I.registerWithFake(1);
  for (int Dev : {DLC_DEVICE_CUDA_EMU, DLC_DEVICE_CUDA}) {
    dlc_model *M = create(I, Dev, DLC_PRECISION_BF16);
    ASSERT_NE(M, nullptr);
    auto Got = runC(M, In);
    ASSERT_EQ(Got.size(), 2u);
    EXPECT_LT(maxRelDiff(Got[0], WantBf16[0]), 1e-5) << Dev;
    EXPECT_GT(maxRelDiff(Got[0], (*Want)[0]), 1e-3) << Dev;
    dlc_model_destroy(M);
  }
  // The default is the first program: fp32.
  dlc_model *M = create(I, DLC_DEVICE_CUDA_EMU, DLC_PRECISION_DEFAULT);
  ASSERT_NE(M, nullptr);
  auto Got = runC(M, In);
  ASSERT_EQ(Got.size(), 2u);
  EXPECT_LT(maxRelDiff(Got[0], (*Want)[0]), 1e-5);
  dlc_model_destroy(M);
  dlc_model_options O = options(DLC_DEVICE_CUDA_EMU, DLC_PRECISION_TF32);
  auto R = refuse(I, &O, &I.Gpu);
  EXPECT_EQ(R.first, DLC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(R.second, "this compiled model has no tf32 kernels (it has fp32, "
                      "bf16): compile it with dlc compile --target nvptx "
                      "--precision tf32");
}

TEST_F(CApiGpu, Refusals) {
  Images I;
  I.build({DLC_PRECISION_FP32});
  dlc_model_options O = options(DLC_DEVICE_CUDA_EMU, DLC_PRECISION_TF32);
  auto R = refuse(I, &O, &I.Gpu);
  EXPECT_EQ(R.first, DLC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(R.second, "this compiled model has no tf32 kernels (it has fp32): "
                      "compile it with dlc compile --target nvptx --precision "
                      "tf32");
  O = options(DLC_DEVICE_CPU, DLC_PRECISION_TF32);
  R = refuse(I, &O, nullptr);
  EXPECT_EQ(R.first, DLC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(R.second.rfind("precision tf32 is for GPU tensor cores", 0), 0u)
      << R.second;
  // A GPU artifact has no CPU kernels.
  O = options(DLC_DEVICE_CPU, DLC_PRECISION_DEFAULT);
  R = refuse(I, &O, &I.Gpu);
  EXPECT_EQ(R.first, DLC_ERR_DEVICE);
  EXPECT_EQ(R.second.rfind("this model was compiled for the GPU", 0), 0u)
      << R.second;
  // A CPU image on the GPU.
  O = options(DLC_DEVICE_CUDA, DLC_PRECISION_DEFAULT);
  R = refuse(I, &O, nullptr);
  EXPECT_EQ(R.first, DLC_ERR_DEVICE);
  EXPECT_EQ(R.second, "this compiled model has no GPU kernels: compile it "
                      "with dlc compile --target nvptx, or use "
                      "DLC_DEVICE_CPU");
  O = options(DLC_DEVICE_CUDA_EMU, 9);
  R = refuse(I, &O, &I.Gpu);
  EXPECT_EQ(R.first, DLC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(R.second.rfind("unknown precision 9", 0), 0u) << R.second;
  O = options(3, DLC_PRECISION_DEFAULT);
  R = refuse(I, &O, &I.Gpu);
  EXPECT_EQ(R.first, DLC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(R.second, "unknown device 3 (DLC_DEVICE_CPU is 0, DLC_DEVICE_CUDA "
                      "1, DLC_DEVICE_CUDA_EMU 2)");
  dlc_aot_gpu_image Old = I.Gpu;
  Old.abi_version = 0;
  O = options(DLC_DEVICE_CUDA_EMU, DLC_PRECISION_DEFAULT);
  R = refuse(I, &O, &Old);
  EXPECT_EQ(R.first, DLC_ERR_BAD_IMAGE);
  EXPECT_NE(R.second.find("GPU ABI 0, this runtime has 1"), std::string::npos)
      << R.second;
  // A GPU kernel table that does not fit the graph: the executor's check.
  dlc_aot_gpu_program Short = I.List[0];
  Short.n_kernels -= 1;
  dlc_aot_gpu_image Cut = {DLC_AOT_GPU_ABI_VERSION, 1, &Short};
  R = refuse(I, &O, &Cut);
  EXPECT_EQ(R.first, DLC_ERR_DEVICE);
  EXPECT_NE(R.second.find("kernel steps but its GPU program"),
            std::string::npos)
      << R.second;
}

TEST_F(CApiGpu, ShortOptionStructsKeepDefaults) {
  Images I;
  I.build({DLC_PRECISION_FP32});
  // A caller built when options had only struct_size and device: threads
  // and precision are the defaults, whatever follows in its memory.
  dlc_model_options O = options(DLC_DEVICE_CUDA_EMU, 77);
  O.threads = -5;
  O.struct_size = offsetof(dlc_model_options, threads);
  dlc_model *M = nullptr;
  char Err[256] = "";
  ASSERT_EQ(dlc_model_create_with(&I.Cpu, &I.Gpu, &O, &M, Err, sizeof Err),
            DLC_OK)
      << Err;
  auto Got = runC(M, inputs(3));
  EXPECT_EQ(Got.size(), 2u);
  dlc_model_destroy(M);
  // NULL options: the CPU, which a GPU-only image does not have.
  EXPECT_EQ(dlc_model_create_with(&I.Cpu, &I.Gpu, nullptr, &M, Err,
                                  sizeof Err),
            DLC_ERR_DEVICE);
  dlc_model_options D;
  std::memset(&D, 0xff, sizeof D);
  dlc_model_options_init(&D);
  EXPECT_EQ(D.struct_size, sizeof D);
  EXPECT_EQ(D.device, DLC_DEVICE_CPU);
  EXPECT_EQ(D.threads, 0);
  EXPECT_EQ(D.precision, DLC_PRECISION_DEFAULT);
}

/// Host steps in a GPU artifact: unique and string ops run on the host
/// between the launches (the runtime library's interpreter kernels), nonzero
/// is a GPU kernel, str inputs and outputs cross the C API (DLC_STR).
const char HostSteps[] = R"(func @h(%x: f32[N], %s: str[N]) -> (y: f32[?], i: i64[1,?], e: f32[N], t: str[N]) {
  %r = relu %x
  %u, %first, %inv, %c = unique %r
  %y = mul %u, %u
  %i = nonzero %r
  %l = label_encoder %s {default = dense<i64[]>[-1], keys = dense<str[3]>["a", "b", "c"], values = dense<i64[3]>[10, 20, 30]}
  %lf = cast %l {to = f32}
  %e = add %lf, %x
  %t = string_normalizer %s {case_change_action = "UPPER"}
  return %y, %i, %e, %t
}
)";

TEST_F(CApiGpu, HostStepsAndStringsInAGpuArtifact) {
  Images I;
  I.build({DLC_PRECISION_FP32}, 80, HostSteps);
  I.registerWithFake(0);
  bool NonZeroKernel = false;
  for (const dlc_aot_gpu_kernel &K : I.Progs[0]->Table)
    NonZeroKernel |= llvm::StringRef(K.name).contains("nonzero");
  EXPECT_TRUE(NonZeroKernel);
  const char *Words[] = {"a", "b", "c", "Dd", ""};
  for (int64_t N : {1, 7, 33}) {
    Tensor X(DType::F32, {N}), S(DType::Str, {N});
    std::vector<const char *> Ptrs;
    for (int64_t K = 0; K < N; ++K) {
      X.as<float>()[K] = float(int64_t(7 * std::sin(1.7 * double(K))) - 1);
      S.strings()[K] = Words[K % 5];
      Ptrs.push_back(Words[K % 5]);
    }
    auto Want = interpret(*I.M->Functions[0], {X, S});
    ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
    dlc_tensor In[2] = {};
    In[0].dtype = DLC_F32, In[0].rank = 1, In[0].shape[0] = N;
    In[0].data = X.data();
    In[1].dtype = DLC_STR, In[1].rank = 1, In[1].shape[0] = N;
    In[1].data = Ptrs.data();
    for (int Dev : {DLC_DEVICE_CUDA_EMU, DLC_DEVICE_CUDA}) {
      dlc_model *M = create(I, Dev, DLC_PRECISION_DEFAULT);
      ASSERT_NE(M, nullptr);
      dlc_tensor Out[4] = {};
      char Err[512] = "";
      ASSERT_EQ(dlc_model_run(M, In, 2, Out, 4, Err, sizeof Err), DLC_OK)
          << Err;
      for (size_t K = 0; K < 3; ++K) {
        const Tensor &W = (*Want)[K];
        ASSERT_EQ(Out[K].dtype, int32_t(W.elem())) << K;
        ASSERT_EQ(llvm::ArrayRef<int64_t>(Out[K].shape, Out[K].rank),
                  W.shape())
            << K;
        EXPECT_TRUE(W.byteSize() == 0 ||
                    std::memcmp(Out[K].data, W.data(), W.byteSize()) == 0)
            << "output " << K << " N=" << N << " device " << Dev;
      }
      ASSERT_EQ(Out[3].dtype, DLC_STR);
      ASSERT_EQ(Out[3].rank, 1);
      ASSERT_EQ(Out[3].shape[0], N);
      for (int64_t K = 0; K < N; ++K)
        EXPECT_EQ(std::string(static_cast<char **>(Out[3].data)[K]),
                  (*Want)[3].strings()[K]);
      for (dlc_tensor &T : Out)
        dlc_tensor_free(&T);
      // A NULL string is the caller's error.
      Ptrs.push_back(nullptr);
      In[1].shape[0] = In[0].shape[0] = N + 1;
      std::vector<float> X1(N + 1, 1.0f);
      In[0].data = X1.data();
      In[1].data = Ptrs.data();
      EXPECT_EQ(dlc_model_run(M, In, 2, Out, 4, Err, sizeof Err),
                DLC_ERR_INVALID_ARGUMENT);
      EXPECT_EQ(std::string(Err), "input 's': string " + std::to_string(N) +
                                      " is NULL");
      Ptrs.pop_back();
      In[1].shape[0] = In[0].shape[0] = N;
      In[0].data = X.data();
      In[1].data = Ptrs.data();
      dlc_model_destroy(M);
    }
  }
  EXPECT_STREQ(dlcFakeCudaViolations(), "");
  EXPECT_EQ(dlcFakeCudaLiveAllocations(), 0u);
}

// Run with DLC_FAKE_CUDA_CC=75 (ctest's capi-gpu-sm75).
TEST(CApiGpuOldGpu, PtxNewerThanTheGpuIsRefused) {
  Images I;
  I.build({DLC_PRECISION_TF32});
  dlc_model_options O = options(DLC_DEVICE_CUDA, DLC_PRECISION_DEFAULT);
  dlc_model *M = nullptr;
  char Err[512] = "";
  EXPECT_EQ(dlc_model_create_with(&I.Cpu, &I.Gpu, &O, &M, Err, sizeof Err),
            DLC_ERR_DEVICE);
  EXPECT_EQ(M, nullptr);
  std::string E = Err;
  EXPECT_NE(E.find("(sm_75"), std::string::npos) << E;
  EXPECT_NE(E.find("is older than sm_80, which this model's PTX was compiled "
                   "for"),
            std::string::npos)
      << E;
  EXPECT_NE(E.find("tf32 needs sm_80 or newer"), std::string::npos) << E;
}

} // namespace
