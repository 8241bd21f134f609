// Weight initializers: uniform and truncated-normal draws from the
// counter-based generator of ir/Random.h.
#include "frontend/builder/Initializers.h"

#include "ir/Location.h"
#include "ir/Random.h"

#include <cmath>

using namespace dlc;

namespace {
/// Keras' truncated_normal rescaling: the standard deviation of a standard
/// normal cut at +-2, so that the truncated law has the requested variance.
constexpr double TruncatedStddev = 0.87962566103423978;
} // namespace

llvm::StringRef dlc::initName(Init I) {
  switch (I) {
  case Init::Zeros:
    return "zeros";
  case Init::Ones:
    return "ones";
  case Init::GlorotUniform:
    return "glorot_uniform";
  case Init::GlorotNormal:
    return "glorot_normal";
  case Init::HeUniform:
    return "he_uniform";
  case Init::HeNormal:
    return "he_normal";
  case Init::TorchDefault:
    return "torch_default";
  }
  llvm_unreachable("bad initializer");
}

llvm::Expected<Init> dlc::parseInit(llvm::StringRef Name) {
  for (Init I : {Init::Zeros, Init::Ones, Init::GlorotUniform,
                 Init::GlorotNormal, Init::HeUniform, Init::HeNormal,
                 Init::TorchDefault})
    if (Name == initName(I))
      return I;
  return makeError("unknown initializer '" + Name +
                   "' (expected zeros, ones, glorot_uniform, glorot_normal, "
                   "he_uniform, he_normal or torch_default)");
}

int64_t dlc::paramSeed(int64_t Seed, uint64_t Index) {
  return int64_t(splitMix64(splitMix64(uint64_t(Seed)) ^
                            splitMix64(Index + 0x5EEDull)));
}

/// A standard normal cut at +-2: redraw from further counters (element I,
/// attempt K reads counter I + K * Count) until it lands inside. The chance
/// of 64 misses in a row is 0.0455^64; clamping then is harmless.
static double truncatedNormalAt(int64_t Seed, uint64_t I, uint64_t Count) {
  for (uint64_t K = 0; K < 64; ++K) {
    double Z = normalAt(Seed, I + K * Count);
    if (std::fabs(Z) <= 2.0)
      return Z;
  }
  return 0.0;
}

Tensor dlc::initTensor(Init I, llvm::ArrayRef<int64_t> Shape, int64_t FanIn,
                       int64_t FanOut, int64_t Seed) {
  Tensor T(DType::F32, Shape);
  float *D = T.as<float>();
  uint64_t N = uint64_t(T.numElements());
  double In = double(std::max<int64_t>(FanIn, 1));
  double Out = double(std::max<int64_t>(FanOut, 1));
  auto uniform = [&](double Limit) {
    for (uint64_t K = 0; K < N; ++K)
      D[K] = float((2.0 * uniformAt(Seed, K) - 1.0) * Limit);
  };
  auto truncated = [&](double Sd) {
    for (uint64_t K = 0; K < N; ++K)
      D[K] = float(truncatedNormalAt(Seed, K, N) * Sd / TruncatedStddev);
  };
  switch (I) {
  case Init::Zeros:
    break;
  case Init::Ones:
    for (uint64_t K = 0; K < N; ++K)
      D[K] = 1.0f;
    break;
  case Init::GlorotUniform:
    uniform(std::sqrt(6.0 / (In + Out)));
    break;
  case Init::GlorotNormal:
    truncated(std::sqrt(2.0 / (In + Out)));
    break;
  case Init::HeUniform:
    uniform(std::sqrt(6.0 / In));
    break;
  case Init::HeNormal:
    truncated(std::sqrt(2.0 / In));
    break;
  case Init::TorchDefault:
    uniform(1.0 / std::sqrt(In));
    break;
  }
  return T;
}
