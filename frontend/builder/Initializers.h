// Weight initializers for the builder API (Keras and PyTorch defaults),
// reproducible on every machine: element i of a parameter depends only on
// (seed, i) through ir/Random.h's counter-based generator.
#ifndef DLC_FRONTEND_BUILDER_INITIALIZERS_H
#define DLC_FRONTEND_BUILDER_INITIALIZERS_H

#include "ir/Tensor.h"

#include "llvm/Support/Error.h"

namespace dlc {

enum class Init {
  Zeros,
  Ones,
  /// U(-l, l), l = sqrt(6 / (fan_in + fan_out)) (Keras' default kernel).
  GlorotUniform,
  /// Normal with sd sqrt(2 / (fan_in + fan_out)), truncated at two standard
  /// deviations of the untruncated law and rescaled as Keras does.
  GlorotNormal,
  /// U(-l, l), l = sqrt(6 / fan_in).
  HeUniform,
  /// Normal with sd sqrt(2 / fan_in), truncated like GlorotNormal.
  HeNormal,
  /// PyTorch's default for Linear and Conv weights and biases
  /// (kaiming_uniform with a = sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  TorchDefault,
};

/// Names: "zeros", "ones", "glorot_uniform", "glorot_normal", "he_uniform",
/// "he_normal", "torch_default".
llvm::StringRef initName(Init I);
llvm::Expected<Init> parseInit(llvm::StringRef Name);

/// An f32 tensor of the given shape drawn from I. FanIn and FanOut are the
/// layer's fans (for a conv kernel [M,C,kh,kw]: C*kh*kw and M*kh*kw; for a
/// dense kernel [in,out]: in and out); a bias uses its layer's fans.
Tensor initTensor(Init I, llvm::ArrayRef<int64_t> Shape, int64_t FanIn,
                  int64_t FanOut, int64_t Seed);

/// The seed of parameter number Index of a model built with Seed: distinct
/// streams per parameter, fixed on every machine.
int64_t paramSeed(int64_t Seed, uint64_t Index);

} // namespace dlc

#endif
