// The CPU graph executor.
//
// 1. compile: each op of the function becomes a kernel (elementwise and
//    reduction lowerings), a view (reshape-like ops copy their bytes), or a
//    constant; anything else is collected and reported in one error.
// 2. run: check the inputs against the signature (count, dtype, rank,
//    static dims, one size per symbol), then walk the ops: result shapes come
//    from shape inference on the concrete operand shapes, results are
//    allocated, and the kernel is called with {data, sizes} per buffer.
#include "codegen/Executor.h"

#include "codegen/ScalarOps.h"
#include "ir/ShapeInference.h"
#include "kernel/Lowering.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/TargetParser/Host.h"

#include <cstring>

using namespace dlc;

CompiledFunction::~CompiledFunction() = default;

/// The host's widest vector register in bytes (64 with AVX-512).
static unsigned hostVectorBytes() {
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

/// Ops that only reinterpret the bytes of their operand.
static bool isView(OpKind K) {
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
  case OpKind::ShapeOf:
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
  return Op.kind() == OpKind::Constant || isView(Op.kind()) ||
         kernelLowering(Op) != nullptr;
}

llvm::Expected<LoweredFunction> dlc::lowerFunction(const Function &F) {
  std::string Unsupported;
  LoweredFunction L;
  unsigned N = 0;
  for (auto &Op : F.Body) {
    L.KernelOf.push_back(-1);
    if (!CompiledFunction::supports(*Op)) {
      Unsupported += "\n  " + Op->L.str() + ": '" + Op->mnemonic().str() +
                     "' on " + (Op->numOperands() ? Op->operand(0)->Type.str()
                                                  : std::string("no operands"));
      continue;
    }
    if (Op->kind() == OpKind::Constant || isView(Op->kind()))
      continue;
    std::string Name = "k" + std::to_string(N++) + "_" + Op->mnemonic().str();
    auto K = kernelLowering(*Op)(*Op, Name);
    if (!K)
      return K.takeError();
    L.KernelOf.back() = int(L.Kernels.size());
    L.Kernels.push_back(std::move(*K));
  }
  if (!Unsupported.empty())
    return makeError("'@" + F.Name +
                     "' has ops without a CPU lowering yet (run it with the "
                     "interpreter instead):" + Unsupported);
  return L;
}

llvm::Expected<std::unique_ptr<CompiledFunction>>
CompiledFunction::compile(const Function &F, unsigned OptLevel,
                          unsigned Threads) {
  auto Lowered = lowerFunction(F);
  if (!Lowered)
    return Lowered.takeError();
  auto &Ks = Lowered->Kernels;
  auto &KernelOf = Lowered->KernelOf;
  std::vector<const kir::Kernel *> Ptrs;
  for (auto &K : Ks)
    Ptrs.push_back(K.get());
  auto J = JitModule::compile(Ptrs, OptLevel);
  if (!J)
    return J.takeError();
  std::unique_ptr<CompiledFunction> C(new CompiledFunction());
  C->F = &F;
  C->Pool = std::make_unique<rt::ThreadPool>(
      Threads ? Threads : rt::ThreadPool::hardwareThreads());
  // Liveness: the last op that reads each result (outputs live to the end).
  llvm::DenseMap<const Value *, size_t> LastUse;
  size_t Index = 0;
  for (auto &Op : F.Body) {
    for (Value *V : Op->Operands)
      LastUse[V] = Index;
    ++Index;
  }
  for (Value *V : F.Outputs)
    LastUse[V] = F.Body.size();
  C->DiesAfter.resize(F.Body.size());
  for (auto &Op : F.Body)
    for (auto &R : Op->Results) {
      auto It = LastUse.find(R.get());
      if (It != LastUse.end() && It->second < F.Body.size())
        C->DiesAfter[It->second].push_back(R.get());
    }
  C->Jit = std::move(*J);
  for (int KI : KernelOf) {
    if (KI < 0) {
      C->Kernels.push_back(nullptr);
      C->ParallelKernel.push_back(false);
      continue;
    }
    auto Fn = C->Jit->lookup(Ks[KI]->Name);
    if (!Fn)
      return Fn.takeError();
    C->Kernels.push_back(*Fn);
    C->ParallelKernel.push_back(Ks[KI]->isParallel());
  }
  return C;
}

/// Checks run-time inputs against the signature and binds symbolic dims.
static llvm::Error checkInputs(const Function &F, llvm::ArrayRef<Tensor> In) {
  if (In.size() != F.Inputs.size())
    return makeError("'@" + F.Name + "' takes " +
                     std::to_string(F.Inputs.size()) + " input(s), got " +
                     std::to_string(In.size()));
  llvm::StringMap<std::pair<int64_t, std::string>> Bound;
  for (size_t I = 0; I < In.size(); ++I) {
    const Value &V = *F.Inputs[I];
    const Tensor &T = In[I];
    std::string What = "input '" + V.Name + "'";
    if (T.elem() != V.Type.elem())
      return makeError(What + " must be " + V.Type.str() + ", got " +
                       dtypeName(T.elem()));
    if (T.rank() != V.Type.rank())
      return makeError(What + " must have rank " +
                       std::to_string(V.Type.rank()) + " (" + V.Type.str() +
                       "), got " + T.type().str());
    for (unsigned D = 0; D < T.rank(); ++D) {
      const Dim &Want = V.Type.dim(D);
      int64_t Got = T.shape()[D];
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

/// Gather indices must lie in [-dim, dim): checked before the kernel runs,
/// which then only normalizes negative ones.
static llvm::Error checkGatherIndices(const Operation &Op, const Tensor &Data,
                                      const Tensor &Idx) {
  int64_t Axis = Op.getInt("axis");
  if (Axis < 0)
    Axis += Data.rank();
  int64_t N = Data.shape()[Axis];
  for (int64_t I = 0; I < Idx.numElements(); ++I) {
    int64_t V = Idx.getI(I);
    if (V < -N || V >= N)
      return makeError(Op.L, "'gather': index " + std::to_string(V) +
                                 " is out of range for dim " +
                                 std::to_string(Axis) + " of size " +
                                 std::to_string(N));
  }
  return llvm::Error::success();
}

llvm::Expected<std::vector<Tensor>>
CompiledFunction::run(llvm::ArrayRef<Tensor> Inputs, uint64_t *PeakBytes) const {
  if (auto E = checkInputs(*F, Inputs))
    return std::move(E);
  llvm::DenseMap<const Value *, const Tensor *> Env;
  llvm::DenseMap<const Value *, std::unique_ptr<Tensor>> Owned;
  uint64_t Live = 0, Peak = 0;
  for (size_t I = 0; I < Inputs.size(); ++I)
    Env[F->Inputs[I].get()] = &Inputs[I];
  for (size_t I = 0; I < F->Params.size(); ++I) {
    if (I >= F->ParamInits.size() || !F->ParamInits[I])
      return makeError("parameter '" + F->Params[I]->Name + "' has no value");
    Env[F->Params[I].get()] = F->ParamInits[I]->getTensor().get();
  }
  size_t OpIndex = 0;
  for (auto &Op : F->Body) {
    KernelFn Fn = Kernels[OpIndex++];
    if (Op->kind() == OpKind::Constant) {
      Env[Op->result()] = Op->attr("value").getTensor().get();
      continue;
    }
    llvm::SmallVector<TensorType, 4> Types;
    llvm::SmallVector<const Tensor *, 4> Args;
    for (Value *V : Op->Operands) {
      Args.push_back(Env.lookup(V));
      Types.push_back(Args.back()->type());
    }
    auto RT = inferResultTypes(*Op, Types);
    if (!RT)
      return RT.takeError();
    if ((Op->kind() == OpKind::ArgMax || Op->kind() == OpKind::ArgMin) &&
        Args[0]->numElements() == 0 && (*RT)[0].numElements() != 0)
      return makeError(Op->L, "'" + Op->mnemonic() +
                                  "' cannot take the index of an empty axis");
    if (Op->kind() == OpKind::Gather)
      if (auto E = checkGatherIndices(*Op, *Args[0], *Args[1]))
        return std::move(E);
    std::vector<std::unique_ptr<Tensor>> Results;
    for (const TensorType &T : *RT)
      Results.push_back(std::make_unique<Tensor>(T.elem(), T.staticSizes()));
    if (isView(Op->kind())) {
      if (Results[0]->byteSize() != Args[0]->byteSize())
        return makeError(Op->L, "'" + Op->mnemonic() + "' cannot view " +
                                    Args[0]->type().str() + " as " +
                                    (*RT)[0].str());
      std::memcpy(Results[0]->data(), Args[0]->data(), Results[0]->byteSize());
    } else {
      llvm::SmallVector<BufferArg, 4> Bufs;
      for (const Tensor *T : Args)
        Bufs.push_back({const_cast<uint8_t *>(T->data()), T->shape().data()});
      for (auto &R : Results)
        Bufs.push_back({R->data(), R->shape().data()});
      // Waking threads costs microseconds: only results of at least 64 KiB
      // are worth splitting.
      uint64_t OutBytes = 0;
      for (auto &R : Results)
        OutBytes += R->byteSize();
      if (ParallelKernel[OpIndex - 1] && Pool->threads() > 1 &&
          OutBytes >= (64u << 10)) {
        int64_t Chunks = Pool->threads();
        Pool->parallelFor(Chunks, [&](int64_t C) { Fn(Bufs.data(), C, Chunks); });
      } else {
        Fn(Bufs.data(), 0, 1);
      }
    }
    for (unsigned I = 0; I < Results.size(); ++I) {
      Env[Op->result(I)] = Results[I].get();
      Live += Results[I]->byteSize();
      Owned[Op->result(I)] = std::move(Results[I]);
    }
    Peak = std::max(Peak, Live);
    // Free the intermediates this op read for the last time.
    for (const Value *V : DiesAfter[OpIndex - 1]) {
      auto It = Owned.find(V);
      if (It == Owned.end())
        continue;
      Live -= It->second->byteSize();
      Owned.erase(It);
    }
  }
  if (PeakBytes)
    *PeakBytes = Peak;
  std::vector<Tensor> Outs;
  for (Value *V : F->Outputs)
    Outs.push_back(*Env.lookup(V));
  return Outs;
}
