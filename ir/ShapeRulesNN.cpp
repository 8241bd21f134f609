// Shape rules for convolution, pooling, normalization and movement ops.
#include "ir/ShapeRules.h"

#include <cmath>

using namespace dlc;
using namespace dlc::shape;

Dim shape::windowDim(const Dim &In, int64_t PadTotal, Wide Eff,
                     int64_t Stride, bool Ceil, int64_t PadBegin) {
  if (!In.isStatic())
    return Dim::unknown();
  // Attributes are bounded by 2^40 (windowAttrs), so 128-bit arithmetic
  // cannot overflow here.
  Wide Span = Wide(In.size()) + PadTotal - Eff;
  if (Span < 0)
    return Dim::fixed(0); // the window does not fit: callers report it
  Wide Out = (Ceil ? (Span + Stride - 1) / Stride : Span / Stride) + 1;
  // With ceil_mode the last window must start inside the input or its
  // leading padding (as in ONNX and PyTorch).
  if (Ceil && (Out - 1) * Stride >= Wide(In.size()) + PadBegin)
    --Out;
  return Dim::fixed(int64_t(Out));
}

/// strides, dilations (default 1) and pads (default 0) of a windowed op
/// with Spatial spatial dims.
struct Window {
  llvm::SmallVector<int64_t, 3> Strides, Dilations, Pads;
};

static llvm::Expected<Window> windowAttrs(const Ctx &C, unsigned Spatial,
                                          bool HasDilations = true) {
  Window W;
  auto get = [&](llvm::StringRef Name, unsigned Len, int64_t Def,
                 llvm::SmallVector<int64_t, 3> &Out, int64_t Min) -> llvm::Error {
    llvm::ArrayRef<int64_t> V = C.Op.getInts(Name);
    if (V.empty()) {
      Out.assign(Len, Def);
      return llvm::Error::success();
    }
    if (V.size() != Len)
      return C.err(Name + " must have " + std::to_string(Len) +
                   " entries, got " + std::to_string(V.size()));
    for (int64_t X : V)
      if (X < Min || X > MaxElements)
        return C.err(Name + " entries must be in [" + std::to_string(Min) +
                     ", 2^40], got " + std::to_string(X));
    Out.assign(V.begin(), V.end());
    return llvm::Error::success();
  };
  if (auto E = get("strides", Spatial, 1, W.Strides, 1))
    return std::move(E);
  if (HasDilations) {
    if (auto E = get("dilations", Spatial, 1, W.Dilations, 1))
      return std::move(E);
  } else {
    W.Dilations.assign(Spatial, 1);
  }
  if (auto E = get("pads", 2 * Spatial, 0, W.Pads, 0))
    return std::move(E);
  return W;
}

Result shape::inferConv(const Ctx &C) {
  const TensorType &X = C.In[0], &W = C.In[1];
  if (X.rank() < 3)
    return C.err("input must be [N, C, spatial...], got " + X.str());
  if (W.rank() != X.rank())
    return C.err("weight " + W.str() + " must have the rank of the input " +
                 X.str());
  for (const TensorType &T : C.In)
    if (T.elem() != X.elem())
      return C.err("operand element types differ");
  unsigned S = X.rank() - 2;
  int64_t G = C.Op.getInt("group");
  if (G < 1)
    return C.err("group must be >= 1");
  if (X.dim(1).isStatic() && W.dim(1).isStatic() &&
      X.dim(1).size() != W.dim(1).size() * G)
    return C.err("input has " + X.dim(1).str() + " channels but weight " +
                 W.str() + " with group " + std::to_string(G) + " expects " +
                 std::to_string(W.dim(1).size() * G));
  if (W.dim(0).isStatic() && W.dim(0).size() % G)
    return C.err("output channels " + W.dim(0).str() +
                 " are not divisible by group " + std::to_string(G));
  if (C.In.size() == 3 &&
      (C.In[2].rank() != 1 || !(C.In[2].dim(0) == W.dim(0))))
    return C.err("bias must be [" + W.dim(0).str() + "], got " + C.In[2].str());
  auto Win = windowAttrs(C, S);
  if (!Win)
    return Win.takeError();
  Shape Out = {X.dim(0), W.dim(0)};
  for (unsigned I = 0; I < S; ++I) {
    const Dim &K = W.dim(2 + I);
    if (!K.isStatic()) {
      Out.push_back(Dim::unknown());
      continue;
    }
    Wide Eff = Wide(Win->Dilations[I]) * (K.size() - 1) + 1;
    Dim D = windowDim(X.dim(2 + I), Win->Pads[I] + Win->Pads[S + I], Eff,
                      Win->Strides[I], false, Win->Pads[I]);
    if (D.isStatic() && D.size() < 1)
      return C.err("kernel " + W.str() + " is larger than the padded input " +
                   X.str());
    Out.push_back(D);
  }
  return C.one(TensorType(X.elem(), Out));
}

