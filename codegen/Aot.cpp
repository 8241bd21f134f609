// Ahead-of-time compilation of one graph function.
//
// 1. Lower F to kernels (as the JIT does) and emit them, optimized for the
//    host, into one module; rename them <prefix>_k<N>_<ops> and make them
//    internal.
// 2. Add the image libdlc_runtime loads (dlc_aot_image in dlc_runtime.h):
//    the graph IR text of F, whose tensors are `resource<T>"tN"`
//    references to byte arrays (dlc_aot_blob), the kernel table in kernel
//    number order (exec/Steps numbers kernels the same way from the same
//    IR) and each kernel's parallel flag.
// 3. Add the three exported C entry points, which pass the image on to
//    dlc_model_create / dlc_model_run / dlc_model_destroy.
// 4. Write an object file (position-independent, so it links into a shared
//    library or an executable).
#include "codegen/Aot.h"

#include "codegen/Executor.h"
#include "exec/dlc_runtime.h"
#include "ir/Printer.h"

#include "llvm/ADT/DenseMap.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Target/TargetMachine.h"

using namespace dlc;

bool dlc::isCIdentifier(llvm::StringRef S) {
  static const char *const Keywords[] = {
      "auto", "break", "case", "char", "const", "continue", "default", "do",
      "double", "else", "enum", "extern", "float", "for", "goto", "if",
      "inline", "int", "long", "register", "restrict", "return", "short",
      "signed", "sizeof", "static", "struct", "switch", "typedef", "union",
      "unsigned", "void", "volatile", "while"};
  if (S.empty() || llvm::isDigit(S[0]))
    return false;
  for (char C : S)
    if (!llvm::isAlnum(C) && C != '_')
      return false;
  for (const char *K : Keywords)
    if (S == K)
      return false;
  return true;
}

namespace {
/// What the runtime parses: the text of F, in which every tensor is a
/// `resource<T>"tN"`, and those tensors' data.
struct GraphImage {
  std::string Text;
  std::vector<std::pair<std::string, TensorRef>> Blobs;
};
} // namespace

/// Names every tensor of (a copy of) F, parameter initial values and tensor
/// attributes alike, so the text holds no numbers: the artifact keeps the
/// tensors as raw bytes, which load fast and exactly (NaN payloads, -0.0,
/// f16/bf16 and one-byte types as they are). A tensor used twice is stored
/// once.
static llvm::Expected<GraphImage> graphImage(const Function &F) {
  std::unique_ptr<Function> G = F.clone(F.Name);
  GraphImage R;
  llvm::DenseMap<const Tensor *, size_t> Seen;
  auto name = [&](Attribute &A, const Loc &L) -> llvm::Error {
    const TensorRef &T = A.getTensor();
    if (T->elem() == DType::Str)
      return makeError(L, "str tensors are not supported in compiled "
                          "artifacts yet (run the model with the JIT)");
    auto [It, New] = Seen.try_emplace(T.get(), R.Blobs.size());
    if (New)
      R.Blobs.push_back({"t" + std::to_string(R.Blobs.size()), T});
    A = Attribute::getTensor(T, R.Blobs[It->second].first);
    return llvm::Error::success();
  };
  for (size_t I = 0; I < G->ParamInits.size(); ++I)
    if (G->ParamInits[I] && G->ParamInits[I]->kind() == AttrKind::Tensor)
      if (auto E = name(*G->ParamInits[I], G->L))
        return std::move(E);
  for (auto &Op : G->Body)
    for (const NamedAttr &NA : Op->attrs())
      if (NA.Value.kind() == AttrKind::Tensor) {
        Attribute A = NA.Value;
        if (auto E = name(A, Op->L))
          return std::move(E);
        Op->setAttr(NA.Name, std::move(A));
      }
  llvm::raw_string_ostream OS(R.Text);
  printFunction(*G, OS);
  return R;
}

/// Defines Entry with type Ty, which passes its arguments on to the
/// runtime's function Runtime (of the same type) and returns its result.
static void addForwarder(llvm::Module &M, llvm::StringRef Runtime,
                         llvm::FunctionType *Ty, const std::string &Entry) {
  llvm::FunctionCallee Callee = M.getOrInsertFunction(Runtime, Ty);
  auto *Fn =
      llvm::Function::Create(Ty, llvm::GlobalValue::ExternalLinkage, Entry, M);
  Fn->addFnAttr(llvm::Attribute::NoUnwind);
  llvm::IRBuilder<> B(llvm::BasicBlock::Create(M.getContext(), "entry", Fn));
  llvm::SmallVector<llvm::Value *, 8> Args;
  for (llvm::Argument &A : Fn->args())
    Args.push_back(&A);
  llvm::CallInst *C = B.CreateCall(Callee, Args);
  if (Ty->getReturnType()->isVoidTy())
    B.CreateRetVoid();
  else
    B.CreateRet(C);
}

