// The PTX of every op passes ptxas: each table example (after the optimize
// pipeline) is lowered, GPU-mapped and emitted for sm_80 and sm_90, and the
// kernels of all ops go through ptxas as one module per architecture.
// ptxas comes from the reference environment (scripts/reference-env.sh
// installs nvidia-cuda-nvcc-cu12), DLC_PTXAS or PATH; without it the ptxas
// part is skipped with a message (the PTX is still generated and checked).
#include "TestUtil.h"

#include "codegen/GpuEmitter.h"
#include "codegen/GpuEmulation.h"
#include "frontend/builder/TutorialModels.h"
#include "ir/OpExample.h"
#include "ir/Parser.h"
#include "passes/Pass.h"
#include "passes/TrainingStep.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

using namespace dlc;

namespace {

/// ptxas, or "" when there is none.
std::string findPtxas() {
  if (const char *E = std::getenv("DLC_PTXAS"))
    return E;
  std::error_code EC;
  std::string Venv = DLC_SOURCE_DIR "/build-ref/venv/lib";
  for (llvm::sys::fs::directory_iterator It(Venv, EC), End; It != End && !EC;
       It.increment(EC)) {
    for (const char *Rel : {"site-packages/nvidia/cuda_nvcc/bin/ptxas",
                            "site-packages/triton/backends/nvidia/bin/ptxas"}) {
      std::string P = It->path() + "/" + Rel;
      if (llvm::sys::fs::can_execute(P))
        return P;
    }
  }
  if (auto P = llvm::sys::findProgramByName("ptxas"))
    return *P;
  return "";
}

/// Runs ptxas -arch=Arch on Ptx; "" when it accepts it, else its messages.
std::string ptxas(const std::string &Exe, const std::string &Ptx,
                  const std::string &Arch) {
  llvm::SmallString<128> In, Out, Log;
  int FD;
  if (llvm::sys::fs::createTemporaryFile("dlc-gpu", "ptx", FD, In))
    return "cannot create a temporary file";
  {
    llvm::raw_fd_ostream OS(FD, true);
    OS << Ptx;
  }
  llvm::sys::fs::createTemporaryFile("dlc-gpu", "cubin", Out);
  llvm::sys::fs::createTemporaryFile("dlc-gpu", "log", Log);
  std::string ArchFlag = "-arch=" + Arch;
  std::vector<llvm::StringRef> Args = {Exe, ArchFlag, In, "-o", Out};
  std::optional<llvm::StringRef> Redirects[] = {std::nullopt, llvm::StringRef(Log),
                                                llvm::StringRef(Log)};
  std::string Msg;
  int RC = llvm::sys::ExecuteAndWait(Exe, Args, std::nullopt, Redirects, 300, 0, &Msg);
  std::string Result;
  if (RC != 0) {
    auto Buf = llvm::MemoryBuffer::getFile(Log);
    Result = "ptxas exit " + std::to_string(RC) + " " + Msg + "\n" +
             (Buf ? (*Buf)->getBuffer().str() : std::string());
  }
  for (auto &P : {In, Out, Log})
    llvm::sys::fs::remove(P);
  return Result;
}

TEST(GpuPtx, EveryOpPassesPtxas) {
  std::vector<std::unique_ptr<kir::Kernel>> All;
  unsigned Ops = 0;
  for (const OpInfo &I : allOps()) {
    auto M = parseModule(exampleText(I), "<example>");
    ASSERT_TRUE(bool(M)) << errText(M.takeError());
    PassManager PM;
    ASSERT_FALSE(bool(PM.addPipeline("optimize")));
    ASSERT_FALSE(bool(PM.run(**M)));
    auto L = lowerFunctionForGpu(*(*M)->Functions[0]);
    ASSERT_TRUE(bool(L)) << I.Mnemonic.str() << ": " << errText(L.takeError());
    for (auto &K : L->Kernels) {
      K->Name = I.Mnemonic.str() + "_" + K->Name;
      All.push_back(std::move(K));
    }
    ++Ops;
  }
  std::vector<const kir::Kernel *> Kernels;
  for (auto &K : All)
    Kernels.push_back(K.get());
  std::string Exe = findPtxas();
  for (const char *Arch : {"sm_80", "sm_90"}) {
    GpuTarget T;
    T.Arch = Arch;
    auto Ptx = emitPtx(Kernels, T);
    ASSERT_TRUE(bool(Ptx)) << errText(Ptx.takeError());
    size_t Entries = 0;
    for (size_t P = Ptx->find(".entry"); P != std::string::npos;
         P = Ptx->find(".entry", P + 1))
      ++Entries;
    EXPECT_EQ(Entries, Kernels.size());
    EXPECT_NE(Ptx->find(std::string(".target ") + Arch), std::string::npos);
    EXPECT_EQ(Ptx->find(".extern"), std::string::npos) << "calls out of the module";
    if (Exe.empty())
      continue;
    EXPECT_EQ(ptxas(Exe, *Ptx, Arch), "") << Arch;
  }
  std::printf("%u ops, %zu kernels compiled to PTX%s\n", Ops, Kernels.size(),
              Exe.empty() ? "" : (" and accepted by " + Exe).c_str());
  if (Exe.empty())
    GTEST_SKIP() << "no ptxas (run scripts/reference-env.sh, or set "
                    "DLC_PTXAS): the PTX was generated but not assembled";
}

/// The loss each tutorial model trains with (dlc train's defaults).
LossKind tutorialLoss(llvm::StringRef Name) {
  if (Name == "pytorch-net")
    return LossKind::NegativeLogLikelihood;
  if (Name == "neuron")
    return LossKind::BinaryCrossEntropy;
  return LossKind::SparseCategoricalCrossEntropy;
}

// The tutorial models' whole training steps (forward, gradients, Adam) and
// predictions compile to PTX that ptxas accepts.
TEST(GpuPtx, TutorialTrainingStepsPassPtxas) {
  std::string Exe = findPtxas();
  for (const std::string &Name : tutorialModelNames()) {
    SCOPED_TRACE(Name);
    auto M = makeTutorialModel(Name, 1);
    ASSERT_TRUE(bool(M)) << errText(M.takeError());
    auto G = buildTrainingGraphs(*(*M)->Functions[0], tutorialLoss(Name),
                                 OptimizerConfig());
    ASSERT_TRUE(bool(G)) << errText(G.takeError());
    PassManager PM;
    ASSERT_FALSE(bool(PM.addPipeline("optimize")));
    ASSERT_FALSE(bool(PM.run(*G->M)));
    std::vector<std::unique_ptr<kir::Kernel>> Owned;
    std::vector<const kir::Kernel *> Kernels;
    for (const Function *F : {G->Step, G->Predict}) {
      auto L = lowerFunctionForGpu(*F);
      ASSERT_TRUE(bool(L)) << errText(L.takeError());
      for (auto &K : L->Kernels) {
        K->Name = F->Name + "_" + K->Name;
        Kernels.push_back(K.get());
        Owned.push_back(std::move(K));
      }
    }
    for (const char *Arch : {"sm_80", "sm_90"}) {
      GpuTarget T;
      T.Arch = Arch;
      auto Ptx = emitPtx(Kernels, T);
      ASSERT_TRUE(bool(Ptx)) << errText(Ptx.takeError());
      if (!Exe.empty()) {
        EXPECT_EQ(ptxas(Exe, *Ptx, Arch), "") << Arch;
      }
    }
    std::printf("%s: %zu kernels (training step and prediction)\n",
                Name.c_str(), Kernels.size());
  }
  if (Exe.empty())
    GTEST_SKIP() << "no ptxas (run scripts/reference-env.sh, or set "
                    "DLC_PTXAS): the PTX was generated but not assembled";
}

/// How often Needle occurs in Hay.
size_t occurrences(const std::string &Hay, const std::string &Needle) {
  size_t N = 0;
  for (size_t P = Hay.find(Needle); P != std::string::npos;
       P = Hay.find(Needle, P + 1))
    ++N;
  return N;
}

// Row reductions combine lanes with shfl.sync (values of every width: f32,
// f64 and i64 in two halves, f16 and i8 widened) and synchronize the block
// once per reduction; ptxas accepts them for sm_80 and sm_90.
TEST(GpuPtx, RowReductionsUseWarpShuffles) {
  std::string Exe = findPtxas();
  struct Case {
    std::string Text;
    size_t Barriers;
  };
  auto reduce = [](const std::string &Op, const std::string &Ty) {
    return "func @f(%x: " + Ty + "[N,1000]) -> (y: " + Ty + "[N]) {\n  %y = " +
           Op + " %x {axes = [1], keepdims = false}\n  return %y\n}\n";
  };
  const Case Cases[] = {
      {"func @f(%x: f32[N,1000]) -> (y: f32[N,1000]) {\n  %y = softmax %x\n"
       "  return %y\n}\n",
       2},
      {reduce("reduce_sum", "f64"), 1}, {reduce("reduce_max", "i64"), 1},
      {reduce("reduce_min", "f16"), 1}, {reduce("reduce_max", "i8"), 1},
      {reduce("reduce_sum", "i32"), 1}};
  for (const Case &C : Cases) {
    SCOPED_TRACE(C.Text);
    auto M = parseModule(C.Text, "<test>");
    ASSERT_TRUE(bool(M)) << errText(M.takeError());
    PassManager PM;
    ASSERT_FALSE(bool(PM.addPipeline("optimize")));
    ASSERT_FALSE(bool(PM.run(**M)));
    auto L = lowerFunctionForGpu(*(*M)->Functions[0]);
    ASSERT_TRUE(bool(L)) << errText(L.takeError());
    ASSERT_EQ(L->Kernels.size(), 1u);
    for (const char *Arch : {"sm_80", "sm_90"}) {
      GpuTarget T;
      T.Arch = Arch;
      auto Ptx = emitPtx({L->Kernels[0].get()}, T);
      ASSERT_TRUE(bool(Ptx)) << errText(Ptx.takeError());
      // 256 threads: 5 butterfly steps in the warps, 3 across the 8 warps.
      EXPECT_GE(occurrences(*Ptx, "shfl.sync.bfly.b32"), 8u) << *Ptx;
      EXPECT_EQ(occurrences(*Ptx, "bar.sync"), C.Barriers) << *Ptx;
      if (!Exe.empty()) {
        EXPECT_EQ(ptxas(Exe, *Ptx, Arch), "") << Arch;
      }
    }
  }
  if (Exe.empty())
    GTEST_SKIP() << "no ptxas (run scripts/reference-env.sh, or set "
                    "DLC_PTXAS): the PTX was generated but not assembled";
}

// argmax / argmin (kernel/GpuArgReduce.cpp) shuffle the value and the index
// (64 bits: two halves each) in each warp and across the warps, with one
// barrier for 256 threads and none for a short axis (one warp); ptxas
// accepts them for sm_80 and sm_90.
TEST(GpuPtx, ArgReductionsUseWarpShuffles) {
  std::string Exe = findPtxas();
  struct Case {
    std::string Op, Ty, Len;
    size_t Barriers, Shuffles; // shfl.sync.bfly.b32 instructions
  };
  // Value and index per step: 32-bit values 2 shuffles, 64-bit ones 3 or 4.
  const Case Cases[] = {{"argmax", "f32", "L", 1, 8 * 3},
                        {"argmin", "f64", "L", 1, 8 * 4},
                        {"argmax", "i64", "1000", 1, 8 * 4},
                        {"argmin", "f16", "L", 1, 8 * 3},
                        {"argmax", "f32", "10", 0, 5 * 3}};
  for (const Case &C : Cases) {
    std::string Text = "func @f(%x: " + C.Ty + "[N," + C.Len +
                       "]) -> (y: i64[N]) {\n  %y = " + C.Op +
                       " %x {axis = 1, keepdims = false}\n  return %y\n}\n";
    SCOPED_TRACE(Text);
    auto M = parseModule(Text, "<test>");
    ASSERT_TRUE(bool(M)) << errText(M.takeError());
    PassManager PM;
    ASSERT_FALSE(bool(PM.addPipeline("optimize")));
    ASSERT_FALSE(bool(PM.run(**M)));
    auto L = lowerFunctionForGpu(*(*M)->Functions[0]);
    ASSERT_TRUE(bool(L)) << errText(L.takeError());
    ASSERT_EQ(L->Kernels.size(), 1u);
    for (const char *Arch : {"sm_80", "sm_90"}) {
      GpuTarget T;
      T.Arch = Arch;
      auto Ptx = emitPtx({L->Kernels[0].get()}, T);
      ASSERT_TRUE(bool(Ptx)) << errText(Ptx.takeError());
      EXPECT_EQ(occurrences(*Ptx, "shfl.sync.bfly.b32"), C.Shuffles) << *Ptx;
      EXPECT_EQ(occurrences(*Ptx, "bar.sync"), C.Barriers) << *Ptx;
      if (!Exe.empty()) {
        EXPECT_EQ(ptxas(Exe, *Ptx, Arch), "") << Arch;
      }
    }
  }
  if (Exe.empty())
    GTEST_SKIP() << "no ptxas (run scripts/reference-env.sh, or set "
                    "DLC_PTXAS): the PTX was generated but not assembled";
}

// --precision tf32 and bf16: matmuls (with a fused epilogue, batched, and a
// conv's implicit GEMM) on tensor cores pass ptxas for sm_80 and sm_90, with
// mma.sync m16n8k8 and cvt.rna.tf32 (tf32) or m16n8k16 (bf16) in the PTX.
TEST(GpuPtx, Tf32MatMulsPassPtxas) {
  std::string Exe = findPtxas();
  const char *Texts[] = {
      "func @f(%a: f32[N,64], %b: f32[64,48], %c: f32[48]) -> (y: f32[N,48]) {\n"
      "  %m = matmul %a, %b\n  %s = add %m, %c\n  %y = relu %s\n  return %y\n}\n",
      "func @f(%a: f32[16,33], %b: f32[N,33,70]) -> (y: f32[N,16,70]) {\n"
      "  %y = matmul %a, %b\n  return %y\n}\n",
      "func @f(%x: f32[N,3,5,34], %w: f32[16,3,3,3], %b: f32[16]) -> "
      "(y: f32[N,16,4,34]) {\n"
      "  %c = conv %x, %w, %b {dilations = [1, 2], pads = [0, 2, 1, 2]}\n"
      "  %y = relu %c\n  return %y\n}\n"};
  for (const char *Text : Texts) {
    SCOPED_TRACE(Text);
    auto M = parseModule(Text, "<test>");
    ASSERT_TRUE(bool(M)) << errText(M.takeError());
    PassManager PM;
    ASSERT_FALSE(bool(PM.addPipeline("optimize")));
    ASSERT_FALSE(bool(PM.run(**M)));
    for (bool Bf16 : {false, true}) {
      GpuOptions G;
      G.Tf32 = !Bf16;
      G.Bf16 = Bf16;
      auto L = lowerFunctionForGpu(*(*M)->Functions[0], G);
      ASSERT_TRUE(bool(L)) << errText(L.takeError());
      std::vector<const kir::Kernel *> Ks;
      for (auto &K : L->Kernels)
        Ks.push_back(K.get());
      for (const char *Arch : {"sm_80", "sm_90"}) {
        GpuTarget T;
        T.Arch = Arch;
        auto Ptx = emitPtx(Ks, T);
        ASSERT_TRUE(bool(Ptx)) << errText(Ptx.takeError());
        if (Bf16) {
          // One m16n8k16 per tile per 16 of k: 2 x 4 tiles.
          EXPECT_EQ(occurrences(*Ptx, "mma.sync.aligned.m16n8k16.row.col.f32."
                                      "bf16.bf16.f32"),
                    8u);
          EXPECT_EQ(occurrences(*Ptx, "tf32"), 0u);
        } else {
          EXPECT_EQ(occurrences(*Ptx, "mma.sync.aligned.m16n8k8.row.col.f32."
                                      "tf32.tf32.f32"),
                    16u);
          EXPECT_GE(occurrences(*Ptx, "cvt.rna.tf32.f32"), 2u);
        }
        if (!Exe.empty()) {
          EXPECT_EQ(ptxas(Exe, *Ptx, Arch), "") << Arch << " bf16 " << Bf16;
        }
      }
    }
  }
  if (Exe.empty())
    GTEST_SKIP() << "no ptxas (run scripts/reference-env.sh, or set "
                    "DLC_PTXAS): the PTX was generated but not assembled";
}

} // namespace
