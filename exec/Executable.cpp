// The graph executor's run side: input checks, the memory plan and the
// walk over the steps, calling kernels through the function-pointer table.
//
// 0. At creation: the storage root of each value (views resolve to their
//    operand's) and the last step reading each root.
// 1. Check the inputs against the signature (count, dtype, rank, static
//    dims, one size per symbol).
// 2. Find or build the plan for these input shapes (cached, under a lock):
//    run-time shape inference over every op (fused ones included, and
//    checked against their group's space; the shape operands of by_value
//    reshape and expand are evaluated first, with the interpreter, from the
//    input shapes and the data of the inputs they read, which then join the
//    plan's key); then liveness: each storage root
//    lives from the step that writes it to the last step that reads it
//    (outputs to the end); an in-place pair of a step takes its input's
//    root when that dies there; runtime/Arena places the roots in one arena.
// 3. Take an arena from the pool, call each kernel with {data, sizes} per
//    buffer (plus the shape-only space argument of a fused group), copy the
//    outputs out, and give the arena back.
#include "exec/Executable.h"
#include "runtime/SizeMath.h"

#include "interp/Interpreter.h"
#include "ir/OpCost.h"
#include "ir/ShapeInference.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringMap.h"

#include <chrono>
#include <cstring>
#include <deque>

using namespace dlc;

Executable::~Executable() = default;

llvm::Expected<std::unique_ptr<Executable>>
Executable::create(const Function &F, std::vector<LoweredStep> Steps,
                   std::vector<KernelEntry> Kernels, unsigned Threads,
                   HostKernelFn Host) {
  return build(F, std::move(Steps), std::move(Kernels), Threads, Host, false);
}

llvm::Expected<std::unique_ptr<Executable>>
Executable::createPlanner(const Function &F, std::vector<LoweredStep> Steps,
                          HostKernelFn Host) {
  return build(F, std::move(Steps), {}, 1, Host, true);
}

llvm::Expected<std::unique_ptr<Executable>>
Executable::build(const Function &F, std::vector<LoweredStep> Steps,
                  std::vector<KernelEntry> Kernels, unsigned Threads,
                  HostKernelFn Host, bool PlanOnly) {
  std::unique_ptr<Executable> X(new Executable());
  X->F = &F;
  X->Host = Host;
  X->PlanOnly = PlanOnly;
  X->Pool = std::make_unique<rt::ThreadPool>(
      Threads ? Threads : rt::ThreadPool::hardwareThreads());
  for (auto &V : F.Inputs)
    X->Root[V.get()] = V.get();
  for (auto &V : F.Params)
    X->Root[V.get()] = V.get();
  for (unsigned I = 0; I < Steps.size(); ++I) {
    const LoweredStep &S = Steps[I];
    switch (S.K) {
    case LoweredStep::Kind::Constant:
      X->Root[S.Op->result()] = S.Op->result();
      break;
    case LoweredStep::Kind::View:
      X->Root[S.Op->result()] = X->Root.lookup(S.Op->operand(0));
      break;
    case LoweredStep::Kind::Host:
      if (!Host)
        return makeError(S.Op->L,
                         "'" + S.Op->mnemonic().str() +
                             (S.Op->info().has(Collective)
                                  ? "' is a collective of data-parallel "
                                    "training"
                                  : S.Op->info().has(DataShape)
                                         ? "' has results sized by the data"
                                  : S.Op->info().has(ControlFlow)
                                         ? "' is control flow with regions"
                                         : "' works on str tensors") +
                             ", which only the JIT runs (as a host step)");
      for (const Value *V : S.Outs)
        X->Root[V] = V;
      for (const Value *V : S.Ins)
        X->LastRead[X->Root.lookup(V)] = I;
      break;
    case LoweredStep::Kind::Kernel:
      if (!PlanOnly && (S.Kernel < 0 || size_t(S.Kernel) >= Kernels.size() ||
                        !Kernels[S.Kernel].Fn))
        return makeError("'@" + F.Name + "': no compiled kernel number " +
                         std::to_string(S.Kernel) + " (there are " +
                         std::to_string(Kernels.size()) + ")");
      for (const Value *V : S.Outs)
        X->Root[V] = V;
      for (const Value *V : S.Ins)
        X->LastRead[X->Root.lookup(V)] = I;
      break;
    }
  }
  for (const Value *V : F.Outputs)
    X->LastRead[X->Root.lookup(V)] = Steps.size();
  // When each output is final: after the step that writes its storage.
  llvm::DenseMap<const Value *, unsigned> WrittenBy;
  for (unsigned I = 0; I < Steps.size(); ++I)
    if (Steps[I].K == LoweredStep::Kind::Kernel ||
        Steps[I].K == LoweredStep::Kind::Host)
      for (const Value *V : Steps[I].Outs)
        WrittenBy[V] = I + 1;
  X->ReadyAfter.resize(Steps.size() + 1);
  for (unsigned O = 0; O < F.Outputs.size(); ++O) {
    const Value *V = F.Outputs[O];
    if (V->Type.elem() != DType::Str)
      X->ReadyAfter[WrittenBy.lookup(X->Root.lookup(V))].push_back(O);
  }
  // The shape cone: only the dims of shape()'s operand are needed.
  llvm::SmallVector<const Value *, 16> Work;
  for (auto &Op : F.Body)
    for (unsigned I = 0; I < Op->numOperands(); ++I)
      if (isShapeValueOperand(*Op, I))
        Work.push_back(Op->operand(I));
  while (!Work.empty()) {
    const Value *V = Work.pop_back_val();
    if (!X->Cone.insert(V).second || !V->Def ||
        V->Def->kind() == OpKind::ShapeOf)
      continue;
    for (const Value *O : V->Def->Operands)
      Work.push_back(O);
  }
  for (unsigned I = 0; I < F.Inputs.size(); ++I)
    if (X->Cone.count(F.Inputs[I].get()))
      X->DataInputs.push_back(I);
  X->Steps = std::move(Steps);
  X->Kernels = std::move(Kernels);
  return X;
}

