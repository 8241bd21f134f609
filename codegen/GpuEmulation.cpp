// The CPU emulation of GPU-mapped kernels and their host functions.
//
// 1. emulationKernel copies the kernel (print and parse) and rewrites the
//    copy into an ordinary CPU kernel for one block: each `threads` region
//    becomes loops tz, ty, tx over the block's threads, so every thread runs
//    a region before any thread runs the next one; that is exactly what the
//    barriers between regions guarantee on the GPU. Barriers and the launch
//    go; `shared` becomes a `scratch` of the call (one block per call);
//    top-level per-thread `scratch` gets a leading thread dimension indexed
//    by the linear thread id; block ids and grid sizes are the sizes of an
//    extra argument `%gpu.ids`. Warp shuffles and mma were first rewritten
//    into shared-memory exchanges between split regions (lowerWarpOps).
// 2. The LLVM emitter compiles that kernel like any CPU kernel; hand-built
//    wrappers give the GpuAbi.h functions: `.launch` runs the kernel's
//    pre-launch index arithmetic on the host buffers' sizes, `.emulate`
//    appends the ids argument and runs one block, `.grid` runs a chunk of
//    all the blocks (a KernelFn, so exec/Executable runs a whole graph
//    through the emulation, blocks spread over its threads).
#include "codegen/GpuEmulation.h"
#include "codegen/GpuEmitter.h"

#include "ir/Location.h"
#include "kernel/KernelParser.h"
#include "kernel/Schedule.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"

using namespace dlc;
using namespace dlc::kir;

std::string dlc::gpuEmulateName(llvm::StringRef K) { return (K + ".emulate").str(); }
std::string dlc::gpuLaunchName(llvm::StringRef K) { return (K + ".launch").str(); }
std::string dlc::gpuGridName(llvm::StringRef K) { return (K + ".grid").str(); }

namespace {
class EmuRewrite {
public:
  EmuRewrite(Kernel &C, const KOp &L) : C(C) {
    for (int I = 0; I < 3; ++I)
      Blk[I] = L.Block[I];
    NT = Blk[0] * Blk[1] * Blk[2];
  }

  llvm::Error run() {
    auto A = std::make_unique<KValue>();
    A->Name = "gpu.ids";
    A->IsBuffer = true;
    A->BufType = TensorType(DType::I64, Shape(6, Dim::unknown()));
    Ids = A.get();
    C.Args.push_back(std::move(A));
    rewrite(C.Body, true);
    C.Name += ".emu";
    return verifyKernel(C);
  }

private:
  static void replace(std::unique_ptr<KOp> &Slot, std::unique_ptr<KOp> New) {
    New->Result = std::move(Slot->Result);
    New->Result->Def = New.get();
    Slot = std::move(New);
  }

