// Lowering of graph ops to kernel IR.
#ifndef DLC_KERNEL_LOWERING_H
#define DLC_KERNEL_LOWERING_H

#include "ir/FusionPlan.h"
#include "ir/IR.h"
#include "kernel/KernelIR.h"

namespace dlc {

/// Lowers one elementwise op (numpy broadcasting included) to a kernel named
/// Name whose arguments are the op's operands followed by its result. The
/// loop nest runs over the result's dims, read at run time, so one kernel
/// serves every batch size.
llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerElementwise(const Operation &Op, llvm::StringRef Name);

/// Lowers reduce_sum, reduce_mean, reduce_max, reduce_min and reduce_prod
/// (any axes, keepdims) to a kernel with arguments (input, result).
llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerReduction(const Operation &Op, llvm::StringRef Name);

/// Lowers matmul (batched, broadcasting, 1-D promotion) to a kernel with
/// arguments (a, b, result).
llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerMatMul(const Operation &Op, llvm::StringRef Name);

/// Lowers an f32/f64 matmul of a 2-D a and a 2-D or 3-D b (a batch of
/// matrices sharing a: see isBlockedMatMul) to a register-blocked kernel: 6 x 4-vector
/// (or, for narrow static b, 8 x 3, 12 x 2 or 12 x 1-vector)
/// blocks of the result held in vector registers across the k loop
/// (VectorBytes wide vectors: 64 for AVX-512), plain loops at the edges.
llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerMatMulBlocked(const Operation &Op, llvm::StringRef Name,
                   unsigned VectorBytes);

/// Lowers the same matmuls to the GPU's tiled kernel (64 x 64 result
/// tiles of 16 x 16 threads, 4 x 4 results each, k steps of 16 staged in
/// shared memory), already GPU-mapped.
/// Tf32: f32 matmuls on tensor cores with tf32 inputs instead
/// (kernel/GpuGemmTf32.cpp); Bf16: with bf16 inputs.
llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerGpuMatMul(const Operation &Op, llvm::StringRef Name, bool Tf32 = false,
               bool Bf16 = false);

/// Lowers transpose to a copy kernel with arguments (input, result).
llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerTranspose(const Operation &Op, llvm::StringRef Name);

/// Lowers one_hot to a kernel with arguments (indices, [like,] result).
llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerOneHot(const Operation &Op, llvm::StringRef Name);

/// Lowers conv (N-D, groups, strides, pads, dilations, optional bias) to a
/// direct loop nest with arguments (x, w, [bias,] result).
llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerConv(const Operation &Op, llvm::StringRef Name);
/// The same for the GPU (see lowerFusedGroup's Gpu).
llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerConvForGpu(const Operation &Op, llvm::StringRef Name);

/// Lowers conv_transpose (N-D, groups, strides, pads, dilations,
/// output_padding through the result's shape, optional bias) to a gather
/// loop nest with arguments (x, w, [bias,] result).
llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerConvTranspose(const Operation &Op, llvm::StringRef Name);

/// Lowers im2col (conv patches, padding read as 0) to a copy kernel with
/// arguments (x, result).
llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerIm2Col(const Operation &Op, llvm::StringRef Name);

/// Lowers random_uniform and random_normal to a kernel with arguments
/// ([like,] [seed offset,] result).
llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerRandom(const Operation &Op, llvm::StringRef Name);

/// Lowers max_pool and avg_pool to a kernel with arguments (x, result).
llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerPool(const Operation &Op, llvm::StringRef Name);
/// The same for the GPU: no CPU vectors (strided vector loads).
llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerPoolForGpu(const Operation &Op, llvm::StringRef Name);
/// Lowers max_pool_grad to a kernel with arguments (x, dy, dx).
llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerMaxPoolGrad(const Operation &Op, llvm::StringRef Name);
/// The same for the GPU: no CPU vectors (strided vector loads and stores).
llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerMaxPoolGradForGpu(const Operation &Op, llvm::StringRef Name);

/// Lowers argmax and argmin (i64 result, NaN and tie rules of the
/// interpreter). The axis must not be empty at run time.
llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerArgReduce(const Operation &Op, llvm::StringRef Name);
/// The same for the GPU, as GPU-mapped kernel IR: one block of Threads
/// (a power of two in 2..1024; fewer for a short static axis) per output
/// element, partial results combined by warp shuffles
/// (kernel/GpuArgReduce.cpp).
llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerArgReduceForGpu(const Operation &Op, llvm::StringRef Name,
                     unsigned Threads = 256);

/// nonzero for the GPU, as GPU-mapped kernel IR with arguments (x, the
/// planned i64[rank, count] result): one block of Threads (a power of two
/// in 2..1024) counting, scanning the counts in shared memory and
/// scattering the coordinates (kernel/GpuNonZero.cpp).
llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerNonZeroForGpu(const Operation &Op, llvm::StringRef Name,
                   unsigned Threads = 256);

/// Lowers concat, split, slice, pad (constant, reflect, edge), gather, expand,
/// tile and shape to a kernel with arguments (inputs..., results...).
llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerCopy(const Operation &Op, llvm::StringRef Name);

/// Lowers a fusion group to one kernel with arguments (the values it reads,
/// the values it writes, a shape-only argument with the run-time shape of
/// the group's space). VectorBytes as for lowerMatMulBlocked; with Gpu
/// a matmul group uses the GPU's tiled kernel (see lowerGpuMatMul) and a
/// depthwise conv the schedule without thread-private plane buffers; with
/// Tf32 too, an f32 matmul group runs on tensor cores (lowerGpuMatMul).
llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerFusedGroup(const FusionPlan &P, llvm::StringRef Name, unsigned VectorBytes,
                bool Gpu = false, bool Tf32 = false, bool Bf16 = false);

} // namespace dlc

#endif
