// Interpreter kernels for ops that only move elements: reshape, flatten,
// squeeze, unsqueeze, transpose, concat, split, slice, pad, expand, tile.
// Elements are copied bit-exactly, so every element type works.
#include "interp/Kernels.h"
#include "ir/ShapeInference.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

using namespace dlc;
using namespace dlc::interp;

//===----------------------------------------------------------------------===//
// Same elements, new shape
//===----------------------------------------------------------------------===//

/// The result shape of reshape, flatten, squeeze or unsqueeze on Shape.
/// Shape entries of a reshape or expand: the attribute, or the values of the
/// second operand when by_value is set.
static Sizes shapeEntries(const Operation &Op, TensorList In) {
  if (!Op.getBool("by_value") || In.size() != 2)
    return Sizes(Op.getInts("shape").begin(), Op.getInts("shape").end());
  Sizes R;
  for (int64_t K = 0; K < In[1]->numElements(); ++K)
    R.push_back(In[1]->getI(K));
  return R;
}

/// The result shape of reshape (to Entries), flatten, squeeze or unsqueeze
/// on Shape.
static llvm::Expected<Sizes> reshapeLikeShape(const Operation &Op,
                                              llvm::ArrayRef<int64_t> Shape,
                                              llvm::ArrayRef<int64_t> Entries) {
  unsigned Rank = Shape.size();
  switch (Op.kind()) {
  case OpKind::Reshape: {
    Sizes R;
    int64_t Known = 1;
    int Infer = -1;
    bool AllowZero = Op.getBool("allowzero");
    for (int64_t S : Entries) {
      if (S == 0 && !AllowZero) { // copies the input dim at this position
        if (R.size() >= Rank)
          return opError(Op, "shape entry 0 at position " +
                                 std::to_string(R.size()) +
                                 " is beyond the input rank");
        S = Shape[R.size()];
        Known *= S;
      } else if (S == -1 && Infer < 0) {
        Infer = R.size();
      } else if (S < 0) {
        return opError(Op, "shape entries must be sizes or a single -1");
      } else {
        Known *= S;
      }
      R.push_back(S);
    }
    int64_t Total = product(Shape);
    if (Infer >= 0) {
      if (Known == 0 || Total % Known)
        return opError(Op, "cannot reshape " + shapeStr(Shape) + " to " +
                               shapeStr(Entries));
      R[Infer] = Total / Known;
    }
    if (product(R) != Total)
      return opError(Op, "cannot reshape " + shapeStr(Shape) + " to " +
                             shapeStr(Entries));
    return R;
  }
  case OpKind::Flatten: {
    int64_t Axis = Op.getInt("axis");
    if (Axis < 0)
      Axis += Rank;
    if (Axis < 0 || Axis > int64_t(Rank))
      return opError(Op, "axis is out of range");
    return Sizes{product(Shape.take_front(Axis)),
                 product(Shape.drop_front(Axis))};
  }
  case OpKind::Squeeze: {
    llvm::ArrayRef<int64_t> Axes = Op.getInts("axes");
    llvm::SmallVector<bool, 4> Drop(Rank, false);
    for (unsigned D = 0; D < Rank; ++D)
      Drop[D] = Axes.empty() && Shape[D] == 1;
    for (int64_t A : Axes) {
      auto Ax = axisIn(Op, A, Rank);
      if (!Ax)
        return Ax.takeError();
      if (Shape[*Ax] != 1)
        return opError(Op, "dim " + std::to_string(*Ax) + " has size " +
                               std::to_string(Shape[*Ax]) + ", not 1");
      Drop[*Ax] = true;
    }
    Sizes R;
    for (unsigned D = 0; D < Rank; ++D)
      if (!Drop[D])
        R.push_back(Shape[D]);
    return R;
  }
  case OpKind::Unsqueeze: {
    llvm::ArrayRef<int64_t> Axes = Op.getInts("axes");
    unsigned OutRank = Rank + Axes.size();
    llvm::SmallVector<bool, 4> New(OutRank, false);
    for (int64_t A : Axes) {
      auto Ax = axisIn(Op, A, OutRank);
      if (!Ax)
        return Ax.takeError();
      if (New[*Ax])
        return opError(Op, "axis " + std::to_string(A) + " is repeated");
      New[*Ax] = true;
    }
    Sizes R;
    unsigned Next = 0;
    for (unsigned D = 0; D < OutRank; ++D)
      R.push_back(New[D] ? 1 : Shape[Next++]);
    return R;
  }
  default:
    llvm_unreachable("not a reshape-like op");
  }
}

