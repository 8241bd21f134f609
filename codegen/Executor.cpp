// The CPU graph executor, compile side (the run side is ExecutorRun.cpp).
//
// 1. Each fusion group (ops marked `fusion = K` by --fuse) becomes one
//    kernel that runs where its last op stands; every other op becomes a
//    kernel, a view (sharing its operand's bytes) or a constant. Ops without
//    a lowering are collected and reported in one error.
// 2. Elementwise kernels whose output may overwrite a dying operand get
//    that pair marked, so the LLVM emitter keeps the two in one alias scope.
// 3. Storage roots (views resolve to their operand's) and the last step
//    reading each root, for the memory plan.
#include "codegen/Executor.h"

#include "codegen/ScalarOps.h"
#include "ir/ShapeInference.h"
#include "kernel/Lowering.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/TargetParser/Host.h"

#include <map>

using namespace dlc;

CompiledFunction::~CompiledFunction() = default;

/// The host's widest vector register in bytes (64 with AVX-512).
unsigned dlc::hostVectorBytes() {
  static const unsigned Bytes = [] {
    llvm::StringMap<bool> F = llvm::sys::getHostCPUFeatures();
    return F.lookup("avx512f") ? 64u : F.lookup("avx") ? 32u : 16u;
  }();
  return Bytes;
}

/// 2-D float matmuls get the register-blocked kernel; the rest (batched,
/// 1-D operands) the general loop nest.
static llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerMatMulFor(const Operation &Op, llvm::StringRef Name) {
  DType E = Op.result()->Type.elem();
  if (Op.operand(0)->Type.rank() == 2 && Op.operand(1)->Type.rank() == 2 &&
      (E == DType::F32 || E == DType::F64))
    return lowerMatMulBlocked(Op, Name, hostVectorBytes());
  return lowerMatMul(Op, Name);
}

bool dlc::isViewOp(OpKind K) {
  return K == OpKind::Reshape || K == OpKind::Flatten ||
         K == OpKind::Squeeze || K == OpKind::Unsqueeze ||
         K == OpKind::Identity;
}

using LowerFn = llvm::Expected<std::unique_ptr<kir::Kernel>> (*)(
    const Operation &, llvm::StringRef);

/// The kernel lowering of Op, or null when there is none (composites must be
/// decomposed first; constants and views need no kernel). The one place
/// that maps ops to CPU kernels: a new op must be added to this switch.
static LowerFn kernelLowering(const Operation &Op) {
  OpKind K = Op.kind();
  bool BoolData = Op.numOperands() && Op.operand(0)->Type.elem() == DType::Bool;
  switch (K) {
  case OpKind::Neg: case OpKind::Abs: case OpKind::Exp: case OpKind::Log:
  case OpKind::Sqrt: case OpKind::Rsqrt: case OpKind::Reciprocal:
  case OpKind::Tanh: case OpKind::Sigmoid: case OpKind::Relu:
  case OpKind::LeakyRelu: case OpKind::Elu: case OpKind::Erf:
  case OpKind::Clip: case OpKind::Sign: case OpKind::Floor: case OpKind::Ceil:
  case OpKind::Round: case OpKind::Sin: case OpKind::Cos: case OpKind::Not:
  case OpKind::Cast: case OpKind::Add: case OpKind::Sub: case OpKind::Mul:
  case OpKind::Div: case OpKind::Pow: case OpKind::Max: case OpKind::Min:
  case OpKind::And: case OpKind::Or: case OpKind::Xor: case OpKind::Equal:
  case OpKind::Less: case OpKind::LessEqual: case OpKind::Greater:
  case OpKind::GreaterEqual: case OpKind::Where: {
    const Value *Data = Op.operand(K == OpKind::Where ? 1 : 0);
    return scalarOpSupported(K, Data->Type.elem()) ? lowerElementwise : nullptr;
  }
  case OpKind::ReduceSum: case OpKind::ReduceMean: case OpKind::ReduceMax:
  case OpKind::ReduceMin: case OpKind::ReduceProd:
    return BoolData ? nullptr : lowerReduction;
  case OpKind::ArgMax: case OpKind::ArgMin:
    return BoolData ? nullptr : lowerArgReduce;
  case OpKind::MatMul:
    return lowerMatMulFor;
  case OpKind::Conv:
    return lowerConv;
  case OpKind::ConvTranspose:
    return lowerConvTranspose;
  case OpKind::Im2Col:
    return lowerIm2Col;
  case OpKind::MaxPool: case OpKind::AvgPool:
    return lowerPool;
  case OpKind::Transpose:
    return lowerTranspose;
  case OpKind::OneHot:
    return lowerOneHot;
  case OpKind::Concat: case OpKind::Split: case OpKind::Slice: case OpKind::Pad:
  case OpKind::Gather: case OpKind::Expand: case OpKind::Tile:
  case OpKind::ShapeOf: case OpKind::Iota:
    return lowerCopy;
  // Views and constants need no kernel (see isView and run()).
  case OpKind::Identity: case OpKind::Reshape: case OpKind::Flatten:
  case OpKind::Squeeze: case OpKind::Unsqueeze: case OpKind::Constant:
  case OpKind::RandomUniform: case OpKind::RandomNormal:
    return lowerRandom;
  // Not lowered yet: range (constant folding handles it).
  case OpKind::Range:
  // Composites: --decompose rewrites them first.
  case OpKind::Gelu: case OpKind::Softplus: case OpKind::ReduceLogSumExp:
  case OpKind::Gemm: case OpKind::GlobalAvgPool: case OpKind::GlobalMaxPool:
  case OpKind::BatchNorm: case OpKind::LayerNorm: case OpKind::Softmax:
  case OpKind::LogSoftmax: case OpKind::Dropout:
  case OpKind::SoftmaxCrossEntropy: case OpKind::NllLoss: case OpKind::MseLoss:
  case OpKind::BceLoss:
    return nullptr;
  }
  llvm_unreachable("bad op kind");
}

