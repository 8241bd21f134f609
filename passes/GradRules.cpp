// Gradient rules for elementwise ops and reductions, and the helpers all
// rules share (un-broadcasting, broadcasting back, reduction counts).
#include "passes/Autodiff.h"
#include "passes/Decompose.h"

#include <cmath>

using namespace dlc;
using namespace dlc::grad;

Value *grad::broadcastLike(OpBuilder &B, Value *V, Value *Like) {
  if (V->Type == Like->Type)
    return V;
  return B.create(OpKind::Expand, {V, Like});
}

Value *grad::sliceChannels(OpBuilder &B, Value *V, int64_t Begin, int64_t End) {
  return B.create(OpKind::Slice, {V}, {intsAttr("starts", {Begin}),
                                       intsAttr("ends", {End}),
                                       intsAttr("axes", {1})});
}

Value *grad::sumToShape(OpBuilder &B, Value *G, const TensorType &T) {
  if (G->Type.dims() == T.dims())
    return G;
  unsigned GR = G->Type.rank(), TR = T.rank();
  assert(GR >= TR && "gradient of lower rank than its operand");
  // Leading dims the operand does not have: sum them away.
  if (GR > TR) {
    llvm::SmallVector<int64_t, 4> Lead;
    for (unsigned I = 0; I < GR - TR; ++I)
      Lead.push_back(I);
    G = B.create(OpKind::ReduceSum, {G},
                 {intsAttr("axes", Lead), boolAttr("keepdims", false)});
  }
  // Dims where the operand was 1 and got broadcast: sum, keeping the dim.
  llvm::SmallVector<int64_t, 4> Ones;
  for (unsigned I = 0; I < TR; ++I)
    if (T.dim(I).isStatic() && T.dim(I).size() == 1 &&
        !(G->Type.dim(I).isStatic() && G->Type.dim(I).size() == 1))
      Ones.push_back(I);
  if (!Ones.empty())
    G = B.create(OpKind::ReduceSum, {G}, {intsAttr("axes", Ones)});
  return G;
}

llvm::Expected<Value *> grad::reshapeTo(OpBuilder &B, Value *V,
                                        const TensorType &T,
                                        const Operation &ForErrors) {
  if (V->Type.dims() == T.dims())
    return V;
  llvm::SmallVector<int64_t, 4> Shape;
  unsigned Dynamic = 0;
  for (unsigned I = 0; I < T.rank(); ++I) {
    const Dim &D = T.dim(I);
    if (D.isStatic()) {
      Shape.push_back(D.size());
    } else if (I < V->Type.rank() && V->Type.dim(I) == D && D.isSymbol()) {
      Shape.push_back(0); // copies the same symbolic dim at this position
    } else {
      Shape.push_back(-1);
      ++Dynamic;
    }
  }
  if (Dynamic > 1)
    return unsupported(ForErrors, "a reshape back to " + T.str() +
                                      ", which has several non-static dims");
  return B.create(OpKind::Reshape, {V}, {intsAttr("shape", Shape)});
}

Value *grad::reductionCount(OpBuilder &B, Value *X,
                            llvm::ArrayRef<int64_t> Axes) {
  DType E = X->Type.elem();
  unsigned R = X->Type.rank();
  llvm::SmallVector<int64_t, 4> All;
  if (Axes.empty())
    for (unsigned I = 0; I < R; ++I)
      All.push_back(I);
  else
    for (int64_t A : Axes)
      All.push_back(A < 0 ? A + R : A);
  double Static = 1;
  bool IsStatic = true;
  for (int64_t A : All) {
    const Dim &D = X->Type.dim(A);
    IsStatic &= D.isStatic();
    if (D.isStatic())
      Static *= double(D.size());
  }
  if (IsStatic)
    return B.scalar(E, Static);
  // shape(x)[axes], multiplied, as a float.
  Tensor Idx(DType::I64, {int64_t(All.size())});
  for (size_t I = 0; I < All.size(); ++I)
    Idx.setI(I, All[I]);
  Value *Dims = B.create(OpKind::Gather,
                         {B.create(OpKind::ShapeOf, {X}), B.constant(Idx)});
  Value *N = B.create(OpKind::ReduceProd, {Dims}, {boolAttr("keepdims", false)});
  return B.create(OpKind::Cast, {N}, {{"to", Attribute::getType(E)}});
}

