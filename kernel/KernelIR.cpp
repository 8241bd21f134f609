// Kernel IR: builder, printer and verifier.
#include "kernel/KernelIR.h"

#include "ir/Location.h"
#include "ir/Printer.h"

#include "llvm/ADT/DenseSet.h"

#include <functional>

using namespace dlc;
using namespace dlc::kir;

std::string SType::str() const {
  if (IsIndex)
    return "index";
  std::string S = dtypeName(Elem).str();
  return Lanes > 1 ? S + "x" + std::to_string(Lanes) : S;
}

llvm::StringRef kir::indexOpName(IndexOp Op) {
  switch (Op) {
  case IndexOp::Add: return "iadd";
  case IndexOp::Sub: return "isub";
  case IndexOp::Mul: return "imul";
  case IndexOp::Div: return "idiv";
  case IndexOp::Rem: return "irem";
  case IndexOp::Min: return "imin";
  case IndexOp::Max: return "imax";
  }
  llvm_unreachable("bad index op");
}

llvm::StringRef kir::gpuIdName(GpuIdKind K) {
  switch (K) {
  case GpuIdKind::ThreadId: return "thread_id";
  case GpuIdKind::BlockId: return "block_id";
  case GpuIdKind::BlockDim: return "block_dim";
  case GpuIdKind::GridDim: return "grid_dim";
  }
  llvm_unreachable("bad gpu index");
}

llvm::StringRef kir::shflName(ShflMode M) {
  switch (M) {
  case ShflMode::Down: return "shfl_down";
  case ShflMode::Xor: return "shfl_xor";
  }
  llvm_unreachable("bad shuffle mode");
}

//===----------------------------------------------------------------------===//
// Builder
//===----------------------------------------------------------------------===//

KOp *KBuilder::add(std::unique_ptr<KOp> Op) {
  Ops->push_back(std::move(Op));
  return Ops->back().get();
}

KValue *KBuilder::result(KOp *Op, SType T) {
  Op->Result = std::make_unique<KValue>();
  Op->Result->Name = Prefix + std::to_string(NextId++);
  Op->Result->Type = T;
  Op->Result->Def = Op;
  return Op->Result.get();
}

KValue *KBuilder::arg(llvm::StringRef Name, TensorType T) {
  auto V = std::make_unique<KValue>();
  V->Name = Name.str();
  V->IsBuffer = true;
  V->BufType = std::move(T);
  K.Args.push_back(std::move(V));
  return K.Args.back().get();
}

KValue *KBuilder::constIndex(int64_t V) {
  KOp *Op = add(std::make_unique<KOp>(KOpKind::ConstIndex));
  Op->IntValue = V;
  return result(Op, SType::index());
}

KValue *KBuilder::constFloat(DType E, double V, unsigned Lanes) {
  KOp *Op = add(std::make_unique<KOp>(KOpKind::ConstFloat));
  Op->FloatValue = V;
  return result(Op, SType::vec(E, Lanes));
}

KValue *KBuilder::dim(KValue *Buf, unsigned Axis) {
  KOp *Op = add(std::make_unique<KOp>(KOpKind::Dim));
  Op->Operands = {Buf};
  Op->IntValue = Axis;
  return result(Op, SType::index());
}

KValue *KBuilder::index(IndexOp IO, KValue *A, KValue *B) {
  KOp *Op = add(std::make_unique<KOp>(KOpKind::IndexArith));
  Op->IOp = IO;
  Op->Operands = {A, B};
  return result(Op, SType::index());
}

KValue *KBuilder::scalar(OpKind S, llvm::ArrayRef<KValue *> Args, SType T,
                         std::vector<std::pair<std::string, double>> Attrs) {
  KOp *Op = add(std::make_unique<KOp>(KOpKind::Scalar));
  Op->Scalar = S;
  Op->Operands.assign(Args.begin(), Args.end());
  Op->ScalarAttrs = std::move(Attrs);
  return result(Op, T);
}

