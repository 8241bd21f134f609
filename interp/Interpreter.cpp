// The reference interpreter: per-op dispatch, function-level evaluation with
// input checking and symbolic dim binding, and the shared index helpers.
#include "interp/Interpreter.h"
#include "interp/Kernels.h"
#include "interp/ControlFlow.h"

#include "ir/ShapeInference.h"
#include "ir/TensorLimits.h"
#include "ir/Verifier.h"

#include "llvm/ADT/StringMap.h"

#include <cstring>

using namespace dlc;

static constexpr uint64_t InterpreterMaxBytes = InterpreterTensorLimit;
using namespace dlc::interp;

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

llvm::Error interp::opError(const Operation &Op, const llvm::Twine &Msg) {
  return makeError(Op.L, Op.mnemonic() + ": " + Msg);
}

std::string interp::shapeStr(llvm::ArrayRef<int64_t> S) {
  std::string R = "[";
  for (size_t I = 0; I < S.size(); ++I)
    R += (I ? ", " : "") + std::to_string(S[I]);
  return R + "]";
}

Sizes interp::stridesOf(llvm::ArrayRef<int64_t> Shape) {
  Sizes S(Shape.size(), 1);
  for (int I = int(Shape.size()) - 2; I >= 0; --I)
    S[I] = S[I + 1] * Shape[I + 1];
  return S;
}

int64_t interp::product(llvm::ArrayRef<int64_t> Shape) {
  int64_t N = 1;
  for (int64_t S : Shape)
    N *= S;
  return N;
}

llvm::Expected<Sizes> interp::broadcastStrides(const Operation &Op,
                                               llvm::ArrayRef<int64_t> In,
                                               llvm::ArrayRef<int64_t> Out) {
  if (In.size() > Out.size())
    return opError(Op,
                   "cannot broadcast " + shapeStr(In) + " to " + shapeStr(Out));
  Sizes InStrides = stridesOf(In);
  Sizes R(Out.size(), 0);
  size_t Off = Out.size() - In.size();
  for (size_t I = 0; I < In.size(); ++I) {
    if (In[I] == Out[Off + I])
      R[Off + I] = In[I] == 1 ? 0 : InStrides[I];
    else if (In[I] == 1)
      R[Off + I] = 0;
    else
      return opError(Op, "cannot broadcast " + shapeStr(In) + " to " +
                             shapeStr(Out));
  }
  return R;
}

/// Numpy broadcast of two shapes.
llvm::Expected<Sizes> interp::broadcastPair(const Operation &Op,
                                            llvm::ArrayRef<int64_t> A,
                                            llvm::ArrayRef<int64_t> B) {
  size_t Rank = std::max(A.size(), B.size());
  Sizes R(Rank, 1);
  for (size_t I = 0; I < Rank; ++I) {
    int64_t DA = I < Rank - A.size() ? 1 : A[I - (Rank - A.size())];
    int64_t DB = I < Rank - B.size() ? 1 : B[I - (Rank - B.size())];
    if (DA != DB && DA != 1 && DB != 1)
      return opError(Op, "cannot broadcast " + shapeStr(A) + " with " +
                             shapeStr(B));
    R[I] = DA == 1 ? DB : DA;
  }
  return R;
}

void interp::unravel(int64_t I, llvm::ArrayRef<int64_t> Shape,
                     llvm::MutableArrayRef<int64_t> Idx) {
  for (int D = int(Shape.size()) - 1; D >= 0; --D) {
    Idx[D] = I % Shape[D];
    I /= Shape[D];
  }
}

int64_t interp::dot(llvm::ArrayRef<int64_t> Idx,
                    llvm::ArrayRef<int64_t> Strides) {
  int64_t R = 0;
  for (size_t I = 0; I < Idx.size(); ++I)
    R += Idx[I] * Strides[I];
  return R;
}

llvm::Expected<unsigned> interp::axisIn(const Operation &Op, int64_t Axis,
                                        unsigned Rank) {
  int64_t A = Axis < 0 ? Axis + int64_t(Rank) : Axis;
  if (A < 0 || A >= int64_t(Rank))
    return opError(Op, "axis " + std::to_string(Axis) +
                           " is out of range for rank " + std::to_string(Rank));
  return unsigned(A);
}

llvm::Error interp::expectShape(const Operation &Op, const Tensor &R,
                                llvm::ArrayRef<int64_t> Expected) {
  if (R.shape() == Expected)
    return llvm::Error::success();
  return opError(Op, "interpreter computed result shape " + shapeStr(Expected) +
                         " but shape inference gave " + shapeStr(R.shape()));
}

