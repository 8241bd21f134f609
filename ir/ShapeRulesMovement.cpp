// Shape rules for the movement ops: reshape, transpose, flatten, squeeze,
// unsqueeze, concat, split, slice, pad, gather, expand and tile.
#include "ir/ShapeRules.h"
#include "runtime/SizeMath.h"

using namespace dlc;
using namespace dlc::shape;

Result shape::inferReshape(const Ctx &C) {
  const TensorType &X = C.In[0];
  llvm::ArrayRef<int64_t> Target = C.Op.getInts("shape");
  std::optional<llvm::SmallVector<int64_t, 4>> Vals;
  if (C.Op.getBool("by_value")) {
    auto K = shapeOperandLength(C, 1);
    if (!K)
      return K.takeError();
    Vals = shapeOperandValues(C, 1);
    if (!Vals) // known when the run-time plan is built
      return C.one(TensorType(X.elem(), Shape(*K, Dim::unknown())));
    Target = *Vals;
  } else if (C.In.size() == 2) {
    // The like operand's dims; element counts are checked when both are
    // static (else at run time, by the executor and the interpreter).
    if (!Target.empty())
      return C.err("with a second operand, shape must be []");
    auto NX = X.numElements(), NL = C.In[1].numElements();
    if (NX && NL && *NX != *NL)
      return C.err("cannot reshape " + X.str() + " to the shape of " +
                   C.In[1].str());
    return C.one(TensorType(X.elem(), C.In[1].dims()));
  }
  Shape Out;
  int Infer = -1;
  for (size_t I = 0; I < Target.size(); ++I) {
    int64_t T = Target[I];
    if (T == -1) {
      if (Infer >= 0)
        return C.err("shape has more than one -1");
      Infer = int(I);
      Out.push_back(Dim::unknown());
    } else if (T == 0 && C.Op.getBool("allowzero")) {
      Out.push_back(Dim::fixed(0));
    } else if (T == 0) {
      if (I >= X.rank())
        return C.err("shape entry 0 (copy) at position " + std::to_string(I) +
                     " is beyond the input rank");
      Out.push_back(X.dim(I));
    } else if (T < 0 || T > MaxElements) {
      return C.err("invalid shape entry " + std::to_string(T) +
                   " (an entry is -1, 0 or a size in [1, 2^40])");
    } else {
      Out.push_back(Dim::fixed(T));
    }
  }
  // Compare element counts as (static product, multiset of symbols).
  bool Overflow = false;
  auto split = [&Overflow](llvm::ArrayRef<Dim> Ds, int64_t &N,
                           llvm::SmallVector<std::string, 2> &Syms,
                           bool &Unknown) {
    N = 1;
    for (const Dim &D : Ds) {
      if (D.isStatic())
        Overflow |= !mulSize(N, D.size(), N);
      else if (D.isSymbol())
        Syms.push_back(D.sym().str());
      else
        Unknown = true;
    }
    llvm::sort(Syms);
  };
  int64_t NIn, NOut;
  llvm::SmallVector<std::string, 2> SIn, SOut;
  bool UIn = false, UOut = false;
  split(X.dims(), NIn, SIn, UIn);
  Shape Known = Out;
  if (Infer >= 0)
    Known.erase(Known.begin() + Infer);
  split(Known, NOut, SOut, UOut);
  if (Overflow)
    return C.err("cannot reshape " + X.str() + " to " +
                 TensorType(X.elem(), Out).str() + ": more than 2^63 elements");
  if (Infer < 0) {
    // Only a fully static mismatch is certain; with symbols the run time
    // checks the element count.
    if (!UIn && !UOut && SIn.empty() && SOut.empty() && NIn != NOut)
      return C.err("cannot reshape " + X.str() + " (" + std::to_string(NIn) +
                   " elements) to " + TensorType(X.elem(), Out).str());
    return C.one(TensorType(X.elem(), Out));
  }
  if (UIn || UOut)
    return C.one(TensorType(X.elem(), Out));
  // Cancel symbols present on both sides.
  llvm::SmallVector<std::string, 2> Rest;
  for (const std::string &S : SIn) {
    auto It = llvm::find(SOut, S);
    if (It != SOut.end())
      SOut.erase(It);
    else
      Rest.push_back(S);
  }
  if (!SOut.empty())
    return C.one(TensorType(X.elem(), Out)); // stays unknown
  if (!Rest.empty() && (NOut == 0 || NIn % NOut))
    return C.one(TensorType(X.elem(), Out)); // stays unknown
  if (NOut == 0 || NIn % NOut)
    return C.err("cannot reshape " + X.str() + " to " +
                 TensorType(X.elem(), Out).str() + ": " + std::to_string(NIn) +
                 " elements are not divisible by " + std::to_string(NOut));
  int64_t Q = NIn / NOut;
  if (Rest.empty())
    Out[Infer] = Dim::fixed(Q);
  else if (Rest.size() == 1 && Q == 1)
    Out[Infer] = Dim::symbol(Rest[0]);
  return C.one(TensorType(X.elem(), Out));
}

