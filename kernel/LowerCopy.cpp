// Copy-like movement ops to kernel IR: concat, split, slice, pad, gather,
// expand, tile, shape, iota and resize_coords. Each is one loop nest over the result whose reads map result
// indices back to input indices; none needs a branch.
#include "kernel/Lowering.h"
#include "kernel/LoweringUtil.h"

#include "ir/Location.h"
#include "ir/ShapeInference.h"

using namespace dlc;
using namespace dlc::kir;

namespace {
/// Opens loops over every dim of Buf; returns the induction variables.
std::vector<KValue *> loopsOver(KBuilder &B, KValue *Buf, KValue *Zero) {
  std::vector<KValue *> IVs;
  for (unsigned D = 0; D < Buf->BufType.rank(); ++D)
    IVs.push_back(B.beginFor(Zero, B.dim(Buf, D)));
  return IVs;
}

/// Closes N loops; returns the outermost (null when N is 0).
KOp *closeLoops(KBuilder &B, size_t N) {
  KOp *Outer = nullptr;
  for (size_t I = 0; I < N; ++I)
    Outer = B.endFor();
  return Outer;
}

/// For kernels that are a single loop nest: its iterations are independent.
void markParallel(KOp *Outer) {
  if (Outer)
    Outer->Marks.Parallel = true;
}

} // namespace

