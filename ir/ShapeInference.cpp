// Shape inference: the dispatch over every op, element-type checks, and the
// rules for elementwise, reduction, matmul, loss and source ops. Rules for
// convolution, pooling and normalization ops are in ShapeRulesNN.cpp, for
// movement ops in ShapeRulesMovement.cpp.
#include "ir/LowPrecision.h"
#include "ir/ShapeRules.h"
#include "ir/ControlFlow.h"

#include "llvm/ADT/SmallSet.h"

#include <cmath>

using namespace dlc;
using namespace dlc::shape;

std::vector<int64_t> dlc::splitParts(int64_t N, int64_t Parts) {
  std::vector<int64_t> R;
  int64_t Each = (N + Parts - 1) / Parts;
  for (int64_t I = 0, Left = N; I < Parts; ++I, Left -= Each)
    R.push_back(std::max<int64_t>(std::min(Each, Left), 0));
  return R;
}

int64_t dlc::resizedSize(int64_t N, double Scale) {
  return int64_t(std::floor(double(N) * Scale));
}

double dlc::resizeSourceCoord(llvm::StringRef Mode, double I, double Scale,
                              int64_t In, int64_t Out, double RoiStart,
                              double RoiEnd) {
  double Width = double(In) * Scale; // the unrounded output length
  if (Mode == "asymmetric")
    return I / Scale;
  if (Mode == "align_corners")
    return Out == 1 ? 0 : I * double(In - 1) / (Width - 1);
  if (Mode == "pytorch_half_pixel" && Out == 1)
    return 0;
  if (Mode == "tf_crop_and_resize") {
    double Span = (RoiEnd - RoiStart) * double(In - 1);
    return (Width == 1 ? Span / 2 : I * Span / (Width - 1)) +
           RoiStart * double(In - 1);
  }
  if (Mode == "half_pixel_symmetric") // centered when Out rounds Width down
    return double(In) / 2 * (1 - double(Out) / Width) + (I + 0.5) / Scale - 0.5;
  return (I + 0.5) / Scale - 0.5; // half_pixel
}

bool dlc::isResizeCoordMode(llvm::StringRef Mode) {
  return Mode == "half_pixel" || Mode == "asymmetric" ||
         Mode == "align_corners" || Mode == "pytorch_half_pixel" ||
         Mode == "half_pixel_symmetric" || Mode == "tf_crop_and_resize";
}

llvm::Expected<unsigned> dlc::normalizeAxis(int64_t Axis, unsigned Rank,
                                            const Loc &L) {
  int64_t A = Axis < 0 ? Axis + int64_t(Rank) : Axis;
  if (A < 0 || A >= int64_t(Rank))
    return makeError(L, "axis " + std::to_string(Axis) +
                            " is out of range for rank " +
                            std::to_string(Rank));
  return unsigned(A);
}

Dim shape::productDim(llvm::ArrayRef<Dim> Dims) {
  int64_t N = 1;
  const Dim *Sym = nullptr;
  unsigned NumSym = 0;
  for (const Dim &D : Dims) {
    if (D.isStatic()) {
      N *= D.size();
    } else if (D.isSymbol()) {
      Sym = &D;
      ++NumSym;
    } else {
      return Dim::unknown();
    }
  }
  if (NumSym == 0)
    return Dim::fixed(N);
  if (NumSym == 1 && N == 1)
    return *Sym;
  return Dim::unknown();
}

static llvm::Expected<Dim> broadcastDim(const Dim &A, const Dim &B) {
  if (A == B)
    return A;
  if (A.isStatic() && A.size() == 1)
    return B;
  if (B.isStatic() && B.size() == 1)
    return A;
  if (A.isStatic() && B.isStatic())
    return makeError("cannot broadcast dims " + A.str() + " and " + B.str());
  // A symbol or unknown against a number k > 1 must be 1 or k: the result is k.
  if (A.isStatic())
    return A;
  if (B.isStatic())
    return B;
  if (A.isUnknown() || B.isUnknown())
    return Dim::unknown();
  return makeError("cannot broadcast symbolic dims " + A.str() + " and " +
                   B.str() + " (they may differ at run time)");
}