bool CompiledFunction::supports(const Operation &Op) {
  return Op.kind() == OpKind::Constant || isViewOp(Op.kind()) ||
         kernelLowering(Op) != nullptr;
}

/// The fusion group of Op (0: none).
static int64_t fusionGroup(const Operation &Op) {
  const Attribute *A = Op.findAttr(FusionAttr);
  return A ? A->getInt() : 0;
}

/// An in-place pair for a kernel step: an input read exactly where the
/// output of the same type is written (elementwise, or the full space of an
/// elementwise / reduction group). In a group only the last op's result
/// qualifies: the other outputs are stored as their ops compute them, which
/// may come before a later op loads the input.
static void findInPlace(LoweredStep &S) {
  if (S.Plan && (S.Plan->Kind == GroupKind::MatMul ||
                 S.Plan->Kind == GroupKind::Conv))
    return;
  if (!S.Plan && !(S.Op->info().has(Elementwise) && S.Op->numResults() == 1))
    return;
  for (size_t I = 0; I < S.Ins.size(); ++I)
    for (size_t O = 0; O < S.Outs.size(); ++O) {
      if (S.Ins[I]->Type != S.Outs[O]->Type)
        continue;
      if (S.Plan && (S.Ins[I]->Type != S.Plan->Full ||
                     S.Plan->SpaceOf.lookup(S.Outs[O]) != Space::Full ||
                     S.Outs[O] != S.Op->result(0)))
        continue;
      S.InPlaceIn = I;
      S.InPlaceOut = O;
      return;
    }
}