void interp::copyElem(const Tensor &Src, int64_t SI, Tensor &Dst, int64_t DI) {
  unsigned Size = dtypeSize(Src.elem());
  assert(Src.elem() == Dst.elem() && "copyElem across element types");
  std::memcpy(Dst.data() + DI * Size, Src.data() + SI * Size, Size);
}

//===----------------------------------------------------------------------===//
// Dispatch
//===----------------------------------------------------------------------===//

/// The kernel family of each op. The switch has no default so that the
/// compiler names this place when an op is added to Ops.def.
static llvm::Error dispatch(const Operation &Op, TensorList In,
                            ResultList Out) {
  switch (Op.kind()) {
  case OpKind::Neg:
  case OpKind::Abs:
  case OpKind::Exp:
  case OpKind::Log:
  case OpKind::Sqrt:
  case OpKind::Rsqrt:
  case OpKind::Reciprocal:
  case OpKind::Tanh:
  case OpKind::Sigmoid:
  case OpKind::Relu:
  case OpKind::LeakyRelu:
  case OpKind::Elu:
  case OpKind::Gelu:
  case OpKind::Erf:
  case OpKind::Softplus:
  case OpKind::Clip:
  case OpKind::Sign:
  case OpKind::Floor:
  case OpKind::Ceil:
  case OpKind::Round:
  case OpKind::Sin:
  case OpKind::Cos:
  case OpKind::Atan:
  case OpKind::Not:
  case OpKind::Identity:
  case OpKind::Cast:
  case OpKind::Dropout:
    return evalUnary(Op, In, Out);
  case OpKind::Add:
  case OpKind::Sub:
  case OpKind::Mul:
  case OpKind::Div:
  case OpKind::Pow:
  case OpKind::Max:
  case OpKind::Min:
  case OpKind::And:
  case OpKind::Or:
  case OpKind::Xor:
  case OpKind::Equal:
  case OpKind::Less:
  case OpKind::LessEqual:
  case OpKind::Greater:
  case OpKind::GreaterEqual:
  case OpKind::Where:
    return evalBinary(Op, In, Out);
  case OpKind::ReduceSum:
  case OpKind::ReduceMean:
  case OpKind::ReduceMax:
  case OpKind::ReduceMin:
  case OpKind::ReduceProd:
  case OpKind::ReduceLogSumExp:
  case OpKind::ArgMax:
  case OpKind::ArgMin:
    return evalReduction(Op, In, Out);
  case OpKind::MatMul:
  case OpKind::Gemm:
    return evalLinear(Op, In, Out);
  case OpKind::Conv:
    return evalConv(Op, In, Out);
  case OpKind::ConvTranspose:
    return evalConvTranspose(Op, In, Out);
  case OpKind::Im2Col:
    return evalIm2Col(Op, In, Out);
  case OpKind::MaxPool:
  case OpKind::AvgPool:
  case OpKind::GlobalAvgPool:
  case OpKind::GlobalMaxPool:
    return evalPool(Op, In, Out);
  case OpKind::MaxPoolGrad:
    return evalMaxPoolGrad(Op, In, Out);
  case OpKind::BatchNorm:
  case OpKind::LayerNorm:
  case OpKind::Softmax:
  case OpKind::LogSoftmax:
    return evalNorm(Op, In, Out);
  case OpKind::Reshape:
  case OpKind::Flatten:
  case OpKind::Squeeze:
  case OpKind::Unsqueeze:
    return evalReshapeLike(Op, In, Out);
  case OpKind::Transpose:
  case OpKind::Concat:
  case OpKind::Split:
  case OpKind::Slice:
  case OpKind::Pad:
  case OpKind::Expand:
  case OpKind::Tile:
    return evalMovement(Op, In, Out);
  case OpKind::Gather:
  case OpKind::OneHot:
  case OpKind::ShapeOf:
  case OpKind::Iota:
  case OpKind::ResizeCoords:
    return evalIndexing(Op, In, Out);
  case OpKind::Constant:
  case OpKind::Range:
  case OpKind::RandomUniform:
  case OpKind::RandomNormal:
    return evalSource(Op, In, Out);
  case OpKind::SoftmaxCrossEntropy:
  case OpKind::NllLoss:
  case OpKind::MseLoss:
  case OpKind::BceLoss:
    return evalLoss(Op, In, Out);
  case OpKind::StringNormalizer:
  case OpKind::StringConcat:
  case OpKind::StringSplit:
  case OpKind::RegexFullMatch:
  case OpKind::LabelEncoder:
    return evalString(Op, In, Out);
  case OpKind::BitCast:
    if (Out[0].byteSize() != In[0]->byteSize())
      return opError(Op, "result has " + std::to_string(Out[0].byteSize()) +
                             " bytes, the operand " +
                             std::to_string(In[0]->byteSize()));
    std::memcpy(Out[0].data(), In[0]->data(), In[0]->byteSize());
    return llvm::Error::success();
  case OpKind::NonZero:
  case OpKind::Unique:
  case OpKind::NonMaxSuppression:
    return evalDataShape(Op, In, Out);
  case OpKind::AllReduceSum:
    return evalCollective(Op, In, Out);
  case OpKind::If: case OpKind::Loop: case OpKind::Scan:
    return opError(Op, "internal error: control flow runs in evaluateOp");
  }
  llvm_unreachable("bad op kind");
}