llvm::Expected<Shape> dlc::broadcastShapes(const Shape &A, const Shape &B) {
  size_t R = std::max(A.size(), B.size());
  Shape Out;
  for (size_t I = 0; I < R; ++I) {
    Dim DA = I < R - A.size() ? Dim::fixed(1) : A[I - (R - A.size())];
    Dim DB = I < R - B.size() ? Dim::fixed(1) : B[I - (R - B.size())];
    auto D = broadcastDim(DA, DB);
    if (!D)
      return D.takeError();
    Out.push_back(*D);
  }
  return Out;
}

static std::string typeList(llvm::ArrayRef<TensorType> Ts) {
  std::string S;
  for (const TensorType &T : Ts)
    S += (S.empty() ? "" : ", ") + T.str();
  return S;
}

/// Whether an op accepts the storage-only narrow element types (casts and
/// ops that only move elements).
static bool acceptsNarrow(OpKind K) {
  return K == OpKind::Cast || K == OpKind::Identity || K == OpKind::Where ||
         K == OpKind::Reshape || K == OpKind::Transpose ||
         K == OpKind::Flatten || K == OpKind::Squeeze ||
         K == OpKind::Unsqueeze || K == OpKind::Concat ||
         K == OpKind::Split || K == OpKind::Slice || K == OpKind::Gather ||
         K == OpKind::Expand || K == OpKind::Tile || K == OpKind::ShapeOf ||
         K == OpKind::Constant || K == OpKind::If || K == OpKind::Loop ||
         K == OpKind::Scan;
}

static llvm::Error narrowError(const Ctx &C, llvm::StringRef What, DType E) {
  return C.err(What.str() + " has element type " + dtypeName(E).str() +
               ", which only casts and data-movement ops accept; cast it "
               "to a wider type first");
}

/// Element-type rules implied by the op's traits.
static llvm::Error checkElementTypes(const Ctx &C) {
  const OpInfo &I = C.Op.info();
  if (C.Op.kind() == OpKind::Cast &&
      !parseE8M0Round(C.Op.getString("round_mode")))
    return C.err("round_mode must be up, down or nearest, got '" +
                 C.Op.getString("round_mode").str() + "'");
  for (size_t K = 0; K < C.In.size(); ++K) {
    DType E = C.In[K].elem();
    if (E == DType::Str && !I.has(Strings))
      return C.err("operand " + std::to_string(K) +
                   " is a str tensor, which this op does not take");
    if (isNarrow(E) && !acceptsNarrow(C.Op.kind()))
      return narrowError(C, "operand " + std::to_string(K), E);
    // Loss labels may be integers; the loss rule checks them.
    if (I.has(FloatOnly) && !isFloat(E) && !(I.has(Loss) && K == 1))
      return C.err("operand " + std::to_string(K) + " has element type " +
                   dtypeName(E) + ", expected a floating-point type");
    if (I.has(Bitwise) && E != DType::Bool && !isInteger(E))
      return C.err("operand " + std::to_string(K) + " has element type " +
                   dtypeName(E) + ", expected bool or an integer type");
  }
  bool Arith = I.has(Elementwise) && !I.has(Bitwise) && !I.has(AnyType) &&
               C.Op.kind() != OpKind::Where && C.Op.kind() != OpKind::Identity;
  if (Arith && !I.has(Compare))
    for (const TensorType &T : C.In)
      if (T.elem() == DType::Bool)
        return C.err("arithmetic on bool tensors is not defined; cast to a "
                     "number type first");
  return llvm::Error::success();
}

/// A run-time seed offset operand (dropout, random ops): one i64.
static bool isSeedOffset(const TensorType &T) {
  return T.elem() == DType::I64 && T.rank() == 0;
}