llvm::Expected<std::vector<Tensor>>
Executable::evalHost(const Operation &Op,
                     llvm::ArrayRef<const Tensor *> Args) const {
  if (CF && Op.info().has(ControlFlow))
    return CF(Op, Args);
  return evaluateOp(Op, Args);
}

static std::vector<TensorType> typesOf(llvm::ArrayRef<Tensor> In) {
  std::vector<TensorType> T;
  T.reserve(In.size());
  for (const Tensor &X : In)
    T.push_back(X.type());
  return T;
}

/// "f32[2,3]" for a run-time type.
static std::string typeText(DType E, llvm::ArrayRef<int64_t> Shape) {
  std::string S = dtypeName(E).str() + "[";
  for (size_t I = 0; I < Shape.size(); ++I)
    S += (I ? "," : "") + std::to_string(Shape[I]);
  return S + "]";
}

/// Checks run-time input types against the signature and binds symbolic
/// dims; looks at no data byte.
static llvm::Error checkInputSpecs(const Function &F,
                                   llvm::ArrayRef<InputSpec> In) {
  if (In.size() != F.Inputs.size())
    return makeError("'@" + F.Name + "' takes " +
                     std::to_string(F.Inputs.size()) + " input(s), got " +
                     std::to_string(In.size()));
  llvm::StringMap<std::pair<int64_t, std::string>> Bound;
  for (size_t I = 0; I < In.size(); ++I) {
    const Value &V = *F.Inputs[I];
    const InputSpec &T = In[I];
    std::string What = "input '" + V.Name + "'";
    if (T.Elem != V.Type.elem())
      return makeError(What + " must be " + V.Type.str() + ", got " +
                       dtypeName(T.Elem));
    if (T.Shape.size() != V.Type.rank())
      return makeError(What + " must have rank " +
                       std::to_string(V.Type.rank()) + " (" + V.Type.str() +
                       "), got " + typeText(T.Elem, T.Shape));
    for (unsigned D = 0; D < T.Shape.size(); ++D) {
      const Dim &Want = V.Type.dim(D);
      int64_t Got = T.Shape[D];
      if (Got < 0)
        return makeError(What + " dim " + std::to_string(D) +
                         " is negative (" + std::to_string(Got) + ")");
      if (Want.isStatic() && Want.size() != Got)
        return makeError(What + " dim " + std::to_string(D) + " must be " +
                         Want.str() + ", got " + std::to_string(Got));
      if (!Want.isSymbol())
        continue;
      auto [It, New] = Bound.try_emplace(Want.sym(), Got, V.Name);
      if (!New && It->second.first != Got)
        return makeError(What + " dim " + std::to_string(D) + " (" +
                         Want.str() + ") is " + std::to_string(Got) + " but " +
                         Want.str() + " was bound to " +
                         std::to_string(It->second.first) + " by input '" +
                         It->second.second + "'");
    }
  }
  return llvm::Error::success();
}

