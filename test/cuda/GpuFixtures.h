// Hand-written GPU kernels for the executor tests: host functions that
// honour the GPU kernel ABI (exec/GpuAbi.h) the way generated ones will:
// a launch function over the sizes (32 threads per block, one element per
// thread, a zero grid for no elements) and an emulation of one block. They
// are test fixtures, not the product: the code generator makes the real
// kernels. Ops: elementwise add, sub and mul (the second operand may be
// broadcast along the leading dims), relu, and gather on axis 0 of 1-D data.
#ifndef DLC_TEST_CUDA_GPUFIXTURES_H
#define DLC_TEST_CUDA_GPUFIXTURES_H

#include "exec/GpuDevice.h"
#include "exec/Steps.h"
#include "ir/IR.h"

#include <string>

namespace dlc {
namespace fixture {

constexpr uint32_t Threads = 32;

inline int64_t count(const int64_t *Sizes, unsigned Rank) {
  int64_t N = 1;
  for (unsigned I = 0; I < Rank; ++I)
    N *= Sizes[I];
  return N;
}

/// Grid over the elements of buffer Out (of rank R).
template <unsigned Out, unsigned R>
void launch(const BufferArg *A, GpuLaunch *L) {
  int64_t N = count(A[Out].Sizes, R);
  L->Grid[0] = uint32_t((N + Threads - 1) / Threads);
  L->Block[0] = Threads;
}

enum class Op { Add, Sub, Mul, Relu };

/// out = a op b (b broadcast: element i reads b[i % |b|]); or relu(a).
template <typename T, Op O, unsigned RA, unsigned RB, unsigned RO>
void elementwise(const BufferArg *A, const GpuLaunch *L, uint32_t BX,
                 uint32_t, uint32_t) {
  constexpr unsigned OutArg = O == Op::Relu ? 1 : 2;
  int64_t N = count(A[OutArg].Sizes, RO);
  const T *X = static_cast<const T *>(A[0].Data);
  T *Y = static_cast<T *>(A[OutArg].Data);
  for (uint32_t TX = 0; TX < L->Block[0]; ++TX) {
    int64_t I = int64_t(BX) * L->Block[0] + TX;
    if (I >= N)
      continue;
    if constexpr (O == Op::Relu) {
      Y[I] = X[I] > T(0) ? X[I] : T(0);
    } else {
      const T *B = static_cast<const T *>(A[1].Data);
      T V = B[I % count(A[1].Sizes, RB)];
      Y[I] = O == Op::Add ? X[I] + V : O == Op::Sub ? X[I] - V : X[I] * V;
    }
  }
}

/// out[i] = data[idx[i]] for 1-D f32 data and i64 indices (negative ones
/// count from the end; the executor checked the range).
inline void gather(const BufferArg *A, const GpuLaunch *L, uint32_t BX,
                   uint32_t, uint32_t) {
  int64_t N = A[0].Sizes[0], M = A[2].Sizes[0];
  const float *D = static_cast<const float *>(A[0].Data);
  const int64_t *Idx = static_cast<const int64_t *>(A[1].Data);
  float *Y = static_cast<float *>(A[2].Data);
  for (uint32_t TX = 0; TX < L->Block[0]; ++TX) {
    int64_t I = int64_t(BX) * L->Block[0] + TX;
    if (I < M)
      Y[I] = D[Idx[I] < 0 ? Idx[I] + N : Idx[I]];
  }
}

/// The fixture kernel for a kernel step, or one with null functions when
/// there is none.
inline GpuKernelEntry kernelFor(const LoweredStep &S) {
  GpuKernelEntry K;
  K.Name = "k" + std::to_string(S.Kernel) + "_" + S.Op->mnemonic().str();
  K.NumArgs = S.Ins.size() + S.Outs.size() + (S.Space ? 1 : 0);
  const Operation &X = *S.Op;
  unsigned RA = X.operand(0)->Type.rank();
  unsigned RB = X.numOperands() > 1 ? X.operand(1)->Type.rank() : 0;
  unsigned RO = X.result()->Type.rank();
  bool F32 = X.result()->Type.elem() == DType::F32;
  auto pick = [&](auto Tag) {
    using T = decltype(Tag);
    auto binary = [&](auto OpTag) {
      constexpr fixture::Op O = decltype(OpTag)::value;
      if (RA == 2 && RB == 2 && RO == 2)
        K.Emulate = elementwise<T, O, 2, 2, 2>;
      else if (RA == 2 && RB == 1 && RO == 2)
        K.Emulate = elementwise<T, O, 2, 1, 2>;
      else if (RA == 1 && RB == 1 && RO == 1)
        K.Emulate = elementwise<T, O, 1, 1, 1>;
      K.Launch = RO == 2 ? launch<2, 2> : launch<2, 1>;
    };
    switch (X.kind()) {
    case OpKind::Add:
      binary(std::integral_constant<fixture::Op, fixture::Op::Add>());
      break;
    case OpKind::Sub:
      binary(std::integral_constant<fixture::Op, fixture::Op::Sub>());
      break;
    case OpKind::Mul:
      binary(std::integral_constant<fixture::Op, fixture::Op::Mul>());
      break;
    case OpKind::Relu:
      K.Emulate = RA == 2 ? elementwise<T, fixture::Op::Relu, 2, 0, 2>
                          : elementwise<T, fixture::Op::Relu, 1, 0, 1>;
      K.Launch = RA == 2 ? launch<1, 2> : launch<1, 1>;
      break;
    case OpKind::Gather:
      K.Emulate = gather;
      K.Launch = launch<2, 1>;
      break;
    default:
      break;
    }
  };
  if (F32)
    pick(float());
  else
    pick(int64_t());
  return K;
}

/// PTX text with one .entry per kernel (what the fake driver reads).
inline std::string fakePtx(const std::vector<GpuKernelEntry> &Ks) {
  std::string S = ".version 8.0\n.target sm_90\n.address_size 64\n";
  for (const GpuKernelEntry &K : Ks)
    S += ".visible .entry " + K.Name + "(.param .u64 p)\n{\n  ret;\n}\n";
  return S;
}

/// The fixture program for the kernel steps of Steps.
inline GpuProgram programFor(const std::vector<LoweredStep> &Steps) {
  GpuProgram P;
  for (const LoweredStep &S : Steps)
    if (S.K == LoweredStep::Kind::Kernel)
      P.Kernels.push_back(kernelFor(S));
  P.Ptx = fakePtx(P.Kernels);
  return P;
}

} // namespace fixture
} // namespace dlc

#endif
