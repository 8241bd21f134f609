// Kernel IR to LLVM IR, and the host optimization pipeline.
//
// 1. The function takes one pointer to an array of {data, sizes} pairs; the
//    entry block loads each buffer's data pointer and sizes and computes its
//    row-major strides once.
// 2. Loops become a header/body/latch CFG with the induction variable as a
//    phi; `vectorize(W)` and `unroll(U)` become llvm.loop metadata that the
//    loop vectorizer and unroller honour.
// 3. Scalar ops compute in the element type (f16 and bf16 in f32); each
//    elementwise op of the graph maps to LLVM instructions or intrinsics with
//    the interpreter's semantics (NaN propagation in max/min, saturating
//    float-to-int casts, round half to even).
// 4. `local` is an alloca in the entry block, which mem2reg promotes;
//    `scratch` is a 64-byte aligned array alloca there (each thread runs
//    the function on its own stack, so it is private to the thread).
// 5. Every buffer gets its own alias scope, and float ops may contract into
//    FMAs; the optimizer runs with the host's target machine so the
//    vectorizer uses its registers.
#include "codegen/LLVMEmitter.h"
#include "codegen/KernelEmitter.h"

#include "codegen/ScalarOps.h"
#include "ir/Location.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/MDBuilder.h"
#include "llvm/IR/PassTimingInfo.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Passes/StandardInstrumentations.h"

#include <optional>

using namespace dlc;
using namespace dlc::kir;


llvm::Value *KernelEmitter::makeFunction() {
  llvm::Type *Ptr = B.getPtrTy();
  auto *FT = llvm::FunctionType::get(
      B.getVoidTy(), {Ptr, B.getInt64Ty(), B.getInt64Ty()}, false);
  Fn = llvm::Function::Create(FT, llvm::Function::ExternalLinkage, K.Name, M);
  Fn->addFnAttr(llvm::Attribute::NoUnwind);
  Fn->getArg(0)->setName("args");
  Fn->getArg(1)->setName("chunk");
  Fn->getArg(2)->setName("chunks");
  Entry = llvm::BasicBlock::Create(Ctx, "entry", Fn);
  B.SetInsertPoint(Entry);
  return Fn->getArg(0);
}

llvm::Error KernelEmitter::gpuOp(const KOp &Op, llvm::Value *&R) {
  // GPU-mapped kernels reach the CPU only through the emulation rewrite
  // (codegen/GpuEmulation.cpp), which removes these ops.
  return fail("GPU op in a CPU kernel (emulate it or emit it for nvptx)");
}

llvm::Value *KernelEmitter::roundTf32(llvm::Value *X) {
  // Round to nearest, ties away from zero, at the 13th bit: add half of the
  // dropped part's unit and clear it. Infinities and NaN stay as they are.
  llvm::Type *IT = B.getInt32Ty();
  if (auto *VT = llvm::dyn_cast<llvm::VectorType>(X->getType()))
    IT = llvm::VectorType::get(IT, VT->getElementCount());
  llvm::Value *U = B.CreateBitCast(X, IT);
  auto C = [&](uint32_t V) { return llvm::ConstantInt::get(IT, V); };
  llvm::Value *Rounded = B.CreateAnd(B.CreateAdd(U, C(0x1000)), C(0xffffe000));
  llvm::Value *Finite =
      B.CreateICmpNE(B.CreateAnd(U, C(0x7f800000)), C(0x7f800000));
  return B.CreateBitCast(B.CreateSelect(Finite, Rounded, U), X->getType());
}