static llvm::Error checkInputs(const Function &F, llvm::ArrayRef<Tensor> In) {
  llvm::SmallVector<InputSpec, 4> Specs;
  for (const Tensor &T : In)
    Specs.push_back({T.elem(), T.shape()});
  return checkInputSpecs(F, Specs);
}

llvm::Error Executable::checkInputs(llvm::ArrayRef<Tensor> Inputs) const {
  return ::checkInputs(*F, Inputs);
}

llvm::Error
Executable::checkInputSpecs(llvm::ArrayRef<InputSpec> Inputs) const {
  return ::checkInputSpecs(*F, Inputs);
}

llvm::Error Executable::checkInputTypes(llvm::ArrayRef<TensorType> T) const {
  llvm::SmallVector<llvm::SmallVector<int64_t, 4>, 4> Shapes;
  llvm::SmallVector<InputSpec, 4> Specs;
  for (const TensorType &X : T)
    Shapes.push_back(X.staticSizes());
  for (size_t I = 0; I < T.size(); ++I)
    Specs.push_back({T[I].elem(), Shapes[I]});
  return ::checkInputSpecs(*F, Specs);
}

llvm::Error dlc::checkGatherIndices(const Operation &Op, int64_t N,
                                    const Tensor &Idx) {
  for (int64_t I = 0; I < Idx.numElements(); ++I) {
    int64_t V = Idx.getI(I);
    if (V < -N || V >= N)
      return makeError(Op.L, "'gather': index " + std::to_string(V) +
                                 " is out of range for dim " +
                                 std::to_string(Op.getInt("axis")) +
                                 " of size " + std::to_string(N));
  }
  return llvm::Error::success();
}

/// Bytes of a tensor; UINT64_MAX when the count overflows (the plan then
/// refuses the run as out of memory).
static uint64_t byteSize(DType E, llvm::ArrayRef<int64_t> Shape) {
  int64_t N;
  size_t B;
  if (!productOf(Shape, N) || !bytesOf(N, dtypeSize(E), B))
    return UINT64_MAX;
  return B;
}

/// Calls generated code (see DLC_CALLS_GENERATED_CODE).
DLC_CALLS_GENERATED_CODE
static void callKernel(KernelFn Fn, const BufferArg *Args, int64_t Chunk,
                       int64_t Chunks) {
  Fn(Args, Chunk, Chunks);
}

/// Names an intermediate with its run-time shape for messages:
/// "'%h' (f32[64,1000])".
static std::string describe(const Value *V, llvm::ArrayRef<int64_t> Shape) {
  std::string S = !V->Name.empty() ? "'%" + V->Name + "'"
                  : V->Def ? "the result of '" + V->Def->mnemonic().str() + "'"
                           : std::string("a value");
  S += " (" + dtypeName(V->Type.elem()).str() + "[";
  for (size_t I = 0; I < Shape.size(); ++I)
    S += (I ? "," : "") + std::to_string(Shape[I]);
  return S + "])";
}

/// The most bytes of intermediates a plan may ask for (far beyond any
/// machine, and small enough that the arena placement cannot overflow).
static constexpr uint64_t MaxPlanBytes = uint64_t(1) << 60;

/// The run-time shape a value of space S has in a group whose space has
/// shape Full.
static llvm::SmallVector<int64_t, 4> spaceShape(const FusionPlan &P, Space S,
                                                llvm::ArrayRef<int64_t> Full) {
  llvm::SmallVector<int64_t, 4> R;
  for (unsigned D = 0; D < Full.size(); ++D) {
    if (S == Space::Full || !P.Reduced[D])
      R.push_back(Full[D]);
    else if (S == Space::OuterKeep)
      R.push_back(1);
  }
  return R; // (Pooled values are not checked)
}

