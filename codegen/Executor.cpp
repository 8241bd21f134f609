// The CPU graph executor, compile side (the run side is exec/Executable,
// shared with AOT artifacts).
//
// 1. Ops without a lowering are collected and reported in one error.
// 2. exec/Steps splits the function into constant, view and kernel steps
//    (one kernel per fusion group).
// 3. Each kernel step is lowered to kernel IR, named k<number>_<ops>; an
//    in-place pair is marked so the LLVM emitter keeps the two buffers in
//    one alias scope.
// 4. The JIT compiles the kernels and fills the executor's table.
#include "codegen/Executor.h"
#include "interp/Interpreter.h"
#include "interp/ControlFlow.h"

#include "codegen/ScalarOps.h"
#include "ir/ShapeInference.h"
#include "kernel/Lowering.h"
#include "kernel/Schedule.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/TargetParser/Host.h"

#include <cstdlib>
#include <map>

using namespace dlc;

CompiledFunction::~CompiledFunction() = default;

/// The host's widest vector register in bytes (64 with AVX-512, 32 with
/// AVX2). DLC_VECTOR_BYTES=16|32|64 overrides it, so that kernel IR can be
/// compared across machines (the lit tests that check it).
unsigned dlc::hostVectorBytes() {
  static const unsigned Bytes = [] {
    if (const char *S = std::getenv("DLC_VECTOR_BYTES")) {
      llvm::StringRef V(S);
      if (V == "16" || V == "32" || V == "64")
        return unsigned(std::stoi(S));
    }
    llvm::StringMap<bool> F = llvm::sys::getHostCPUFeatures();
    return F.lookup("avx512f") ? 64u : F.lookup("avx") ? 32u : 16u;
  }();
  return Bytes;
}

/// Float matmuls of a 2-D a get the register-blocked kernel; the rest
/// (batched a, 1-D operands, integers) the general loop nest.
static llvm::Expected<std::unique_ptr<kir::Kernel>>
lowerMatMulFor(const Operation &Op, llvm::StringRef Name) {
  if (isBlockedMatMul(Op))
    return lowerMatMulBlocked(Op, Name, hostVectorBytes());
  return lowerMatMul(Op, Name);
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
  case OpKind::Round: case OpKind::Sin: case OpKind::Cos: case OpKind::Atan:
  case OpKind::Not:
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
  case OpKind::MaxPoolGrad:
    return lowerMaxPoolGrad;
  case OpKind::Transpose:
    return lowerTranspose;
  case OpKind::OneHot:
    return lowerOneHot;
  case OpKind::Concat: case OpKind::Split: case OpKind::Slice: case OpKind::Pad:
  case OpKind::Gather: case OpKind::Expand: case OpKind::Tile:
  case OpKind::ShapeOf: case OpKind::Iota: case OpKind::ResizeCoords:
    return lowerCopy;
  // Views and constants need no kernel (see isView and run()).
  case OpKind::Identity: case OpKind::Reshape: case OpKind::Flatten:
  case OpKind::Squeeze: case OpKind::Unsqueeze: case OpKind::Constant:
  case OpKind::BitCast:
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
  // String ops (and any op on str tensors) run as host steps.
  case OpKind::StringNormalizer: case OpKind::StringConcat:
  case OpKind::StringSplit: case OpKind::RegexFullMatch:
  case OpKind::LabelEncoder:
  // Ops whose result sizes come from the data run as host steps too.
  case OpKind::NonZero: case OpKind::Unique: case OpKind::NonMaxSuppression:
  // Collectives call the run's communicator from a host step.
  case OpKind::AllReduceSum:
  // Control flow runs its compiled regions from a host step.
  case OpKind::If: case OpKind::Loop: case OpKind::Scan:
    return nullptr;
  }
  llvm_unreachable("bad op kind");
}

bool CompiledFunction::supports(const Operation &Op) {
  return Op.kind() == OpKind::Constant || isViewOp(Op.kind()) ||
         runsOnHost(Op) || kernelLowering(Op) != nullptr;
}