llvm::Value *KernelEmitter::roundBf16(llvm::Value *X) {
  // Round to nearest, ties to even, at the 17th bit (cvt.rn.bf16.f32):
  // add 0x7fff plus the kept part's lowest bit, clear the dropped half.
  // NaN stays NaN (its payload's top bits kept, made quiet); infinities
  // stay; values rounding past the largest bf16 become infinities.
  llvm::Type *IT = B.getInt32Ty();
  if (auto *VT = llvm::dyn_cast<llvm::VectorType>(X->getType()))
    IT = llvm::VectorType::get(IT, VT->getElementCount());
  llvm::Value *U = B.CreateBitCast(X, IT);
  auto C = [&](uint32_t V) { return llvm::ConstantInt::get(IT, V); };
  llvm::Value *Odd = B.CreateAnd(B.CreateLShr(U, C(16)), C(1));
  llvm::Value *Rounded = B.CreateAnd(
      B.CreateAdd(U, B.CreateAdd(C(0x7fff), Odd)), C(0xffff0000));
  llvm::Value *NaN = B.CreateICmpUGT(B.CreateAnd(U, C(0x7fffffff)),
                                     C(0x7f800000));
  llvm::Value *Quiet = B.CreateAnd(B.CreateOr(U, C(0x00400000)), C(0xffff0000));
  return B.CreateBitCast(B.CreateSelect(NaN, Quiet, Rounded), X->getType());
}

llvm::Value *KernelEmitter::truncBf16(llvm::Value *X) {
  // The upper half of the rounded value. LLVM's fptrunc to bfloat becomes a
  // call of __truncsfbf2 on CPUs without AVX512-BF16 (Zen 3, most of
  // x86-64), which the JIT does not provide; this is the same rounding in
  // integer operations, on every target.
  llvm::Type *IT = B.getInt32Ty(), *HT = B.getInt16Ty(), *BT = B.getBFloatTy();
  if (auto *VT = llvm::dyn_cast<llvm::VectorType>(X->getType())) {
    IT = llvm::VectorType::get(IT, VT->getElementCount());
    HT = llvm::VectorType::get(HT, VT->getElementCount());
    BT = llvm::VectorType::get(BT, VT->getElementCount());
  }
  llvm::Value *U = B.CreateBitCast(roundBf16(X), IT);
  llvm::Value *High = B.CreateTrunc(B.CreateLShr(U, llvm::ConstantInt::get(IT, 16)), HT);
  return B.CreateBitCast(High, BT);
}

llvm::Error KernelEmitter::run() {
  llvm::Type *Ptr = B.getPtrTy();
  llvm::Value *ArgsPtr = makeFunction();
  // a * b + c may become one fused multiply-add (rounded once): the only
  // floating-point liberty the emitter takes.
  llvm::FastMathFlags FMF;
  FMF.setAllowContract(true);
  B.setFastMathFlags(FMF);
  llvm::StructType *ArgTy = llvm::StructType::get(Ctx, {Ptr, Ptr});
  for (size_t I = 0; I < K.Args.size(); ++I) {
    const KValue *A = K.Args[I].get();
    llvm::Value *Slot = B.CreateConstGEP1_64(ArgTy, ArgsPtr, I);
    BufInfo Info;
    Info.Data = dataPointer(
        B.CreateLoad(Ptr, B.CreateStructGEP(ArgTy, Slot, 0), A->Name + ".data"));
    llvm::Value *SizesPtr =
        B.CreateLoad(Ptr, B.CreateStructGEP(ArgTy, Slot, 1), A->Name + ".sizes");
    unsigned R = A->BufType.rank();
    for (unsigned D = 0; D < R; ++D) {
      const Dim &Dm = A->BufType.dim(D);
      Info.Sizes.push_back(
          Dm.isStatic() ? static_cast<llvm::Value *>(B.getInt64(Dm.size()))
                        : B.CreateLoad(B.getInt64Ty(),
                                       B.CreateConstGEP1_64(B.getInt64Ty(), SizesPtr, D)));
    }
    Info.Strides.resize(R);
    llvm::Value *S = B.getInt64(1);
    for (int D = int(R) - 1; D >= 0; --D) {
      Info.Strides[D] = S;
      S = B.CreateMul(S, Info.Sizes[D]);
    }
    Bufs[A] = std::move(Info);
  }
  // One alias scope per buffer.
  llvm::MDBuilder MDB(Ctx);
  llvm::MDNode *Domain = MDB.createAnonymousAliasScopeDomain(K.Name);
  // Arguments that may share storage (MayAlias) share a scope.
  std::vector<size_t> ScopeOf(K.Args.size());
  for (size_t I = 0; I < K.Args.size(); ++I)
    ScopeOf[I] = I;
  for (auto [A, C] : K.MayAlias)
    ScopeOf[std::max(A, C)] = ScopeOf[std::min(A, C)];
  std::vector<llvm::MDNode *> Scopes;
  for (size_t I = 0; I < K.Args.size(); ++I)
    Scopes.push_back(MDB.createAnonymousAliasScope(Domain, K.Args[I]->Name));
  for (size_t I = 0; I < K.Args.size(); ++I) {
    llvm::SmallVector<llvm::Metadata *, 4> Others;
    for (size_t J = 0; J < K.Args.size(); ++J)
      if (ScopeOf[J] != ScopeOf[I] && ScopeOf[J] == J)
        Others.push_back(Scopes[J]);
    BufInfo &Info = Bufs[K.Args[I].get()];
    Info.Scope = llvm::MDNode::get(Ctx, {Scopes[ScopeOf[I]]});
    Info.NoAlias = llvm::MDNode::get(Ctx, Others);
  }
  if (auto E = block(K.Body))
    return E;
  B.CreateRetVoid();
  std::string Err;
  llvm::raw_string_ostream OS(Err);
  if (llvm::verifyFunction(*Fn, &OS))
    return fail("emitted invalid LLVM IR: " + OS.str());
  return llvm::Error::success();
}