/// Whether a kernel step does enough work at these shapes to be worth
/// spreading over the thread pool. Handing items to spinning workers costs
/// about a microsecond, so a kernel that runs for a few microseconds on one
/// thread gains: one that writes 32 KiB or more, or does half a million
/// arithmetic operations (a GEMM with a small result but a long k).
static bool splitWorthIt(const LoweredStep &S, const ValueShapes &Shapes) {
  uint64_t Bytes = 0;
  for (const Value *V : S.Outs)
    if (auto It = Shapes.find(V); It != Shapes.end())
      Bytes += byteSize(V->Type.elem(), It->second);
  if (Bytes >= (32u << 10))
    return true;
  double Flops = 0;
  auto add = [&](const Operation *Op) {
    if (std::optional<double> F = opFlops(*Op, Shapes))
      Flops += *F;
  };
  if (S.Plan)
    for (const Operation *Op : S.Plan->Ops)
      add(Op);
  else
    add(S.Op);
  return Flops >= 5e5;
}

llvm::Expected<std::shared_ptr<const Executable::RunPlan>>
Executable::planFor(llvm::ArrayRef<Tensor> Inputs) const {
  std::vector<const Tensor *> Contents;
  for (const Tensor &T : Inputs)
    Contents.push_back(&T);
  return planFor(typesOf(Inputs), Contents);
}