  void rewrite(std::vector<std::unique_ptr<KOp>> &Ops, bool Top) {
    std::vector<std::unique_ptr<KOp>> Out;
    for (auto &Op : Ops) {
      switch (Op->kind()) {
      case KOpKind::Launch:
      case KOpKind::Barrier:
        continue; // regions already run one after the other
      case KOpKind::GpuIndex: {
        int64_t Axis = Op->IntValue;
        std::unique_ptr<KOp> New;
        switch (Op->GpuId) {
        case GpuIdKind::BlockId:
        case GpuIdKind::GridDim:
          New = std::make_unique<KOp>(KOpKind::Dim);
          New->Operands = {Ids};
          New->IntValue = Axis + (Op->GpuId == GpuIdKind::GridDim ? 3 : 0);
          break;
        case GpuIdKind::BlockDim:
          New = std::make_unique<KOp>(KOpKind::ConstIndex);
          New->IntValue = Blk[Axis];
          break;
        case GpuIdKind::ThreadId:
          New = std::make_unique<KOp>(KOpKind::IndexArith);
          New->IOp = IndexOp::Min;
          New->Operands = {Tid[Axis], Tid[Axis]};
          break;
        }
        replace(Op, std::move(New));
        break;
      }
      case KOpKind::Shared:
        replace(Op, std::make_unique<KOp>(KOpKind::Scratch));
        break;
      case KOpKind::Scratch:
        if (Top && NT > 1) { // private to each thread, across regions
          Shape S = Op->Result->BufType.dims();
          S.insert(S.begin(), Dim::fixed(NT));
          Op->Result->BufType = TensorType(Op->Result->BufType.elem(), S);
          Expanded.insert(Op->Result.get());
        }
        break;
      case KOpKind::Load:
        if (Expanded.count(Op->Operands[0]))
          Op->Operands.insert(Op->Operands.begin() + 1, Lin);
        break;
      case KOpKind::Store:
        if (Expanded.count(Op->Operands[1]))
          Op->Operands.insert(Op->Operands.begin() + 2, Lin);
        break;
      case KOpKind::Dim:
        if (Expanded.count(Op->Operands[0]))
          ++Op->IntValue;
        break;
      case KOpKind::For:
        rewrite(Op->Body, false);
        break;
      case KOpKind::Threads: {
        std::vector<std::unique_ptr<KOp>> Repl;
        KBuilder B(C, Repl, "emu" + std::to_string(Region++) + "_");
        KValue *Zero = B.constIndex(0);
        KValue *N[3] = {B.constIndex(Blk[0]), B.constIndex(Blk[1]),
                        B.constIndex(Blk[2])};
        Tid[2] = B.beginFor(Zero, N[2]);
        Tid[1] = B.beginFor(Zero, N[1]);
        Tid[0] = B.beginFor(Zero, N[0]);
        Lin = B.index(IndexOp::Add,
                      B.index(IndexOp::Mul,
                              B.index(IndexOp::Add,
                                      B.index(IndexOp::Mul, Tid[2], N[1]), Tid[1]),
                              N[0]),
                      Tid[0]);
        KOp *Inner = B.endFor();
        B.endFor();
        B.endFor();
        rewrite(Op->Body, false);
        for (auto &X : Op->Body)
          Inner->Body.push_back(std::move(X));
        for (auto &X : Repl)
          Out.push_back(std::move(X));
        continue;
      }
      default:
        break;
      }
      Out.push_back(std::move(Op));
    }
    Ops = std::move(Out);
  }

  Kernel &C;
  int64_t Blk[3], NT;
  KValue *Ids = nullptr, *Tid[3] = {}, *Lin = nullptr;
  llvm::DenseSet<const KValue *> Expanded;
  unsigned Region = 0;
};
} // namespace

llvm::Expected<std::unique_ptr<Kernel>> dlc::emulationKernel(const Kernel &K) {
  if (!K.isGpu())
    return makeError("kernel @" + K.Name + " is not GPU-mapped");
  auto Copy = parseKernels(toString(K), "<" + K.Name + ">", 1);
  if (!Copy)
    return Copy.takeError();
  std::unique_ptr<Kernel> C = std::move((*Copy)[0]);
  if (auto E = lowerWarpOps(*C))
    return std::move(E);
  if (auto E = EmuRewrite(*C, *C->launch()).run())
    return std::move(E);
  return std::move(C);
}