llvm::Value *KernelEmitter::address(const KOp &Op, size_t BufPos) {
  const KValue *Buf = Op.Operands[BufPos];
  const BufInfo &Info = Bufs.find(Buf)->second;
  llvm::Value *Lin = B.getInt64(0);
  for (size_t I = BufPos + 1; I < Op.Operands.size(); ++I)
    Lin = B.CreateNSWAdd(Lin, B.CreateNSWMul(get(Op.Operands[I]),
                                             Info.Strides[I - BufPos - 1]));
  return B.CreateInBoundsGEP(storageType(Buf->BufType.elem()), Info.Data, Lin);
}

llvm::Error KernelEmitter::block(const std::vector<std::unique_ptr<KOp>> &Ops) {
  for (const auto &O : Ops)
    if (auto E = op(*O))
      return E;
  return llvm::Error::success();
}

llvm::Error KernelEmitter::op(const KOp &Op) {
  llvm::Value *R = nullptr;
  switch (Op.kind()) {
  case KOpKind::ConstIndex:
    R = B.getInt64(Op.IntValue);
    break;
  case KOpKind::ConstFloat: {
    llvm::Type *T = computeType(Op.Result->Type);
    R = T->isFPOrFPVectorTy() ? llvm::ConstantFP::get(T, Op.FloatValue)
                               : llvm::ConstantInt::get(T, int64_t(Op.FloatValue), true);
    break;
  }
  case KOpKind::Dim:
    R = Bufs.find(Op.Operands[0])->second.Sizes[Op.IntValue];
    break;
  case KOpKind::IndexArith: {
    llvm::Value *X = get(Op.Operands[0]), *Y = get(Op.Operands[1]);
    switch (Op.IOp) {
    // Index values are element counts and coordinates of buffers whose
    // sizes were checked to fit in int64 (runtime/SizeMath.h): they never
    // wrap, and saying so lets LLVM see strided accesses (nsw).
    case IndexOp::Add: R = B.CreateNSWAdd(X, Y); break;
    case IndexOp::Sub: R = B.CreateNSWSub(X, Y); break;
    case IndexOp::Mul: R = B.CreateNSWMul(X, Y); break;
    case IndexOp::Div: R = B.CreateSDiv(X, Y); break;
    case IndexOp::Rem: R = B.CreateSRem(X, Y); break;
    case IndexOp::Min: R = B.CreateBinaryIntrinsic(llvm::Intrinsic::smin, X, Y); break;
    case IndexOp::Max: R = B.CreateBinaryIntrinsic(llvm::Intrinsic::smax, X, Y); break;
    }
    break;
  }
  case KOpKind::Scalar: {
    auto V = scalar(Op);
    if (!V)
      return V.takeError();
    R = *V;
    break;
  }
  case KOpKind::Load: {
    DType E = Op.Operands[0]->BufType.elem();
    llvm::Type *LT = storageType(E);
    if (Op.Result->Type.isVector())
      LT = llvm::FixedVectorType::get(LT, Op.Result->Type.Lanes);
    llvm::Instruction *L;
    unsigned Lanes = Op.Result->Type.Lanes, S = Op.Stride;
    if (S > 1) {
      // Lanes x Stride consecutive elements (up to the last lane's when
      // some lanes are invalid, so no byte past the row is read) and a
      // shuffle of every Stride-th: wide loads and permutes, not a gather.
      unsigned Span = Op.Valid ? (Op.Valid - 1) * S + 1 : Lanes * S;
      auto *WT = llvm::FixedVectorType::get(storageType(E), Lanes * S);
      if (Span < Lanes * S)
        L = B.CreateMaskedLoad(WT, address(Op, 0), llvm::Align(dtypeSize(E)),
                               laneMask(Lanes * S, Span),
                               llvm::Constant::getNullValue(WT));
      else
        L = B.CreateAlignedLoad(WT, address(Op, 0), llvm::Align(dtypeSize(E)));
      markAccess(L, Op.Operands[0]);
      llvm::SmallVector<int, 16> Pick;
      for (unsigned I = 0; I < Lanes; ++I)
        Pick.push_back(int(I * S));
      R = B.CreateShuffleVector(L, Pick);
    } else {
      if (Op.Valid) // the first Valid lanes; the others read as zero
        L = B.CreateMaskedLoad(LT, address(Op, 0), llvm::Align(dtypeSize(E)),
                               laneMask(Lanes, Op.Valid),
                               llvm::Constant::getNullValue(LT));
      else
        L = B.CreateAlignedLoad(LT, address(Op, 0), llvm::Align(dtypeSize(E)));
      markAccess(L, Op.Operands[0]);
      R = L;
    }
    if (E == DType::F16 || E == DType::BF16)
      R = B.CreateFPExt(R, computeType(Op.Result->Type));
    else if (E == DType::Bool)
      R = B.CreateICmpNE(R, llvm::Constant::getNullValue(R->getType()));
    break;
  }
  case KOpKind::Broadcast:
    R = B.CreateVectorSplat(Op.Result->Type.Lanes, get(Op.Operands[0]));
    break;
  case KOpKind::Store: {
    DType E = Op.Operands[1]->BufType.elem();
    llvm::Value *V = get(Op.Operands[0]);
    unsigned Lanes = Op.Operands[0]->Type.Lanes;
    auto lanes = [&](llvm::Type *T) -> llvm::Type * {
      return Lanes > 1 ? llvm::FixedVectorType::get(T, Lanes) : T;
    };
    if (E == DType::BF16)
      V = truncBf16(V);
    else if (E == DType::F16)
      V = B.CreateFPTrunc(V, lanes(storageType(E)));
    else if (E == DType::Bool)
      V = B.CreateZExt(V, lanes(B.getInt8Ty()));
    if (unsigned S = Op.Stride; S > 1) {
      // Lane i goes to element i * S of a Lanes x S wide masked store
      // (every S-th element, only valid lanes); the others keep theirs.
      unsigned Used = Op.Valid ? Op.Valid : Lanes;
      llvm::SmallVector<int, 32> Spread;
      llvm::SmallVector<llvm::Constant *, 32> Mask;
      for (unsigned J = 0; J < Lanes * S; ++J) {
        bool On = J % S == 0 && J / S < Used;
        Spread.push_back(J % S == 0 ? int(J / S) : -1);
        Mask.push_back(B.getInt1(On));
      }
      llvm::Value *Wide = B.CreateShuffleVector(V, Spread);
      markAccess(B.CreateMaskedStore(Wide, address(Op, 1), llvm::Align(dtypeSize(E)),
                                     llvm::ConstantVector::get(Mask)),
                 Op.Operands[1]);
    } else if (Op.Valid)
      markAccess(B.CreateMaskedStore(V, address(Op, 1), llvm::Align(dtypeSize(E)),
                                     laneMask(Lanes, Op.Valid)),
                 Op.Operands[1]);
    else
      markAccess(B.CreateAlignedStore(V, address(Op, 1), llvm::Align(dtypeSize(E))),
                 Op.Operands[1]);
    break;
  }
  case KOpKind::Local: {
    llvm::IRBuilder<> EB(Entry, Entry->begin());
    R = EB.CreateAlloca(computeType(Op.Result->Type));
    break;
  }
  case KOpKind::Scratch: {
    const TensorType &T = Op.Result->BufType;
    llvm::IRBuilder<> EB(Entry, Entry->begin());
    auto *Slot = EB.CreateAlloca(
        llvm::ArrayType::get(storageType(T.elem()), uint64_t(*T.numElements())));
    Slot->setAlignment(llvm::Align(64));
    BufInfo Info;
    Info.Data = Slot;
    for (int64_t S : T.staticSizes())
      Info.Sizes.push_back(B.getInt64(S));
    Info.Strides.resize(T.rank());
    int64_t Stride = 1;
    for (int D = int(T.rank()) - 1; D >= 0; --D) {
      Info.Strides[D] = B.getInt64(Stride);
      Stride *= T.dim(D).size();
    }
    Bufs[Op.Result.get()] = std::move(Info);
    R = Slot;
    break;
  }
  case KOpKind::Get:
    R = B.CreateLoad(computeType(Op.Result->Type), get(Op.Operands[0]));
    break;
  case KOpKind::Set:
    B.CreateStore(get(Op.Operands[1]), get(Op.Operands[0]));
    break;
  case KOpKind::For:
    return loop(Op);
  case KOpKind::RoundTf32:
    R = Op.IntValue ? roundBf16(get(Op.Operands[0]))
                    : roundTf32(get(Op.Operands[0]));
    break;
  case KOpKind::GpuIndex: case KOpKind::Barrier: case KOpKind::Shared:
  case KOpKind::Threads: case KOpKind::Launch: case KOpKind::Shuffle:
  case KOpKind::Mma:
    if (auto E = gpuOp(Op, R))
      return E;
    break;
  }
  if (Op.Result)
    Values[Op.Result.get()] = R;
  return llvm::Error::success();
}