llvm::Expected<std::shared_ptr<const Executable::RunPlan>>
Executable::planFor(llvm::ArrayRef<TensorType> Types,
                    llvm::ArrayRef<const Tensor *> Contents) const {
  std::vector<int64_t> Key;
  for (const TensorType &T : Types) {
    Key.push_back(T.rank());
    for (const Dim &D : T.dims())
      Key.push_back(D.size());
  }
  for (unsigned I : DataInputs) { // their bytes, in 8-byte words
    if (I >= Contents.size() || !Contents[I])
      return makeError("internal error: input '" + F->Inputs[I]->Name +
                       "' is read by a shape computation but has no data");
    const Tensor &T = *Contents[I];
    for (uint64_t B = 0; B < T.byteSize(); B += 8) {
      int64_t W = 0;
      std::memcpy(&W, T.data() + B, std::min<uint64_t>(8, T.byteSize() - B));
      Key.push_back(W);
    }
  }
  {
    std::lock_guard<std::mutex> Lock(PlanMutex);
    auto It = Plans.find(Key);
    if (It != Plans.end())
      return It->second;
  }
  auto P = std::make_shared<RunPlan>();
  auto &Shapes = P->Shapes;
  for (size_t I = 0; I < Types.size(); ++I)
    Shapes[F->Inputs[I].get()] = Types[I].staticSizes();
  for (size_t I = 0; I < F->Params.size(); ++I) {
    if (I >= F->ParamInits.size() || !F->ParamInits[I])
      return makeError("parameter '" + F->Params[I]->Name + "' has no value");
    auto Sh = F->ParamInits[I]->getTensor()->shape();
    Shapes[F->Params[I].get()].assign(Sh.begin(), Sh.end());
  }
  // A str value whose shape depends on the data has no entry: its type
  // is then the declared one.
  auto typeOf = [&](const Value *V) {
    auto It = Shapes.find(V);
    return It == Shapes.end() ? V->Type
                              : TensorType::get(V->Type.elem(), It->second);
  };
  // Values of the shape cone: inputs, parameters and constants it reads,
  // and the results of its ops, evaluated as the walk reaches them.
  llvm::DenseMap<const Value *, const Tensor *> Vals;
  std::deque<Tensor> Owned;
  for (unsigned I : DataInputs)
    Vals[F->Inputs[I].get()] = Contents[I];
  for (size_t I = 0; I < F->Params.size(); ++I)
    if (Cone.count(F->Params[I].get()))
      Vals[F->Params[I].get()] = F->ParamInits[I]->getTensor().get();
  for (auto &Op : F->Body) {
    if (Op->kind() == OpKind::Constant) {
      const Tensor *T = Op->attr("value").getTensor().get();
      Shapes[Op->result()].assign(T->shape().begin(), T->shape().end());
      if (Cone.count(Op->result()))
        Vals[Op->result()] = T;
      continue;
    }
    llvm::SmallVector<TensorType, 4> Types;
    llvm::SmallVector<const Tensor *, 4> OpVals;
    for (Value *V : Op->Operands) {
      Types.push_back(typeOf(V));
      OpVals.push_back(Vals.lookup(V));
    }
    auto RT = inferResultTypes(*Op, Types, OpVals);
    if (!RT)
      return RT.takeError();
    bool Sized = Op->info().has(DataShape);
    if (Op->info().has(ControlFlow))
      for (const TensorType &T : *RT)
        Sized |= !T.isStatic();
    if (Sized) {
      // Result sizes from the data: evaluate the op on its operands (all
      // in the cone, so known now) and plan with what came out; the host
      // step computes it again in the run. Control flow counts when a
      // result's shape is only known by running it (a loop's scan outputs
      // under a run-time trip count, branches of different shapes).
      if (llvm::is_contained(OpVals, nullptr))
        return makeError(Op->L, "internal error: an operand of '" +
                                    Op->mnemonic() + "' has no value");
      auto R = evalHost(*Op, OpVals);
      if (!R)
        return R.takeError();
      for (unsigned I = 0; I < R->size(); ++I) {
        (*RT)[I] = (*R)[I].type();
        Vals[Op->result(I)] = &Owned.emplace_back(std::move((*R)[I]));
      }
    }
    for (unsigned I = 0; I < RT->size(); ++I) {
      if ((*RT)[I].isStatic())
        Shapes[Op->result(I)] = (*RT)[I].staticSizes();
      else if ((*RT)[I].elem() != DType::Str)
        return makeError(Op->L, "'" + Op->mnemonic() + "' result " +
                                    std::to_string(I) + " is " +
                                    (*RT)[I].str() +
                                    ": its shape depends on string data, "
                                    "which only str results may");
    }
    if (Cone.count(Op->result())) {
      if (Op->kind() == OpKind::ShapeOf) {
        const auto &Sh = Shapes[Op->operand(0)];
        Tensor &T = Owned.emplace_back(DType::I64,
                                       llvm::ArrayRef<int64_t>{int64_t(Sh.size())});
        for (size_t D = 0; D < Sh.size(); ++D)
          T.setI(D, Sh[D]);
        Vals[Op->result()] = &T;
      } else if (!Sized) { // (evaluated above)
        if (llvm::is_contained(OpVals, nullptr))
          return makeError(Op->L, "internal error: an operand of a shape "
                                  "computation has no value");
        auto R = evalHost(*Op, OpVals);
        if (!R)
          return R.takeError();
        for (unsigned I = 0; I < R->size(); ++I)
          Vals[Op->result(I)] = &Owned.emplace_back(std::move((*R)[I]));
      }
    }
    if (runsOnHost(*Op))
      continue; // a host step: no view or empty-axis checks
    if ((Op->kind() == OpKind::ArgMax || Op->kind() == OpKind::ArgMin) &&
        !Types[0].numElements().value_or(0) && (*RT)[0].numElements().value_or(0))
      return makeError(Op->L, "'" + Op->mnemonic() +
                                  "' cannot take the index of an empty axis");
    if (isViewOp(Op->kind()) &&
        byteSize(Types[0].elem(), Shapes[Op->operand(0)]) !=
            byteSize((*RT)[0].elem(), Shapes[Op->result()]))
      return makeError(Op->L, "'" + Op->mnemonic() + "' cannot view " +
                                  Types[0].str() + " as " + (*RT)[0].str());
  }
  // Liveness of the storage roots that kernels write, with in-place merges.
  llvm::DenseMap<const Value *, unsigned> Def, Last;
  llvm::DenseMap<const Value *, const Value *> Merged;
  auto find = [&](const Value *R) {
    while (Merged.count(R))
      R = Merged.lookup(R);
    return R;
  };
  for (unsigned I = 0; I < Steps.size(); ++I) {
    const LoweredStep &S = Steps[I];
    if (S.Plan)
      for (const Operation *Op : S.Plan->Ops)
        if (S.Plan->SpaceOf.lookup(Op->result()) != Space::Pooled &&
            Shapes[Op->result()] !=
            spaceShape(*S.Plan, S.Plan->SpaceOf.lookup(Op->result()),
                       Shapes[S.Space]))
          return makeError(Op->L, "internal error: fused op has the shape " +
                                      typeOf(Op->result()).str() +
                                      ", not its group's");
    for (const Value *V : S.Outs) {
      Def[V] = I;
      auto It = LastRead.find(V);
      Last[V] = It == LastRead.end() ? I : It->second;
    }
    if (S.InPlaceIn < 0)
      continue;
    const Value *In = S.Ins[S.InPlaceIn], *Out = S.Outs[S.InPlaceOut];
    const Value *R = find(Root.lookup(In));
    if (Def.count(R) && Last.lookup(R) == I && Shapes[In] == Shapes[Out]) {
      Merged[Out] = R;
      Last[R] = Last.lookup(Out);
    }
  }
  std::vector<const Value *> Roots;
  std::vector<rt::ArenaRequest> Requests;
  uint64_t Total = 0;
  for (unsigned I = 0; I < Steps.size(); ++I)
    for (const Value *V : Steps[I].Outs)
      if (!Merged.count(V) && V->Type.elem() != DType::Str) {
        Roots.push_back(V);
        uint64_t B = byteSize(V->Type.elem(), Shapes[V]);
        Requests.push_back({B, Def.lookup(V), Last.lookup(V)});
        if (B >= P->LargestBytes) {
          P->Largest = V;
          P->LargestBytes = B;
        }
        Total = B > MaxPlanBytes || Total > MaxPlanBytes ? MaxPlanBytes + 1
                                                         : Total + B + 64;
      }
  if (Total > MaxPlanBytes)
    return makeError(P->Largest->L,
                     "out of memory: the intermediates of '@" + F->Name +
                         "' need more than 2^60 bytes; the largest, " +
                         describe(P->Largest, Shapes[P->Largest]) + ", needs " +
                         (P->LargestBytes == UINT64_MAX
                              ? std::string("more than 2^64")
                              : std::to_string(P->LargestBytes)) +
                         " bytes");
  rt::ArenaLayout Layout = rt::planArena(Requests);
  for (size_t I = 0; I < Roots.size(); ++I)
    P->Offset[Roots[I]] = Layout.Offsets[I];
  P->ArenaBytes = Layout.Size;
  P->Roots = std::move(Roots);
  P->Requests = std::move(Requests);
  for (auto [V, R] : Root)
    P->Storage[V] = find(R);
  P->Split.assign(Steps.size(), false);
  for (size_t I = 0; I < Steps.size(); ++I)
    P->Split[I] = Steps[I].K == LoweredStep::Kind::Kernel &&
                  size_t(Steps[I].Kernel) < Kernels.size() &&
                  Kernels[Steps[I].Kernel].Parallel &&
                  splitWorthIt(Steps[I], Shapes);
  std::lock_guard<std::mutex> Lock(PlanMutex);
  if (Plans.size() >= 16) // many shapes: keep the cache bounded
    Plans.clear();
  return Plans.emplace(Key, std::move(P)).first->second;
}