bool dlc::interpreterSupports(OpKind K) {
  // Every op in the table has a kernel (dispatch has no default case).
  return unsigned(K) < NumOpKinds;
}

llvm::Expected<std::vector<Tensor>>
dlc::evaluateOp(const Operation &Op, llvm::ArrayRef<const Tensor *> Operands) {
  if (Operands.size() != Op.numOperands())
    return opError(Op, "expected " + std::to_string(Op.numOperands()) +
                           " operand tensors, got " +
                           std::to_string(Operands.size()));
  if (llvm::Error E = verifyOpStructure(Op))
    return E;
  // if, loop and scan interpret their regions (results sized by them).
  if (Op.info().has(ControlFlow))
    return runControlFlow(Op, Operands,
                          [](const Function &R, llvm::ArrayRef<Tensor> In) {
                            return interpret(R, In);
                          });
  llvm::SmallVector<TensorType, 4> OperandTypes;
  for (const Tensor *T : Operands)
    OperandTypes.push_back(T->type());
  auto Types = inferResultTypes(Op, OperandTypes, Operands);
  if (!Types)
    return Types.takeError();
  std::vector<Tensor> Results;
  for (const TensorType &T : *Types) {
    // Only string ops and DataShape ops may size a result from the data
    // (see evalString, evalDataShape).
    if (!T.isStatic() &&
        (Op.info().has(Strings) || Op.info().has(DataShape))) {
      Results.emplace_back(T.elem(), llvm::ArrayRef<int64_t>{0});
      continue;
    }
    if (!T.isStatic())
      return opError(Op, "result type " + T.str() +
                             " is not static for concrete operands");
    auto N = T.numElements();
    if (!N || *N > MaxElements)
      return opError(Op, "result " + T.str() + " is too large");
    // The interpreter is an oracle for tests and small models: refuse a
    // result that would not fit in memory instead of dying in the allocator.
    if (tensorHostBytes(T.elem(), *N) > InterpreterMaxBytes)
      return opError(Op, "result " + T.str() +
                             " needs more than 4 GiB, the reference "
                             "interpreter's limit per tensor");
    Results.emplace_back(T.elem(), T.staticSizes());
  }
  if (llvm::Error E = dispatch(Op, Operands, Results))
    return E;
  for (size_t I = 0; I < Results.size(); ++I)
    if (!compatible(Results[I].type(), (*Types)[I]))
      return opError(Op, "result " + std::to_string(I) + " is " +
                             Results[I].type().str() + ", not " +
                             (*Types)[I].str());
  return Results;
}

//===----------------------------------------------------------------------===//
// Function-level evaluation
//===----------------------------------------------------------------------===//

namespace {
/// Binds symbolic dims to sizes and checks run-time tensors against types.
class DimBinder {
public:
  /// Checks T against Ty; What names the value in messages ("input 'x'"),
  /// L locates the error.
  llvm::Error check(const Tensor &T, const TensorType &Ty,
                    const std::string &What, const Loc &L) {
    if (T.elem() != Ty.elem())
      return makeError(L, What + " has element type " + dtypeName(T.elem()) +
                              " but " + dtypeName(Ty.elem()) + " was expected");
    if (T.rank() != Ty.rank())
      return makeError(L, What + " has rank " + std::to_string(T.rank()) +
                              " but " + Ty.str() + " was expected");
    for (unsigned I = 0; I < Ty.rank(); ++I) {
      const Dim &D = Ty.dim(I);
      int64_t Size = T.shape()[I];
      std::string Where = What + " dim " + std::to_string(I);
      if (D.isStatic()) {
        if (D.size() != Size)
          return makeError(L, Where + " is " + std::to_string(Size) + " but " +
                                  Ty.str() + " was expected");
        continue;
      }
      if (!D.isSymbol())
        continue;
      auto It = Bound.find(D.sym());
      if (It == Bound.end()) {
        Bound[D.sym()] = {Size, What};
        continue;
      }
      if (It->second.first != Size)
        return makeError(L, Where + " (" + D.sym() + ") is " +
                                std::to_string(Size) + " but " + D.sym() +
                                " was bound to " +
                                std::to_string(It->second.first) + " by " +
                                It->second.second);
    }
    return llvm::Error::success();
  }

private:
  llvm::StringMap<std::pair<int64_t, std::string>> Bound;
};
} // namespace

