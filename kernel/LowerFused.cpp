// One kernel per fusion group (see ir/FusionPlan.h and passes/Fuse.cpp).
//
// Arguments: the values the group reads, the values it writes, then a
// shape-only argument holding the run-time shape of the group's space.
// 1. Elementwise and reduction groups: one loop per kept axis of the space
//    (the outermost in parallel). Inside, the group's ops run in order:
//    a reduction opens its own nest over the reduced axes, in which the
//    full-space values it reads are computed on the spot (recomputed, never
//    stored); per-row values are computed once. A final nest over the
//    reduced axes stores the full-space results. Without reductions that is
//    a single loop nest computing the whole chain per element.
// 2. Matmul and convolution groups: the anchor's own schedule, with the
//    elementwise ops applied as an epilogue to each finished value before
//    it is stored (on whole vectors in the blocked matmul). A matmul whose
//    b is an im2col prologue reads b from the image: on the CPU as shifted
//    windows of its padded copy when the strides are 1 (buildWindowGemm),
//    else packing b from it (PatchOperand). A pooling that
//    ends a convolution group folds each epilogue value into its window's
//    maximum or sum instead (see buildConv).
// Values of the group are indexed like the space; outside operands broadcast
// numpy-style, as in lowerElementwise.
#include "kernel/Lowering.h"
#include "kernel/LoweringUtil.h"

#include "ir/Location.h"

using namespace dlc;
using namespace dlc::kir;

namespace {
/// The value of a one-element f32 or f64 constant, seen through the
/// reshapes that broadcasting leaves around it (a clip's bound reshaped to
/// [1, 1] for a matmul's epilogue).
std::optional<double> scalarConstant(const Value *V) {
  DType E = V->Type.elem();
  if (E != DType::F32 && E != DType::F64)
    return std::nullopt;
  while (V->Def && V->Def->numOperands() == 1 &&
         (V->Def->kind() == OpKind::Reshape || V->Def->kind() == OpKind::Flatten ||
          V->Def->kind() == OpKind::Squeeze || V->Def->kind() == OpKind::Unsqueeze ||
          V->Def->kind() == OpKind::Identity))
    V = V->Def->operand(0);
  if (!V->Def || V->Def->kind() != OpKind::Constant || V->Type.elem() != E)
    return std::nullopt;
  const Tensor &T = *V->Def->attr("value").getTensor();
  if (T.numElements() != 1)
    return std::nullopt;
  return T.getF(0);
}

class FusedLowering {
public:
  FusedLowering(const FusionPlan &P, Kernel &K) : P(P), B(K) {}

  llvm::Error run(unsigned VectorBytes, bool Gpu, bool Tf32, bool Bf16) {
    for (size_t I = 0; I < P.Inputs.size(); ++I)
      Arg[P.Inputs[I]] = B.arg("in" + std::to_string(I), dynamicLike(P.Inputs[I]->Type));
    for (size_t I = 0; I < P.Outputs.size(); ++I)
      Arg[P.Outputs[I]] =
          B.arg("out" + std::to_string(I), dynamicLike(P.Outputs[I]->Type));
    SpaceArg = B.arg("space", dynamicLike(P.Full));
    Zero = B.constIndex(0);
    One = B.constIndex(1);
    switch (P.Kind) {
    case GroupKind::Elementwise:
    case GroupKind::Reduction:
      rows();
      return llvm::Error::success();
    case GroupKind::MatMul: {
      const Operation &MM = *P.Ops[0];
      if (P.Im2Col && !Gpu &&
          buildWindowGemm(B, MM, *P.Im2Col, Arg[MM.operand(0)],
                          Arg[P.Im2Col->operand(0)], Arg[P.Outputs.back()],
                          VectorBytes, epilogue()))
        return llvm::Error::success();
      std::optional<PatchOperand> Patches;
      KValue *Bm = nullptr;
      if (P.Im2Col)
        Patches.emplace(B, *P.Im2Col, Arg[P.Im2Col->operand(0)]);
      else
        Bm = Arg[MM.operand(1)];
      const PatchOperand *PO = Patches ? &*Patches : nullptr;
      if (Gpu && (Tf32 || Bf16) && MM.result()->Type.elem() == DType::F32)
        buildGpuMatMulTf32(B, MM, Arg[MM.operand(0)], Bm, Arg[P.Outputs.back()],
                           epilogue(), PO, Bf16);
      else if (Gpu)
        buildGpuMatMul(B, MM, Arg[MM.operand(0)], Bm, Arg[P.Outputs.back()],
                       epilogue(), PO);
      else
        buildBlockedMatMul(B, MM, Arg[MM.operand(0)], Bm, Arg[P.Outputs.back()],
                           VectorBytes, epilogue(), PO, longEpilogue());
      return llvm::Error::success();
    }
    case GroupKind::Conv: {
      const Operation &C = *P.Ops[0], *Last = P.Ops.back();
      bool Pooled = P.SpaceOf.lookup(Last->result()) == Space::Pooled;
      buildConv(B, C, Arg[C.operand(0)], Arg[C.operand(1)],
                C.numOperands() == 3 ? Arg[C.operand(2)] : nullptr,
                Arg[P.Outputs.back()], epilogue(), Pooled ? Last : nullptr, Gpu);
      return llvm::Error::success();
    }
    }
    llvm_unreachable("bad group kind");
  }

private:
  /// Index of outside operand V of an op with result type RT at result
  /// index RIdx (numpy broadcasting).
  std::vector<KValue *> operandIndex(const Value *V, const TensorType &RT,
                                     llvm::ArrayRef<KValue *> RIdx) {
    const TensorType &T = V->Type;
    unsigned R = RT.rank();
    std::vector<KValue *> Idx;
    for (unsigned J = 0; J < T.rank(); ++J) {
      const Dim &D = T.dim(J), &RD = RT.dim(J + R - T.rank());
      KValue *I = RIdx[J + R - T.rank()];
      if (D.isStatic() && D.size() == 1)
        Idx.push_back(Zero);
      else if (D == RD && !D.isUnknown())
        Idx.push_back(I);
      else
        Idx.push_back(B.index(IndexOp::Min, I,
                              B.index(IndexOp::Sub, B.dim(Arg[V], J), One)));
    }
    return Idx;
  }