static Result inferElementwise(const Ctx &C) {
  OpKind K = C.Op.kind();
  if (K == OpKind::Gelu) {
    llvm::StringRef A = C.Op.getString("approximate");
    if (A != "none" && A != "tanh")
      return C.err("approximate must be \"none\" or \"tanh\", got \"" + A +
                   "\"");
  }
  size_t First = K == OpKind::Where ? 1 : 0;
  if (K == OpKind::Where && C.In[0].elem() != DType::Bool)
    return C.err("condition has element type " +
                 dtypeName(C.In[0].elem()).str() + ", expected bool");
  for (size_t I = First + 1; I < C.In.size(); ++I)
    if (C.In[I].elem() != C.In[First].elem())
      return C.err("operand element types differ (" + typeList(C.In) +
                   "); insert a cast");
  Shape S = C.In[0].dims();
  for (size_t I = 1; I < C.In.size(); ++I) {
    auto B = broadcastShapes(S, C.In[I].dims());
    if (!B) {
      llvm::consumeError(B.takeError());
      return C.err("operands " + typeList(C.In) + " are not broadcastable");
    }
    S = *B;
  }
  DType E = C.In[First].elem();
  if (C.Op.info().has(Compare))
    E = DType::Bool;
  if (K == OpKind::Cast)
    E = C.Op.getType("to");
  return C.one(TensorType(E, S));
}

/// Normalized, sorted, duplicate-free axes; empty means all.
static llvm::Expected<llvm::SmallVector<unsigned, 4>>
reductionAxes(const Ctx &C, llvm::ArrayRef<int64_t> Axes, unsigned Rank) {
  llvm::SmallVector<unsigned, 4> R;
  if (Axes.empty()) {
    for (unsigned I = 0; I < Rank; ++I)
      R.push_back(I);
    return R;
  }
  llvm::SmallSet<unsigned, 4> Seen;
  for (int64_t A : Axes) {
    auto N = normalizeAxis(A, Rank, C.Op.L);
    if (!N)
      return N.takeError();
    if (!Seen.insert(*N).second)
      return C.err("axis " + std::to_string(A) + " is listed twice");
    R.push_back(*N);
  }
  llvm::sort(R);
  return R;
}

static Shape reducedShape(const Shape &In, llvm::ArrayRef<unsigned> Axes,
                          bool KeepDims) {
  Shape Out;
  for (unsigned I = 0; I < In.size(); ++I) {
    if (llvm::is_contained(Axes, I)) {
      if (KeepDims)
        Out.push_back(Dim::fixed(1));
    } else {
      Out.push_back(In[I]);
    }
  }
  return Out;
}

static Result inferReduction(const Ctx &C) {
  const TensorType &X = C.In[0];
  if (C.Op.kind() == OpKind::ArgMax || C.Op.kind() == OpKind::ArgMin) {
    auto A = normalizeAxis(C.Op.getInt("axis"), X.rank(), C.Op.L);
    if (!A)
      return A.takeError();
    unsigned Ax[] = {*A};
    return C.one(TensorType(DType::I64,
                            reducedShape(X.dims(), Ax, C.Op.getBool("keepdims"))));
  }
  auto Axes = reductionAxes(C, C.Op.getInts("axes"), X.rank());
  if (!Axes)
    return Axes.takeError();
  return C.one(
      TensorType(X.elem(), reducedShape(X.dims(), *Axes, C.Op.getBool("keepdims"))));
}

/// Two dims that must be equal (a contraction size, a channel count).
static bool dimsAgree(const Dim &A, const Dim &B) {
  return !(A.isStatic() && B.isStatic() && A.size() != B.size()) &&
         !(A.isSymbol() && B.isSymbol() && A != B);
}

static Result inferMatMul(const Ctx &C) {
  const TensorType &A = C.In[0], &B = C.In[1];
  if (A.elem() != B.elem())
    return C.err("operand element types differ (" + typeList(C.In) + ")");
  if (A.rank() == 0 || B.rank() == 0)
    return C.err("operands must have rank >= 1, got " + typeList(C.In));
  Shape SA = A.dims(), SB = B.dims();
  bool VecA = SA.size() == 1, VecB = SB.size() == 1;
  if (VecA)
    SA.insert(SA.begin(), Dim::fixed(1));
  if (VecB)
    SB.push_back(Dim::fixed(1));
  const Dim &KA = SA.back(), &KB = SB[SB.size() - 2];
  if (!dimsAgree(KA, KB))
    return C.err("contraction dims differ: " + A.str() + " @ " + B.str());
  Shape BatchA(SA.begin(), SA.end() - 2), BatchB(SB.begin(), SB.end() - 2);
  auto Batch = broadcastShapes(BatchA, BatchB);
  if (!Batch) {
    llvm::consumeError(Batch.takeError());
    return C.err("batch dims of " + A.str() + " and " + B.str() +
                 " are not broadcastable");
  }
  Shape Out = *Batch;
  if (!VecA)
    Out.push_back(SA[SA.size() - 2]);
  if (!VecB)
    Out.push_back(SB.back());
  return C.one(TensorType(A.elem(), Out));
}