static std::string valueName(const Value *V, const char *Kind, size_t I) {
  if (!V->Name.empty())
    return std::string(Kind) + " '" + V->Name + "'";
  return std::string(Kind) + " #" + std::to_string(I);
}

llvm::Expected<std::vector<Tensor>>
dlc::interpret(const Function &F, llvm::ArrayRef<Tensor> Inputs,
               llvm::ArrayRef<Tensor> Params) {
  if (Inputs.size() != F.Inputs.size())
    return makeError(F.L, "function '" + F.Name + "' expects " +
                              std::to_string(F.Inputs.size()) +
                              " inputs, got " + std::to_string(Inputs.size()));
  if (!Params.empty() && Params.size() != F.Params.size())
    return makeError(F.L, "function '" + F.Name + "' has " +
                              std::to_string(F.Params.size()) +
                              " parameters, got " +
                              std::to_string(Params.size()) + " values");

  DimBinder Binder;
  llvm::DenseMap<const Value *, Tensor> Env;
  for (size_t I = 0; I < Inputs.size(); ++I) {
    const Value *V = F.Inputs[I].get();
    if (llvm::Error E =
            Binder.check(Inputs[I], V->Type, valueName(V, "input", I), F.L))
      return E;
    Env[V] = Inputs[I];
  }
  for (size_t I = 0; I < F.Params.size(); ++I) {
    const Value *V = F.Params[I].get();
    std::string What = valueName(V, "parameter", I);
    const Tensor *T = nullptr;
    if (!Params.empty()) {
      T = &Params[I];
    } else if (I < F.ParamInits.size() && F.ParamInits[I] &&
               F.ParamInits[I]->kind() == AttrKind::Tensor &&
               F.ParamInits[I]->getTensor()) {
      T = F.ParamInits[I]->getTensor().get();
    } else {
      return makeError(F.L, What + " has no value");
    }
    if (llvm::Error E = Binder.check(*T, V->Type, What, F.L))
      return E;
    Env[V] = *T;
  }

  // Values are dropped after their last use (outputs count as uses).
  llvm::DenseMap<const Value *, unsigned> UsesLeft = F.countUses();
  for (const auto &OpPtr : F.Body) {
    const Operation &Op = *OpPtr;
    llvm::SmallVector<const Tensor *, 4> Operands;
    for (const Value *V : Op.Operands) {
      auto It = Env.find(V);
      if (It == Env.end())
        return opError(Op, "operand used before it is defined");
      Operands.push_back(&It->second);
    }
    auto Results = evaluateOp(Op, Operands);
    if (!Results)
      return Results.takeError();
    if (Results->size() != Op.numResults())
      return opError(Op, "produced " + std::to_string(Results->size()) +
                             " results but the op declares " +
                             std::to_string(Op.numResults()));
    for (unsigned I = 0; I < Op.numResults(); ++I) {
      const Value *R = Op.result(I);
      // A result that disagrees with its declared type means the inputs did
      // not fit the function after all (or the IR is stale).
      if (llvm::Error E = Binder.check(
              (*Results)[I], R->Type,
              Op.mnemonic().str() + " result " + std::to_string(I), Op.L))
        return E;
      if (UsesLeft.lookup(R))
        Env[R] = std::move((*Results)[I]);
    }
    for (const Value *V : Op.Operands)
      if (--UsesLeft[V] == 0)
        Env.erase(V);
  }

  std::vector<Tensor> Outs;
  for (const Value *V : F.Outputs) {
    auto It = Env.find(V);
    if (It == Env.end())
      return makeError(F.L, "output is not defined by the function");
    Outs.push_back(It->second);
  }
  return Outs;
}
