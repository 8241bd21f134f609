// Benchmark (not a test): dlc's generated fp32 GEMM against the machine's FMA
// peak, measured in the same run by a small FMA-throughput probe, then the
// convolution layers of the Keras tutorial CNN at batch 64 (conv + bias +
// relu, optimized as dlc compiles them) and that whole CNN
// (examples/mnist_cnn.dlc) at batch 1 and 64. Prints GFLOP/s, the fraction
// of peak and median latencies.
//
//   build/bench/gemm-bench [path/to/examples/mnist_cnn.dlc]
// It times 1 thread and all hardware threads.
#include "api/Model.h"
#include "codegen/Executor.h"
#include "ir/Parser.h"
#include "ir/Random.h"
#include "passes/Pass.h"
#include "runtime/PeakFlops.h"

#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

using namespace dlc;

using Clock = std::chrono::steady_clock;

static double gemmGflops(int64_t N, int Reps, unsigned Threads) {
  std::string Text = "func @g(%a: f32[M,K], %b: f32[K,N]) -> (c: f32[M,N]) {\n"
                     "  %c = matmul %a, %b\n  return %c\n}\n";
  auto M = llvm::cantFail(parseModule(Text, "gemm"));
  auto C = llvm::cantFail(CompiledFunction::compile(*M->Functions[0], 3, Threads));
  Tensor A(DType::F32, {N, N}), B(DType::F32, {N, N});
  for (int64_t I = 0; I < N * N; ++I) {
    A.setF(I, uniformAt(1, I));
    B.setF(I, uniformAt(2, I));
  }
  llvm::cantFail(C->run({A, B})); // warm-up
  double Best = 1e30;
  for (int R = 0; R < Reps; ++R) {
    auto T0 = Clock::now();
    llvm::cantFail(C->run({A, B}));
    Best = std::min(Best, std::chrono::duration<double>(Clock::now() - T0).count());
  }
  return 2.0 * N * N * N / Best / 1e9;
}

/// Median seconds of Reps runs of M on In, after one warm-up run.
static double medianSeconds(const Model &M, const std::vector<Tensor> &In, int Reps) {
  llvm::cantFail(M.run(In));
  std::vector<double> T;
  for (int R = 0; R < Reps; ++R) {
    auto T0 = Clock::now();
    llvm::cantFail(M.run(In));
    T.push_back(std::chrono::duration<double>(Clock::now() - T0).count());
  }
  std::sort(T.begin(), T.end());
  return T[T.size() / 2];
}

static Tensor randomTensor(llvm::ArrayRef<int64_t> Shape, uint64_t Seed) {
  Tensor X(DType::F32, Shape);
  for (int64_t I = 0; I < X.numElements(); ++I)
    X.setF(I, uniformAt(Seed, I));
  return X;
}

/// The tutorial CNN's three conv layers (conv + bias + relu) at batch 64.
static void convLayers(double Peak, unsigned Threads) {
  struct Layer { int64_t C, M, HW; };
  int I = 0;
  for (Layer L : {Layer{1, 32, 28}, Layer{32, 64, 13}, Layer{64, 64, 5}}) {
    std::string T = "func @conv(%x: f32[N," + std::to_string(L.C) + "," +
                    std::to_string(L.HW) + "," + std::to_string(L.HW) +
                    "], %w: f32[" + std::to_string(L.M) + "," + std::to_string(L.C) +
                    ",3,3], %b: f32[" + std::to_string(L.M) + "]) -> (y: f32[N," +
                    std::to_string(L.M) + "," + std::to_string(L.HW - 2) + "," +
                    std::to_string(L.HW - 2) + "]) {\n"
                    "  %c = conv %x, %w, %b\n  %y = relu %c\n  return %y\n}\n";
    ModelOptions O;
    O.Engine = "jit";
    O.Threads = Threads;
    Model M = llvm::cantFail(Model::fromText(T, "conv", O));
    double S = medianSeconds(M, {randomTensor({64, L.C, L.HW, L.HW}, 10 + I),
                                 randomTensor({L.M, L.C, 3, 3}, 20 + I),
                                 randomTensor({L.M}, 30 + I)}, 20);
    double Flops = 2.0 * 64 * L.M * (L.HW - 2) * (L.HW - 2) * L.C * 9;
    std::printf("conv%d %2lldx%-2lld %3lld->%-3lld %3u %10.3f %10.1f %10.1f%%\n", ++I,
                (long long)L.HW, (long long)L.HW, (long long)L.C, (long long)L.M,
                Threads, S * 1e3, Flops / S / 1e9, 100 * Flops / S / 1e9 / (Peak * Threads));
  }
}

/// The whole tutorial CNN at batch 1 and 64.
static void wholeCnn(const char *Path, unsigned Threads) {
  ModelOptions O;
  O.Engine = "jit";
  O.Threads = Threads;
  auto M = Model::fromFile(Path, O);
  if (!M) {
    llvm::errs() << "gemm-bench: " << llvm::toString(M.takeError()) << "\n";
    return;
  }
  for (int64_t Batch : {1, 64}) {
    double S = medianSeconds(*M, {randomTensor({Batch, 1, 28, 28}, 5)}, Batch == 1 ? 200 : 20);
    std::printf("mnist_cnn batch %-3lld %3u %10.3f ms %10.0f images/s\n", (long long)Batch,
                Threads, S * 1e3, double(Batch) / S);
  }
}

int main(int argc, char **argv) {
  const char *Cnn = argc > 1 ? argv[1] : "examples/mnist_cnn.dlc";
  unsigned Width = 0;
  double Peak = rt::measureFmaPeakGflops(1.0, &Width);
  unsigned All = rt::ThreadPool::hardwareThreads();
  std::printf("fp32 FMA peak (1 core, %u-wide FMA probe): %.1f GFLOP/s\n", Width, Peak);
  std::printf("%-8s %8s %12s %18s\n", "size", "threads", "GFLOP/s",
              "of peak x threads");
  for (unsigned T : {1u, All}) {
    for (auto [N, Reps] : {std::pair<int64_t, int>{256, 10}, {1024, 3}}) {
      double G = gemmGflops(N, Reps, T);
      std::printf("%4lld^3   %8u %12.1f %17.1f%%\n", (long long)N, T, G,
                  100 * G / (Peak * T));
    }
    if (All == 1)
      break;
  }
  std::printf("\n%-22s %3s %10s %10s %11s\n", "conv layer, batch 64", "thr", "ms",
              "GFLOP/s", "of peak x thr");
  for (unsigned T : {1u, All})
    convLayers(Peak, T);
  std::printf("\nwhole CNN (%s)\n", Cnn);
  for (unsigned T : {1u, All})
    wholeCnn(Cnn, T);
  return 0;
}
