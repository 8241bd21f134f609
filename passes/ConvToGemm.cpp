// --conv-to-gemm: rewrites a convolution as a matrix multiply, so it runs on
// the register-blocked GEMM kernel instead of a direct loop nest, with its
// result in NCHW as it stands.
//
// 1. Applies to conv with group 1 whose channel count, kernel and output
//    spatial size are static (the batch may be symbolic).
// 2. The patches of each image as a [C*K, P] matrix (K the kernel size, P
//    the output positions): im2col with channel_major. A pointwise conv
//    (1x1 kernel, stride 1, no padding) needs none: each image [C, P] is
//    that matrix already, a reshape of x.
// 3. y = reshape(w, [M, C*K]) @ patches : [N, M, P], one batched matmul
//    whose images share the weights, + bias as [M, 1] (both fused into the
//    GEMM kernel), then reshaped to [N, M, spatial...].
// 4. Fewer than SmallP output positions (7x7 = 49, 5x5) make that matmul
//    too narrow for the GEMM kernel's vector blocks; those convs take the
//    other orientation: patches [N*P, C*K] (im2col, positions first) times
//    transpose(w) : [N*P, M] (+ bias), transposed back to [N, M, P]. The
//    transposes are small at so few positions.
// The result keeps the conv's type (its symbolic batch dim included).
//
// 5. A matmul of a [..., M, K] (rank 3 or more) by a 2-D b [K, N] (a dense
//    layer applied to a batch of sequences, as transformer and LSTM exports
//    have) is one GEMM of a's rows: reshape(a, [-1, K]) @ b, reshaped back.
//    The blocked GEMM kernel takes a 2-D a only; the batched form ran the
//    plain loop on one thread. Both reshapes are views. With static
//    leading dims (or one symbolic) the result's shape is an attribute;
//    else it is read from a's shape when the run is planned.
#include "passes/Decompose.h"
#include "passes/Pass.h"

using namespace dlc;