/// Whether the iterations of innermost loop L touch disjoint elements of the
/// buffers it stores to: every store's last index is L's variable (and its
/// width at most L's step), and every load of a buffer stored in L, or of
/// one that may share its storage (an in-place pair), uses that store's
/// index. Then LLVM may vectorize L without run-time overlap checks, which
/// always fail for an elementwise kernel writing over its own operand.
static bool independentIterations(const Kernel &K, const KOp &L) {
  std::vector<const KOp *> Stores, Loads;
  for (const auto &Op : L.Body) {
    if (Op->kind() == KOpKind::For)
      return false; // not innermost
    if (Op->kind() == KOpKind::Store)
      Stores.push_back(Op.get());
    else if (Op->kind() == KOpKind::Load)
      Loads.push_back(Op.get());
  }
  if (Stores.empty())
    return false;
  auto argIndex = [&](const KValue *Buf) -> int {
    for (size_t I = 0; I < K.Args.size(); ++I)
      if (K.Args[I].get() == Buf)
        return int(I);
    return -1;
  };
  auto shares = [&](const KValue *A, const KValue *C) {
    if (A == C)
      return true;
    int IA = argIndex(A), IC = argIndex(C);
    for (auto [X, Y] : K.MayAlias)
      if ((int(X) == IA && int(Y) == IC) || (int(X) == IC && int(Y) == IA))
        return true;
    return false;
  };
  auto index = [](const KOp &Op, size_t BufPos) {
    return llvm::ArrayRef<KValue *>(Op.Operands).drop_front(BufPos + 1);
  };
  for (const KOp *S : Stores) {
    const KValue *Buf = S->Operands[1];
    llvm::ArrayRef<KValue *> Idx = index(*S, 1);
    if (Idx.empty() || Idx.back() != L.IndVar.get() ||
        int64_t(S->Operands[0]->Type.Lanes) > L.Step)
      return false;
    for (const KOp *Ld : Loads)
      if (shares(Ld->Operands[0], Buf) && index(*Ld, 0) != Idx)
        return false;
    for (const KOp *S2 : Stores)
      if (S2 != S && shares(S2->Operands[1], Buf) && index(*S2, 1) != Idx)
        return false;
  }
  return true;
}