static Result inferGemm(const Ctx &C) {
  const TensorType &A = C.In[0], &B = C.In[1];
  if (A.rank() != 2 || B.rank() != 2)
    return C.err("operands must be 2-D, got " + typeList(C.In));
  for (const TensorType &T : C.In)
    if (T.elem() != A.elem())
      return C.err("operand element types differ (" + typeList(C.In) + ")");
  bool TA = C.Op.getBool("trans_a"), TB = C.Op.getBool("trans_b");
  Dim M = A.dim(TA ? 1 : 0), KA = A.dim(TA ? 0 : 1);
  Dim KB = B.dim(TB ? 1 : 0), N = B.dim(TB ? 0 : 1);
  if (!dimsAgree(KA, KB))
    return C.err("contraction dims differ: " + A.str() + " and " + B.str() +
                 " with trans_a = " + (TA ? "true" : "false") +
                 ", trans_b = " + (TB ? "true" : "false"));
  Shape Out = {M, N};
  if (C.In.size() == 3) {
    auto S = broadcastShapes(Out, C.In[2].dims());
    if (!S || *S != Out) {
      if (!S)
        llvm::consumeError(S.takeError());
      return C.err("bias " + C.In[2].str() + " does not broadcast to [" +
                   M.str() + "," + N.str() + "]");
    }
  }
  return C.one(TensorType(A.elem(), Out));
}

static Result inferLoss(const Ctx &C) {
  const TensorType &P = C.In[0], &T = C.In[1];
  llvm::StringRef Red = C.Op.getString("reduction");
  if (Red != "mean" && Red != "sum" && Red != "none")
    return C.err("reduction must be \"mean\", \"sum\" or \"none\", got \"" +
                 Red + "\"");
  OpKind K = C.Op.kind();
  Shape PerSample;
  if (K == OpKind::SoftmaxCrossEntropy || K == OpKind::NllLoss) {
    if (P.rank() != 2)
      return C.err("scores must be [N, C], got " + P.str());
    bool IntLabels = isInteger(T.elem());
    if (K == OpKind::NllLoss && !IntLabels)
      return C.err("labels must be integers, got " + T.str());
    if (IntLabels) {
      if (T.rank() != 1 || !dimsAgree(T.dim(0), P.dim(0)))
        return C.err("integer labels must be [N] for scores " + P.str() +
                     ", got " + T.str());
      if (P.dim(1).isStatic() && P.dim(1).size() == 0)
        return C.err("scores " + P.str() +
                     " have no classes for integer labels to pick");
    } else if (T.elem() != P.elem() || T.rank() != 2 ||
               !dimsAgree(T.dim(0), P.dim(0)) || !dimsAgree(T.dim(1), P.dim(1))) {
      return C.err("probability labels must have the type of the scores " +
                   P.str() + ", got " + T.str());
    }
    PerSample = {P.dim(0)};
  } else {
    if (T.elem() != P.elem() || !compatible(P, T))
      return C.err("prediction " + P.str() + " and target " + T.str() +
                   " must have the same type");
    PerSample = P.dims();
  }
  if (Red == "none")
    return C.one(TensorType(P.elem(), PerSample));
  return C.one(TensorType(P.elem(), {}));
}

static llvm::Expected<Shape> shapeFromAttr(const Ctx &C,
                                           llvm::ArrayRef<int64_t> Sizes) {
  Shape S;
  for (int64_t N : Sizes) {
    if (N < 0 || N > MaxElements)
      return C.err("shape entry " + std::to_string(N) + " is out of range");
    S.push_back(Dim::fixed(N));
  }
  return S;
}