/// One host step: operands as Tensors (numeric ones copied out of the
/// arena), the host kernel, then str results kept by the run and numeric
/// ones copied into the arena (their planned shape must be what came out).
template <typename PtrFn>
llvm::Error Executable::runHost(const LoweredStep &S, const RunPlan &P,
                                llvm::DenseMap<const Value *, const Tensor *> &Strs,
                                std::deque<Tensor> &Owned, PtrFn Ptr) const {
  std::vector<Tensor> Copies;
  Copies.reserve(S.Ins.size());
  llvm::SmallVector<const Tensor *, 4> Args;
  for (const Value *V : S.Ins) {
    if (V->Type.elem() == DType::Str) {
      Args.push_back(Strs.lookup(V));
      continue;
    }
    Copies.emplace_back(V->Type.elem(), P.Shapes.find(V)->second);
    if (Copies.back().byteSize())
      std::memcpy(Copies.back().data(), Ptr(V), Copies.back().byteSize());
    Args.push_back(&Copies.back());
  }
  auto R = CF && S.Op->info().has(ControlFlow) ? CF(*S.Op, Args)
                                               : Host(*S.Op, Args);
  if (!R)
    return R.takeError();
  for (size_t I = 0; I < S.Outs.size() && I < R->size(); ++I) {
    const Value *V = S.Outs[I];
    Tensor &T = (*R)[I];
    if (V->Type.elem() == DType::Str) {
      Owned.push_back(std::move(T));
      Strs[V] = &Owned.back();
      continue;
    }
    if (T.elem() != V->Type.elem() ||
        llvm::ArrayRef<int64_t>(P.Shapes.find(V)->second) != T.shape())
      return makeError(S.Op->L, "internal error: '" + S.Op->mnemonic() +
                                    "' computed " + T.type().str() +
                                    ", the plan has another shape");
    if (T.byteSize())
      std::memcpy(Ptr(V), T.data(), T.byteSize());
  }
  return llvm::Error::success();
}