llvm::Error KernelEmitter::loop(const KOp &Op) {
  llvm::BasicBlock *Pre = B.GetInsertBlock();
  auto *Header = llvm::BasicBlock::Create(Ctx, "loop.header", Fn);
  auto *Body = llvm::BasicBlock::Create(Ctx, "loop.body", Fn);
  auto *Exit = llvm::BasicBlock::Create(Ctx, "loop.exit", Fn);
  llvm::Value *Lo = get(Op.Operands[0]), *Hi = get(Op.Operands[1]);
  if (Op.Marks.Parallel) {
    // This thread's share of the iterations: with T = ceil((hi - lo) /
    // step) iterations, chunk c of n runs [T*c/n, T*(c+1)/n).
    llvm::Value *Step = B.getInt64(Op.Step);
    llvm::Value *Span = B.CreateBinaryIntrinsic(
        llvm::Intrinsic::smax, B.CreateSub(Hi, Lo), B.getInt64(0));
    llvm::Value *Trips =
        B.CreateSDiv(B.CreateAdd(Span, B.getInt64(Op.Step - 1)), Step);
    llvm::Value *C = Fn->getArg(1), *NC = Fn->getArg(2);
    llvm::Value *First = B.CreateSDiv(B.CreateMul(Trips, C), NC);
    llvm::Value *Last =
        B.CreateSDiv(B.CreateMul(Trips, B.CreateAdd(C, B.getInt64(1))), NC);
    llvm::Value *NewLo = B.CreateAdd(Lo, B.CreateMul(First, Step));
    Hi = B.CreateBinaryIntrinsic(llvm::Intrinsic::smin,
                                 B.CreateAdd(Lo, B.CreateMul(Last, Step)), Hi);
    Lo = NewLo;
  }
  B.CreateBr(Header);
  B.SetInsertPoint(Header);
  llvm::PHINode *IV = B.CreatePHI(B.getInt64Ty(), 2, Op.IndVar->Name);
  IV->addIncoming(Lo, Pre);
  B.CreateCondBr(B.CreateICmpSLT(IV, Hi), Body, Exit);
  B.SetInsertPoint(Body);
  Values[Op.IndVar.get()] = IV;
  llvm::MDNode *Group = nullptr;
  if (independentIterations(K, Op))
    Group = llvm::MDNode::getDistinct(Ctx, {});
  AccessGroup = Group;
  // A reassoc loop's float adds and multiplies may be reordered.
  llvm::FastMathFlags SavedFMF = B.getFastMathFlags();
  if (Op.Marks.Reassociate) {
    llvm::FastMathFlags FMF = SavedFMF;
    FMF.setAllowReassoc();
    B.setFastMathFlags(FMF);
  }
  llvm::Error BodyErr = block(Op.Body);
  B.setFastMathFlags(SavedFMF);
  AccessGroup = nullptr;
  if (BodyErr)
    return BodyErr;
  llvm::Value *Next = B.CreateAdd(IV, B.getInt64(Op.Step), "", /*NUW=*/false,
                                  /*NSW=*/true);
  llvm::BranchInst *Back = B.CreateBr(Header);
  IV->addIncoming(Next, B.GetInsertBlock());
  // Schedule marks become loop metadata.
  llvm::SmallVector<llvm::Metadata *, 4> MDs = {nullptr};
  auto flag = [&](llvm::StringRef Name, llvm::Metadata *V) {
    MDs.push_back(llvm::MDNode::get(Ctx, {llvm::MDString::get(Ctx, Name), V}));
  };
  auto i32 = [&](unsigned N) {
    return llvm::ConstantAsMetadata::get(B.getInt32(N));
  };
  if (Op.Marks.Vectorize == 1) {
    // Kept scalar: a width of 1 and no interleaving, not forced (a forced
    // transformation LLVM declines is a warning).
    flag("llvm.loop.vectorize.width", i32(1));
    flag("llvm.loop.interleave.count", i32(1));
  } else if (Op.Marks.Vectorize) {
    flag("llvm.loop.vectorize.enable", llvm::ConstantAsMetadata::get(B.getTrue()));
    flag("llvm.loop.vectorize.width", i32(Op.Marks.Vectorize));
  }
  if (Op.Marks.Unroll)
    flag("llvm.loop.unroll.count", i32(Op.Marks.Unroll));
  if (Op.Marks.MaskedTail) {
    // One vector loop whose last iteration masks the lanes past the end
    // (AVX-512 masked loads and stores), instead of a scalar remainder
    // that a short loop would spend all its time in.
    // (A hint, not vectorize.enable: a loop the vectorizer cannot take,
    // an integer pooling, say, must not make LLVM warn.)
    flag("llvm.loop.vectorize.predicate.enable",
         llvm::ConstantAsMetadata::get(B.getTrue()));
    // Unrolled in full first (a static 13-trip loop would be), it could
    // not be vectorized along its own iterations any more.
    MDs.push_back(llvm::MDNode::get(
        Ctx, {llvm::MDString::get(Ctx, "llvm.loop.unroll.disable")}));
  }
  if (Group)
    flag("llvm.loop.parallel_accesses", Group);
  if (MDs.size() > 1) {
    llvm::MDNode *Loop = llvm::MDNode::getDistinct(Ctx, MDs);
    Loop->replaceOperandWith(0, Loop);
    Back->setMetadata(llvm::LLVMContext::MD_loop, Loop);
  }
  B.SetInsertPoint(Exit);
  return llvm::Error::success();
}