static Result inferSource(const Ctx &C) {
  switch (C.Op.kind()) {
  case OpKind::Constant: {
    const TensorRef &T = C.Op.attr("value").getTensor();
    if (!T)
      return C.err("value has no data");
    return C.one(T->type());
  }
  case OpKind::Range: {
    double Start = C.Op.getFloat("start"), Limit = C.Op.getFloat("limit"),
           Delta = C.Op.getFloat("delta");
    if (Delta == 0 || !std::isfinite(Start) || !std::isfinite(Limit) ||
        !std::isfinite(Delta))
      return C.err("start, limit and delta must be finite and delta non-zero");
    double N = std::ceil((Limit - Start) / Delta);
    if (N > double(MaxElements))
      return C.err("range has too many elements");
    return C.one(TensorType::get(C.Op.getType("dtype"),
                                 {int64_t(std::max(N, 0.0))}));
  }
  default: { // random_uniform, random_normal
    DType E = C.Op.getType("dtype");
    if (!isFloat(E))
      return C.err("dtype must be a floating-point type, got " +
                   dtypeName(E).str());
    if (C.In.size() == 2 && !isSeedOffset(C.In[1]))
      return C.err("the seed offset must be i64[], got " + C.In[1].str());
    if (!C.In.empty())
      return C.one(TensorType(E, C.In[0].dims()));
    auto S = shapeFromAttr(C, C.Op.getInts("shape"));
    if (!S)
      return S.takeError();
    return C.one(TensorType(E, *S));
  }
  }
}

static Result inferSoftmaxLike(const Ctx &C) {
  if (C.In.size() == 2 && !isSeedOffset(C.In[1]))
    return C.err("the seed offset must be i64[], got " + C.In[1].str());
  if (C.Op.kind() != OpKind::Dropout) {
    auto A = normalizeAxis(C.Op.getInt("axis"), C.In[0].rank(), C.Op.L);
    if (!A)
      return A.takeError();
  } else {
    double R = C.Op.getFloat("ratio");
    if (!(R >= 0 && R < 1))
      return C.err("ratio must be in [0, 1), got " + std::to_string(R));
  }
  return C.one(C.In[0]);
}

static Result inferOneHot(const Ctx &C) {
  if (!isInteger(C.In[0].elem()))
    return C.err("indices must be integers, got " + C.In[0].str());
  int64_t Depth = C.Op.getInt("depth");
  Shape S = C.In[0].dims();
  if (C.In.size() == 2) {
    // The depth is the last dim of the second operand, possibly symbolic.
    if (Depth != 0 || C.In[1].rank() == 0)
      return C.err("with a second operand, depth must be 0 and the operand "
                   "must have rank >= 1");
    S.push_back(C.In[1].dims().back());
    return C.one(TensorType(C.Op.getType("dtype"), S));
  }
  if (Depth <= 0 || Depth > MaxElements)
    return C.err("depth must be positive, got " + std::to_string(Depth));
  S.push_back(Dim::fixed(Depth));
  return C.one(TensorType(C.Op.getType("dtype"), S));
}