Result shape::inferTranspose(const Ctx &C) {
  const TensorType &X = C.In[0];
  llvm::SmallVector<int64_t, 4> Perm(C.Op.getInts("perm"));
  if (Perm.empty())
    for (unsigned I = 0; I < X.rank(); ++I)
      Perm.push_back(X.rank() - 1 - I);
  if (Perm.size() != X.rank())
    return C.err("perm must have " + std::to_string(X.rank()) + " entries");
  llvm::SmallVector<bool, 4> Seen(X.rank(), false);
  Shape Out;
  for (int64_t P : Perm) {
    if (P < 0 || P >= int64_t(X.rank()) || Seen[P])
      return C.err("perm is not a permutation of 0.." +
                   std::to_string(X.rank() - 1));
    Seen[P] = true;
    Out.push_back(X.dim(P));
  }
  return C.one(TensorType(X.elem(), Out));
}

Result shape::inferFlatten(const Ctx &C) {
  const TensorType &X = C.In[0];
  int64_t A = C.Op.getInt("axis");
  if (A < 0)
    A += X.rank();
  if (A < 0 || A > int64_t(X.rank()))
    return C.err("axis " + std::to_string(C.Op.getInt("axis")) +
                 " is out of range for rank " + std::to_string(X.rank()));
  llvm::ArrayRef<Dim> Ds = X.dims();
  return C.one(TensorType(X.elem(), {productDim(Ds.take_front(A)),
                                     productDim(Ds.drop_front(A))}));
}

Result shape::inferSqueeze(const Ctx &C) {
  const TensorType &X = C.In[0];
  llvm::SmallVector<bool, 4> Drop(X.rank(), false);
  llvm::ArrayRef<int64_t> Axes = C.Op.getInts("axes");
  if (Axes.empty()) {
    // Which dims go must be known now: a symbol may be 1 at run time.
    for (unsigned I = 0; I < X.rank(); ++I) {
      if (!X.dim(I).isStatic())
        return C.err("squeeze without axes needs static dims, got " + X.str() +
                     "; list the axes to remove");
      Drop[I] = X.dim(I).size() == 1;
    }
  }
  for (int64_t A : Axes) {
    auto N = normalizeAxis(A, X.rank(), C.Op.L);
    if (!N)
      return N.takeError();
    if (X.dim(*N).isStatic() && X.dim(*N).size() != 1)
      return C.err("cannot squeeze dim " + std::to_string(*N) + " of size " +
                   X.dim(*N).str());
    Drop[*N] = true;
  }
  Shape Out;
  for (unsigned I = 0; I < X.rank(); ++I)
    if (!Drop[I])
      Out.push_back(X.dim(I));
  return C.one(TensorType(X.elem(), Out));
}

Result shape::inferUnsqueeze(const Ctx &C) {
  const TensorType &X = C.In[0];
  llvm::ArrayRef<int64_t> Axes = C.Op.getInts("axes");
  unsigned R = X.rank() + Axes.size();
  llvm::SmallVector<bool, 4> New(R, false);
  for (int64_t A : Axes) {
    auto N = normalizeAxis(A, R, C.Op.L);
    if (!N)
      return N.takeError();
    if (New[*N])
      return C.err("axis " + std::to_string(A) + " is listed twice");
    New[*N] = true;
  }
  Shape Out;
  unsigned K = 0;
  for (unsigned I = 0; I < R; ++I)
    Out.push_back(New[I] ? Dim::fixed(1) : X.dim(K++));
  return C.one(TensorType(X.elem(), Out));
}

Result shape::inferConcat(const Ctx &C) {
  const TensorType &X = C.In[0];
  auto A = normalizeAxis(C.Op.getInt("axis"), X.rank(), C.Op.L);
  if (!A)
    return A.takeError();
  Shape Out = X.dims();
  llvm::SmallVector<Dim, 4> Parts;
  for (const TensorType &T : C.In) {
    if (T.elem() != X.elem() || T.rank() != X.rank())
      return C.err("operands must share element type and rank, got " +
                   X.str() + " and " + T.str());
    for (unsigned I = 0; I < X.rank(); ++I) {
      if (I == *A)
        continue;
      if (!(T.dim(I) == Out[I])) {
        if (T.dim(I).isUnknown())
          continue;
        if (Out[I].isUnknown())
          Out[I] = T.dim(I);
        else
          return C.err("operands differ in dim " + std::to_string(I) + ": " +
                       X.str() + " and " + T.str());
      }
    }
    Parts.push_back(T.dim(*A));
  }
  int64_t Sum = 0;
  bool Static = true;
  for (const Dim &D : Parts) {
    if (!D.isStatic())
      Static = false;
    else
      Sum += D.size();
  }
  Out[*A] = Static ? Dim::fixed(Sum)
            : Parts.size() == 1 ? Parts[0]
                                : Dim::unknown();
  return C.one(TensorType(X.elem(), Out));
}

