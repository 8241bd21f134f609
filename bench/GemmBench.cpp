// Benchmark (not a test): dlc's generated fp32 GEMM against the machine's FMA
// peak, measured in the same run by a small FMA-throughput probe. Prints
// GFLOP/s and the fraction of peak for each size.
//
//   build/bench/gemm-bench
// It times 1 thread and all hardware threads.
#include "codegen/Executor.h"
#include "ir/Parser.h"
#include "ir/Random.h"
#include "passes/Pass.h"

#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdio>
#include <immintrin.h>

using namespace dlc;

using Clock = std::chrono::steady_clock;

/// Peak single-core fp32 FMA throughput: 12 independent 16-lane FMA chains,
/// enough to cover the FMA latency times the number of FMA units.
__attribute__((target("avx512f"))) static double fmaPeakGflops() {
  __m512 Acc[12];
  for (int I = 0; I < 12; ++I)
    Acc[I] = _mm512_set1_ps(float(I) * 1e-3f);
  const __m512 A = _mm512_set1_ps(0.999999f), B = _mm512_set1_ps(1e-7f);
  const long Iters = 20000000;
  auto T0 = Clock::now();
  for (long It = 0; It < Iters; ++It)
    for (int I = 0; I < 12; ++I)
      Acc[I] = _mm512_fmadd_ps(Acc[I], A, B);
  double S = std::chrono::duration<double>(Clock::now() - T0).count();
  float Sink = 0;
  for (int I = 0; I < 12; ++I)
    Sink += _mm512_reduce_add_ps(Acc[I]);
  if (Sink == 12345.0f)
    std::puts("");
  return double(Iters) * 12 * 16 * 2 / S / 1e9;
}

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

int main() {
  double Peak = fmaPeakGflops();
  unsigned All = rt::ThreadPool::hardwareThreads();
  std::printf("fp32 FMA peak (1 core, AVX-512 probe): %.1f GFLOP/s\n", Peak);
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
  return 0;
}
