// Internal to the kernel lowerings: helpers every lowering shares.
#ifndef DLC_KERNEL_LOWERINGUTIL_H
#define DLC_KERNEL_LOWERINGUTIL_H

#include "ir/IR.h"
#include "kernel/KernelIR.h"

#include <array>
#include <functional>

namespace dlc {
namespace kir {

/// The buffer type of a kernel argument for a value of type T: static dims
/// stay (the emitter folds them), everything else is read at run time.
inline TensorType dynamicLike(const TensorType &T) {
  Shape S;
  for (const Dim &D : T.dims())
    S.push_back(D.isStatic() ? D : Dim::unknown());
  return TensorType(T.elem(), S);
}

/// A new kernel named Name.
/// The GEMM micro-kernels' register blocks: MR rows x NV vectors of
/// accumulators, plus NV vectors of b and one broadcast of a, must fit the
/// vector registers: 32 with AVX-512 (6 x 4, 8 x 3, 12 x 2, 16 x 1), 16
/// with AVX2 or SSE (6 x 2, 12 x 1). Wider blocks on 16 registers spill
/// accumulators in the inner loop (a 6 x 4 block ran a 1024^3 GEMM at 29%
/// of an AVX2 core's peak).
inline unsigned maxBlockVectors(unsigned VectorBytes) {
  return VectorBytes >= 64 ? 4 : 2;
}
inline unsigned blockRows(unsigned NV, unsigned VectorBytes) {
  if (VectorBytes >= 64)
    return NV >= 4 ? 6 : NV == 3 ? 8 : NV == 2 ? 12 : 16;
  return NV >= 2 ? 6 : 12;
}

inline std::unique_ptr<Kernel> newKernel(llvm::StringRef Name) {
  auto K = std::make_unique<Kernel>();
  K->Name = Name.str();
  return K;
}

/// Verifies a finished kernel and hands it out.
inline llvm::Expected<std::unique_ptr<Kernel>>
finishKernel(std::unique_ptr<Kernel> K) {
  if (auto E = verifyKernel(*K))
    return std::move(E);
  return std::move(K);
}

/// An elementwise epilogue, applied where an anchor (matmul, conv) stores
/// its result: given the anchor's value at result index Idx (Lanes lanes
/// along the last dim when Lanes > 1), it stores the other values the fused
/// group must write and returns the value for the anchor's own buffer.
using Epilogue = std::function<KValue *(KBuilder &, KValue *Acc,
                                        llvm::ArrayRef<KValue *> Idx,
                                        unsigned Lanes)>;

/// The window attributes of a conv or pooling op with S spatial dims, the
/// defaults filled in (dilations all 1 without HasDilations).
struct WindowAttrs {
  llvm::SmallVector<int64_t, 3> Strides, Dilations, Pads;
};
WindowAttrs windowAttrs(const Operation &Op, unsigned S, bool HasDilations);

/// A matmul's b [batch, C*KH*KW, OH*OW] read from the image x instead of a
/// buffer: the patches of a packable im2col (ir/FusionPlan.h), which the
/// GEMM gathers as it packs its slices (kernel/ImplicitGemm.cpp).
class PatchOperand {
public:
  /// Builds the shape values at B's position (index arithmetic only).
  PatchOperand(KBuilder &B, const Operation &Im2Col, KValue *X);
  KValue *batch() const { return Batch; }
  KValue *columns() const { return N; }
  /// Packed[k - KLo, j - J0] = b[Bi, k, j] for k in [KLo, KHi), j in
  /// [J0, JEnd). Only for a stride of 1 along W (the CPU takes the window
  /// GEMM for every other packable im2col).
  void pack(KBuilder &B, KValue *Bi, KValue *KLo, KValue *KHi, KValue *J0,
            KValue *JEnd, KValue *Packed) const;
  /// b[Bi, K, J] as a scalar (the GPU's tile loads).
  KValue *element(KBuilder &B, KValue *Bi, KValue *K, KValue *J) const;

private:
  std::array<KValue *, 3> tap(KBuilder &B, KValue *K) const;
  KValue *X, *Batch = nullptr, *N = nullptr;
  WindowAttrs W;
  int64_t KH = 1, KW = 1, H = 1, Wd = 1, Out[2] = {1, 1};
};

/// The register-blocked matmul of Op on existing arguments, with an
/// optional epilogue (see lowerMatMulBlocked). With Patches, Bm is null and
/// b comes from an image (Op's a must then have at least 16 static rows).
/// EpilogueInLoop: the epilogue is long (a sigmoid, say): each finished
/// block is stored and then passed through it by one loop, instead of the
/// epilogue's code once per register of every block variant.
void buildBlockedMatMul(KBuilder &B, const Operation &Op, KValue *A, KValue *Bm,
                        KValue *Out, unsigned VectorBytes, const Epilogue &Epi,
                        const PatchOperand *Patches = nullptr,
                        bool EpilogueInLoop = false);

/// The CPU's GEMM of a convolution: Op, a blocked matmul whose b is the
/// patches of Im2Col (ir/FusionPlan.h windowIm2Col), computed on shifted
/// windows of a padded, phase-split copy of the image X
/// (kernel/WindowGemm.cpp), with an optional epilogue. Returns false,
/// having built nothing, when Im2Col does not qualify.
bool buildWindowGemm(KBuilder &B, const Operation &Op, const Operation &Im2Col,
                     KValue *A, KValue *X, KValue *Out, unsigned VectorBytes,
                     const Epilogue &Epi);

/// The GPU's tiled 2-D matmul of Op on existing arguments (kernel/GpuGemm.cpp),
/// with an optional epilogue; it opens with the launch, so only index
/// arithmetic may precede it in the kernel. Patches as for the CPU.
void buildGpuMatMul(KBuilder &B, const Operation &Op, KValue *A, KValue *Bm,
                    KValue *Out, const Epilogue &Epi,
                    const PatchOperand *Patches = nullptr);
/// The same on tensor cores with tf32 inputs (kernel/GpuGemmTf32.cpp; f32
/// only): 64 x 64 tiles of 4 warps, each 2 x 4 m16n8k8 mma per 8 of k.
void buildGpuMatMulTf32(KBuilder &B, const Operation &Op, KValue *A,
                        KValue *Bm, KValue *Out, const Epilogue &Epi,
                        const PatchOperand *Patches = nullptr,
                        bool Bf16 = false);

/// The direct convolution of Op on existing arguments (Bias may be null),
/// with an optional epilogue (see lowerConv), and optionally followed by
/// Pool (max or average pooling whose windows tile the conv result without
/// overlap or padding): then Out is the pooled result, and each conv value
/// is computed inside its window.
/// ForGpu: the kernel is for the GPU (see buildDepthwiseConv).
void buildConv(KBuilder &B, const Operation &Op, KValue *X, KValue *W,
               KValue *Bias, KValue *Out, const Epilogue &Epi,
               const Operation *Pool = nullptr, bool ForGpu = false);

/// The input coordinate of window position K at result position O along one
/// spatial dim, clamped into [0, Size), and whether it was in range.
std::pair<KValue *, KValue *> windowCoord(KBuilder &B, KValue *O, KValue *K,
                                          int64_t Stride, int64_t Pad,
                                          int64_t Dil, KValue *Size,
                                          KValue *Zero, KValue *One);

/// [Lo, Hi): the result positions o in [0, Extent) whose input coordinate
/// o * Stride + K * Dil - Pad lies in [0, Size) (a window tap's range).
std::pair<KValue *, KValue *> tapRange(KBuilder &B, KValue *K, int64_t Stride,
                                       int64_t Dil, int64_t Pad, KValue *Size,
                                       KValue *Extent);
/// Input coordinate o * Stride + K * Dil - Pad.
KValue *inputCoord(KBuilder &B, KValue *O, KValue *K, int64_t Stride,
                   int64_t Dil, int64_t Pad);

/// Whether Op is a 2-D float conv whose output channels each read one input
/// channel (weights [M, 1, KH, KW]) writing a buffer of element type OutElem:
/// buildDepthwiseConv handles it.
bool isDepthwiseConv(const Operation &Op, DType OutElem);

/// The depthwise conv Op on existing arguments (Bias may be null), with an
/// optional epilogue (LowerDepthwise.cpp). On the CPU, planes of static
/// size go through thread-private padded copies (whole-plane vectors);
/// ForGpu, and for other sizes, a schedule along result rows.
void buildDepthwiseConv(KBuilder &B, const Operation &Op, KValue *X, KValue *W,
                        KValue *Bias, KValue *Out, const Epilogue *Epi,
                        bool ForGpu = false);

/// Appends a cast's non-default `saturate` (0) and `round_mode` (1 down,
/// 2 nearest) to the scalar attributes of its kernel op.
void castAttrs(const Operation &Op,
               std::vector<std::pair<std::string, double>> &Attrs);

/// A reduction's combining op and its identity for element type E.
void reductionCombine(OpKind Reduce, DType E, OpKind &Combine, double &Init);

} // namespace kir
} // namespace dlc

#endif