llvm::Expected<LoweredFunction> dlc::lowerFunction(const Function &F,
                                                   const LowerOptions &O) {
  std::string Unsupported;
  for (auto &Op : F.Body)
    if (!CompiledFunction::supports(*Op))
      Unsupported += "\n  " + Op->L.str() + ": '" + Op->mnemonic().str() +
                     "' on " + (Op->numOperands() ? Op->operand(0)->Type.str()
                                                  : std::string("no operands"));
  if (!Unsupported.empty())
    return makeError("'@" + F.Name +
                     "' has ops without a CPU lowering yet (run it with the "
                     "interpreter instead):" + Unsupported);
  auto Steps = planSteps(F, O.Gpu);
  if (!Steps)
    return Steps.takeError();
  LoweredFunction L;
  for (const LoweredStep &S : *Steps) {
    if (S.K != LoweredStep::Kind::Kernel)
      continue;
    std::string Name = "k" + std::to_string(S.Kernel) + "_";
    llvm::Expected<std::unique_ptr<kir::Kernel>> K = nullptr;
    if (S.Plan) {
      for (const Operation *GOp : S.Plan->Ops)
        Name += GOp->mnemonic().str() + (GOp == S.Op ? "" : "_");
      K = lowerFusedGroup(*S.Plan, Name, hostVectorBytes(), O.Gpu, O.Tf32,
                          O.Bf16);
    } else if (O.Gpu && isBlockedMatMul(*S.Op)) {
      K = lowerGpuMatMul(*S.Op, Name + S.Op->mnemonic().str(), O.Tf32,
                         O.Bf16);
    } else if (O.Gpu && S.Op->kind() == OpKind::Conv) {
      K = lowerConvForGpu(*S.Op, Name + S.Op->mnemonic().str());
    } else if (O.Gpu && S.Op->kind() == OpKind::MaxPool) {
      K = lowerPoolForGpu(*S.Op, Name + S.Op->mnemonic().str());
    } else if (O.Gpu && (S.Op->kind() == OpKind::ArgMax ||
                         S.Op->kind() == OpKind::ArgMin) &&
               S.Op->operand(0)->Type.elem() != DType::Bool) {
      K = lowerArgReduceForGpu(*S.Op, Name + S.Op->mnemonic().str(),
                               O.RowThreads);
    } else if (O.Gpu && S.Op->kind() == OpKind::NonZero) {
      K = lowerNonZeroForGpu(*S.Op, Name + S.Op->mnemonic().str());
    } else if (O.Gpu && S.Op->kind() == OpKind::MaxPoolGrad) {
      K = lowerMaxPoolGradForGpu(*S.Op, Name + S.Op->mnemonic().str());
    } else {
      K = kernelLowering(*S.Op)(*S.Op, Name + S.Op->mnemonic().str());
    }
    if (!K)
      return K.takeError();
    // Long vector loops over the contiguous trailing dims, and a parallel
    // loop with iterations for every thread at batch 1.
    if (!O.Gpu) {
      if (auto E = kir::collapseLoops(**K, 8))
        return std::move(E);
      if (auto E = kir::spreadParallel(**K, 2))
        return std::move(E);
    }
    if (S.InPlaceIn >= 0)
      (*K)->MayAlias.push_back(
          {unsigned(S.InPlaceIn), unsigned(S.Ins.size() + S.InPlaceOut)});
    assert(size_t(S.Kernel) == L.Kernels.size() && "kernels out of order");
    L.Kernels.push_back(std::move(*K));
  }
  L.Steps = std::move(*Steps);
  return L;
}

CompiledFunction::CompiledFunction() = default;

llvm::Expected<std::unique_ptr<CompiledFunction>>
CompiledFunction::compile(const Function &F, const JitOptions &Opts,
                          unsigned Threads) {
  StopWatch LowerW;
  auto Lowered = lowerFunction(F);
  if (!Lowered)
    return Lowered.takeError();
  if (Opts.Stats)
    Opts.Stats->Lower += LowerW.seconds();
  auto J = JitModule::compile(Lowered->kernelList(), Opts);
  if (!J)
    return J.takeError();
  std::vector<KernelEntry> Table;
  for (auto &K : Lowered->Kernels) {
    auto Found = (*J)->lookup(K->Name);
    if (!Found)
      return Found.takeError();
    Table.push_back({*Found, K->isParallel()});
  }
  std::unique_ptr<CompiledFunction> C(new CompiledFunction());
  C->Jit = std::move(*J);
  C->Kernels = std::move(Lowered->Kernels);
  C->OptLevel = Opts.OptLevel;
  // Host steps (ops on str tensors) run the reference interpreter's kernels.
  auto X = Executable::create(F, std::move(Lowered->Steps), std::move(Table),
                              Threads, &evaluateOp);
  if (!X)
    return X.takeError();
  C->Exec = std::move(*X);
  // Control flow: each region is compiled once, as a function of its own
  // (its fused kernels included), and run per branch taken or iteration.
  for (auto &Op : F.Body)
    for (auto &R : Op->Regions) {
      auto RC = compile(*R, Opts, Threads);
      if (!RC)
        return RC.takeError();
      C->RegionOf[R.get()] = RC->get();
      C->Regions.push_back(std::move(*RC));
    }
  if (!C->Regions.empty()) {
    const CompiledFunction *Self = C.get();
    C->Exec->setControlFlow(
        [Self](const Operation &Op, llvm::ArrayRef<const Tensor *> Args) {
          return runControlFlow(
              Op, Args,
              [Self](const Function &R, llvm::ArrayRef<Tensor> In)
                  -> llvm::Expected<std::vector<Tensor>> {
                const CompiledFunction *RC = Self->RegionOf.lookup(&R);
                if (!RC)
                  return makeError(R.L, "internal error: region '" + R.Name +
                                            "' was not compiled");
                return RC->run(In);
              });
        });
  }
  return C;
}

std::string CompiledFunction::llvmIR() const {
  std::vector<const kir::Kernel *> Ks;
  for (auto &K : Kernels)
    Ks.push_back(K.get());
  llvm::SmallString<0> Buf;
  llvm::raw_svector_ostream VOS(Buf);
  if (auto E = emitKernels(Ks, OptLevel, EmitKind::LLVM, VOS))
    return "; error: " + llvm::toString(std::move(E)) + "\n";
  return std::string(Buf.str());
}