Result shape::inferConvTranspose(const Ctx &C) {
  const TensorType &X = C.In[0], &W = C.In[1];
  if (X.rank() < 3 || W.rank() != X.rank())
    return C.err("expected input [N, C, spatial...] and weight of the same "
                 "rank, got " + X.str() + " and " + W.str());
  unsigned S = X.rank() - 2;
  int64_t G = C.Op.getInt("group");
  if (G < 1)
    return C.err("group must be >= 1");
  if (X.dim(1).isStatic() && W.dim(0).isStatic() &&
      X.dim(1).size() != W.dim(0).size())
    return C.err("input has " + X.dim(1).str() + " channels but weight " +
                 W.str() + " expects " + W.dim(0).str());
  auto Win = windowAttrs(C, S);
  if (!Win)
    return Win.takeError();
  llvm::ArrayRef<int64_t> OutPad = C.Op.getInts("output_padding");
  if (!OutPad.empty() && OutPad.size() != S)
    return C.err("output_padding must have " + std::to_string(S) + " entries");
  Dim M = W.dim(1).isStatic() ? Dim::fixed(W.dim(1).size() * G) : Dim::unknown();
  if (C.In.size() == 3 && (C.In[2].rank() != 1 || !(C.In[2].dim(0) == M)))
    return C.err("bias must be [" + M.str() + "], got " + C.In[2].str());
  Shape Out = {X.dim(0), M};
  for (unsigned I = 0; I < S; ++I) {
    const Dim &In = X.dim(2 + I), &K = W.dim(2 + I);
    if (!In.isStatic() || !K.isStatic()) {
      Out.push_back(Dim::unknown());
      continue;
    }
    int64_t OP = OutPad.empty() ? 0 : OutPad[I];
    if (OP < 0 || OP >= std::max(Win->Strides[I], Win->Dilations[I]))
      return C.err("output_padding must be >= 0 and smaller than the stride "
                   "or the dilation");
    Wide D = Wide(Win->Strides[I]) * (In.size() - 1) + OP +
             Wide(K.size() - 1) * Win->Dilations[I] + 1 - Win->Pads[I] -
             Win->Pads[S + I];
    if (D < 1)
      return C.err("padding leaves no output");
    if (D > MaxElements)
      return C.err("output dim is larger than 2^40");
    Out.push_back(Dim::fixed(int64_t(D)));
  }
  return C.one(TensorType(X.elem(), Out));
}

Result shape::inferPool(const Ctx &C) {
  const TensorType &X = C.In[0];
  if (X.rank() < 3)
    return C.err("input must be [N, C, spatial...], got " + X.str());
  unsigned S = X.rank() - 2;
  llvm::ArrayRef<int64_t> K = C.Op.getInts("kernel");
  if (K.size() != S)
    return C.err("kernel must have " + std::to_string(S) + " entries, got " +
                 std::to_string(K.size()));
  for (int64_t V : K)
    if (V < 1 || V > MaxElements)
      return C.err("kernel sizes must be in [1, 2^40]");
  auto Win = windowAttrs(C, S, C.Op.kind() == OpKind::MaxPool);
  if (!Win)
    return Win.takeError();
  bool Ceil = C.Op.getBool("ceil_mode");
  Shape Out = {X.dim(0), X.dim(1)};
  for (unsigned I = 0; I < S; ++I) {
    if (Win->Pads[I] >= K[I] || Win->Pads[S + I] >= K[I])
      return C.err("padding must be smaller than the kernel");
    Wide Eff = Wide(Win->Dilations[I]) * (K[I] - 1) + 1;
    Dim D = windowDim(X.dim(2 + I), Win->Pads[I] + Win->Pads[S + I], Eff,
                      Win->Strides[I], Ceil, Win->Pads[I]);
    if (D.isStatic() && D.size() < 1)
      return C.err("kernel is larger than the padded input " + X.str());
    Out.push_back(D);
  }
  return C.one(TensorType(X.elem(), Out));
}

