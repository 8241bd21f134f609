// The GPU executor's collective host step: all_reduce_sum on device
// buffers.
//
// 1. The result starts as a copy of the operand, on the run's stream (one
//    process: that is the sum over the ranks, as on the CPU).
// 2. With a CollectiveHook installed on the running thread (data-parallel
//    training), the run's earlier work is waited for, then the hook sums
//    the result in place: on the device when it can (NCCL on a CUDA
//    device; f32 and f64), else through a host copy (MPI, the emulation,
//    16-bit floats summed as f32 as the interpreter does).
// 3. A failing sum is the hook's message located at the op, as on the CPU.
#include "exec/GpuPlan.h"
#include "interp/Collective.h"

#include <vector>

using namespace dlc;

/// The hook's error, located at Op (its own "error: " prefix dropped).
static llvm::Error atOp(const Operation &Op, llvm::Error E) {
  std::string M = llvm::toString(std::move(E));
  llvm::StringRef Msg(M);
  Msg.consume_front("error: ");
  return makeError(Op.L, Op.mnemonic() + ": " + Msg);
}

/// Sums T (f32, f64, or another float type through f32) with H.
static llvm::Error sumOnHost(CollectiveHook &H, Tensor &T) {
  size_t N = size_t(T.numElements());
  if (T.elem() == DType::F32)
    return H.allReduceSum(llvm::MutableArrayRef<float>(T.as<float>(), N));
  if (T.elem() == DType::F64)
    return H.allReduceSum(llvm::MutableArrayRef<double>(T.as<double>(), N));
  std::vector<float> F(N);
  for (size_t I = 0; I < N; ++I)
    F[I] = float(T.getF(int64_t(I)));
  if (auto E = H.allReduceSum(F))
    return E;
  for (size_t I = 0; I < N; ++I)
    T.setF(int64_t(I), F[I]);
  return llvm::Error::success();
}

llvm::Error GpuExecutable::runCollective(const LoweredStep &S,
                                         const Executable::RunPlan &P,
                                         Instance &I, DeviceAddr In,
                                         DeviceAddr Out) const {
  const Value *V = S.Outs[0];
  const auto &Shape = P.Shapes.find(V)->second;
  DType Elem = V->Type.elem();
  uint64_t Bytes = valueBytes(Elem, Shape);
  if (In != Out)
    if (auto E = device().copyOnDevice(I.Stream, Out, In, Bytes))
      return E;
  CollectiveHook *H = currentCollective();
  if (!H)
    return llvm::Error::success();
  if (auto E = device().sync(I.Stream, describeRun()))
    return E;
  if (!device().emulated() && (Elem == DType::F32 || Elem == DType::F64)) {
    auto Done = H->allReduceSumOnDevice(Out, Bytes / dtypeSize(Elem), Elem);
    if (!Done)
      return atOp(*S.Op, Done.takeError());
    if (*Done)
      return llvm::Error::success();
  }
  Tensor T(Elem, Shape);
  if (auto E = device().copyOut(I.Stream, T.data(), Out, Bytes))
    return E;
  if (auto E = device().sync(I.Stream, describeRun()))
    return E;
  if (auto E = sumOnHost(*H, T))
    return atOp(*S.Op, std::move(E));
  if (auto E = device().copyIn(I.Stream, Out, T.data(), Bytes))
    return E;
  // T's bytes are read by the queued copy: wait before T goes.
  return device().sync(I.Stream, describeRun());
}