KValue *KBuilder::load(KValue *Buf, llvm::ArrayRef<KValue *> Idx,
                       unsigned Lanes, unsigned Stride) {
  KOp *Op = add(std::make_unique<KOp>(KOpKind::Load));
  Op->Operands.push_back(Buf);
  Op->Operands.insert(Op->Operands.end(), Idx.begin(), Idx.end());
  if (Lanes > 1 && ValidLanes)
    Op->Valid = ValidLanes;
  Op->Stride = Stride;
  return result(Op, SType::vec(Buf->BufType.elem(), Lanes));
}

KValue *KBuilder::broadcast(KValue *V, unsigned Lanes) {
  KOp *Op = add(std::make_unique<KOp>(KOpKind::Broadcast));
  Op->Operands = {V};
  return result(Op, SType::vec(V->Type.Elem, Lanes));
}

void KBuilder::store(KValue *V, KValue *Buf, llvm::ArrayRef<KValue *> Idx,
                     unsigned Stride) {
  KOp *Op = add(std::make_unique<KOp>(KOpKind::Store));
  Op->Operands = {V, Buf};
  Op->Operands.insert(Op->Operands.end(), Idx.begin(), Idx.end());
  if (!V->IsBuffer && V->Type.isVector() && ValidLanes)
    Op->Valid = ValidLanes;
  Op->Stride = Stride;
}

KValue *KBuilder::local(DType E, unsigned Lanes) {
  return result(add(std::make_unique<KOp>(KOpKind::Local)), SType::vec(E, Lanes));
}

KValue *KBuilder::scratch(TensorType T) {
  KValue *V = result(add(std::make_unique<KOp>(KOpKind::Scratch)), SType::of(T.elem()));
  V->IsBuffer = true;
  V->BufType = std::move(T);
  return V;
}

KValue *KBuilder::get(KValue *Local) {
  KOp *Op = add(std::make_unique<KOp>(KOpKind::Get));
  Op->Operands = {Local};
  return result(Op, Local->Type);
}

void KBuilder::set(KValue *Local, KValue *V) {
  KOp *Op = add(std::make_unique<KOp>(KOpKind::Set));
  Op->Operands = {Local, V};
}

KValue *KBuilder::beginFor(KValue *Lo, KValue *Hi, int64_t Step) {
  KOp *Op = add(std::make_unique<KOp>(KOpKind::For));
  Op->Operands = {Lo, Hi};
  Op->Step = Step;
  Op->IndVar = std::make_unique<KValue>();
  Op->IndVar->Name = Prefix + "i" + std::to_string(NextId++);
  Op->IndVar->Type = SType::index();
  Open.push_back({Op, Ops});
  Ops = &Op->Body;
  return Op->IndVar.get();
}

KValue *KBuilder::gpuIndex(GpuIdKind Id, unsigned Axis) {
  KOp *Op = add(std::make_unique<KOp>(KOpKind::GpuIndex));
  Op->GpuId = Id;
  Op->IntValue = Axis;
  return result(Op, SType::index());
}

void KBuilder::barrier() { add(std::make_unique<KOp>(KOpKind::Barrier)); }

KValue *KBuilder::shared(TensorType T) {
  KValue *V = result(add(std::make_unique<KOp>(KOpKind::Shared)), SType::of(T.elem()));
  V->IsBuffer = true;
  V->BufType = std::move(T);
  return V;
}

void KBuilder::launch(KValue *GX, KValue *GY, KValue *GZ, int64_t BX,
                      int64_t BY, int64_t BZ) {
  KOp *Op = add(std::make_unique<KOp>(KOpKind::Launch));
  Op->Operands = {GX, GY, GZ};
  Op->Block[0] = BX;
  Op->Block[1] = BY;
  Op->Block[2] = BZ;
}