llvm::Error dlc::emitKernel(const Kernel &K, llvm::Module &M) {
  if (auto E = verifyKernel(K))
    return E;
  return KernelEmitter(K, M).run();
}

void dlc::optimizeModule(llvm::Module &M, unsigned OptLevel,
                         llvm::TargetMachine *TM) {
  if (OptLevel == 0)
    return;
  llvm::LoopAnalysisManager LAM;
  llvm::FunctionAnalysisManager FAM;
  llvm::CGSCCAnalysisManager CGAM;
  llvm::ModuleAnalysisManager MAM;
  // With LLVM's -time-passes, the standard instrumentations report the IR
  // pipeline too, not only the code generator (per kernel). Otherwise they
  // stay off: they cost about 5% of the optimization time.
  llvm::PassInstrumentationCallbacks PIC;
  std::optional<llvm::StandardInstrumentations> SI;
  if (llvm::TimePassesIsEnabled) {
    SI.emplace(M.getContext(), /*DebugLogging=*/false);
    SI->registerCallbacks(PIC, &MAM);
  }
  llvm::PassBuilder PB(TM, llvm::PipelineTuningOptions(), std::nullopt,
                       SI ? &PIC : nullptr);
  PB.registerModuleAnalyses(MAM);
  PB.registerCGSCCAnalyses(CGAM);
  PB.registerFunctionAnalyses(FAM);
  PB.registerLoopAnalyses(LAM);
  PB.crossRegisterProxies(LAM, FAM, CGAM, MAM);
  llvm::OptimizationLevel L = OptLevel == 1   ? llvm::OptimizationLevel::O1
                              : OptLevel == 2 ? llvm::OptimizationLevel::O2
                                              : llvm::OptimizationLevel::O3;
  PB.buildPerModuleDefaultPipeline(L).run(M, MAM);
}

llvm::Expected<llvm::Value *> KernelEmitter::scalar(const KOp &Op) {
  llvm::SmallVector<llvm::Value *, 3> Args;
  for (const KValue *V : Op.Operands)
    Args.push_back(get(V));
  // The data type is the first operand's, except for where (operand 1).
  const KValue *Data = Op.Operands[Op.Scalar == OpKind::Where ? 1 : 0];
  ScalarOpInput In{Op.Scalar, Data->Type.Elem, Op.Result->Type.Elem, Args,
                   Op.ScalarAttrs};
  if (llvm::Value *V = scalarOp(In))
    return V;
  return fail("no CPU lowering for '" + getOpInfo(Op.Scalar).Mnemonic +
              "' on " + dtypeName(Data->Type.Elem));
}

bool dlc::emitterSupports(OpKind K, DType E) { return scalarOpSupported(K, E); }
