// --conv-to-gemm: rewrites a convolution as im2col + matrix multiply, so it
// runs on the register-blocked GEMM kernel instead of a direct loop nest.
//
// 1. Applies to conv with group 1 whose channel count, kernel and output
//    spatial size are static (the batch may be symbolic).
// 2. cols = im2col(x) : [N, P, C*K]; y = reshape(cols, [-1, C*K]) @
//    transpose(reshape(w, [M, C*K])) (+ bias) : [N*P, M].
// 3. Back to NCHW: reshape to [N, P, M], transpose to [N, M, P], reshape to
//    [N, M, spatial...]. The weight reshape and transpose fold to constants.
// The result keeps the conv's type (its symbolic batch dim included).
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

/// Builds im2col + matmul for conv Op before it; returns the result in the
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
  std::vector<NamedAttr> Attrs = {intsAttr("kernel", Kernel)};
  for (const char *Name : {"strides", "pads", "dilations"})
    if (const Attribute *A = Op.findAttr(Name))
      Attrs.push_back({Name, *A});
  Value *Cols = B.create(OpKind::Im2Col, {Op.operand(0)}, Attrs);
  Value *Flat = B.create(OpKind::Reshape, {Cols}, {intsAttr("shape", {-1, CK})});
  Value *Wm = B.create(OpKind::Reshape, {Op.operand(1)}, {intsAttr("shape", {M, CK})});
  Value *Wt = B.create(OpKind::Transpose, {Wm}, {intsAttr("perm", {1, 0})});
  Value *Y = B.create(OpKind::MatMul, {Flat, Wt});
  if (Op.numOperands() == 3)
    Y = B.create(OpKind::Add, {Y, Op.operand(2)});
  Value *Y3 = B.create(OpKind::Reshape, {Y}, {intsAttr("shape", {-1, P, M})});
  Value *Yt = B.create(OpKind::Transpose, {Y3}, {intsAttr("perm", {0, 2, 1})});
  return B.create(OpKind::Reshape, {Yt}, {intsAttr("shape", OutSpatial)});
}

class ConvToGemm : public Pass {
public:
  llvm::StringRef name() const override { return "conv-to-gemm"; }
  llvm::StringRef description() const override {
    return "Rewrite convolutions as im2col + matmul";
  }
  llvm::Error run(Function &F) override {
    return rewriteOps(F, [](Operation &Op, OpBuilder &B) -> RewriteResult {
      if (!applies(Op))
        return llvm::SmallVector<Value *, 1>();
      return llvm::SmallVector<Value *, 1>{lower(Op, B)};
    });
  }
};
} // namespace

std::unique_ptr<Pass> dlc::createConvToGemmPass() {
  return std::make_unique<ConvToGemm>();
}