  /// Loads outside operand V for an op with result type RT; with Lanes > 1
  /// a vector along the last dim, or a broadcast scalar where V is constant
  /// along it.
  KValue *load(const Value *V, const TensorType &RT,
               llvm::ArrayRef<KValue *> RIdx, unsigned Lanes) {
    // A one-element float constant (a clip's bounds, an epsilon) is an
    // immediate, so LLVM folds and simplifies around it; the kernel's text,
    // and so its cache key, holds the value.
    if (std::optional<double> C = scalarConstant(V))
      return B.constFloat(V->Type.elem(), *C, Lanes);
    std::vector<KValue *> Idx = operandIndex(V, RT, RIdx);
    if (Lanes == 1)
      return B.load(Arg[V], Idx);
    if (!Idx.empty() && Idx.back() == RIdx.back())
      return B.load(Arg[V], Idx, Lanes);
    return B.broadcast(B.load(Arg[V], Idx), Lanes);
  }

  /// The elementwise op Op on its operand values.
  KValue *apply(const Operation &Op, llvm::ArrayRef<KValue *> Args,
                unsigned Lanes) {
    std::vector<std::pair<std::string, double>> Attrs;
    for (const AttrSpec &S : Op.info().Attrs)
      if (S.Kind == AttrKind::Float)
        Attrs.push_back({S.Name.str(), Op.getFloat(S.Name)});
    castAttrs(Op, Attrs);
    return B.scalar(Op.kind(), Args, SType::vec(Op.result()->Type.elem(), Lanes),
                    Attrs);
  }

  /// The result index of a value in space S at the current loop variables.
  std::vector<KValue *> resultIndex(Space S) {
    std::vector<KValue *> Idx;
    for (unsigned D = 0; D < P.Full.rank(); ++D) {
      if (S == Space::Full || !P.Reduced[D])
        Idx.push_back(IV[D]);
      else if (S == Space::OuterKeep)
        Idx.push_back(Zero);
    }
    return Idx;
  }

  /// The value of V (a result of the group) in the current scope; full-space
  /// values are computed on first use inside each nest.
  KValue *valueOf(const Value *V) {
    if (KValue *K = Memo.lookup(V))
      return K;
    const Operation &Op = *V->Def;
    Space S = P.SpaceOf.lookup(V);
    std::vector<KValue *> RIdx = resultIndex(S), Args;
    for (const Value *O : Op.Operands)
      Args.push_back(P.contains(O) ? valueOf(O)
                                   : load(O, Op.result()->Type, RIdx, 1));
    KValue *R = apply(Op, Args, 1);
    Memo[V] = R;
    return R;
  }

  /// Opens loops over the reduced axes (Inner) or the kept ones.
  void open(bool Inner) {
    for (unsigned D = 0; D < P.Full.rank(); ++D)
      if (P.Reduced[D] == Inner)
        IV[D] = B.beginFor(Zero, Sizes[D]);
  }
  KOp *close(bool Inner) {
    KOp *Outer = nullptr;
    for (unsigned D = 0; D < P.Full.rank(); ++D)
      if (P.Reduced[D] == Inner) {
        Outer = B.endFor();
        IV[D] = nullptr;
      }
    return Outer;
  }