static Result dispatch(const Ctx &C) {
  switch (C.Op.kind()) {
  case OpKind::Neg: case OpKind::Abs: case OpKind::Exp: case OpKind::Log:
  case OpKind::Sqrt: case OpKind::Rsqrt: case OpKind::Reciprocal:
  case OpKind::Tanh: case OpKind::Sigmoid: case OpKind::Relu:
  case OpKind::LeakyRelu: case OpKind::Elu: case OpKind::Gelu:
  case OpKind::Erf: case OpKind::Softplus: case OpKind::Clip:
  case OpKind::Sign: case OpKind::Floor: case OpKind::Ceil:
  case OpKind::Round: case OpKind::Sin: case OpKind::Cos: case OpKind::Atan:
  case OpKind::Not:
  case OpKind::Identity: case OpKind::Cast:
  case OpKind::Add: case OpKind::Sub: case OpKind::Mul: case OpKind::Div:
  case OpKind::Pow: case OpKind::Max: case OpKind::Min: case OpKind::And:
  case OpKind::Or: case OpKind::Xor: case OpKind::Equal: case OpKind::Less:
  case OpKind::LessEqual: case OpKind::Greater: case OpKind::GreaterEqual:
  case OpKind::Where:
    return inferElementwise(C);
  case OpKind::ReduceSum: case OpKind::ReduceMean: case OpKind::ReduceMax:
  case OpKind::ReduceMin: case OpKind::ReduceProd:
  case OpKind::ReduceLogSumExp: case OpKind::ArgMax: case OpKind::ArgMin:
    return inferReduction(C);
  case OpKind::MatMul:
    return inferMatMul(C);
  case OpKind::Gemm:
    return inferGemm(C);
  case OpKind::Conv:
    return inferConv(C);
  case OpKind::ConvTranspose:
    return inferConvTranspose(C);
  case OpKind::MaxPool: case OpKind::AvgPool:
    return inferPool(C);
  case OpKind::MaxPoolGrad:
    return inferMaxPoolGrad(C);
  case OpKind::Im2Col:
    return inferIm2Col(C);
  case OpKind::GlobalAvgPool: case OpKind::GlobalMaxPool:
    return inferGlobalPool(C);
  case OpKind::BatchNorm:
    return inferBatchNorm(C);
  case OpKind::LayerNorm:
    return inferLayerNorm(C);
  case OpKind::Softmax: case OpKind::LogSoftmax: case OpKind::Dropout:
    return inferSoftmaxLike(C);
  case OpKind::Reshape:
    return inferReshape(C);
  case OpKind::Transpose:
    return inferTranspose(C);
  case OpKind::Flatten:
    return inferFlatten(C);
  case OpKind::Squeeze:
    return inferSqueeze(C);
  case OpKind::Unsqueeze:
    return inferUnsqueeze(C);
  case OpKind::Concat:
    return inferConcat(C);
  case OpKind::Split:
    return inferSplit(C);
  case OpKind::Slice:
    return inferSlice(C);
  case OpKind::Pad:
    return inferPad(C);
  case OpKind::Gather:
    return inferGather(C);
  case OpKind::Expand:
    return inferExpand(C);
  case OpKind::Tile:
    return inferTile(C);
  case OpKind::OneHot:
    return inferOneHot(C);
  case OpKind::ShapeOf:
    return C.one(TensorType::get(DType::I64, {int64_t(C.In[0].rank())}));
  case OpKind::Iota: {
    auto A = normalizeAxis(C.Op.getInt("axis"), C.In[0].rank(), C.Op.L);
    if (!A)
      return A.takeError();
    return C.one(TensorType(DType::I64, C.In[0].dims()));
  }
  case OpKind::ResizeCoords:
    return inferResizeCoords(C);
  case OpKind::Constant: case OpKind::Range: case OpKind::RandomUniform:
  case OpKind::RandomNormal:
    return inferSource(C);
  case OpKind::SoftmaxCrossEntropy: case OpKind::NllLoss:
  case OpKind::MseLoss: case OpKind::BceLoss:
    return inferLoss(C);
  case OpKind::StringNormalizer:
    return inferStringNormalizer(C);
  case OpKind::StringConcat:
    return inferStringConcat(C);
  case OpKind::StringSplit:
    return inferStringSplit(C);
  case OpKind::RegexFullMatch:
    return inferRegexFullMatch(C);
  case OpKind::LabelEncoder:
    return inferLabelEncoder(C);
  case OpKind::BitCast: {
    DType To = C.Op.getType("to");
    DType From = C.In[0].elem();
    auto Bits = [](DType E) {
      return isNarrow(E) ? narrowBits(E) : 8 * dtypeSize(E);
    };
    if (Bits(To) == 0 || Bits(To) != Bits(From) || Bits(To) % 8 ||
        From == DType::Str || To == DType::Str)
      return C.err("cannot read " + std::string(dtypeName(From)) + " as " +
                   dtypeName(To) + ": element sizes must be equal (and "
                   "whole bytes)");
    return C.one(TensorType(To, C.In[0].dims()));
  }
  case OpKind::NonZero:
    return inferNonZero(C);
  case OpKind::Unique:
    return inferUnique(C);
  case OpKind::NonMaxSuppression:
    return inferNonMaxSuppression(C);
  case OpKind::AllReduceSum:
    return C.one(C.In[0]);
  case OpKind::If: case OpKind::Loop: case OpKind::Scan:
    return inferControlFlow(C);
  }
  llvm_unreachable("bad op kind");
}

