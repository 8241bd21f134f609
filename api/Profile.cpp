// Kernel-by-kernel timing: the executable times each step; the arithmetic
// of a kernel is the sum of ir/OpCost over the ops it computes, with every
// value sized as the run sized it.
#include "api/Profile.h"

#include "ir/OpCost.h"

#include <chrono>

using namespace dlc;

namespace {

/// The arithmetic of Ops, or -1 when a size it needs is unknown.
double groupFlops(llvm::ArrayRef<const Operation *> Ops,
                  const Executable::RunPlan &P) {
  double Sum = 0;
  for (const Operation *Op : Ops) {
    std::optional<double> F = opFlops(*Op, P.Shapes);
    if (!F)
      return -1;
    Sum += *F;
  }
  return Sum;
}

} // namespace

llvm::Expected<RunProfile> dlc::profileFunction(const CompiledFunction &C,
                                                llvm::ArrayRef<Tensor> Inputs,
                                                unsigned Runs) {
  if (Runs == 0)
    return makeError("a profile needs at least one run");
  if (auto R = C.run(Inputs); !R)
    return R.takeError();
  StepTimes Times;
  auto T0 = std::chrono::steady_clock::now();
  for (unsigned I = 0; I < Runs; ++I)
    if (auto R = C.run(Inputs, nullptr, &Times); !R)
      return R.takeError();
  RunProfile Prof;
  Prof.Runs = Runs;
  Prof.Seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - T0)
          .count() /
      Runs;
  const Executable &E = C.executable();
  std::vector<TensorType> Types;
  std::vector<const Tensor *> Contents;
  for (const Tensor &T : Inputs) {
    Types.push_back(T.type());
    Contents.push_back(&T);
  }
  auto Plan = E.planFor(Types, Contents);
  if (!Plan)
    return Plan.takeError();
  const auto &Steps = E.steps();
  for (size_t I = 0; I < Steps.size(); ++I) {
    const LoweredStep &S = Steps[I];
    if (S.K != LoweredStep::Kind::Kernel)
      continue;
    std::vector<const Operation *> Ops;
    if (S.Plan)
      Ops = S.Plan->Ops;
    else
      Ops.push_back(S.Op);
    KernelProfile K;
    K.Kernel = C.kernelName(S.Kernel).str();
    for (const Operation *Op : Ops)
      K.Ops += (K.Ops.empty() ? "" : " ") + Op->mnemonic().str();
    K.Seconds = Times.Seconds[I] / Times.Runs;
    K.Flops = groupFlops(Ops, **Plan);
    auto It = (*Plan)->Shapes.find(Ops.front()->result());
    if (It != (*Plan)->Shapes.end())
      for (int64_t D : It->second)
        K.Shape += (K.Shape.empty() ? "" : "x") + std::to_string(D);
    Prof.Kernels.push_back(std::move(K));
  }
  return Prof;
}