llvm::Error interp::evalReshapeLike(const Operation &Op, TensorList In,
                                    ResultList Out) {
  if (Out[0].elem() != In[0]->elem())
    return opError(Op, "result element type differs from the operand's");
  llvm::Expected<Sizes> Expected =
      Op.kind() == OpKind::Reshape && In.size() == 2 && !Op.getBool("by_value")
          ? Sizes(In[1]->shape().begin(), In[1]->shape().end())
          : reshapeLikeShape(Op, In[0]->shape(),
                             Op.kind() == OpKind::Reshape ? shapeEntries(Op, In)
                                                          : Sizes());
  if (!Expected)
    return Expected.takeError();
  if (In[0]->numElements() != Out[0].numElements())
    return opError(Op, "cannot reshape " + std::to_string(In[0]->numElements()) +
                           " elements to " + std::to_string(Out[0].numElements()));
  if (llvm::Error E = expectShape(Op, Out[0], *Expected))
    return E;
  Out[0].bytes() = In[0]->bytes();
  Out[0].strings() = In[0]->strings();
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Copies with index maps
//===----------------------------------------------------------------------===//

static llvm::Error transpose(const Operation &Op, const Tensor &X, Tensor &R) {
  unsigned Rank = X.rank();
  Sizes Perm(Op.getInts("perm").begin(), Op.getInts("perm").end());
  if (Perm.empty())
    for (unsigned D = 0; D < Rank; ++D)
      Perm.push_back(Rank - 1 - D);
  llvm::SmallVector<bool, 4> Seen(Rank, false);
  if (Perm.size() != Rank)
    return opError(Op, "perm must have one entry per dim");
  for (int64_t P : Perm) {
    if (P < 0 || P >= int64_t(Rank) || Seen[P])
      return opError(Op, "perm is not a permutation");
    Seen[P] = true;
  }
  Sizes Expected, Str, InStr = stridesOf(X.shape());
  for (int64_t P : Perm) {
    Expected.push_back(X.shape()[P]);
    Str.push_back(InStr[P]);
  }
  if (llvm::Error E = expectShape(Op, R, Expected))
    return E;
  Sizes Idx(Rank);
  for (int64_t I = 0, N = R.numElements(); I < N; ++I) {
    unravel(I, Expected, Idx);
    copyElem(X, dot(Idx, Str), R, I);
  }
  return llvm::Error::success();
}

static llvm::Error concat(const Operation &Op, TensorList In, Tensor &R) {
  const Tensor &First = *In[0];
  auto Ax = axisIn(Op, Op.getInt("axis"), First.rank());
  if (!Ax)
    return Ax.takeError();
  Sizes Expected(First.shape().begin(), First.shape().end());
  Expected[*Ax] = 0;
  for (const Tensor *T : In) {
    bool Same = T->elem() == R.elem() && T->rank() == First.rank();
    for (unsigned D = 0; Same && D < T->rank(); ++D)
      Same = D == *Ax || T->shape()[D] == First.shape()[D];
    if (!Same)
      return opError(Op, "operand " + shapeStr(T->shape()) +
                             " does not match " + shapeStr(First.shape()));
    Expected[*Ax] += T->shape()[*Ax];
  }
  if (llvm::Error E = expectShape(Op, R, Expected))
    return E;
  unsigned Size = dtypeSize(R.elem());
  int64_t Outer = product(First.shape().take_front(*Ax));
  int64_t Inner = product(First.shape().drop_front(*Ax + 1)) * Size;
  int64_t OutRow = Expected[*Ax] * Inner, Off = 0;
  for (const Tensor *T : In) {
    int64_t Row = T->shape()[*Ax] * Inner;
    for (int64_t O = 0; O < Outer; ++O)
      if (Row)
        std::memcpy(R.data() + O * OutRow + Off, T->data() + O * Row, Row);
    Off += Row;
  }
  return llvm::Error::success();
}

static llvm::Error split(const Operation &Op, const Tensor &X, ResultList Out) {
  auto Ax = axisIn(Op, Op.getInt("axis"), X.rank());
  if (!Ax)
    return Ax.takeError();
  std::vector<int64_t> Parts = Op.getInts("sizes").vec();
  if (int64_t N = Op.getInt("parts"); N > 0 && Parts.empty())
    Parts = splitParts(X.shape()[*Ax], N);
  int64_t Sum = 0;
  for (int64_t P : Parts)
    Sum += P < 0 ? X.shape()[*Ax] + 1 : P; // a negative size never sums up
  if (Sum != X.shape()[*Ax] || Parts.size() != Out.size())
    return opError(Op, "sizes " + shapeStr(Parts) + " do not split dim " +
                           std::to_string(*Ax) + " of " + shapeStr(X.shape()));
  unsigned Size = dtypeSize(X.elem());
  int64_t Outer = product(X.shape().take_front(*Ax));
  int64_t Inner = product(X.shape().drop_front(*Ax + 1)) * Size;
  int64_t InRow = X.shape()[*Ax] * Inner, Off = 0;
  for (size_t I = 0; I < Parts.size(); ++I) {
    Sizes Expected(X.shape().begin(), X.shape().end());
    Expected[*Ax] = Parts[I];
    if (llvm::Error E = expectShape(Op, Out[I], Expected))
      return E;
    int64_t Row = Parts[I] * Inner;
    for (int64_t O = 0; O < Outer; ++O)
      if (Row)
        std::memcpy(Out[I].data() + O * Row, X.data() + O * InRow + Off, Row);
    Off += Row;
  }
  return llvm::Error::success();
}

static llvm::Error slice(const Operation &Op, const Tensor &X, Tensor &R) {
  unsigned Rank = X.rank();
  llvm::ArrayRef<int64_t> Starts = Op.getInts("starts"),
                          Ends = Op.getInts("ends");
  llvm::ArrayRef<int64_t> Axes = Op.getInts("axes"),
                          Steps = Op.getInts("steps");
  if (Ends.size() != Starts.size() ||
      (!Axes.empty() && Axes.size() != Starts.size()) ||
      (!Steps.empty() && Steps.size() != Starts.size()))
    return opError(Op, "starts, ends, axes and steps differ in length");
  // Per dim: first index, step and count.
  Sizes First(Rank, 0), Step(Rank, 1),
      Expected(X.shape().begin(), X.shape().end());
  llvm::SmallVector<bool, 4> Seen(Rank, false);
  for (size_t I = 0; I < Starts.size(); ++I) {
    auto Ax = axisIn(Op, Axes.empty() ? int64_t(I) : Axes[I], Rank);
    if (!Ax)
      return Ax.takeError();
    if (Seen[*Ax])
      return opError(Op, "axis " + std::to_string(*Ax) + " is repeated");
    Seen[*Ax] = true;
    int64_t D = X.shape()[*Ax], S = Starts[I], E = Ends[I];
    int64_t St = Steps.empty() ? 1 : Steps[I];
    if (St == 0)
      return opError(Op, "steps must be nonzero");
    if (S < 0)
      S += D;
    if (E < 0)
      E += D;
    int64_t Count = 0;
    if (St > 0) {
      S = std::clamp<int64_t>(S, 0, D);
      E = std::clamp<int64_t>(E, 0, D);
      Count = E > S ? (E - S - 1) / St + 1 : 0;
    } else if (D > 0) {
      St = std::max<int64_t>(St, -INT64_MAX);
      S = std::clamp<int64_t>(S, 0, D - 1);
      E = std::clamp<int64_t>(E, -1, D - 1);
      Count = S > E ? (S - E - 1) / -St + 1 : 0;
    }
    First[*Ax] = S;
    Step[*Ax] = St;
    Expected[*Ax] = Count;
  }
  if (llvm::Error E = expectShape(Op, R, Expected))
    return E;
  Sizes InStr = stridesOf(X.shape()), Idx(Rank);
  for (int64_t I = 0, N = R.numElements(); I < N; ++I) {
    unravel(I, Expected, Idx);
    int64_t Src = 0;
    for (unsigned D = 0; D < Rank; ++D)
      Src += (First[D] + Idx[D] * Step[D]) * InStr[D];
    copyElem(X, Src, R, I);
  }
  return llvm::Error::success();
}

/// Source index along a dim of size D for padded position P (already shifted
/// by the begin pad), or -1 for the constant value.
static int64_t padSource(int64_t P, int64_t D, llvm::StringRef Mode) {
  if (P >= 0 && P < D)
    return P;
  if (Mode == "edge")
    return P < 0 ? 0 : D - 1;
  if (Mode == "reflect") {
    if (D == 1)
      return 0;
    int64_t Period = 2 * (D - 1);
    int64_t M = ((P % Period) + Period) % Period;
    return M < D ? M : Period - M;
  }
  return -1;
}

static llvm::Error pad(const Operation &Op, const Tensor &X, Tensor &R) {
  unsigned Rank = X.rank();
  llvm::ArrayRef<int64_t> Pads = Op.getInts("pads");
  llvm::StringRef Mode = Op.getString("mode");
  if (Pads.size() != 2 * Rank)
    return opError(Op,
                   "pads must have " + std::to_string(2 * Rank) + " entries");
  if (Mode != "constant" && Mode != "reflect" && Mode != "edge")
    return opError(Op, "unknown mode \"" + Mode + "\"");
  Sizes Expected;
  for (unsigned D = 0; D < Rank; ++D) {
    int64_t Size = X.shape()[D] + Pads[D] + Pads[Rank + D];
    if (Size < 0)
      return opError(Op, "negative pads remove more than dim " +
                             std::to_string(D) + " holds");
    if (Mode != "constant" && X.shape()[D] == 0 && Size > 0)
      return opError(Op, "cannot " + Mode + "-pad an empty dim");
    Expected.push_back(Size);
  }
  if (llvm::Error E = expectShape(Op, R, Expected))
    return E;
  double Value = Op.getFloat("value");
  Sizes InStr = stridesOf(X.shape()), Idx(Rank);
  for (int64_t I = 0, N = R.numElements(); I < N; ++I) {
    unravel(I, Expected, Idx);
    int64_t Src = 0;
    for (unsigned D = 0; D < Rank && Src >= 0; ++D) {
      int64_t S = padSource(Idx[D] - Pads[D], X.shape()[D], Mode);
      Src = S < 0 ? -1 : Src + S * InStr[D];
    }
    if (Src >= 0)
      copyElem(X, Src, R, I);
    else
      R.setF(I, Value);
  }
  return llvm::Error::success();
}

static llvm::Error expand(const Operation &Op, TensorList In, Tensor &R) {
  const Tensor &X = *In[0];
  bool ByValue = Op.getBool("by_value");
  Sizes Entries = shapeEntries(Op, In);
  for (int64_t S : Entries)
    if (S < 0)
      return opError(Op, "invalid shape entry " + std::to_string(S));
  auto Target = broadcastPair(Op, Entries,
                              In.size() == 2 && !ByValue
                                  ? In[1]->shape()
                                  : llvm::ArrayRef<int64_t>());
  if (!Target)
    return Target.takeError();
  auto Expected = broadcastPair(Op, X.shape(), *Target);
  if (!Expected)
    return Expected.takeError();
  if (llvm::Error E = expectShape(Op, R, *Expected))
    return E;
  auto Str = broadcastStrides(Op, X.shape(), *Expected);
  if (!Str)
    return Str.takeError();
  Sizes Idx(Expected->size());
  for (int64_t I = 0, N = R.numElements(); I < N; ++I) {
    unravel(I, *Expected, Idx);
    copyElem(X, dot(Idx, *Str), R, I);
  }
  return llvm::Error::success();
}

static llvm::Error tile(const Operation &Op, const Tensor &X, Tensor &R) {
  llvm::ArrayRef<int64_t> Reps = Op.getInts("repeats");
  if (Reps.size() != X.rank())
    return opError(Op, "repeats must have one entry per dim");
  Sizes Expected;
  for (unsigned D = 0; D < X.rank(); ++D) {
    if (Reps[D] < 0)
      return opError(Op, "repeats must be non-negative");
    Expected.push_back(X.shape()[D] * Reps[D]);
  }
  if (llvm::Error E = expectShape(Op, R, Expected))
    return E;
  Sizes InStr = stridesOf(X.shape()), Idx(X.rank());
  for (int64_t I = 0, N = R.numElements(); I < N; ++I) {
    unravel(I, Expected, Idx);
    int64_t Src = 0;
    for (unsigned D = 0; D < X.rank(); ++D)
      Src += (Idx[D] % X.shape()[D]) * InStr[D];
    copyElem(X, Src, R, I);
  }
  return llvm::Error::success();
}

llvm::Error interp::evalMovement(const Operation &Op, TensorList In,
                                 ResultList Out) {
  const Tensor &X = *In[0];
  for (const Tensor &R : Out)
    if (R.elem() != X.elem())
      return opError(Op, "result element type differs from the operand's");
  switch (Op.kind()) {
  case OpKind::Transpose:
    return transpose(Op, X, Out[0]);
  case OpKind::Concat:
    return concat(Op, In, Out[0]);
  case OpKind::Split:
    return split(Op, X, Out);
  case OpKind::Slice:
    return slice(Op, X, Out[0]);
  case OpKind::Pad:
    return pad(Op, X, Out[0]);
  case OpKind::Expand:
    return expand(Op, In, Out[0]);
  case OpKind::Tile:
    return tile(Op, X, Out[0]);
  default:
    llvm_unreachable("not a movement op");
  }
}