Result shape::inferSplit(const Ctx &C) {
  const TensorType &X = C.In[0];
  auto A = normalizeAxis(C.Op.getInt("axis"), X.rank(), C.Op.L);
  if (!A)
    return A.takeError();
  llvm::ArrayRef<int64_t> Sizes = C.Op.getInts("sizes");
  int64_t Parts = C.Op.getInt("parts");
  if (Parts != 0) {
    if (!Sizes.empty() || Parts < 0 || Parts > MaxElements)
      return C.err("parts must be in [1, 2^40] and sizes [] with it, got " +
                   std::to_string(Parts));
    const Dim &D = X.dim(*A);
    llvm::SmallVector<TensorType, 1> R;
    std::vector<int64_t> Static =
        D.isStatic() ? splitParts(D.size(), Parts) : std::vector<int64_t>();
    for (int64_t I = 0; I < Parts; ++I) {
      Shape Out = X.dims();
      Out[*A] = D.isStatic() ? Dim::fixed(Static[I]) : Dim::unknown();
      R.push_back(TensorType(X.elem(), Out));
    }
    return R;
  }
  if (Sizes.empty())
    return C.err("sizes must not be empty (or parts must be given)");
  int64_t Sum = 0;
  for (int64_t S : Sizes) {
    if (S < 0 || S > MaxElements)
      return C.err("sizes must be in [0, 2^40]");
    Sum += S; // at most 2^40 entries of at most 2^40 each: no overflow
  }
  if (X.dim(*A).isStatic() && X.dim(*A).size() != Sum)
    return C.err("sizes add up to " + std::to_string(Sum) + " but dim " +
                 std::to_string(*A) + " of " + X.str() + " is " +
                 X.dim(*A).str());
  llvm::SmallVector<TensorType, 1> R;
  for (int64_t S : Sizes) {
    Shape Out = X.dims();
    Out[*A] = Dim::fixed(S);
    R.push_back(TensorType(X.elem(), Out));
  }
  return R;
}

Result shape::inferSlice(const Ctx &C) {
  const TensorType &X = C.In[0];
  llvm::ArrayRef<int64_t> Starts = C.Op.getInts("starts"),
                          Ends = C.Op.getInts("ends"),
                          Axes = C.Op.getInts("axes"),
                          Steps = C.Op.getInts("steps");
  if (Starts.size() != Ends.size() || (!Axes.empty() && Axes.size() != Starts.size()) ||
      (!Steps.empty() && Steps.size() != Starts.size()))
    return C.err("starts, ends, axes and steps must have the same length");
  Shape Out = X.dims();
  llvm::SmallVector<bool, 4> Seen(X.rank(), false);
  for (size_t I = 0; I < Starts.size(); ++I) {
    auto Ax = normalizeAxis(Axes.empty() ? int64_t(I) : Axes[I], X.rank(), C.Op.L);
    if (!Ax)
      return Ax.takeError();
    if (Seen[*Ax])
      return C.err("axis " + std::to_string(*Ax) + " is sliced twice");
    Seen[*Ax] = true;
    int64_t Step = Steps.empty() ? 1 : Steps[I];
    if (Step == 0)
      return C.err("steps must be non-zero");
    // A step beyond any dim takes one element; bound it so -Step is safe.
    Step = std::max(std::min(Step, MaxElements + 1), -(MaxElements + 1));
    const Dim &D = X.dim(*Ax);
    if (!D.isStatic()) {
      bool Whole = Starts[I] == 0 && Step == 1 && Ends[I] >= (int64_t(1) << 31);
      Out[*Ax] = Whole ? D : Dim::unknown();
      continue;
    }
    int64_t N = D.size();
    auto clampIdx = [&](int64_t V, int64_t Lo, int64_t Hi) {
      if (V < 0)
        V += N;
      return std::min(std::max(V, Lo), Hi);
    };
    int64_t Len;
    if (Step > 0) {
      int64_t S = clampIdx(Starts[I], 0, N), E = clampIdx(Ends[I], 0, N);
      Len = E > S ? (E - S + Step - 1) / Step : 0;
    } else {
      int64_t S = clampIdx(Starts[I], -1, N - 1), E = clampIdx(Ends[I], -1, N - 1);
      Len = S > E ? (S - E + (-Step) - 1) / (-Step) : 0;
    }
    Out[*Ax] = Dim::fixed(Len);
  }
  return C.one(TensorType(X.elem(), Out));
}

