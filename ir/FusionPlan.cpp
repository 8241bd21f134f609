// The fusion-group model: legality of a group and the space of each op.
//
// 1. The first op decides the kind and the iteration space: a 2-D float
//    matmul or a convolution (its result), a reduction (its input), or an
//    elementwise op (its result).
// 2. Each later op must be elementwise or (in reduction groups) a reduction
//    over the same axes, and must read at least one value of the group.
// 3. Values of the group are never broadcast inside the kernel: an op's
//    result must provably have the shape of its space (Full, or the
//    reductions' kept shape), which is checked dim by dim; a '?' dim is only
//    proven when a value of the group supplies it and every outside operand
//    is 1 or absent there. Outside operands broadcast freely.
// 4. A convolution group may end with max or average pooling whose windows
//    tile the conv result without overlap or padding; nothing else of the
//    group may then be used outside it (each conv value lives only in the
//    window loop).
// 5. Matmul epilogues work on whole vectors of the result row: their
//    outside operands must be contiguous along the last dim or constant
//    across it, and their ops must have vector forms.
// 6. A matmul group may open with the im2col that makes its b (the patches
//    of a stride-1 convolution, channel major): the plan keeps it aside
//    (FusionPlan::Im2Col) and the kernel gathers each slice of b from the
//    image as it packs it, so the patches (9x the image for a 3x3 kernel)
//    are never written. Its result must have no other reader, and the
//    matmul must have at least 16 rows (every GEMM register block full).
#include "ir/FusionPlan.h"

#include "ir/ShapeInference.h"

#include "llvm/ADT/DenseSet.h"

using namespace dlc;

static bool isReduceOp(OpKind K) {
  return K == OpKind::ReduceSum || K == OpKind::ReduceMean ||
         K == OpKind::ReduceMax || K == OpKind::ReduceMin ||
         K == OpKind::ReduceProd;
}

static bool isElementwiseOp(const Operation &Op) {
  return Op.info().has(Elementwise) && !Op.info().has(Composite) &&
         Op.kind() != OpKind::Identity && Op.numResults() == 1;
}

bool dlc::isBlockedMatMul(const Operation &Op) {
  if (Op.kind() != OpKind::MatMul)
    return false;
  DType E = Op.result()->Type.elem();
  unsigned RB = Op.operand(1)->Type.rank();
  return Op.operand(0)->Type.rank() == 2 && (RB == 2 || RB == 3) &&
         (E == DType::F32 || E == DType::F64);
}

static bool isMatMulAnchor(const Operation &Op) { return isBlockedMatMul(Op); }

/// The static geometry of a channel-major im2col of a float image
/// [batch, C, H, W] with static C, H and W, if it is one.
static std::optional<Im2ColGeometry> geometry(const Operation &Op) {
  if (Op.kind() != OpKind::Im2Col || !Op.getBool("channel_major"))
    return std::nullopt;
  const TensorType &X = Op.operand(0)->Type;
  if (X.rank() != 4 || !(X.elem() == DType::F32 || X.elem() == DType::F64))
    return std::nullopt;
  for (unsigned D = 1; D < 4; ++D)
    if (!X.dim(D).isStatic())
      return std::nullopt;
  Im2ColGeometry G;
  G.C = X.dim(1).size();
  G.In = {X.dim(2).size(), X.dim(3).size()};
  llvm::ArrayRef<int64_t> K = Op.getInts("kernel"), S = Op.getInts("strides"),
                          P = Op.getInts("pads"), Dil = Op.getInts("dilations");
  for (unsigned D = 0; D < 2; ++D) {
    G.Kernel[D] = K[D];
    G.Stride[D] = S.size() == 2 ? S[D] : 1;
    G.Dilation[D] = Dil.size() == 2 ? Dil[D] : 1;
    G.PadBegin[D] = P.size() == 4 ? P[D] : 0;
    G.PadEnd[D] = P.size() == 4 ? P[2 + D] : 0;
    int64_t Span = G.Dilation[D] * (K[D] - 1) + 1;
    G.Out[D] = (G.In[D] + G.PadBegin[D] + G.PadEnd[D] - Span) / G.Stride[D] + 1;
  }
  return G;
}