KValue *KBuilder::shuffle(ShflMode M, KValue *V, unsigned Offset) {
  KOp *Op = add(std::make_unique<KOp>(KOpKind::Shuffle));
  Op->Shfl = M;
  Op->IntValue = Offset;
  Op->Operands = {V};
  return result(Op, V->Type);
}

KValue *KBuilder::mma(KValue *A, KValue *Bf, KValue *C) {
  KOp *Op = add(std::make_unique<KOp>(KOpKind::Mma));
  Op->Operands = {A, Bf, C};
  return result(Op, SType::vec(DType::F32, 4));
}

KValue *KBuilder::roundTf32(KValue *X) {
  KOp *Op = add(std::make_unique<KOp>(KOpKind::RoundTf32));
  Op->Operands = {X};
  return result(Op, X->Type);
}

KValue *KBuilder::mmaBf16(KValue *A, KValue *Bf, KValue *C) {
  KOp *Op = add(std::make_unique<KOp>(KOpKind::Mma));
  Op->Operands = {A, Bf, C};
  Op->IntValue = 1;
  return result(Op, SType::vec(DType::F32, 4));
}

KValue *KBuilder::roundBf16(KValue *X) {
  KOp *Op = add(std::make_unique<KOp>(KOpKind::RoundTf32));
  Op->Operands = {X};
  Op->IntValue = 1;
  return result(Op, X->Type);
}

void KBuilder::beginThreads() {
  KOp *Op = add(std::make_unique<KOp>(KOpKind::Threads));
  Open.push_back({Op, Ops});
  Ops = &Op->Body;
}

KOp *KBuilder::endFor() {
  assert(!Open.empty() && "endFor without beginFor");
  auto [Op, Outer] = Open.back();
  Open.pop_back();
  Ops = Outer;
  return Op;
}

//===----------------------------------------------------------------------===//
// Printer
//===----------------------------------------------------------------------===//