Result shape::inferPad(const Ctx &C) {
  const TensorType &X = C.In[0];
  llvm::ArrayRef<int64_t> Pads = C.Op.getInts("pads");
  if (Pads.size() != 2 * X.rank())
    return C.err("pads must have " + std::to_string(2 * X.rank()) +
                 " entries (begins then ends), got " +
                 std::to_string(Pads.size()));
  llvm::StringRef Mode = C.Op.getString("mode");
  if (Mode != "constant" && Mode != "reflect" && Mode != "edge")
    return C.err("mode must be \"constant\", \"reflect\" or \"edge\", got \"" +
                 Mode + "\"");
  for (int64_t P : Pads)
    if (P > MaxElements || P < -MaxElements)
      return C.err("pads must be within +-2^40, got " + std::to_string(P));
  Shape Out;
  for (unsigned I = 0; I < X.rank(); ++I) {
    int64_t B = Pads[I], E = Pads[X.rank() + I];
    const Dim &D = X.dim(I);
    if (B == 0 && E == 0) {
      Out.push_back(D);
    } else if (D.isStatic()) {
      int64_t N = D.size() + B + E; // each term within 2^40
      if (N < 0)
        return C.err("negative pads remove more than dim " + std::to_string(I));
      if (N > MaxElements)
        return C.err("padded dim " + std::to_string(I) + " is larger than 2^40");
      Out.push_back(Dim::fixed(N));
    } else {
      Out.push_back(Dim::unknown());
    }
  }
  return C.one(TensorType(X.elem(), Out));
}

Result shape::inferGather(const Ctx &C) {
  const TensorType &X = C.In[0], &Idx = C.In[1];
  if (!isInteger(Idx.elem()))
    return C.err("indices must be integers, got " + Idx.str());
  auto A = normalizeAxis(C.Op.getInt("axis"), X.rank(), C.Op.L);
  if (!A)
    return A.takeError();
  Shape Out(X.dims().begin(), X.dims().begin() + *A);
  Out.append(Idx.dims().begin(), Idx.dims().end());
  Out.append(X.dims().begin() + *A + 1, X.dims().end());
  return C.one(TensorType(X.elem(), Out));
}

Result shape::inferExpand(const Ctx &C) {
  Shape Target;
  llvm::ArrayRef<int64_t> Sizes = C.Op.getInts("shape");
  std::optional<llvm::SmallVector<int64_t, 4>> Vals;
  bool ByValue = C.Op.getBool("by_value");
  if (ByValue) {
    auto K = shapeOperandLength(C, 1);
    if (!K)
      return K.takeError();
    Vals = shapeOperandValues(C, 1);
    if (Vals)
      Sizes = *Vals;
    else // known when the run-time plan is built
      Target.assign(*K, Dim::unknown());
  }
  for (int64_t S : Sizes) {
    if (S < 0 || S > MaxElements)
      return C.err("invalid shape entry " + std::to_string(S) +
                   " (a size in [0, 2^40])");
    Target.push_back(Dim::fixed(S));
  }
  if (C.In.size() == 2 && !ByValue) {
    auto Like = broadcastShapes(Target, C.In[1].dims());
    if (!Like) {
      llvm::consumeError(Like.takeError());
      return C.err("shape " + TensorType(C.In[0].elem(), Target).str() +
                   " does not broadcast with " + C.In[1].str());
    }
    Target = *Like;
  }
  auto Out = broadcastShapes(C.In[0].dims(), Target);
  if (!Out) {
    llvm::consumeError(Out.takeError());
    return C.err("cannot expand " + C.In[0].str() + " to " +
                 TensorType(C.In[0].elem(), Target).str());
  }
  return C.one(TensorType(C.In[0].elem(), *Out));
}

Result shape::inferTile(const Ctx &C) {
  const TensorType &X = C.In[0];
  llvm::ArrayRef<int64_t> Rep = C.Op.getInts("repeats");
  if (Rep.size() != X.rank())
    return C.err("repeats must have " + std::to_string(X.rank()) + " entries");
  Shape Out;
  for (unsigned I = 0; I < X.rank(); ++I) {
    if (Rep[I] < 0 || Rep[I] > MaxElements)
      return C.err("repeats must be in [0, 2^40]");
    const Dim &D = X.dim(I);
    Wide N = Wide(D.isStatic() ? D.size() : 0) * Rep[I];
    if (N > MaxElements)
      return C.err("tiled dim " + std::to_string(I) + " is larger than 2^40");
    Out.push_back(Rep[I] == 1   ? D
                  : D.isStatic() ? Dim::fixed(int64_t(N))
                                 : Dim::unknown());
  }
  return C.one(TensorType(X.elem(), Out));
}