llvm::Expected<std::unique_ptr<Kernel>>
dlc::lowerCopy(const Operation &Op, llvm::StringRef Name) {
  auto K = newKernel(Name);
  KBuilder B(*K);
  std::vector<KValue *> Ins;
  for (unsigned I = 0; I < Op.numOperands(); ++I)
    Ins.push_back(B.arg("in" + std::to_string(I), dynamicLike(Op.operand(I)->Type)));
  std::vector<KValue *> Outs;
  for (unsigned I = 0; I < Op.numResults(); ++I)
    Outs.push_back(B.arg("out" + std::to_string(I), dynamicLike(Op.result(I)->Type)));
  KValue *Out = Outs[0];
  KValue *Zero = B.constIndex(0), *One = B.constIndex(1);
  KValue *X = Ins[0];
  unsigned R = Op.operand(0)->Type.rank();
  switch (Op.kind()) {
  case OpKind::Concat: {
    auto Axis = normalizeAxis(Op.getInt("axis"), R, Op.L);
    if (!Axis)
      return Axis.takeError();
    // Each operand is copied to its offset along the axis.
    KValue *Offset = Zero;
    for (KValue *In : Ins) {
      std::vector<KValue *> IVs = loopsOver(B, In, Zero);
      std::vector<KValue *> OutIdx(IVs);
      OutIdx[*Axis] = B.index(IndexOp::Add, IVs[*Axis], Offset);
      B.store(B.load(In, IVs), Out, OutIdx);
      closeLoops(B, IVs.size());
      Offset = B.index(IndexOp::Add, Offset, B.dim(In, *Axis));
    }
    return finishKernel(std::move(K));
  }
  case OpKind::Slice: {
    llvm::ArrayRef<int64_t> Starts = Op.getInts("starts"), Axes = Op.getInts("axes"),
                            Steps = Op.getInts("steps");
    // Per input dim: the first index read and the step (1 when not sliced).
    std::vector<KValue *> First(R, Zero);
    std::vector<int64_t> Step(R, 1);
    for (size_t I = 0; I < Starts.size(); ++I) {
      auto Ax = normalizeAxis(Axes.empty() ? int64_t(I) : Axes[I], R, Op.L);
      if (!Ax)
        return Ax.takeError();
      int64_t St = Steps.empty() ? 1 : Steps[I];
      KValue *Dm = B.dim(X, *Ax);
      KValue *S = Starts[I] < 0 ? B.index(IndexOp::Add, B.constIndex(Starts[I]), Dm)
                                : B.constIndex(Starts[I]);
      // Clamp as ONNX does: [0, dim] going forward, [-1, dim-1] backward.
      S = St > 0 ? B.index(IndexOp::Min, B.index(IndexOp::Max, S, Zero), Dm)
                 : B.index(IndexOp::Min, B.index(IndexOp::Max, S, B.constIndex(-1)),
                           B.index(IndexOp::Sub, Dm, One));
      First[*Ax] = S;
      Step[*Ax] = St;
    }
    std::vector<KValue *> IVs = loopsOver(B, Out, Zero), InIdx;
    for (unsigned D = 0; D < R; ++D)
      InIdx.push_back(B.index(IndexOp::Add, First[D],
                              B.index(IndexOp::Mul, IVs[D], B.constIndex(Step[D]))));
    B.store(B.load(X, InIdx), Out, IVs);
    markParallel(closeLoops(B, R));
    return finishKernel(std::move(K));
  }
  case OpKind::Pad: {
    llvm::ArrayRef<int64_t> Pads = Op.getInts("pads");
    llvm::StringRef Mode = Op.getString("mode");
    std::vector<KValue *> IVs = loopsOver(B, Out, Zero), InIdx;
    KValue *Valid = nullptr;
    SType Bool = SType::of(DType::Bool);
    for (unsigned D = 0; D < R; ++D) {
      KValue *Dm = B.dim(X, D), *Last = B.index(IndexOp::Sub, Dm, One);
      KValue *J = B.index(IndexOp::Sub, IVs[D], B.constIndex(Pads[D]));
      if (Mode == "reflect") {
        // Mirror at both ends without repeating the edge: |j|, then
        // 2(n-1) - j past the end.
        J = B.index(IndexOp::Max, J, B.index(IndexOp::Sub, Zero, J));
        J = B.index(IndexOp::Min, J,
                    B.index(IndexOp::Sub, B.index(IndexOp::Add, Last, Last), J));
      } else if (Mode == "constant") {
        KValue *V = B.scalar(OpKind::And,
                             {B.scalar(OpKind::LessEqual, {Zero, J}, Bool),
                              B.scalar(OpKind::Less, {J, Dm}, Bool)},
                             Bool);
        Valid = Valid ? B.scalar(OpKind::And, {Valid, V}, Bool) : V;
      }
      InIdx.push_back(B.index(IndexOp::Min, B.index(IndexOp::Max, J, Zero), Last));
    }
    KValue *V = B.load(X, InIdx);
    if (Valid)
      V = B.scalar(OpKind::Where,
                   {Valid, V, B.constFloat(X->BufType.elem(), Op.getFloat("value"))},
                   SType::of(X->BufType.elem()));
    B.store(V, Out, IVs);
    markParallel(closeLoops(B, R));
    return finishKernel(std::move(K));
  }
  case OpKind::Expand:
  case OpKind::Tile: {
    // expand reads min(i, dim - 1) (1 or the result's size); tile reads
    // i mod dim. Input dims align with the result's trailing dims.
    std::vector<KValue *> IVs = loopsOver(B, Out, Zero), InIdx;
    unsigned RO = Op.result()->Type.rank();
    for (unsigned D = 0; D < R; ++D) {
      KValue *IV = IVs[D + RO - R], *Dm = B.dim(X, D);
      InIdx.push_back(Op.kind() == OpKind::Tile
                          ? B.index(IndexOp::Rem, IV, Dm)
                          : B.index(IndexOp::Min, IV, B.index(IndexOp::Sub, Dm, One)));
    }
    B.store(B.load(X, InIdx), Out, IVs);
    markParallel(closeLoops(B, RO));
    return finishKernel(std::move(K));
  }
  case OpKind::Split: {
    auto Axis = normalizeAxis(Op.getInt("axis"), R, Op.L);
    if (!Axis)
      return Axis.takeError();
    // Each result reads the input from its offset along the axis.
    KValue *Offset = Zero;
    for (KValue *O : Outs) {
      std::vector<KValue *> IVs = loopsOver(B, O, Zero);
      std::vector<KValue *> InIdx(IVs);
      InIdx[*Axis] = B.index(IndexOp::Add, IVs[*Axis], Offset);
      B.store(B.load(X, InIdx), O, IVs);
      closeLoops(B, IVs.size());
      Offset = B.index(IndexOp::Add, Offset, B.dim(O, *Axis));
    }
    return finishKernel(std::move(K));
  }
  case OpKind::Gather: {
    auto Axis = normalizeAxis(Op.getInt("axis"), R, Op.L);
    if (!Axis)
      return Axis.takeError();
    KValue *Idx = Ins[1];
    unsigned IR = Op.operand(1)->Type.rank();
    // result[pre, idx..., post] = data[pre, indices[idx...], post]; the
    // executor has checked that indices lie in [-dim, dim).
    std::vector<KValue *> IVs = loopsOver(B, Out, Zero);
    std::vector<KValue *> IIdx(IVs.begin() + *Axis, IVs.begin() + *Axis + IR);
    KValue *I = B.load(Idx, IIdx);
    if (Op.operand(1)->Type.elem() != DType::I64)
      I = B.scalar(OpKind::Cast, {I}, SType::of(DType::I64));
    KValue *Dm = B.dim(X, *Axis);
    KValue *Neg = B.scalar(OpKind::Less, {I, Zero}, SType::of(DType::Bool));
    KValue *Wrapped = B.scalar(OpKind::Add, {I, Dm}, SType::of(DType::I64));
    I = B.scalar(OpKind::Where, {Neg, Wrapped, I}, SType::index());
    std::vector<KValue *> DIdx(IVs.begin(), IVs.begin() + *Axis);
    DIdx.push_back(I);
    DIdx.insert(DIdx.end(), IVs.begin() + *Axis + IR, IVs.end());
    B.store(B.load(X, DIdx), Out, IVs);
    markParallel(closeLoops(B, IVs.size()));
    return finishKernel(std::move(K));
  }
  case OpKind::Iota: {
    auto Axis = normalizeAxis(Op.getInt("axis"), R, Op.L);
    if (!Axis)
      return Axis.takeError();
    std::vector<KValue *> IVs = loopsOver(B, Out, Zero);
    B.store(B.scalar(OpKind::Cast, {IVs[*Axis]}, SType::of(DType::I64)), Out, IVs);
    markParallel(closeLoops(B, IVs.size()));
    return finishKernel(std::move(K));
  }
  case OpKind::ShapeOf: {
    for (unsigned D = 0; D < R; ++D)
      B.store(B.scalar(OpKind::Cast, {B.dim(X, D)}, SType::of(DType::I64)), Out,
              {B.constIndex(D)});
    return finishKernel(std::move(K));
  }
  case OpKind::ResizeCoords: {
    auto Axis = normalizeAxis(Op.getInt("axis"), R, Op.L);
    if (!Axis)
      return Axis.takeError();
    // The formulas of resizeSourceCoord, in f64 on the run-time sizes.
    SType F = SType::of(DType::F64), Bool = SType::of(DType::Bool);
    auto ToF = [&](KValue *Idx) {
      return B.scalar(OpKind::Cast,
                      {B.scalar(OpKind::Cast, {Idx}, SType::of(DType::I64))}, F);
    };
    auto Num = [&](double V) { return B.constFloat(DType::F64, V); };
    auto Bin = [&](OpKind K, KValue *A, KValue *C) {
      return B.scalar(K, {A, C}, F);
    };
    KValue *In = ToF(B.dim(X, *Axis)), *OutN = ToF(B.dim(Out, 0));
    KValue *Scale = Op.getInt("size") ? Bin(OpKind::Div, OutN, In)
                                      : Num(Op.getFloat("scale"));
    llvm::StringRef Mode = Op.getString("mode");
    KValue *IV = B.beginFor(Zero, B.dim(Out, 0));
    KValue *I = ToF(IV), *S;
    if (Mode == "asymmetric") {
      S = Bin(OpKind::Div, I, Scale);
    } else if (Mode == "align_corners") {
      S = Bin(OpKind::Div, Bin(OpKind::Mul, I, Bin(OpKind::Sub, In, Num(1))),
              Bin(OpKind::Sub, Bin(OpKind::Mul, In, Scale), Num(1)));
    } else if (Mode == "tf_crop_and_resize") {
      double R0 = Op.getFloat("roi_start"), R1 = Op.getFloat("roi_end");
      KValue *Last = Bin(OpKind::Sub, In, Num(1));
      KValue *Span = Bin(OpKind::Mul, Num(R1 - R0), Last);
      KValue *Width = Bin(OpKind::Mul, In, Scale);
      S = B.scalar(OpKind::Where,
                   {B.scalar(OpKind::Equal, {Width, Num(1)}, Bool),
                    Bin(OpKind::Div, Span, Num(2)),
                    Bin(OpKind::Div, Bin(OpKind::Mul, I, Span),
                        Bin(OpKind::Sub, Width, Num(1)))},
                   F);
      S = Bin(OpKind::Add, S, Bin(OpKind::Mul, Num(R0), Last));
    } else if (Mode == "half_pixel_symmetric") {
      KValue *Width = Bin(OpKind::Mul, In, Scale);
      KValue *Shift =
          Bin(OpKind::Mul, Bin(OpKind::Div, In, Num(2)),
              Bin(OpKind::Sub, Num(1), Bin(OpKind::Div, OutN, Width)));
      S = Bin(OpKind::Add, Shift,
              Bin(OpKind::Sub,
                  Bin(OpKind::Div, Bin(OpKind::Add, I, Num(0.5)), Scale),
                  Num(0.5)));
    } else {
      S = Bin(OpKind::Sub,
              Bin(OpKind::Div, Bin(OpKind::Add, I, Num(0.5)), Scale), Num(0.5));
    }
    if (Mode == "align_corners" || Mode == "pytorch_half_pixel")
      S = B.scalar(OpKind::Where,
                   {B.scalar(OpKind::Equal, {OutN, Num(1)}, Bool), Num(0), S}, F);
    B.store(S, Out, {IV});
    B.endFor(); // a few samples: not worth the threads

    return finishKernel(std::move(K));
  }
  default:
    return makeError(Op.L, "'" + Op.mnemonic() + "' is not a copy-like op");
  }
}