namespace {

bool applies(const Operation &Op) {
  if (Op.kind() != OpKind::Conv || Op.getInt("group") != 1)
    return false;
  const TensorType &X = Op.operand(0)->Type, &W = Op.operand(1)->Type,
                   &R = Op.result()->Type;
  // Every dim the rewrite multiplies must be static: a symbolic channel
  // count in the weight (a dim_param) would become a negative reshape entry.
  if (X.rank() < 3 || W.rank() != X.rank() || R.rank() != X.rank() ||
      !X.dim(1).isStatic() || !W.dim(1).isStatic())
    return false;
  for (unsigned D = 2; D < W.rank(); ++D)
    if (!W.dim(D).isStatic() || !R.dim(D).isStatic())
      return false;
  return W.dim(0).isStatic();
}

/// Whether every entry of Op's list attribute Name is V (an absent or
/// empty list is the default: all V).
bool allEqual(const Operation &Op, llvm::StringRef Name, int64_t V) {
  const Attribute *A = Op.findAttr(Name);
  if (!A)
    return true;
  for (int64_t X : A->getInts())
    if (X != V)
      return false;
  return true;
}

bool isPointwise(const Operation &Op) {
  const TensorType &W = Op.operand(1)->Type;
  for (unsigned D = 2; D < W.rank(); ++D)
    if (W.dim(D).size() != 1)
      return false;
  return allEqual(Op, "strides", 1) && allEqual(Op, "pads", 0);
}

constexpr int64_t SmallP = 64;

/// Step 4: positions first, for convs with few output positions.
Value *lowerPositionsFirst(Operation &Op, OpBuilder &B, int64_t M, int64_t CK,
                           int64_t P, llvm::ArrayRef<int64_t> Kernel,
                           llvm::ArrayRef<int64_t> OutSpatial) {
  std::vector<NamedAttr> Attrs = {intsAttr("kernel", Kernel)};
  for (const char *Name : {"strides", "pads", "dilations"})
    if (const Attribute *A = Op.findAttr(Name))
      Attrs.push_back({Name, *A});
  // A pointwise conv of a one-position image reads that position's channels
  // in order: no patch gather.
  Value *Cols = P == 1 && isPointwise(Op) ? Op.operand(0)
                                          : B.create(OpKind::Im2Col, {Op.operand(0)}, Attrs);
  Value *Flat = B.create(OpKind::Reshape, {Cols}, {intsAttr("shape", {-1, CK})});
  Value *Wm = B.create(OpKind::Reshape, {Op.operand(1)}, {intsAttr("shape", {M, CK})});
  Value *Wt = B.create(OpKind::Transpose, {Wm}, {intsAttr("perm", {1, 0})});
  Value *Y = B.create(OpKind::MatMul, {Flat, Wt});
  if (Op.numOperands() == 3)
    Y = B.create(OpKind::Add, {Y, Op.operand(2)});
  // With one position, positions-first and channels-first are one layout.
  if (P == 1)
    return B.create(OpKind::Reshape, {Y}, {intsAttr("shape", OutSpatial)});
  Value *Y3 = B.create(OpKind::Reshape, {Y}, {intsAttr("shape", {-1, P, M})});
  Value *Yt = B.create(OpKind::Transpose, {Y3}, {intsAttr("perm", {0, 2, 1})});
  return B.create(OpKind::Reshape, {Yt}, {intsAttr("shape", OutSpatial)});
}

/// Steps 2 to 4 for conv Op, built before it; returns the result in the
/// conv's layout (its '?' batch dim is refined by rewriteOps).
Value *lower(Operation &Op, OpBuilder &B) {
  const TensorType &W = Op.operand(1)->Type, &RT = Op.result()->Type;
  int64_t M = W.dim(0).size(), CK = W.dim(1).size(), P = 1;
  llvm::SmallVector<int64_t, 3> Kernel, OutSpatial = {0, 0};
  for (unsigned D = 2; D < W.rank(); ++D) {
    Kernel.push_back(W.dim(D).size());
    CK *= W.dim(D).size();
    P *= RT.dim(D).size();
    OutSpatial.push_back(RT.dim(D).size());
  }
  if (P < SmallP)
    return lowerPositionsFirst(Op, B, M, CK, P, Kernel, OutSpatial);
  Value *Patches;
  if (isPointwise(Op)) {
    Patches = B.create(OpKind::Reshape, {Op.operand(0)}, {intsAttr("shape", {-1, CK, P})});
  } else {
    std::vector<NamedAttr> Attrs = {intsAttr("kernel", Kernel),
                                    {"channel_major", Attribute::getBool(true)}};
    for (const char *Name : {"strides", "pads", "dilations"})
      if (const Attribute *A = Op.findAttr(Name))
        Attrs.push_back({Name, *A});
    Patches = B.create(OpKind::Im2Col, {Op.operand(0)}, Attrs);
  }
  Value *Wm = B.create(OpKind::Reshape, {Op.operand(1)}, {intsAttr("shape", {M, CK})});
  Value *Y = B.create(OpKind::MatMul, {Wm, Patches});
  if (Op.numOperands() == 3) {
    Value *Bias = B.create(OpKind::Reshape, {Op.operand(2)}, {intsAttr("shape", {M, 1})});
    Y = B.create(OpKind::Add, {Y, Bias});
  }
  return B.create(OpKind::Reshape, {Y}, {intsAttr("shape", OutSpatial)});
}

/// Step 5's pattern: a float matmul of a rank >= 3 a with a static k by a
/// 2-D b.
bool flattens(const Operation &Op) {
  if (Op.kind() != OpKind::MatMul)
    return false;
  const TensorType &A = Op.operand(0)->Type, &Bt = Op.operand(1)->Type;
  DType E = Op.result()->Type.elem();
  return A.rank() >= 3 && Bt.rank() == 2 && A.dim(A.rank() - 1).isStatic() &&
         (E == DType::F32 || E == DType::F64);
}

/// Step 5 for matmul Op, built before it.
Value *flatten(Operation &Op, OpBuilder &B) {
  Value *A = Op.operand(0), *Bm = Op.operand(1);
  const TensorType &RT = Op.result()->Type;
  unsigned R = A->Type.rank();
  int64_t K = A->Type.dim(R - 1).size();
  Value *Rows = B.create(OpKind::Reshape, {A}, {intsAttr("shape", {-1, K})});
  Value *Y = B.create(OpKind::MatMul, {Rows, Bm});
  llvm::SmallVector<int64_t, 4> Shape;
  unsigned Symbolic = 0;
  for (const Dim &D : RT.dims()) {
    Symbolic += !D.isStatic();
    Shape.push_back(D.isStatic() ? D.size() : -1);
  }
  if (Symbolic <= 1)
    return B.create(OpKind::Reshape, {Y}, {intsAttr("shape", Shape)});
  // a's leading dims at run time, then b's column count.
  Value *Lead = B.create(OpKind::Slice, {B.create(OpKind::ShapeOf, {A})},
                         {intsAttr("starts", {0}), intsAttr("ends", {int64_t(R) - 1})});
  Value *N = B.create(OpKind::Slice, {B.create(OpKind::ShapeOf, {Bm})},
                      {intsAttr("starts", {1}), intsAttr("ends", {2})});
  Value *Dims = B.create(OpKind::Concat, {Lead, N}, {{"axis", Attribute::getInt(0)}});
  return B.create(OpKind::Reshape, {Y, Dims},
                  {intsAttr("shape", {}), {"by_value", Attribute::getBool(true)}});
}

class ConvToGemm : public Pass {
public:
  llvm::StringRef name() const override { return "conv-to-gemm"; }
  llvm::StringRef description() const override {
    return "Rewrite convolutions as im2col + matmul, and matmuls of a batched a by a 2-D b as one 2-D matmul";
  }
  llvm::Error run(Function &F) override {
    return rewriteOps(F, [](Operation &Op, OpBuilder &B) -> RewriteResult {
      if (applies(Op))
        return llvm::SmallVector<Value *, 1>{lower(Op, B)};
      if (flattens(Op))
        return llvm::SmallVector<Value *, 1>{flatten(Op, B)};
      return llvm::SmallVector<Value *, 1>();
    });
  }
};
} // namespace

std::unique_ptr<Pass> dlc::createConvToGemmPass() {
  return std::make_unique<ConvToGemm>();
}