llvm::Error grad::elementwiseGrad(Operation &Op, Value *G, OpBuilder &B,
                                  llvm::SmallVectorImpl<Value *> &Out) {
  Value *X = Op.operand(0), *Y = Op.result();
  DType E = Y->Type.elem();
  auto C = [&](double V) { return B.scalar(E, V); };
  auto Mk = [&](OpKind K, llvm::ArrayRef<Value *> Ops,
                std::vector<NamedAttr> Attrs = {}) {
    return B.create(K, Ops, std::move(Attrs));
  };
  auto Mul = [&](Value *A, Value *Bv) { return Mk(OpKind::Mul, {A, Bv}); };
  auto Zero = [&] { return C(0.0); };
  // Unary: d/dx as a function of x, y and g.
  switch (Op.kind()) {
  case OpKind::Neg:
    Out[0] = Mk(OpKind::Neg, {G});
    return llvm::Error::success();
  case OpKind::Abs:
    Out[0] = Mul(G, Mk(OpKind::Sign, {X}));
    return llvm::Error::success();
  case OpKind::Exp:
    Out[0] = Mul(G, Y);
    return llvm::Error::success();
  case OpKind::Log:
    Out[0] = Mk(OpKind::Div, {G, X});
    return llvm::Error::success();
  case OpKind::Sqrt: // g / (2 sqrt x)
    Out[0] = Mk(OpKind::Div, {Mul(G, C(0.5)), Y});
    return llvm::Error::success();
  case OpKind::Rsqrt: // -y^3 / 2
    Out[0] = Mul(G, Mul(Mul(Y, Mul(Y, Y)), C(-0.5)));
    return llvm::Error::success();
  case OpKind::Reciprocal: // -y^2
    Out[0] = Mk(OpKind::Neg, {Mul(G, Mul(Y, Y))});
    return llvm::Error::success();
  case OpKind::Tanh: // 1 - y^2
    Out[0] = Mul(G, Mk(OpKind::Sub, {C(1.0), Mul(Y, Y)}));
    return llvm::Error::success();
  case OpKind::Sigmoid: // y (1 - y)
    Out[0] = Mul(G, Mul(Y, Mk(OpKind::Sub, {C(1.0), Y})));
    return llvm::Error::success();
  case OpKind::Relu: // y > 0 exactly where x > 0: reading y, not x, lets
    // x die inside a fused producer (a GEMM stores relu(x) only; the Keras
    // CNN's training step stored both and ran relu as its own pass).
    Out[0] = Mk(OpKind::Where, {Mk(OpKind::Greater, {Y, Zero()}), G, Zero()});
    return llvm::Error::success();
  case OpKind::LeakyRelu:
    Out[0] = Mk(OpKind::Where, {Mk(OpKind::GreaterEqual, {X, Zero()}), G,
                                Mul(G, C(Op.getFloat("alpha")))});
    return llvm::Error::success();
  case OpKind::Elu: // x > 0: 1, else alpha e^x = y + alpha
    Out[0] = Mk(OpKind::Where,
                {Mk(OpKind::Greater, {X, Zero()}), G,
                 Mul(G, Mk(OpKind::Add, {Y, C(Op.getFloat("alpha"))}))});
    return llvm::Error::success();
  case OpKind::Erf: // 2/sqrt(pi) e^(-x^2)
    Out[0] = Mul(G, Mul(Mk(OpKind::Exp, {Mk(OpKind::Neg, {Mul(X, X)})}),
                        C(2.0 / std::sqrt(M_PI))));
    return llvm::Error::success();
  case OpKind::Clip: {
    Value *Lo = C(Op.getFloat("min")), *Hi = C(Op.getFloat("max"));
    Value *In = Mk(OpKind::And, {Mk(OpKind::GreaterEqual, {X, Lo}),
                                 Mk(OpKind::LessEqual, {X, Hi})});
    Out[0] = Mk(OpKind::Where, {In, G, Zero()});
    return llvm::Error::success();
  }
  case OpKind::Sin:
    Out[0] = Mul(G, Mk(OpKind::Cos, {X}));
    return llvm::Error::success();
  case OpKind::Cos:
    Out[0] = Mk(OpKind::Neg, {Mul(G, Mk(OpKind::Sin, {X}))});
    return llvm::Error::success();
  case OpKind::Atan: // 1 / (1 + x^2)
    Out[0] = Mk(OpKind::Div, {G, Mk(OpKind::Add, {C(1.0), Mul(X, X)})});
    return llvm::Error::success();
  case OpKind::Identity:
    Out[0] = G;
    return llvm::Error::success();
  case OpKind::AllReduceSum:
    // y = sum over ranks r of x_r: every rank's x_r reaches every rank's y,
    // so x_r's gradient is the sum over ranks of y's gradients.
    Out[0] = Mk(OpKind::AllReduceSum, {G});
    return llvm::Error::success();
  case OpKind::Cast:
    if (isFloat(X->Type.elem()))
      Out[0] = Mk(OpKind::Cast, {G}, {{"to", Attribute::getType(X->Type.elem())}});
    return llvm::Error::success();
  default:
    break;
  }
  // Binary and where: gradients at the broadcast shape, then summed down to
  // each operand's shape.
  Value *A = X, *Bv = Op.numOperands() > 1 ? Op.operand(1) : nullptr;
  Value *GA = nullptr, *GB = nullptr;
  switch (Op.kind()) {
  case OpKind::Add:
    GA = GB = G;
    break;
  case OpKind::Sub:
    GA = G;
    GB = Mk(OpKind::Neg, {G});
    break;
  case OpKind::Mul:
    GA = Mul(G, Bv);
    GB = Mul(G, A);
    break;
  case OpKind::Div: // d/db (a/b) = -y / b
    GA = Mk(OpKind::Div, {G, Bv});
    GB = Mk(OpKind::Neg, {Mk(OpKind::Div, {Mul(G, Y), Bv})});
    break;
  case OpKind::Pow: // b a^(b-1), y ln a
    GA = Mul(G, Mul(Bv, Mk(OpKind::Pow, {A, Mk(OpKind::Sub, {Bv, C(1.0)})})));
    GB = Mul(G, Mul(Y, Mk(OpKind::Log, {A})));
    break;
  case OpKind::Max:
  case OpKind::Min: {
    // The first operand takes ties.
    Value *First = Mk(Op.kind() == OpKind::Max ? OpKind::GreaterEqual
                                               : OpKind::LessEqual,
                      {A, Bv});
    GA = Mk(OpKind::Where, {First, G, Zero()});
    GB = Mk(OpKind::Where, {First, Zero(), G});
    break;
  }
  case OpKind::Where: {
    Value *Cond = A;
    Out[1] = sumToShape(B, Mk(OpKind::Where, {Cond, G, Zero()}),
                        Op.operand(1)->Type);
    Out[2] = sumToShape(B, Mk(OpKind::Where, {Cond, Zero(), G}),
                        Op.operand(2)->Type);
    return llvm::Error::success();
  }
  default:
    llvm_unreachable("not an elementwise op with a gradient rule");
  }
  Out[0] = sumToShape(B, broadcastLike(B, GA, Y), A->Type);
  Out[1] = sumToShape(B, broadcastLike(B, GB, Y), Bv->Type);
  return llvm::Error::success();
}