llvm::Error dlc::checkAotSteps(const std::vector<LoweredStep> &Steps) {
  for (const LoweredStep &S : Steps)
    if (S.K == LoweredStep::Kind::Host)
      return makeError(S.Op->L, "'" + S.Op->mnemonic().str() +
                                    (S.Op->info().has(Collective)
                                         ? "' is a collective of data-parallel "
                                           "training"
                                         : S.Op->info().has(DataShape)
                                         ? "' has results sized by the data"
                                         : "' works on str tensors") +
                                    ", which compiled artifacts do not "
                                    "support yet (run the model with the "
                                    "JIT)");
  return llvm::Error::success();
}

llvm::Error dlc::emitAotObject(const Function &F, const AotOptions &Opts,
                               llvm::raw_pwrite_stream &OS) {
  assert(isCIdentifier(Opts.Prefix) && "prefix must be a C identifier");
  auto Lowered = lowerFunction(F);
  if (!Lowered)
    return Lowered.takeError();
  if (auto E = checkAotSteps(Lowered->Steps))
    return E;
  std::vector<const kir::Kernel *> Kernels = Lowered->kernelList();
  auto TM = hostTargetMachine(Opts.OptLevel);
  if (!TM)
    return TM.takeError();
  llvm::LLVMContext Ctx;
  auto MOr = buildHostModule(Kernels, Opts.OptLevel, **TM, Ctx);
  if (!MOr)
    return MOr.takeError();
  llvm::Module &M = **MOr;
  const std::string &P = Opts.Prefix;
  llvm::Type *I8 = llvm::Type::getInt8Ty(Ctx);
  std::vector<llvm::Constant *> Fns, Par;
  for (const kir::Kernel *K : Kernels) {
    llvm::Function *Fn = M.getFunction(K->Name);
    assert(Fn && "kernel missing from its module");
    Fn->setName(P + "_" + K->Name);
    Fn->setLinkage(llvm::GlobalValue::InternalLinkage);
    Fns.push_back(Fn);
    Par.push_back(llvm::ConstantInt::get(I8, K->isParallel()));
  }
  return finishAotObject(F, Opts, M, **TM, Fns, Par, nullptr, OS);
}

