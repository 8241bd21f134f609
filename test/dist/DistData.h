// Seeded data for the data-parallel checks (DistTrainCheck, NcclTrainCheck):
// images a tutorial CNN can learn, and the shard of a batch a rank takes.
#ifndef DLC_TEST_DIST_DISTDATA_H
#define DLC_TEST_DIST_DISTDATA_H

#include "ir/Random.h"
#include "ir/Tensor.h"

#include <cstring>
#include <utility>

namespace dlc {
namespace dist_test {

/// N seeded images [N,1,S,S] in [0,1) and labels in [0,10).
inline std::pair<Tensor, Tensor> data(int64_t N, int64_t S, int64_t Seed) {
  Tensor X(DType::F32, {N, 1, S, S}), Y(DType::I64, {N});
  for (int64_t I = 0; I < N; ++I) {
    Y.setI(I, int64_t(uniformAt(Seed, I) * 10));
    for (int64_t P = 0; P < S * S; ++P) // a bar whose row is the class
      X.setF(I * S * S + P, 0.5 * uniformAt(Seed + 1, I * S * S + P) +
                                (P / S == 2 * Y.getI(I) % S ? 0.5 : 0));
  }
  return {X, Y};
}

/// Rows [B, E) of T.
inline Tensor rows(const Tensor &T, int64_t B, int64_t E) {
  llvm::SmallVector<int64_t, 4> Shape(T.shape());
  size_t Row = T.byteSize() / size_t(Shape[0]);
  Shape[0] = E - B;
  Tensor R(T.elem(), Shape);
  if (E > B)
    std::memcpy(R.data(), T.data() + size_t(B) * Row, R.byteSize());
  return R;
}

} // namespace dist_test
} // namespace dlc

#endif