llvm::SmallVector<int64_t, 4> dlc::windowPhases(const Im2ColGeometry &G) {
  int64_t SH = G.Stride[0], SW = G.Stride[1];
  llvm::SmallVector<int64_t, 4> Phases;
  for (int64_t P = 0; P < SH * SW; ++P) {
    bool Row = false, Col = false;
    for (int64_t Kh = 0; Kh < G.Kernel[0]; ++Kh)
      Row |= Kh * G.Dilation[0] % SH == P / SW;
    for (int64_t Kw = 0; Kw < G.Kernel[1]; ++Kw)
      Col |= Kw * G.Dilation[1] % SW == P % SW;
    if (Row && Col)
      Phases.push_back(P);
  }
  return Phases;
}

int64_t dlc::windowScratchElems(const Im2ColGeometry &G, int64_t BR, int64_t L) {
  int64_t SH = G.Stride[0], SW = G.Stride[1];
  int64_t Wq = (G.In[1] + G.PadBegin[1] + G.PadEnd[1] + SW - 1) / SW;
  int64_t Reach = G.Dilation[0] * (G.Kernel[0] - 1) / SH;
  return G.C * int64_t(windowPhases(G).size()) * (BR + Reach) * Wq + 4 * L;
}

std::optional<Im2ColGeometry> dlc::windowIm2Col(const Operation &Op) {
  std::optional<Im2ColGeometry> G = geometry(Op);
  // Output rows at least 10 wide: an 11-wide row computes 13 positions of
  // its row (the Keras CNN's second layer, 13x13 to 11x11: 0.227 ms at
  // batch 8 with stored patches, 0.197 ms here; 2.27 and 1.58 ms at batch
  // 64). ResNet-18's 7-wide rows measured no faster than stored patches. Patch rows of at least
  // 27 taps (3x3 over 3 channels: the stride-2 first layer of MobileNet
  // and EfficientNet, whose stored patches were 10.8 MB at batch 8;
  // MobileNetV3-small ran 6-8% faster at batch 1 and 8, the others 1%):
  // with fewer (the Keras CNN's first layer: 9), copying each block out
  // costs more than computing it, and the stored patches were 15% faster.
  if (!G || G->Out[1] < 10 || G->C * G->Kernel[0] * G->Kernel[1] < 27)
    return std::nullopt;
  int64_t Bytes = int64_t(dtypeSize(Op.operand(0)->Type.elem()));
  if (windowScratchElems(*G, 1, 64 / Bytes) * Bytes > windowScratchBudget)
    return std::nullopt;
  return G;
}

bool dlc::isPackableIm2Col(const Operation &Op) {
  if (windowIm2Col(Op))
    return true;
  std::optional<Im2ColGeometry> G = geometry(Op);
  // Output rows at least 32 wide: a packed strip of 64 columns then spans
  // at most 3 rows. Narrower rows cost more to pack row by row than the
  // patches cost to store (ResNet-18's 14-wide layers ran 60% slower).
  return G && G->Stride[1] == 1 && G->Out[1] >= 32;
}

/// Step 6: whether the matmul Op can take Im2Col's result as its b.
static bool takesPackedB(const Operation &Op, const Operation &Im2Col) {
  const Dim &M = Op.operand(0)->Type.dim(0);
  return isBlockedMatMul(Op) && Op.operand(1) == Im2Col.result() &&
         Op.operand(0) != Im2Col.result() && Op.operand(1)->Type.rank() == 3 &&
         Op.operand(1)->Type.dim(2).isStatic() && M.isStatic() && M.size() >= 16;
}

static bool isConvAnchor(const Operation &Op) {
  return Op.kind() == OpKind::Conv && isFloat(Op.result()->Type.elem());
}

static bool isReduction(const Operation &Op) {
  return isReduceOp(Op.kind()) && Op.operand(0)->Type.elem() != DType::Bool;
}