llvm::Expected<llvm::SmallVector<TensorType, 1>>
dlc::inferResultTypes(const Operation &Op,
                      llvm::ArrayRef<TensorType> OperandTypes,
                      llvm::ArrayRef<const Tensor *> OperandValues) {
  Ctx C{Op, OperandTypes, OperandValues};
  const OpInfo &I = Op.info();
  int N = int(OperandTypes.size());
  if (N < I.MinOperands || (I.MaxOperands >= 0 && N > I.MaxOperands))
    return C.err("wrong number of operands: " + std::to_string(N));
  // Shape rules read attributes without checking: a missing required one
  // is an error here, before any rule runs (the verifier says the same).
  for (const AttrSpec &S : I.Attrs)
    if (!S.Default && !Op.findAttr(S.Name))
      return C.err("requires attribute '" + S.Name.str() + "'");
  if (auto E = checkElementTypes(C))
    return std::move(E);
  auto R = dispatch(C);
  if (!R)
    return R.takeError();
  for (const TensorType &T : *R)
    if (T.elem() == DType::Str && !I.has(Strings))
      return C.err("cannot make str tensors");
  for (const TensorType &T : *R) {
    if (isNarrow(T.elem()) && !acceptsNarrow(Op.kind()))
      return narrowError(C, "the result", T.elem());
    auto Num = T.numElements();
    if (Num && *Num > MaxElements)
      return C.err("result " + T.str() + " has more than 2^40 elements");
  }
  return R;
}

llvm::Expected<llvm::SmallVector<TensorType, 1>>
dlc::inferResultTypes(const Operation &Op) {
  llvm::SmallVector<TensorType, 4> Types;
  for (Value *V : Op.Operands)
    Types.push_back(V->Type);
  return inferResultTypes(Op, Types);
}

bool dlc::isShapeValueOperand(const Operation &Op, unsigned I) {
  if (Op.info().has(DataShape) || controlFlowNeedsValues(Op))
    return true; // the executor evaluates the op to size its results
  return I == 1 && Op.numOperands() == 2 &&
         (Op.kind() == OpKind::Reshape || Op.kind() == OpKind::Expand) &&
         Op.getBool("by_value");
}

const Tensor *Ctx::value(unsigned I) const {
  if (I < Vals.size() && Vals[I])
    return Vals[I];
  if (I < Op.numOperands() && Op.operand(I) && Op.operand(I)->Def &&
      Op.operand(I)->Def->kind() == OpKind::Constant)
    return Op.operand(I)->Def->attr("value").getTensor().get();
  return nullptr;
}

llvm::Expected<unsigned> shape::shapeOperandLength(const Ctx &C, unsigned I) {
  if (C.In.size() <= I)
    return C.err("by_value needs a shape operand");
  const TensorType &T = C.In[I];
  if (!isInteger(T.elem()) || T.rank() != 1 || !T.dim(0).isStatic())
    return C.err("a shape given by value must be an integer vector of static "
                 "length, got " + T.str());
  if (!C.Op.getInts("shape").empty())
    return C.err("with by_value, shape must be []");
  return unsigned(T.dim(0).size());
}

std::optional<llvm::SmallVector<int64_t, 4>>
shape::shapeOperandValues(const Ctx &C, unsigned I) {
  const Tensor *V = C.value(I);
  if (!V || V->numElements() != C.In[I].dim(0).size())
    return std::nullopt;
  llvm::SmallVector<int64_t, 4> R;
  for (int64_t K = 0; K < V->numElements(); ++K)
    R.push_back(V->getI(K));
  return R;
}
