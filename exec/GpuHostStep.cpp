// The GPU executor's host steps other than collectives: ops on strings,
// ops whose results the device does not size (unique, non_max_suppression)
// and control flow whose regions have no GPU executables (the C API's GPU
// images: the interpreter runs them), run on the host between two segments
// of launches. Control flow with GPU regions goes to GpuControlFlow.cpp.
//
// 1. The numeric operands come to the host: from the host bytes of a host
//    input, a parameter or a constant (no copy from the device), else from
//    the device after the stream has finished the launches before the step
//    (one wait, then the copies, then one more wait). str operands are the
//    run's host tensors.
// 2. The host kernel (the reference interpreter's, passed to create) runs
//    on them; a numeric result must have the planned shape (the planner
//    evaluated data-sized ones already, from the same operands).
// 3. Numeric results are queued for copying into their device buffers on
//    the run's stream: the launches after the step see them in stream
//    order, and the tensors stay alive in the run's HostValues until the
//    run has waited at its end. str results stay on the host.
#include "exec/GpuPlan.h"

#include <cstring>

using namespace dlc;

llvm::Error GpuExecutable::runHostStep(
    const LoweredStep &S, const Executable::RunPlan &P, Instance &I,
    llvm::function_ref<DeviceAddr(const Value *)> Addr,
    llvm::function_ref<const Tensor *(const Value *)> OnHost,
    HostValues &V) const {
  const Operation &Op = *S.Op;
  if (Op.info().has(ControlFlow) && regionsSet(Op))
    return runRegions(S, P, I, Addr, OnHost, V);
  if (!Host)
    return makeError(Op.L, "internal error: no host kernel for '" +
                               Op.mnemonic() + "'");
  // Step 1.
  std::deque<Tensor> Copies;
  llvm::SmallVector<const Tensor *, 4> Args;
  bool Waited = false;
  for (const Value *X : S.Ins) {
    if (X->Type.elem() == DType::Str) {
      const Tensor *T = V.Strs.lookup(X);
      if (!T)
        return makeError(Op.L, "internal error: a str operand of '" +
                                   Op.mnemonic() + "' has no value");
      Args.push_back(T);
      continue;
    }
    Tensor &T = Copies.emplace_back(X->Type.elem(), P.Shapes.find(X)->second);
    Args.push_back(&T);
    if (!T.byteSize())
      continue;
    if (const Tensor *H = OnHost(X)) {
      std::memcpy(T.data(), H->data(), T.byteSize());
      continue;
    }
    if (!Waited) {
      if (auto E = device().sync(I.Stream, describeRun()))
        return E;
      Waited = true;
    }
    if (auto E = device().copyOut(I.Stream, T.data(), Addr(X), T.byteSize()))
      return E;
  }
  if (Waited)
    if (auto E = device().sync(I.Stream, describeRun()))
      return E;
  // Step 2.
  auto R = Host(Op, Args);
  if (!R)
    return R.takeError();
  if (R->size() < S.Outs.size())
    return makeError(Op.L, "internal error: '" + Op.mnemonic() + "' made " +
                               std::to_string(R->size()) + " results, not " +
                               std::to_string(S.Outs.size()));
  // Step 3.
  for (size_t K = 0; K < S.Outs.size(); ++K) {
    const Value *X = S.Outs[K];
    Tensor &T = V.Owned.emplace_back(std::move((*R)[K]));
    if (X->Type.elem() == DType::Str) {
      V.Strs[X] = &T;
      continue;
    }
    if (T.elem() != X->Type.elem() ||
        llvm::ArrayRef<int64_t>(P.Shapes.find(X)->second) != T.shape())
      return makeError(Op.L, "internal error: '" + Op.mnemonic() +
                                 "' computed " + T.type().str() +
                                 ", the plan has another shape");
    if (T.byteSize())
      if (auto E = device().copyIn(I.Stream, Addr(X), T.data(), T.byteSize()))
        return E;
  }
  return llvm::Error::success();
}