bool dlc::isFusible(const Operation &Op) {
  if (runsOnHost(Op))
    return false;
  return isElementwiseOp(Op) || isMatMulAnchor(Op) || isConvAnchor(Op) ||
         isReduction(Op) || isPackableIm2Col(Op) || Op.kind() == OpKind::MaxPool ||
         Op.kind() == OpKind::AvgPool;
}

namespace {
class Planner {
public:
  Planner(FusionPlan &P) : P(P) {}

  /// The shape of values in space S.
  TensorType shapeOf(Space S) const {
    if (S == Space::Full)
      return P.Full;
    Shape Dims;
    for (unsigned D = 0; D < P.Full.rank(); ++D) {
      if (!P.Reduced[D])
        Dims.push_back(P.Full.dim(D));
      else if (S == Space::OuterKeep)
        Dims.push_back(Dim::fixed(1));
    }
    return TensorType(P.Full.elem(), Dims);
  }

  /// Whether Op's result provably has shape T (see step 3).
  bool proves(const Operation &Op, const TensorType &T) const {
    const TensorType &RT = Op.result()->Type;
    if (RT.rank() != T.rank())
      return false;
    unsigned R = RT.rank();
    for (unsigned D = 0; D < R; ++D) {
      if (!T.dim(D).isUnknown()) {
        if (RT.dim(D) != T.dim(D))
          return false;
        continue;
      }
      if (!RT.dim(D).isUnknown())
        return false;
      bool Provided = false;
      for (const Value *V : Op.Operands) {
        unsigned VR = V->Type.rank();
        if (D + VR < R)
          continue; // absent: broadcast
        unsigned J = D + VR - R;
        auto It = P.SpaceOf.find(V);
        // A copy: shapeOf returns a temporary type.
        const Dim VD = It == P.SpaceOf.end() ? V->Type.dim(J)
                                             : shapeOf(It->second).dim(J);
        if (VD.isStatic() && VD.size() == 1)
          continue;
        if (It == P.SpaceOf.end() || !VD.isUnknown() || VR != R)
          return false;
        Provided = true;
      }
      if (!Provided)
        return false;
    }
    return true;
  }

  llvm::Error fail(const Operation &Op, const llvm::Twine &Why) {
    return makeError(Op.L, "'" + Op.mnemonic() + "' cannot join the fusion "
                           "group: " + Why);
  }

  llvm::Error reduction(const Operation &Op) {
    if (P.Kind != GroupKind::Reduction)
      return fail(Op, "a reduction only fuses with elementwise ops");
    const Value *X = Op.operand(0);
    auto It = P.SpaceOf.find(X);
    if (It != P.SpaceOf.end() ? It->second != Space::Full
                              : X != P.SpaceValue && !(X->Type == P.Full &&
                                                        X->Type.isStatic()))
      return fail(Op, "its input is not the group's full space");
    llvm::SmallVector<bool, 4> Reduced(P.Full.rank(), Op.getInts("axes").empty());
    for (int64_t A : Op.getInts("axes")) {
      auto N = normalizeAxis(A, P.Full.rank(), Op.L);
      if (!N)
        return N.takeError();
      Reduced[*N] = true;
    }
    if (Reduced != P.Reduced)
      return fail(Op, "it reduces other axes than the group's reductions");
    P.SpaceOf[Op.result()] =
        Op.getBool("keepdims") ? Space::OuterKeep : Space::OuterSqueeze;
    return llvm::Error::success();
  }

  /// Outside operands of a matmul epilogue: contiguous or constant along
  /// the last dim.
  bool vectorFriendly(const Operation &Op) const {
    const TensorType &RT = Op.result()->Type;
    for (const Value *V : Op.Operands) {
      if (P.SpaceOf.count(V) || V->Type.rank() == 0)
        continue;
      const Dim &Last = V->Type.dim(V->Type.rank() - 1);
      const Dim &RLast = RT.dim(RT.rank() - 1);
      if (!(Last.isStatic() && Last.size() == 1) &&
          (Last != RLast || Last.isUnknown()))
        return false;
    }
    return true;
  }