static void printOps(const std::vector<std::unique_ptr<KOp>> &Ops,
                     llvm::raw_ostream &OS, unsigned Indent) {
  auto name = [](const KValue *V) { return "%" + V->Name; };
  auto indices = [&](const KOp &Op, size_t From) {
    std::string S = "[";
    for (size_t I = From; I < Op.Operands.size(); ++I)
      S += (I > From ? ", " : "") + name(Op.Operands[I]);
    return S + "]";
  };
  for (const auto &P : Ops) {
    const KOp &Op = *P;
    OS.indent(Indent);
    if (Op.Result)
      OS << name(Op.Result.get()) << " = ";
    switch (Op.kind()) {
    case KOpKind::ConstIndex:
      OS << "const " << Op.IntValue << " : index";
      break;
    case KOpKind::ConstFloat:
      OS << "const " << formatDouble(Op.FloatValue) << " : "
         << Op.Result->Type.str();
      break;
    case KOpKind::Dim:
      OS << "dim " << name(Op.Operands[0]) << ", " << Op.IntValue;
      break;
    case KOpKind::IndexArith:
      OS << indexOpName(Op.IOp) << " " << name(Op.Operands[0]) << ", "
         << name(Op.Operands[1]);
      break;
    case KOpKind::Scalar: {
      OS << getOpInfo(Op.Scalar).Mnemonic;
      for (size_t I = 0; I < Op.Operands.size(); ++I)
        OS << (I ? ", " : " ") << name(Op.Operands[I]);
      if (!Op.ScalarAttrs.empty()) {
        OS << " {";
        for (size_t I = 0; I < Op.ScalarAttrs.size(); ++I)
          OS << (I ? ", " : "") << Op.ScalarAttrs[I].first << " = "
             << formatDouble(Op.ScalarAttrs[I].second);
        OS << "}";
      }
      OS << " : " << Op.Result->Type.str();
      break;
    }
    case KOpKind::Load:
      OS << "load " << name(Op.Operands[0]) << indices(Op, 1) << " : "
         << Op.Result->Type.str();
      if (Op.Stride != 1)
        OS << " stride(" << Op.Stride << ")";
      if (Op.Valid)
        OS << " valid(" << Op.Valid << ")";
      break;
    case KOpKind::Store:
      OS << "store " << name(Op.Operands[0]) << ", " << name(Op.Operands[1])
         << indices(Op, 2);
      if (Op.Stride != 1)
        OS << " stride(" << Op.Stride << ")";
      if (Op.Valid)
        OS << " valid(" << Op.Valid << ")";
      break;
    case KOpKind::Broadcast:
      OS << "broadcast " << name(Op.Operands[0]) << " : " << Op.Result->Type.str();
      break;
    case KOpKind::Local:
      OS << "local " << Op.Result->Type.str();
      break;
    case KOpKind::Scratch:
      OS << "scratch " << Op.Result->BufType.str();
      break;
    case KOpKind::Get:
      OS << "get " << name(Op.Operands[0]) << " : " << Op.Result->Type.str();
      break;
    case KOpKind::Set:
      OS << "set " << name(Op.Operands[0]) << ", " << name(Op.Operands[1]);
      break;
    case KOpKind::For:
      OS << "for " << name(Op.IndVar.get()) << " = " << name(Op.Operands[0])
         << " to " << name(Op.Operands[1]);
      if (Op.Step != 1)
        OS << " step " << Op.Step;
      if (Op.Marks.Parallel)
        OS << " parallel";
      if (Op.Marks.Vectorize)
        OS << " vectorize(" << Op.Marks.Vectorize << ")";
      if (Op.Marks.Unroll)
        OS << " unroll(" << Op.Marks.Unroll << ")";
      if (Op.Marks.Reassociate)
        OS << " reassoc";
      if (Op.Marks.MaskedTail)
        OS << " masked";
      OS << " {\n";
      printOps(Op.Body, OS, Indent + 2);
      OS.indent(Indent) << "}";
      break;
    case KOpKind::GpuIndex:
      OS << gpuIdName(Op.GpuId) << " " << "xyz"[Op.IntValue];
      break;
    case KOpKind::Barrier:
      OS << "barrier";
      break;
    case KOpKind::Shared:
      OS << "shared " << Op.Result->BufType.str();
      break;
    case KOpKind::Threads:
      OS << "threads {\n";
      printOps(Op.Body, OS, Indent + 2);
      OS.indent(Indent) << "}";
      break;
    case KOpKind::Launch:
      OS << "launch grid(" << name(Op.Operands[0]) << ", "
         << name(Op.Operands[1]) << ", " << name(Op.Operands[2]) << ") block("
         << Op.Block[0] << ", " << Op.Block[1] << ", " << Op.Block[2] << ")";
      break;
    case KOpKind::Shuffle:
      OS << shflName(Op.Shfl) << " " << name(Op.Operands[0]) << ", "
         << Op.IntValue << " : " << Op.Result->Type.str();
      break;
    case KOpKind::Mma:
      OS << (Op.IntValue ? "mma_m16n8k16_bf16 " : "mma_m16n8k8_tf32 ")
         << name(Op.Operands[0]) << ", "
         << name(Op.Operands[1]) << ", " << name(Op.Operands[2]) << " : "
         << Op.Result->Type.str();
      break;
    case KOpKind::RoundTf32:
      OS << (Op.IntValue ? "round_bf16 " : "round_tf32 ")
         << name(Op.Operands[0]) << " : "
         << Op.Result->Type.str();
      break;
    }
    OS << "\n";
  }
}

void kir::printKernel(const Kernel &K, llvm::raw_ostream &OS) {
  OS << "kernel @" << K.Name << "(";
  for (size_t I = 0; I < K.Args.size(); ++I)
    OS << (I ? ", " : "") << "%" << K.Args[I]->Name << ": "
       << K.Args[I]->BufType.str();
  OS << ")";
  for (auto [A, B] : K.MayAlias)
    OS << " may_alias(%" << K.Args[A]->Name << ", %" << K.Args[B]->Name << ")";
  OS << " {\n";
  printOps(K.Body, OS, 2);
  OS << "}\n";
}