llvm::Error dlc::emitGpuHostFunctions(const Kernel &K, llvm::Module &M) {
  llvm::LLVMContext &Ctx = M.getContext();
  llvm::IRBuilder<> B(Ctx);
  llvm::Type *Ptr = B.getPtrTy(), *I64 = B.getInt64Ty(), *I32 = B.getInt32Ty();
  llvm::StructType *ArgTy = llvm::StructType::get(Ctx, {Ptr, Ptr});
  auto *Arr3 = llvm::ArrayType::get(I32, 3);
  llvm::StructType *LaunchTy = llvm::StructType::get(Ctx, {Arr3, Arr3, I32});
  llvm::Function *Emu = M.getFunction(K.Name + ".emu");
  if (!Emu)
    return makeError("kernel @" + K.Name + ": no emulation kernel in the module");
  const KOp *L = K.launch();

  // .launch(args, out): the pre-launch index arithmetic on host sizes.
  auto *LaunchFn = llvm::Function::Create(
      llvm::FunctionType::get(B.getVoidTy(), {Ptr, Ptr}, false),
      llvm::Function::ExternalLinkage, gpuLaunchName(K.Name), M);
  B.SetInsertPoint(llvm::BasicBlock::Create(Ctx, "entry", LaunchFn));
  llvm::DenseMap<const KValue *, llvm::Value *> V;
  for (auto &Op : K.Body) {
    if (Op.get() == L)
      break;
    llvm::Value *R = nullptr;
    switch (Op->kind()) {
    case KOpKind::ConstIndex:
      R = B.getInt64(Op->IntValue);
      break;
    case KOpKind::Dim: {
      const KValue *Buf = Op->Operands[0];
      const Dim &D = Buf->BufType.dim(Op->IntValue);
      if (D.isStatic()) {
        R = B.getInt64(D.size());
        break;
      }
      size_t I = 0;
      while (K.Args[I].get() != Buf)
        ++I;
      llvm::Value *Slot = B.CreateConstGEP1_64(ArgTy, LaunchFn->getArg(0), I);
      llvm::Value *Sizes = B.CreateLoad(Ptr, B.CreateStructGEP(ArgTy, Slot, 1));
      R = B.CreateLoad(I64, B.CreateConstGEP1_64(I64, Sizes, Op->IntValue));
      break;
    }
    case KOpKind::IndexArith: {
      llvm::Value *X = V.lookup(Op->Operands[0]), *Y = V.lookup(Op->Operands[1]);
      switch (Op->IOp) {
      case IndexOp::Add: R = B.CreateAdd(X, Y); break;
      case IndexOp::Sub: R = B.CreateSub(X, Y); break;
      case IndexOp::Mul: R = B.CreateMul(X, Y); break;
      case IndexOp::Div: R = B.CreateSDiv(X, Y); break;
      case IndexOp::Rem: R = B.CreateSRem(X, Y); break;
      case IndexOp::Min: R = B.CreateBinaryIntrinsic(llvm::Intrinsic::smin, X, Y); break;
      case IndexOp::Max: R = B.CreateBinaryIntrinsic(llvm::Intrinsic::smax, X, Y); break;
      }
      break;
    }
    default: // float constants: not used by the grid
      continue;
    }
    V[Op->Result.get()] = R;
  }
  llvm::Value *Out = LaunchFn->getArg(1);
  for (unsigned I = 0; I < 3; ++I) {
    llvm::Value *G = B.CreateBinaryIntrinsic(
        llvm::Intrinsic::smax,
        B.CreateBinaryIntrinsic(llvm::Intrinsic::smin, V.lookup(L->Operands[I]),
                                B.getInt64(0x7fffffff)),
        B.getInt64(0));
    B.CreateStore(B.CreateTrunc(G, I32), B.CreateConstGEP2_32(Arr3, B.CreateStructGEP(LaunchTy, Out, 0), 0, I));
    B.CreateStore(B.getInt32(uint32_t(L->Block[I])),
                  B.CreateConstGEP2_32(Arr3, B.CreateStructGEP(LaunchTy, Out, 1), 0, I));
  }
  B.CreateStore(B.getInt32(0), B.CreateStructGEP(LaunchTy, Out, 2));
  B.CreateRetVoid();

  // .emulate(args, launch, bx, by, bz): one block.
  auto *EmuFn = llvm::Function::Create(
      llvm::FunctionType::get(B.getVoidTy(), {Ptr, Ptr, I32, I32, I32}, false),
      llvm::Function::ExternalLinkage, gpuEmulateName(K.Name), M);
  B.SetInsertPoint(llvm::BasicBlock::Create(Ctx, "entry", EmuFn));
  size_t N = K.Args.size();
  auto *ArgsCopy = B.CreateAlloca(llvm::ArrayType::get(ArgTy, N + 1));
  auto *IdsArr = B.CreateAlloca(llvm::ArrayType::get(I64, 6));
  if (N)
    B.CreateMemCpy(ArgsCopy, llvm::MaybeAlign(8), EmuFn->getArg(0),
                   llvm::MaybeAlign(8), N * 16);
  for (unsigned I = 0; I < 3; ++I) {
    B.CreateStore(B.CreateZExt(EmuFn->getArg(2 + I), I64),
                  B.CreateConstGEP1_64(I64, IdsArr, I));
    llvm::Value *G = B.CreateLoad(
        I32, B.CreateConstGEP2_32(Arr3, B.CreateStructGEP(LaunchTy, EmuFn->getArg(1), 0), 0, I));
    B.CreateStore(B.CreateZExt(G, I64), B.CreateConstGEP1_64(I64, IdsArr, 3 + I));
  }
  llvm::Value *Last = B.CreateConstGEP1_64(ArgTy, ArgsCopy, N);
  B.CreateStore(llvm::ConstantPointerNull::get(B.getPtrTy()), B.CreateStructGEP(ArgTy, Last, 0));
  B.CreateStore(IdsArr, B.CreateStructGEP(ArgTy, Last, 1));
  B.CreateCall(Emu, {ArgsCopy, B.getInt64(0), B.getInt64(1)});
  B.CreateRetVoid();

  // .grid(args, chunk, chunks): blocks [T*c/n, T*(c+1)/n) of T.
  auto *GridFn = llvm::Function::Create(
      llvm::FunctionType::get(B.getVoidTy(), {Ptr, I64, I64}, false),
      llvm::Function::ExternalLinkage, gpuGridName(K.Name), M);
  auto *Entry = llvm::BasicBlock::Create(Ctx, "entry", GridFn);
  B.SetInsertPoint(Entry);
  auto *Launch = B.CreateAlloca(LaunchTy);
  B.CreateCall(LaunchFn, {GridFn->getArg(0), Launch});
  llvm::Value *G[3];
  for (unsigned I = 0; I < 3; ++I)
    G[I] = B.CreateZExt(
        B.CreateLoad(I32, B.CreateConstGEP2_32(Arr3, B.CreateStructGEP(LaunchTy, Launch, 0), 0, I)),
        I64);
  llvm::Value *Total = B.CreateMul(B.CreateMul(G[0], G[1]), G[2]);
  llvm::Value *C = GridFn->getArg(1), *NC = GridFn->getArg(2);
  llvm::Value *First = B.CreateSDiv(B.CreateMul(Total, C), NC);
  llvm::Value *End = B.CreateSDiv(B.CreateMul(Total, B.CreateAdd(C, B.getInt64(1))), NC);
  auto *Head = llvm::BasicBlock::Create(Ctx, "head", GridFn);
  auto *Body = llvm::BasicBlock::Create(Ctx, "body", GridFn);
  auto *Exit = llvm::BasicBlock::Create(Ctx, "exit", GridFn);
  B.CreateBr(Head);
  B.SetInsertPoint(Head);
  llvm::PHINode *Bk = B.CreatePHI(I64, 2);
  Bk->addIncoming(First, Entry);
  B.CreateCondBr(B.CreateICmpSLT(Bk, End), Body, Exit);
  B.SetInsertPoint(Body);
  llvm::Value *BX = B.CreateURem(Bk, G[0]);
  llvm::Value *Rest = B.CreateUDiv(Bk, G[0]);
  llvm::Value *BY = B.CreateURem(Rest, G[1]);
  llvm::Value *BZ = B.CreateUDiv(Rest, G[1]);
  B.CreateCall(EmuFn, {GridFn->getArg(0), Launch, B.CreateTrunc(BX, I32),
                       B.CreateTrunc(BY, I32), B.CreateTrunc(BZ, I32)});
  Bk->addIncoming(B.CreateAdd(Bk, B.getInt64(1)), Body);
  B.CreateBr(Head);
  B.SetInsertPoint(Exit);
  B.CreateRetVoid();
  return llvm::Error::success();
}

llvm::Error dlc::mapKernelsForGpu(LoweredFunction &L, const GpuOptions &G) {
  for (auto &K : L.Kernels) {
    if (auto E = gpuRows(*K, G.RowThreads))
      return E;
    if (auto E = gpuMapLoops(*K, 256))
      return E;
  }
  return llvm::Error::success();
}

llvm::Expected<LoweredFunction>
dlc::lowerFunctionForGpu(const Function &F, const GpuOptions &G) {
  LowerOptions O;
  O.Gpu = true;
  O.Tf32 = G.Tf32;
  O.Bf16 = G.Bf16;
  O.RowThreads = G.RowThreads;
  auto L = lowerFunction(F, O);
  if (!L)
    return L.takeError();
  if (auto E = mapKernelsForGpu(*L, G))
    return std::move(E);
  return L;
}