llvm::Expected<std::vector<Tensor>>
Executable::run(llvm::ArrayRef<Tensor> Inputs, uint64_t *PeakBytes,
                StepTimes *Times, OutputReadyFn OnOutput) const {
  // The arena failing is reported with the tensor and the bytes; other
  // allocations (outputs, host step results) failing end here.
  try {
    return runUnguarded(Inputs, PeakBytes, Times, OnOutput);
  } catch (const std::bad_alloc &) {
    return makeError(F->L, "out of memory while running '@" + F->Name + "'");
  }
}

llvm::Expected<std::vector<Tensor>>
Executable::runUnguarded(llvm::ArrayRef<Tensor> Inputs,
                         uint64_t *PeakBytes, StepTimes *Times,
                         OutputReadyFn OnOutput) const {
  if (PlanOnly)
    return makeError("internal error: '@" + F->Name +
                     "' was planned for another executor, not run here");
  if (auto E = ::checkInputs(*F, Inputs))
    return std::move(E);
  auto PlanOr = planFor(Inputs);
  if (!PlanOr)
    return PlanOr.takeError();
  const RunPlan &P = **PlanOr;
  auto largest = [&] {
    return P.Largest ? "; the largest is " +
                           describe(P.Largest, P.Shapes.find(P.Largest)->second) +
                           " of " + std::to_string(P.LargestBytes) + " bytes"
                     : std::string();
  };
  uint64_t Limit = MemoryLimit.load();
  if (Limit && P.ArenaBytes > Limit)
    return makeError(F->L, "'@" + F->Name + "' needs " +
                               std::to_string(P.ArenaBytes) +
                               " bytes of intermediates, more than the memory "
                               "limit of " + std::to_string(Limit) +
                               " bytes (--max-memory)" + largest());
  std::unique_ptr<rt::Arena> A = Arenas.acquire(P.ArenaBytes);
  if (!A)
    return makeError(F->L, "out of memory: '@" + F->Name +
                               "' could not allocate " +
                               std::to_string(P.ArenaBytes) +
                               " bytes of intermediates" + largest());
  llvm::DenseMap<const Value *, uint8_t *> External;
  for (size_t I = 0; I < Inputs.size(); ++I)
    External[F->Inputs[I].get()] = const_cast<uint8_t *>(Inputs[I].data());
  for (size_t I = 0; I < F->Params.size(); ++I)
    External[F->Params[I].get()] =
        const_cast<uint8_t *>(F->ParamInits[I]->getTensor()->data());
  for (const LoweredStep &S : Steps)
    if (S.K == LoweredStep::Kind::Constant)
      External[S.Op->result()] =
          const_cast<uint8_t *>(S.Op->attr("value").getTensor()->data());
  // The run's str values: inputs, parameters and constants borrowed, host
  // step results owned by this run (a deque keeps their addresses).
  llvm::DenseMap<const Value *, const Tensor *> Strs;
  std::deque<Tensor> OwnedStrs;
  for (size_t I = 0; I < Inputs.size(); ++I)
    if (Inputs[I].elem() == DType::Str)
      Strs[F->Inputs[I].get()] = &Inputs[I];
  for (size_t I = 0; I < F->Params.size(); ++I)
    if (F->Params[I]->Type.elem() == DType::Str)
      Strs[F->Params[I].get()] = F->ParamInits[I]->getTensor().get();
  for (const LoweredStep &S : Steps)
    if (S.K == LoweredStep::Kind::Constant &&
        S.Op->result()->Type.elem() == DType::Str)
      Strs[S.Op->result()] = S.Op->attr("value").getTensor().get();
  auto ptr = [&](const Value *V) {
    const Value *R = P.Storage.lookup(V);
    auto It = P.Offset.find(R);
    return It != P.Offset.end() ? A->data() + It->second : External.lookup(R);
  };
  llvm::Error Err = llvm::Error::success();
  if (Times) {
    Times->Seconds.resize(Steps.size());
    ++Times->Runs;
  }
  // Tells OnOutput about the outputs that step I - 1 finished.
  auto announce = [&](size_t I) -> llvm::Error {
    if (!OnOutput)
      return llvm::Error::success();
    for (unsigned O : ReadyAfter[I]) {
      const Value *V = F->Outputs[O];
      if (auto E = OnOutput(O, ptr(V),
                            byteSize(V->Type.elem(), P.Shapes.find(V)->second)))
        return E;
    }
    return llvm::Error::success();
  };
  Err = announce(0);
  using Clock = std::chrono::steady_clock;
  for (size_t I = 0; I < Steps.size() && !Err; ++I) {
    const LoweredStep &S = Steps[I];
    // Runs after the step, also after a `continue`.
    auto Announce = llvm::make_scope_exit([&] {
      if (!Err)
        Err = announce(I + 1);
    });
    Clock::time_point T0;
    if (Times)
      T0 = Clock::now();
    auto timed = llvm::make_scope_exit([&] {
      if (Times)
        Times->Seconds[I] +=
            std::chrono::duration<double>(Clock::now() - T0).count();
    });
    if (S.K == LoweredStep::Kind::Host) {
      Err = runHost(S, P, Strs, OwnedStrs, ptr);
      continue;
    }
    if (S.K != LoweredStep::Kind::Kernel)
      continue;
    if (!S.Plan && S.Op->kind() == OpKind::Gather) {
      const Value *Idx = S.Ins[1];
      Tensor T(Idx->Type.elem(), P.Shapes.find(Idx)->second);
      copyBytes(T.data(), ptr(Idx), T.byteSize());
      const auto &DShape = P.Shapes.find(S.Ins[0])->second;
      int64_t Axis = S.Op->getInt("axis");
      if (Axis < 0)
        Axis += DShape.size();
      Err = checkGatherIndices(*S.Op, DShape[Axis], T);
      if (Err)
        break;
    }
    llvm::SmallVector<BufferArg, 8> Bufs;
    for (const Value *V : S.Ins)
      Bufs.push_back({ptr(V), P.Shapes.find(V)->second.data()});
    for (const Value *V : S.Outs) {
      const auto &Sh = P.Shapes.find(V)->second;
      Bufs.push_back({ptr(V), Sh.data()});
    }
    if (S.Space)
      Bufs.push_back({nullptr, P.Shapes.find(S.Space)->second.data()});
    KernelFn Fn = Kernels[S.Kernel].Fn;
    auto call = [&](int64_t C, int64_t Chunks) { callKernel(Fn, Bufs.data(), C, Chunks); };
    if (P.Split[I] && Pool->threads() > 1) {
      int64_t Chunks = Pool->threads();
      Pool->parallelFor(Chunks, [&](int64_t C) { call(C, Chunks); });
    } else {
      call(0, 1);
    }
  }
  std::vector<Tensor> Outs;
  if (!Err)
    for (const Value *V : F->Outputs) {
      if (V->Type.elem() == DType::Str) {
        if (const Tensor *T = Strs.lookup(V)) {
          Outs.push_back(*T);
          continue;
        }
        Err = makeError(F->L, "internal error: output '" + V->Name +
                                  "' (str) was not computed");
        break;
      }
      Outs.emplace_back(V->Type.elem(), P.Shapes.find(V)->second);
      if (Outs.back().byteSize())
        std::memcpy(Outs.back().data(), ptr(V), Outs.back().byteSize());
    }
  Arenas.release(std::move(A));
  if (Err)
    return std::move(Err);
  if (PeakBytes)
    *PeakBytes = P.ArenaBytes;
  return Outs;
}