Result shape::inferGlobalPool(const Ctx &C) {
  const TensorType &X = C.In[0];
  if (X.rank() < 3)
    return C.err("input must be [N, C, spatial...], got " + X.str());
  Shape Out = {X.dim(0), X.dim(1)};
  for (unsigned I = 2; I < X.rank(); ++I)
    Out.push_back(Dim::fixed(1));
  return C.one(TensorType(X.elem(), Out));
}

Result shape::inferBatchNorm(const Ctx &C) {
  const TensorType &X = C.In[0];
  if (X.rank() < 2)
    return C.err("input must be [N, C, ...], got " + X.str());
  for (size_t I = 1; I < 5; ++I)
    if (C.In[I].elem() != X.elem() || C.In[I].rank() != 1 ||
        !(C.In[I].dim(0) == X.dim(1) || C.In[I].dim(0).isUnknown() ||
          X.dim(1).isUnknown()))
      return C.err("scale, bias, mean and variance must be [" +
                   X.dim(1).str() + "] " + dtypeName(X.elem()).str() +
                   ", operand " + std::to_string(I) + " is " + C.In[I].str());
  return C.one(X);
}

Result shape::inferLayerNorm(const Ctx &C) {
  const TensorType &X = C.In[0];
  auto A = normalizeAxis(C.Op.getInt("axis"), X.rank(), C.Op.L);
  if (!A)
    return A.takeError();
  Shape Norm(X.dims().begin() + *A, X.dims().end());
  for (size_t I = 1; I < C.In.size(); ++I) {
    auto B = broadcastShapes(Norm, C.In[I].dims());
    if (!B || *B != Norm || C.In[I].elem() != X.elem()) {
      if (!B)
        llvm::consumeError(B.takeError());
      return C.err("scale and bias must broadcast to the normalized dims of " +
                   X.str() + ", operand " + std::to_string(I) + " is " +
                   C.In[I].str());
    }
  }
  return C.one(X);
}

Result shape::inferReshape(const Ctx &C) {
  const TensorType &X = C.In[0];
  llvm::ArrayRef<int64_t> Target = C.Op.getInts("shape");
  Shape Out;
  int Infer = -1;
  for (size_t I = 0; I < Target.size(); ++I) {
    int64_t T = Target[I];
    if (T == -1) {
      if (Infer >= 0)
        return C.err("shape has more than one -1");
      Infer = int(I);
      Out.push_back(Dim::unknown());
    } else if (T == 0) {
      if (I >= X.rank())
        return C.err("shape entry 0 (copy) at position " + std::to_string(I) +
                     " is beyond the input rank");
      Out.push_back(X.dim(I));
    } else if (T < 0 || T > MaxElements) {
      return C.err("invalid shape entry " + std::to_string(T));
    } else {
      Out.push_back(Dim::fixed(T));
    }
  }
  // Compare element counts as (static product, multiset of symbols).
  auto split = [](llvm::ArrayRef<Dim> Ds, int64_t &N,
                  llvm::SmallVector<std::string, 2> &Syms, bool &Unknown) {
    N = 1;
    for (const Dim &D : Ds) {
      if (D.isStatic())
        N *= D.size();
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
  if (Sizes.empty())
    return C.err("sizes must not be empty");
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
  for (int64_t S : C.Op.getInts("shape")) {
    if (S < 0 || S > MaxElements)
      return C.err("invalid shape entry " + std::to_string(S));
    Target.push_back(Dim::fixed(S));
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