std::string kir::toString(const Kernel &K) {
  std::string S;
  llvm::raw_string_ostream OS(S);
  printKernel(K, OS);
  return S;
}

//===----------------------------------------------------------------------===//
// Verifier
//===----------------------------------------------------------------------===//

namespace {
class Verifier {
public:
  explicit Verifier(const Kernel &K) : K(K) {}

  llvm::Error run() {
    for (auto &A : K.Args) {
      if (!A->IsBuffer)
        return fail("kernel argument %" + A->Name + " is not a buffer");
      Scope.insert(A.get());
    }
    if (auto E = block(K.Body))
      return E;
    if (auto E = verifyGpuRules(K))
      return E;
    return parallelRule();
  }

  /// A `parallel` loop must be at the top level and be the only top-level
  /// op with effects (the others only compute constants, dims and index
  /// arithmetic), because its iterations are split across threads and
  /// everything else would run once per thread.
  llvm::Error parallelRule() {
    unsigned Parallel = 0, Effects = 0;
    for (auto &Op : K.Body) {
      if (Op->kind() == KOpKind::For && Op->Marks.Parallel)
        ++Parallel;
      else if (Op->kind() != KOpKind::ConstIndex &&
               Op->kind() != KOpKind::ConstFloat && Op->kind() != KOpKind::Dim &&
               Op->kind() != KOpKind::IndexArith &&
               Op->kind() != KOpKind::Scratch) // private to each thread
        ++Effects;
    }
    if (Parallel > 1 || (Parallel == 1 && Effects))
      return fail("a parallel loop must be the only top-level op with effects");
    std::function<llvm::Error(const std::vector<std::unique_ptr<KOp>> &)> Nested =
        [&](const std::vector<std::unique_ptr<KOp>> &Ops) -> llvm::Error {
      for (auto &Op : Ops)
        if (Op->kind() == KOpKind::For) {
          if (Op->Marks.Parallel && &Ops != &K.Body)
            return fail("parallel loops must be at the top level");
          if (auto E = Nested(Op->Body))
            return E;
        }
      return llvm::Error::success();
    };
    return Nested(K.Body);
  }

private:
  llvm::Error fail(const llvm::Twine &Msg) {
    return makeError("kernel @" + K.Name + ": " + Msg);
  }
  llvm::Error use(const KValue *V) {
    if (!V || !Scope.count(V))
      return fail("use of a value that is not in scope (%" +
                  (V ? V->Name : std::string("null")) + ")");
    return llvm::Error::success();
  }
  llvm::Error scalarOperand(const KValue *V, SType T) {
    if (auto E = use(V))
      return E;
    if (V->IsBuffer || V->Type != T)
      return fail("%" + V->Name + " has type " +
                  (V->IsBuffer ? V->BufType.str() : V->Type.str()) +
                  ", expected " + T.str());
    return llvm::Error::success();
  }
  llvm::Error access(const KOp &Op, size_t BufPos) {
    const KValue *Buf = Op.Operands[BufPos];
    if (auto E = use(Buf))
      return E;
    if (!Buf->IsBuffer)
      return fail("%" + Buf->Name + " is not a buffer");
    size_t N = Op.Operands.size() - BufPos - 1;
    if (N != Buf->BufType.rank())
      return fail("%" + Buf->Name + " has rank " +
                  std::to_string(Buf->BufType.rank()) + " but is indexed with " +
                  std::to_string(N) + " indices");
    for (size_t I = BufPos + 1; I < Op.Operands.size(); ++I)
      if (auto E = scalarOperand(Op.Operands[I], SType::index()))
        return E;
    return llvm::Error::success();
  }