  void reduction(const Operation &Op) {
    DType E = Op.operand(0)->Type.elem();
    OpKind Combine;
    double Init;
    reductionCombine(Op.kind(), E, Combine, Init);
    KValue *Acc = B.local(E);
    B.set(Acc, B.constFloat(E, Init));
    auto Saved = Memo;
    open(true);
    const Value *X = Op.operand(0);
    KValue *XV = P.contains(X) ? valueOf(X) : B.load(Arg[X], IV);
    B.set(Acc, B.scalar(Combine, {B.get(Acc), XV}, SType::of(E)));
    // A float sum or product may be reordered, so the vectorizer keeps
    // several partial results (within the conformance tolerance).
    bool Reorder = isFloat(E) && (Combine == OpKind::Add || Combine == OpKind::Mul);
    for (unsigned D = 0; D < P.Full.rank(); ++D)
      if (P.Reduced[D]) {
        B.endFor()->Marks.Reassociate = Reorder;
        IV[D] = nullptr;
      }
    Memo = std::move(Saved);
    KValue *V = B.get(Acc);
    if (Op.kind() == OpKind::ReduceMean) {
      KValue *Count = One;
      for (unsigned D = 0; D < P.Full.rank(); ++D)
        if (P.Reduced[D])
          Count = B.index(IndexOp::Mul, Count, Sizes[D]);
      V = B.scalar(OpKind::Div, {V, B.scalar(OpKind::Cast, {Count}, SType::of(E))},
                   SType::of(E));
    }
    Memo[Op.result()] = V;
  }

  /// Step 1 of the file comment.
  void rows() {
    unsigned R = P.Full.rank();
    for (unsigned D = 0; D < R; ++D)
      Sizes.push_back(B.dim(SpaceArg, D));
    IV.assign(R, nullptr);
    open(false);
    for (const Operation *Op : P.Ops) {
      Space S = P.SpaceOf.lookup(Op->result());
      if (Op->info().has(Reduction))
        reduction(*Op);
      else if (S != Space::Full)
        valueOf(Op->result());
    }
    bool AnyFull = false;
    for (const Value *V : P.Outputs) {
      Space S = P.SpaceOf.lookup(V);
      if (S == Space::Full)
        AnyFull = true;
      else
        B.store(valueOf(V), Arg[V], resultIndex(S));
    }
    if (AnyFull) {
      auto Saved = Memo;
      open(true);
      for (const Value *V : P.Outputs)
        if (P.SpaceOf.lookup(V) == Space::Full)
          B.store(valueOf(V), Arg[V], IV);
      close(true);
      Memo = std::move(Saved);
    }
    if (KOp *Outer = close(false))
      Outer->Marks.Parallel = true;
  }

  /// Step 2: the epilogue of the anchor P.Ops[0].
  /// Whether the epilogue has an op costlier than an add, a multiply or a
  /// comparison (an exp, a division): its code is long.
  bool longEpilogue() const {
    for (size_t I = 1; I < P.Ops.size(); ++I)
      switch (P.Ops[I]->kind()) {
      case OpKind::Add: case OpKind::Sub: case OpKind::Mul: case OpKind::Max:
      case OpKind::Min: case OpKind::Relu: case OpKind::LeakyRelu:
      case OpKind::Clip: case OpKind::Neg: case OpKind::Abs:
      case OpKind::Identity:
        break;
      default:
        return true;
      }
    return false;
  }

  Epilogue epilogue() {
    return [this](KBuilder &, KValue *Acc, llvm::ArrayRef<KValue *> Idx,
                  unsigned Lanes) {
      llvm::DenseMap<const Value *, KValue *> Vals;
      Vals[P.Ops[0]->result()] = Acc;
      for (size_t I = 1; I < P.Ops.size(); ++I) {
        const Operation &Op = *P.Ops[I];
        if (P.SpaceOf.lookup(Op.result()) == Space::Pooled) // the pooling
          return Vals.lookup(Op.operand(0));
        std::vector<KValue *> Args;
        for (const Value *O : Op.Operands)
          Args.push_back(P.contains(O) ? Vals.lookup(O)
                                       : load(O, Op.result()->Type, Idx, Lanes));
        Vals[Op.result()] = apply(Op, Args, Lanes);
      }
      for (size_t I = 0; I + 1 < P.Outputs.size(); ++I)
        B.store(Vals.lookup(P.Outputs[I]), Arg[P.Outputs[I]], Idx);
      return Vals.lookup(P.Outputs.back());
    };
  }

  const FusionPlan &P;
  KBuilder B;
  llvm::DenseMap<const Value *, KValue *> Arg, Memo;
  KValue *SpaceArg = nullptr, *Zero = nullptr, *One = nullptr;
  std::vector<KValue *> Sizes, IV;
};
} // namespace

llvm::Expected<std::unique_ptr<Kernel>>
dlc::lowerFusedGroup(const FusionPlan &P, llvm::StringRef Name,
                     unsigned VectorBytes, bool Gpu, bool Tf32,
                     bool Bf16) {
  auto K = newKernel(Name);
  if (auto E = FusedLowering(P, *K).run(VectorBytes, Gpu, Tf32, Bf16))
    return std::move(E);
  return finishKernel(std::move(K));
}
