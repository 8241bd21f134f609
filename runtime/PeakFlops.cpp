// The FMA-throughput probe: 12 independent accumulator chains, enough to
// cover the FMA latency times the number of FMA ports of current x86 cores.
#include "runtime/PeakFlops.h"

#include <chrono>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

using namespace dlc::rt;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int Chains = 12;
constexpr long Block = 1 << 16; // iterations between clock reads

/// Runs Body(Iterations) in blocks until Seconds have passed; returns the
/// iterations per second.
template <typename Fn> double rate(double Seconds, Fn Body) {
  Body(Block); // warm-up: the core's clock and the vector units wake up
  long Iters = 0;
  auto T0 = Clock::now();
  double S = 0;
  do {
    Body(Block);
    Iters += Block;
    S = std::chrono::duration<double>(Clock::now() - T0).count();
  } while (S < Seconds);
  return Iters / S;
}

#if defined(__x86_64__)
/// N iterations of the chains, kept in registers; Acc holds them between
/// calls.
__attribute__((target("avx512f"))) void avx512Block(float *Acc, long N) {
  __m512 R[Chains];
  for (int I = 0; I < Chains; ++I)
    R[I] = _mm512_loadu_ps(Acc + 16 * I);
  const __m512 A = _mm512_set1_ps(0.999999f), B = _mm512_set1_ps(1e-7f);
  for (long It = 0; It < N; ++It)
    for (int I = 0; I < Chains; ++I)
      R[I] = _mm512_fmadd_ps(R[I], A, B);
  for (int I = 0; I < Chains; ++I)
    _mm512_storeu_ps(Acc + 16 * I, R[I]);
}

__attribute__((target("avx2,fma"))) void avx2Block(float *Acc, long N) {
  __m256 R[Chains];
  for (int I = 0; I < Chains; ++I)
    R[I] = _mm256_loadu_ps(Acc + 8 * I);
  const __m256 A = _mm256_set1_ps(0.999999f), B = _mm256_set1_ps(1e-7f);
  for (long It = 0; It < N; ++It)
    for (int I = 0; I < Chains; ++I)
      R[I] = _mm256_fmadd_ps(R[I], A, B);
  for (int I = 0; I < Chains; ++I)
    _mm256_storeu_ps(Acc + 8 * I, R[I]);
}

/// GFLOP/s of Block on Lanes-wide chains.
double vectorPeak(double Seconds, unsigned Lanes, void (*Block)(float *, long)) {
  float Acc[Chains * 16];
  for (unsigned I = 0; I < Chains * Lanes; ++I)
    Acc[I] = float(I) * 1e-3f;
  double R = rate(Seconds, [&](long N) { Block(Acc, N); });
  return R * Chains * Lanes * 2 / 1e9;
}
#endif

double scalar(double Seconds) {
  float Acc[Chains];
  for (int I = 0; I < Chains; ++I)
    Acc[I] = float(I) * 1e-3f;
  double R = rate(Seconds, [&](long N) {
    for (long It = 0; It < N; ++It)
      for (int I = 0; I < Chains; ++I)
        Acc[I] = Acc[I] * 0.999999f + 1e-7f;
    for (int I = 0; I < Chains; ++I)
      asm volatile("" : "+m"(Acc[I]));
  });
  return R * Chains * 2 / 1e9;
}

} // namespace

double dlc::rt::measureFmaPeakGflops(double Seconds, unsigned *Width) {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f")) {
    if (Width)
      *Width = 16;
    return vectorPeak(Seconds, 16, avx512Block);
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    if (Width)
      *Width = 8;
    return vectorPeak(Seconds, 8, avx2Block);
  }
#endif
  if (Width)
    *Width = 1;
  return scalar(Seconds);
}
