// Seeded data for the data-parallel checks (DistTrainCheck, NcclTrainCheck):
// images a tutorial CNN can learn, the shard of a batch a rank takes, and a
// small CNN with batch norms.
#ifndef DLC_TEST_DIST_DISTDATA_H
#define DLC_TEST_DIST_DISTDATA_H

#include "ir/Parser.h"
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

/// A CNN with two batch norms (running statistics as parameters) for
/// 12x12 images; parameters drawn from a seed.
inline llvm::Expected<std::unique_ptr<Module>> bnCnn() {
  const char *Text =
      "func @bncnn(%x: f32[N,1,12,12]) params(%w1: f32[6,1,3,3], "
      "%g1: f32[6], %b1: f32[6], %m1: f32[6], %v1: f32[6], "
      "%w2: f32[8,6,3,3], %g2: f32[8], %b2: f32[8], %m2: f32[8], "
      "%v2: f32[8], %w3: f32[72,10], %b3: f32[10]) -> (p: f32[N,10]) {\n"
      "  %c1 = conv %x, %w1 {pads = [1, 1, 1, 1]}\n"
      "  %n1 = batch_norm %c1, %g1, %b1, %m1, %v1 {epsilon = 0.001}\n"
      "  %r1 = relu %n1\n"
      "  %q1 = max_pool %r1 {kernel = [2, 2], strides = [2, 2]}\n"
      "  %c2 = conv %q1, %w2 {pads = [1, 1, 1, 1]}\n"
      "  %n2 = batch_norm %c2, %g2, %b2, %m2, %v2 {epsilon = 0.001}\n"
      "  %r2 = relu %n2\n"
      "  %q2 = max_pool %r2 {kernel = [2, 2], strides = [2, 2]}\n"
      "  %f = flatten %q2\n"
      "  %h = matmul %f, %w3\n"
      "  %z = add %h, %b3\n"
      "  %p = softmax %z\n"
      "  return %p\n}\n";
  auto M = parseModule(Text, "bn-cnn.dlc");
  if (!M)
    return M.takeError();
  Function &F = *(*M)->Functions[0];
  for (size_t I = 0; I < F.Params.size(); ++I) {
    llvm::SmallVector<int64_t, 4> Shape;
    for (const Dim &D : F.Params[I]->Type.dims())
      Shape.push_back(D.size());
    Tensor T(DType::F32, Shape);
    llvm::StringRef Name = F.Params[I]->Name;
    for (int64_t K = 0; K < T.numElements(); ++K) {
      double U = uniformAt(60 + int64_t(I), K);
      T.setF(K, Name.starts_with("g")   ? 0.8 + 0.4 * U
                : Name.starts_with("v") ? 1.0
                : Name.starts_with("m") || Name.starts_with("b") ? 0.0
                                                                 : U - 0.5);
    }
    F.ParamInits[I] = Attribute::getTensor(std::make_shared<const Tensor>(T));
  }
  return M;
}

} // namespace dist_test
} // namespace dlc

#endif