/// G (the gradient of a reduction's result) with the reduced dims restored
/// as size 1, ready to broadcast against the operand.
static Value *keptDims(OpBuilder &B, Operation &Op, Value *G) {
  if (Op.getBool("keepdims"))
    return G;
  unsigned R = Op.operand(0)->Type.rank();
  llvm::SmallVector<int64_t, 4> Axes;
  llvm::ArrayRef<int64_t> A = Op.getInts("axes");
  if (A.empty())
    for (unsigned I = 0; I < R; ++I)
      Axes.push_back(I);
  else
    for (int64_t X : A)
      Axes.push_back(X < 0 ? X + R : X);
  llvm::sort(Axes);
  if (Axes.empty())
    return G;
  return B.create(OpKind::Unsqueeze, {G}, {intsAttr("axes", Axes)});
}

llvm::Error grad::reductionGrad(Operation &Op, Value *G, OpBuilder &B,
                                llvm::SmallVectorImpl<Value *> &Out) {
  Value *X = Op.operand(0);
  DType E = X->Type.elem();
  Value *GK = keptDims(B, Op, G);
  // The result with the reduced dims kept, for the rules that read it.
  auto YK = [&] { return keptDims(B, Op, Op.result()); };
  switch (Op.kind()) {
  case OpKind::ReduceSum:
    Out[0] = broadcastLike(B, GK, X);
    break;
  case OpKind::ReduceMean:
    Out[0] = broadcastLike(
        B, B.create(OpKind::Div, {GK, reductionCount(B, X, Op.getInts("axes"))}),
        X);
    break;
  case OpKind::ReduceMax:
  case OpKind::ReduceMin: {
    // Ties share the gradient equally.
    Value *Hit = B.create(OpKind::Equal, {X, YK()});
    Value *HitF = B.create(OpKind::Cast, {Hit}, {{"to", Attribute::getType(E)}});
    Value *Ties = B.create(OpKind::ReduceSum, {HitF},
                           {intsAttr("axes", Op.getInts("axes"))});
    Out[0] = B.create(OpKind::Mul,
                      {HitF, B.create(OpKind::Div, {GK, Ties})});
    break;
  }
  case OpKind::ReduceProd: // prod / x (operands with zeros are not handled)
    Out[0] = B.create(OpKind::Div, {B.create(OpKind::Mul, {GK, YK()}), X});
    break;
  case OpKind::ReduceLogSumExp: // softmax of x along the axes
    Out[0] = B.create(
        OpKind::Mul,
        {GK, B.create(OpKind::Exp, {B.create(OpKind::Sub, {X, YK()})})});
    break;
  default:
    llvm_unreachable("not a reduction");
  }
  return llvm::Error::success();
}