  llvm::Error op(const KOp &Op) {
    switch (Op.kind()) {
    case KOpKind::ConstIndex:
    case KOpKind::ConstFloat:
    case KOpKind::Local:
      break;
    case KOpKind::Scratch:
    case KOpKind::Shared: {
      const char *What = Op.kind() == KOpKind::Shared ? "shared" : "scratch";
      const TensorType &T = Op.Result->BufType;
      if (!Op.Result->IsBuffer || !T.isStatic() || T.rank() == 0)
        return fail(std::string(What) + " needs a static shape of rank >= 1");
      if (*T.numElements() * int64_t(dtypeSize(T.elem())) > (int64_t(1) << 20))
        return fail(std::string(What) + " %" + Op.Result->Name +
                    " is larger than 1 MiB");
      break;
    }
    case KOpKind::GpuIndex:
      if (Op.IntValue < 0 || Op.IntValue > 2)
        return fail("a GPU index axis is x, y or z");
      break;
    case KOpKind::Barrier:
      break;
    case KOpKind::Launch:
      for (const KValue *V : Op.Operands)
        if (auto E = scalarOperand(V, SType::index()))
          return E;
      for (int64_t B : Op.Block)
        if (B < 1)
          return fail("launch block sizes must be >= 1");
      if (Op.Block[0] * Op.Block[1] * Op.Block[2] > 1024)
        return fail("a block has at most 1024 threads");
      break;
    case KOpKind::Threads: {
      auto Saved = Scope;
      if (auto E = block(Op.Body))
        return E;
      Scope = std::move(Saved);
      break;
    }
    case KOpKind::Shuffle: {
      const KValue *V = Op.Operands[0];
      if (auto E = use(V))
        return E;
      if (V->IsBuffer || V->Type.IsIndex || V->Type.isVector())
        return fail(shflName(Op.Shfl) + " takes a scalar of an element type");
      if (Op.IntValue < 1 || Op.IntValue > 31)
        return fail(shflName(Op.Shfl) + " offset " +
                    std::to_string(Op.IntValue) + " is not in 1..31");
      break;
    }
    case KOpKind::Mma:
      if (auto E = scalarOperand(Op.Operands[0],
                                 SType::vec(DType::F32, Op.IntValue ? 8 : 4)))
        return E;
      if (auto E = scalarOperand(Op.Operands[1],
                                 SType::vec(DType::F32, Op.IntValue ? 4 : 2)))
        return E;
      if (auto E = scalarOperand(Op.Operands[2], SType::vec(DType::F32, 4)))
        return E;
      break;
    case KOpKind::RoundTf32:
      if (auto E = scalarOperand(Op.Operands[0], SType::of(DType::F32)))
        return E;
      break;
    case KOpKind::Dim:
      if (auto E = use(Op.Operands[0]))
        return E;
      if (!Op.Operands[0]->IsBuffer ||
          Op.IntValue >= int64_t(Op.Operands[0]->BufType.rank()) ||
          Op.IntValue < 0)
        return fail("dim " + std::to_string(Op.IntValue) + " of %" +
                    Op.Operands[0]->Name + " is out of range");
      break;
    case KOpKind::IndexArith:
      for (const KValue *V : Op.Operands)
        if (auto E = scalarOperand(V, SType::index()))
          return E;
      break;
    case KOpKind::Scalar: {
      const OpInfo &I = getOpInfo(Op.Scalar);
      if (I.has(Random)) {
        // A sample from (seed, counter): both 64-bit integers.
        if (Op.Operands.size() != 2 || Op.Result->Type.isVector())
          return fail("'" + I.Mnemonic + "' takes a seed and a counter");
      } else if (!I.has(Elementwise)) {
        return fail("'" + I.Mnemonic + "' is not an elementwise op");
      } else if (int(Op.Operands.size()) < I.MinOperands ||
                 int(Op.Operands.size()) > I.MaxOperands) {
        return fail("'" + I.Mnemonic + "' has the wrong number of operands");
      }
      for (const KValue *V : Op.Operands)
        if (auto E = use(V))
          return E;
      break;
    }
    case KOpKind::Load:
      if (auto E = access(Op, 0))
        return E;
      if (Op.Result->Type.scalar() != SType::of(Op.Operands[0]->BufType.elem()))
        return fail("load type differs from the buffer's element type");
      if (Op.Result->Type.isVector() && Op.Operands[0]->BufType.rank() == 0)
        return fail("a vector load needs a buffer of rank >= 1");
      if (Op.Valid && Op.Valid >= Op.Result->Type.Lanes)
        return fail("valid(" + std::to_string(Op.Valid) +
                    ") needs a vector of more lanes");
      if (Op.Stride < 1 || (Op.Stride > 1 && !Op.Result->Type.isVector()))
        return fail("stride(" + std::to_string(Op.Stride) +
                    ") needs a vector load and a stride of at least 1");
      break;
    case KOpKind::Store: {
      if (auto E = access(Op, 1))
        return E;
      const KValue *V = Op.Operands[0];
      SType Want = SType::vec(Op.Operands[1]->BufType.elem(),
                              V->IsBuffer ? 1 : V->Type.Lanes);
      if (auto E = scalarOperand(V, Want))
        return E;
      if (Op.Valid && Op.Valid >= Want.Lanes)
        return fail("valid(" + std::to_string(Op.Valid) +
                    ") needs a vector of more lanes");
      if (Op.Stride < 1 || (Op.Stride > 1 && Want.Lanes == 1))
        return fail("stride(" + std::to_string(Op.Stride) +
                    ") needs a vector store and a stride of at least 1");
      break;
    }
    case KOpKind::Broadcast:
      if (auto E = use(Op.Operands[0]))
        return E;
      if (Op.Operands[0]->Type.isVector() || Op.Operands[0]->Type.IsIndex)
        return fail("broadcast takes a scalar");
      break;
    case KOpKind::Get:
      if (auto E = use(Op.Operands[0]))
        return E;
      if (!Op.Operands[0]->Def || Op.Operands[0]->Def->kind() != KOpKind::Local)
        return fail("get of %" + Op.Operands[0]->Name + ", not a local");
      break;
    case KOpKind::Set:
      if (auto E = use(Op.Operands[0]))
        return E;
      if (!Op.Operands[0]->Def || Op.Operands[0]->Def->kind() != KOpKind::Local)
        return fail("set of %" + Op.Operands[0]->Name + ", not a local");
      if (auto E = scalarOperand(Op.Operands[1], Op.Operands[0]->Type))
        return E;
      break;
    case KOpKind::For: {
      for (const KValue *V : Op.Operands)
        if (auto E = scalarOperand(V, SType::index()))
          return E;
      if (Op.Step < 1)
        return fail("loop step must be >= 1");
      if (Op.Marks.Vectorize && (Op.Marks.Vectorize & (Op.Marks.Vectorize - 1)))
        return fail("vector width must be a power of two");
      Scope.insert(Op.IndVar.get());
      // Values defined in the body are visible only inside it.
      auto Saved = Scope;
      if (auto E = block(Op.Body))
        return E;
      Scope = std::move(Saved);
      Scope.erase(Op.IndVar.get());
      break;
    }
    }
    if (Op.Result)
      Scope.insert(Op.Result.get());
    return llvm::Error::success();
  }

  llvm::Error block(const std::vector<std::unique_ptr<KOp>> &Ops) {
    for (const auto &O : Ops)
      if (auto E = op(*O))
        return E;
    return llvm::Error::success();
  }

  const Kernel &K;
  llvm::DenseSet<const KValue *> Scope;
};
} // namespace

llvm::Error kir::verifyKernel(const Kernel &K) { return Verifier(K).run(); }