llvm::Expected<LoweredFunction> dlc::lowerFunction(const Function &F) {
  std::string Unsupported;
  LoweredFunction L;
  std::map<int64_t, std::vector<const Operation *>> Groups;
  for (auto &Op : F.Body) {
    if (int64_t G = fusionGroup(*Op))
      Groups[G].push_back(Op.get());
    if (!CompiledFunction::supports(*Op))
      Unsupported += "\n  " + Op->L.str() + ": '" + Op->mnemonic().str() +
                     "' on " + (Op->numOperands() ? Op->operand(0)->Type.str()
                                                  : std::string("no operands"));
  }
  if (!Unsupported.empty())
    return makeError("'@" + F.Name +
                     "' has ops without a CPU lowering yet (run it with the "
                     "interpreter instead):" + Unsupported);
  ValueUsers Users = usersOf(F);
  llvm::DenseSet<const Value *> Available;
  for (auto &V : F.Inputs)
    Available.insert(V.get());
  for (auto &V : F.Params)
    Available.insert(V.get());
  for (auto &Op : F.Body) {
    LoweredStep S;
    S.Op = Op.get();
    int64_t G = fusionGroup(*Op);
    auto GI = Groups.find(G);
    bool Fused = G && GI->second.size() > 1;
    if (Fused && GI->second.back() != Op.get())
      continue; // runs with the group's last op
    std::string Name = "k" + std::to_string(L.Kernels.size()) + "_";
    llvm::Expected<std::unique_ptr<kir::Kernel>> K = nullptr;
    if (Fused) {
      auto P = planFusionGroup(GI->second, F, Users);
      if (!P)
        return P.takeError();
      for (const Operation *GOp : GI->second)
        Name += GOp->mnemonic().str() + (GOp == Op.get() ? "" : "_");
      K = lowerFusedGroup(*P, Name, hostVectorBytes());
      S.Ins = P->Inputs;
      S.Outs = P->Outputs;
      S.Space = P->SpaceValue;
      S.Plan = std::make_shared<const FusionPlan>(std::move(*P));
    } else if (Op->kind() == OpKind::Constant || isViewOp(Op->kind())) {
      S.K = Op->kind() == OpKind::Constant ? LoweredStep::Kind::Constant
                                           : LoweredStep::Kind::View;
      Available.insert(Op->result());
      L.Steps.push_back(std::move(S));
      continue;
    } else {
      K = kernelLowering(*Op)(*Op, Name + Op->mnemonic().str());
      S.Ins.assign(Op->Operands.begin(), Op->Operands.end());
      for (auto &R : Op->Results)
        S.Outs.push_back(R.get());
    }
    if (!K)
      return K.takeError();
    for (const Value *V : S.Ins)
      if (!Available.count(V))
        return makeError(
            Op->L, (Fused ? "fusion group " + std::to_string(G)
                          : "'" + Op->mnemonic().str() + "'") +
                       " reads " + (V->Name.empty() ? "a value" : "%" + V->Name) +
                       ", which is computed after it (a fusion group runs "
                       "where its last op stands)");
    for (const Value *V : S.Outs)
      Available.insert(V);
    findInPlace(S);
    if (S.InPlaceIn >= 0)
      (*K)->MayAlias.push_back(
          {unsigned(S.InPlaceIn), unsigned(S.Ins.size() + S.InPlaceOut)});
    S.Kernel = L.Kernels.size();
    L.Kernels.push_back(std::move(*K));
    L.Steps.push_back(std::move(S));
  }
  return L;
}

CompiledFunction::CompiledFunction() = default;

llvm::Expected<std::unique_ptr<CompiledFunction>>
CompiledFunction::compile(const Function &F, unsigned OptLevel,
                          unsigned Threads) {
  auto Lowered = lowerFunction(F);
  if (!Lowered)
    return Lowered.takeError();
  std::vector<const kir::Kernel *> Ptrs;
  for (auto &K : Lowered->Kernels)
    Ptrs.push_back(K.get());
  auto J = JitModule::compile(Ptrs, OptLevel);
  if (!J)
    return J.takeError();
  std::unique_ptr<CompiledFunction> C(new CompiledFunction());
  C->F = &F;
  C->Pool = std::make_unique<rt::ThreadPool>(
      Threads ? Threads : rt::ThreadPool::hardwareThreads());
  C->Jit = std::move(*J);
  C->Lowered = std::move(*Lowered);
  for (auto &V : F.Inputs)
    C->Root[V.get()] = V.get();
  for (auto &V : F.Params)
    C->Root[V.get()] = V.get();
  auto &Steps = C->Lowered.Steps;
  for (unsigned I = 0; I < Steps.size(); ++I) {
    const LoweredStep &S = Steps[I];
    KernelFn Fn = nullptr;
    bool Par = false;
    switch (S.K) {
    case LoweredStep::Kind::Constant:
      C->Root[S.Op->result()] = S.Op->result();
      break;
    case LoweredStep::Kind::View:
      C->Root[S.Op->result()] = C->Root.lookup(S.Op->operand(0));
      break;
    case LoweredStep::Kind::Kernel: {
      for (const Value *V : S.Outs)
        C->Root[V] = V;
      for (const Value *V : S.Ins)
        C->LastRead[C->Root.lookup(V)] = I;
      const kir::Kernel &K = *C->Lowered.Kernels[S.Kernel];
      auto Found = C->Jit->lookup(K.Name);
      if (!Found)
        return Found.takeError();
      Fn = *Found;
      Par = K.isParallel();
      break;
    }
    }
    C->Fns.push_back(Fn);
    C->Parallel.push_back(Par);
  }
  for (const Value *V : F.Outputs)
    C->LastRead[C->Root.lookup(V)] = Steps.size();
  return C;
}
