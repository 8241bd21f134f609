// The counter-based random numbers behind random_uniform, random_normal and
// dropout. Element i of a tensor depends only on (seed, i), so the
// interpreter, the CPU JIT and the GPU backend produce identical values.
#ifndef DLC_IR_RANDOM_H
#define DLC_IR_RANDOM_H

#include <cmath>
#include <cstdint>

namespace dlc {

inline uint64_t splitMix64(uint64_t X) {
  X += 0x9E3779B97F4A7C15ull;
  X = (X ^ (X >> 30)) * 0xBF58476D1CE4E5B9ull;
  X = (X ^ (X >> 27)) * 0x94D049BB133111EBull;
  return X ^ (X >> 31);
}

/// Uniform in [0, 1) with 24 random bits (exact in f32).
inline double uniformAt(int64_t Seed, uint64_t I) {
  uint64_t H = splitMix64(splitMix64(uint64_t(Seed)) ^ I);
  return double(H >> 40) * (1.0 / 16777216.0);
}

/// Standard normal by Box-Muller over the uniform pair (2i, 2i+1).
inline double normalAt(int64_t Seed, uint64_t I) {
  double U1 = uniformAt(Seed, 2 * I), U2 = uniformAt(Seed, 2 * I + 1);
  return std::sqrt(-2.0 * std::log(1.0 - U1)) * std::cos(6.283185307179586 * U2);
}

} // namespace dlc

#endif