  /// Step 4.
  llvm::Error pool(const Operation &Op) {
    if (P.Kind != GroupKind::Conv)
      return fail(Op, "pooling only fuses after a convolution");
    auto It = P.SpaceOf.find(Op.operand(0));
    if (It == P.SpaceOf.end() || It->second != Space::Full)
      return fail(Op, "it does not pool the convolution's result");
    llvm::ArrayRef<int64_t> K = Op.getInts("kernel"), S = Op.getInts("strides"),
                            Pads = Op.getInts("pads");
    bool Tiles = !Op.getBool("ceil_mode") && S == K;
    for (int64_t V : Pads)
      Tiles &= V == 0;
    if (Op.kind() == OpKind::MaxPool)
      for (int64_t V : Op.getInts("dilations"))
        Tiles &= V == 1;
    if (!Tiles)
      return fail(Op, "its windows overlap, skip elements or are padded");
    P.SpaceOf[Op.result()] = Space::Pooled;
    return llvm::Error::success();
  }

  llvm::Error elementwise(const Operation &Op) {
    std::optional<Space> Common;
    bool Mixed = false, Internal = false;
    for (const Value *V : Op.Operands) {
      auto It = P.SpaceOf.find(V);
      if (It == P.SpaceOf.end())
        continue;
      Internal = true;
      if (Common && *Common != It->second)
        Mixed = true;
      Common = It->second;
    }
    if (!Internal)
      return fail(Op, "it reads no value of the group");
    if (P.Kind == GroupKind::MatMul || P.Kind == GroupKind::Conv) {
      DType E = P.Full.elem();
      for (const Value *V : Op.Operands)
        if (V->Type.elem() != E)
          return fail(Op, "an epilogue keeps the element type");
      if (Op.result()->Type.elem() != E)
        return fail(Op, "an epilogue keeps the element type");
      if (Mixed || *Common != Space::Full || !proves(Op, P.Full))
        return fail(Op, "its result is not the shape of the anchor's");
      if (P.Kind == GroupKind::MatMul) {
        OpKind K = Op.kind();
        if (K == OpKind::Tanh || K == OpKind::Elu || K == OpKind::Erf)
          return fail(Op, "it has no vector form for the matmul epilogue");
        if (!vectorFriendly(Op))
          return fail(Op, "an operand varies along the last dim in a way the "
                          "vector epilogue cannot load");
      }
      P.SpaceOf[Op.result()] = Space::Full;
      return llvm::Error::success();
    }
    if (!Mixed && *Common != Space::Full && proves(Op, shapeOf(*Common))) {
      P.SpaceOf[Op.result()] = *Common;
      return llvm::Error::success();
    }
    for (const Value *V : Op.Operands) {
      auto It = P.SpaceOf.find(V);
      if (It != P.SpaceOf.end() && It->second == Space::OuterSqueeze)
        return fail(Op, "it mixes per-row and full values of other ranks");
    }
    if (!proves(Op, P.Full))
      return fail(Op, "its result is not the shape of the group's space");
    P.SpaceOf[Op.result()] = Space::Full;
    return llvm::Error::success();
  }

