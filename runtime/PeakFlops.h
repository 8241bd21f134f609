// The measured fp32 FMA peak of one core: what profiles and benchmarks
// compare a kernel's GFLOP/s with.
#ifndef DLC_RUNTIME_PEAKFLOPS_H
#define DLC_RUNTIME_PEAKFLOPS_H

namespace dlc::rt {

/// Times independent chains of fused multiply-adds on the widest vectors
/// the CPU has (AVX-512, else AVX2 + FMA, else scalar) for about Seconds
/// and returns the single-core fp32 throughput in GFLOP/s (a multiply-add
/// counts 2). Width, when given, receives the vector width in floats.
double measureFmaPeakGflops(double Seconds = 0.2, unsigned *Width = nullptr);

} // namespace dlc::rt

#endif