llvm::Error dlc::finishAotObject(const Function &F, const AotOptions &Opts,
                                 llvm::Module &M, llvm::TargetMachine &TM,
                                 llvm::ArrayRef<llvm::Constant *> Fns,
                                 llvm::ArrayRef<llvm::Constant *> Par,
                                 llvm::GlobalVariable *GpuImage,
                                 llvm::raw_pwrite_stream &OS) {
  llvm::LLVMContext &Ctx = M.getContext();
  const std::string &P = Opts.Prefix;
  llvm::Type *I8 = llvm::Type::getInt8Ty(Ctx), *I32 = llvm::Type::getInt32Ty(Ctx),
             *I64 = llvm::Type::getInt64Ty(Ctx), *Ptr = llvm::PointerType::get(Ctx, 0);
  auto global = [&](llvm::Constant *Init, const std::string &Name) {
    return new llvm::GlobalVariable(M, Init->getType(), /*isConstant=*/true,
                                    llvm::GlobalValue::PrivateLinkage, Init,
                                    P + "_" + Name);
  };
  auto Img = graphImage(F);
  if (!Img)
    return Img.takeError();
  const std::string &Text = Img->Text;
  auto *Graph = global(llvm::ConstantDataArray::getString(Ctx, Text, false),
                       "graph");
  auto *Table = global(llvm::ConstantArray::get(
                           llvm::ArrayType::get(Ptr, Fns.size()), Fns),
                       "kernels");
  auto *Flags = global(llvm::ConstantArray::get(
                           llvm::ArrayType::get(I8, Par.size()), Par),
                       "parallel");
  // dlc_aot_blob: name, data, size. Each tensor's bytes are an i8 array
  // (64-byte aligned), copied as they are in memory (little-endian).
  auto *BlobTy = llvm::StructType::get(Ctx, {Ptr, Ptr, I64});
  std::vector<llvm::Constant *> Blobs;
  for (auto &[Name, T] : Img->Blobs) {
    auto *NameG = global(llvm::ConstantDataArray::getString(Ctx, Name, true),
                         "name_" + Name);
    auto *Data = global(
        llvm::ConstantDataArray::getString(
            Ctx,
            llvm::StringRef(reinterpret_cast<const char *>(T->data()),
                            T->byteSize()),
            false),
        "data_" + Name);
    Data->setAlignment(llvm::Align(64));
    Blobs.push_back(llvm::ConstantStruct::get(
        BlobTy, {NameG, Data, llvm::ConstantInt::get(I64, T->byteSize())}));
  }
  auto *BlobTable = global(
      llvm::ConstantArray::get(llvm::ArrayType::get(BlobTy, Blobs.size()),
                               Blobs),
      "blobs");
  // dlc_aot_image: abi_version, default_threads, ir, ir_len, kernels,
  // parallel, n_kernels, blobs, n_blobs.
  auto *ImageTy =
      llvm::StructType::get(Ctx, {I32, I32, Ptr, I64, Ptr, Ptr, I64, Ptr, I64});
  auto *Image = global(
      llvm::ConstantStruct::get(
          ImageTy, {llvm::ConstantInt::get(I32, DLC_AOT_ABI_VERSION),
                    llvm::ConstantInt::get(I32, Opts.Threads), Graph,
                    llvm::ConstantInt::get(I64, Text.size()), Table, Flags,
                    llvm::ConstantInt::get(I64, Fns.size()), BlobTable,
                    llvm::ConstantInt::get(I64, Blobs.size())}),
      "image");

  llvm::Constant *Gpu = GpuImage ? static_cast<llvm::Constant *>(GpuImage)
                                  : llvm::ConstantPointerNull::get(
                                        llvm::PointerType::get(Ctx, 0));
  llvm::FunctionCallee CreateWith = M.getOrInsertFunction(
      "dlc_model_create_with",
      llvm::FunctionType::get(I32, {Ptr, Ptr, Ptr, Ptr, Ptr, I64}, false));
  // int P_create(dlc_model **, int threads, char *err, size_t err_len):
  // dlc_model_create(&image, threads, model, err, err_len) on the CPU; on
  // the GPU, dlc_model_create_with with the options {sizeof, CUDA, threads,
  // the default precision}.
  {
    auto *Own = llvm::FunctionType::get(I32, {Ptr, I32, Ptr, I64}, false);
    auto *Fn = llvm::Function::Create(Own, llvm::GlobalValue::ExternalLinkage,
                                      P + "_create", M);
    Fn->addFnAttr(llvm::Attribute::NoUnwind);
    llvm::IRBuilder<> B(llvm::BasicBlock::Create(Ctx, "entry", Fn));
    if (!GpuImage) {
      llvm::FunctionCallee Create = M.getOrInsertFunction(
          "dlc_model_create",
          llvm::FunctionType::get(I32, {Ptr, I32, Ptr, Ptr, I64}, false));
      B.CreateRet(B.CreateCall(Create, {Image, Fn->getArg(1), Fn->getArg(0),
                                        Fn->getArg(2), Fn->getArg(3)}));
    } else {
      // dlc_model_options: struct_size, device, threads, precision.
      auto *OptTy = llvm::StructType::get(Ctx, {I32, I32, I32, I32});
      auto *O = B.CreateAlloca(OptTy);
      B.CreateStore(llvm::ConstantInt::get(I32, sizeof(dlc_model_options)),
                    B.CreateStructGEP(OptTy, O, 0));
      B.CreateStore(llvm::ConstantInt::get(I32, DLC_DEVICE_CUDA),
                    B.CreateStructGEP(OptTy, O, 1));
      B.CreateStore(Fn->getArg(1), B.CreateStructGEP(OptTy, O, 2));
      B.CreateStore(llvm::ConstantInt::get(I32, DLC_PRECISION_DEFAULT),
                    B.CreateStructGEP(OptTy, O, 3));
      B.CreateRet(B.CreateCall(CreateWith, {Image, Gpu, O, Fn->getArg(0),
                                            Fn->getArg(2), Fn->getArg(3)}));
    }
  }
  // int P_create_with(const dlc_model_options *, dlc_model **, char *err,
  //                   size_t err_len): the device and precision chosen.
  {
    auto *Own = llvm::FunctionType::get(I32, {Ptr, Ptr, Ptr, I64}, false);
    auto *Fn = llvm::Function::Create(Own, llvm::GlobalValue::ExternalLinkage,
                                      P + "_create_with", M);
    Fn->addFnAttr(llvm::Attribute::NoUnwind);
    llvm::IRBuilder<> B(llvm::BasicBlock::Create(Ctx, "entry", Fn));
    B.CreateRet(B.CreateCall(CreateWith, {Image, Gpu, Fn->getArg(0),
                                          Fn->getArg(1), Fn->getArg(2),
                                          Fn->getArg(3)}));
  }
  // int P_run(dlc_model *, const dlc_tensor *, size_t, dlc_tensor *, size_t,
  //           char *, size_t)
  addForwarder(M, "dlc_model_run",
               llvm::FunctionType::get(I32, {Ptr, Ptr, I64, Ptr, I64, Ptr, I64},
                                       false),
               P + "_run");
  // void P_destroy(dlc_model *)
  addForwarder(M, "dlc_model_destroy",
               llvm::FunctionType::get(llvm::Type::getVoidTy(Ctx), {Ptr}, false),
               P + "_destroy");
  assert(!llvm::verifyModule(M, &llvm::errs()) && "AOT module does not verify");
  return writeMachineCode(M, TM, EmitKind::Object, OS);
}