  llvm::Error run(llvm::ArrayRef<const Operation *> Ops, const Function *F,
                  const ValueUsers *Users) {
    if (Ops.empty())
      return makeError("empty fusion group");
    if (isPackableIm2Col(*Ops[0])) { // step 6
      if (Ops.size() == 1 || !takesPackedB(*Ops[1], *Ops[0]))
        return fail(Ops.size() > 1 ? *Ops[1] : *Ops[0],
                    "only a matmul of at least 16 rows that reads the "
                    "patches as its b follows an im2col");
      P.Im2Col = Ops[0];
      Ops = Ops.drop_front();
    }
    P.Ops.assign(Ops.begin(), Ops.end());
    const Operation &First = *Ops[0];
    if (isMatMulAnchor(First) || isConvAnchor(First)) {
      P.Kind = First.kind() == OpKind::MatMul ? GroupKind::MatMul : GroupKind::Conv;
      P.SpaceValue = First.result();
    } else if (isReduction(First)) {
      P.Kind = GroupKind::Reduction;
      P.SpaceValue = First.operand(0);
    } else if (isElementwiseOp(First)) {
      P.Kind = GroupKind::Elementwise;
      for (const Operation *Op : Ops)
        if (isReduceOp(Op->kind()))
          P.Kind = GroupKind::Reduction;
      P.SpaceValue = First.result();
    } else {
      return makeError(First.L, "'" + First.mnemonic() +
                                    "' cannot start a fusion group");
    }
    P.Full = P.SpaceValue->Type;
    P.Reduced.assign(P.Full.rank(), false);
    for (const Operation *Op : Ops)
      if (isReduceOp(Op->kind())) {
        P.Reduced.assign(P.Full.rank(), Op->getInts("axes").empty());
        for (int64_t A : Op->getInts("axes")) {
          auto N = normalizeAxis(A, P.Full.rank(), Op->L);
          if (!N)
            return N.takeError();
          P.Reduced[*N] = true;
        }
        break;
      }
    for (size_t I = 0; I < Ops.size(); ++I) {
      const Operation &Op = *Ops[I];
      if (I && P.SpaceOf.lookup(Ops[I - 1]->result()) == Space::Pooled)
        return fail(Op, "nothing joins a group after its pooling");
      if (I == 0 && P.SpaceValue == Op.result()) {
        P.SpaceOf[Op.result()] = Space::Full;
        continue;
      }
      if (isReduction(Op)) {
        if (auto E = reduction(Op))
          return E;
      } else if (isElementwiseOp(Op)) {
        if (auto E = elementwise(Op))
          return E;
      } else if (I && (Op.kind() == OpKind::MaxPool ||
                       Op.kind() == OpKind::AvgPool)) {
        if (auto E = pool(Op))
          return E;
      } else {
        return fail(Op, I ? "only its first op may be a matmul or a "
                            "convolution"
                          : "it is not fusible");
      }
    }
    if (!F)
      return llvm::Error::success();
    llvm::DenseSet<const Value *> Seen;
    if (P.Im2Col) {
      P.Inputs.push_back(P.Im2Col->operand(0));
      Seen.insert(P.Im2Col->operand(0));
      Seen.insert(P.Im2Col->result()); // computed while packing b
      bool Shared = llvm::is_contained(F->Outputs, P.Im2Col->result());
      for (const Operation *U : Users->lookup(P.Im2Col->result()))
        Shared |= U != Ops[0];
      if (Shared)
        return fail(*P.Im2Col, "its patches are read outside the group");
    }
    for (const Operation *Op : Ops)
      for (const Value *V : Op->Operands)
        if (!P.contains(V) && Seen.insert(V).second)
          P.Inputs.push_back(V);
    llvm::DenseSet<const Operation *> InGroup(Ops.begin(), Ops.end());
    llvm::DenseSet<const Value *> Returned(F->Outputs.begin(), F->Outputs.end());
    for (const Operation *Op : Ops) {
      bool Used = Returned.count(Op->result());
      auto It = Users->find(Op->result());
      if (It != Users->end())
        for (const Operation *U : It->second)
          Used |= !InGroup.count(U);
      if (Used)
        P.Outputs.push_back(Op->result());
    }
    if (P.Outputs.empty())
      return makeError(Ops.back()->L, "fusion group computes nothing used");
    if (P.SpaceOf.lookup(Ops.back()->result()) == Space::Pooled &&
        P.Outputs.size() > 1)
      return fail(*Ops.back(), "values before the pooling are used outside");
    return llvm::Error::success();
  }

private:
  FusionPlan &P;
};
} // namespace

ValueUsers dlc::usersOf(const Function &F) {
  ValueUsers U;
  for (auto &Op : F.Body)
    for (const Value *V : Op->Operands)
      U[V].push_back(Op.get());
  return U;
}

llvm::Expected<FusionPlan>
dlc::planFusionGroup(llvm::ArrayRef<const Operation *> Ops, const Function &F,
                     const ValueUsers &Users) {
  FusionPlan P;
  if (auto E = Planner(P).run(Ops, &F, &Users))
    return std::move(E);
  return P;
}

llvm::Error dlc::checkFusionGroup(llvm::ArrayRef<const Operation *> Ops) {
  FusionPlan P;
  return Planner(P).run(Ops, nullptr, nullptr);
}
