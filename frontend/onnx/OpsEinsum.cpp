// ONNX Einsum composed of dlc ops: each operand's repeated labels become a
// masked sum (the diagonal), its private labels are summed early, then every
// operand is transposed and unsqueezed into one label order, the operands are
// multiplied with broadcasting and the contracted labels summed away.
#include "frontend/onnx/NodeContext.h"

#include <algorithm>

using namespace dlc;
using namespace dlc::onnximp;

namespace {
/// One operand's labels, with "..." expanded: letters are themselves, the
/// ellipsis dims are chars below 32 (right-aligned across operands).
using Labels = std::string;

/// Parses one term against an operand of rank Rank (-1 for the output, whose
/// ellipsis takes EllRank dims). Returns false on a malformed term.
bool parseTerm(llvm::StringRef Term, int64_t Rank, int64_t &EllRank,
               Labels &Out, std::string &Err) {
  size_t Dots = Term.find("...");
  int64_t Letters = 0;
  for (char Ch : Term)
    if (Ch != '.') {
      if (!((Ch >= 'a' && Ch <= 'z') || (Ch >= 'A' && Ch <= 'Z'))) {
        Err = "bad label '" + std::string(1, Ch) + "'";
        return false;
      }
      ++Letters;
    }
  if (Dots == llvm::StringRef::npos && Term.count('.')) {
    Err = "a '.' outside of '...'";
    return false;
  }
  int64_t Ell = 0;
  if (Dots != llvm::StringRef::npos) {
    if (Term.substr(Dots + 3).contains('.')) {
      Err = "more than one '...' in a term";
      return false;
    }
    Ell = Rank < 0 ? EllRank : Rank - Letters;
    if (Ell < 0) {
      Err = "term '" + Term.str() + "' has more labels than its operand's rank";
      return false;
    }
    if (Rank >= 0)
      EllRank = std::max(EllRank, Ell);
  } else if (Rank >= 0 && Letters != Rank) {
    Err = "term '" + Term.str() + "' does not match its operand's rank " +
          std::to_string(Rank);
    return false;
  }
  Out.clear();
  for (size_t I = 0; I < Term.size(); ++I) {
    if (I == Dots) {
      // Placeholder chars, fixed up once the widest ellipsis is known.
      for (int64_t J = 0; J < Ell; ++J)
        Out.push_back(char(32 - Ell + J)); // below every letter
      I += 2;
      continue;
    }
    Out.push_back(Term[I]);
  }
  return true;
}
} // namespace

/// Removes the repeated labels of X (its diagonal along each pair).
static Value *takeDiagonals(NodeContext &C, Value *X, Labels &L) {
  for (size_t P = 0; P < L.size() && X; ++P)
    for (size_t Q = P + 1; Q < L.size() && X; ++Q) {
      if (L[Q] != L[P])
        continue;
      Value *Same = C.op(OpKind::Equal, {C.iota(X, P), C.iota(X, Q)});
      X = C.op(OpKind::Where, {Same, X, C.scalar(X->Type.elem(), 0)});
      X = C.op(OpKind::ReduceSum, {X},
               {aInts("axes", {int64_t(Q)}), aBool("keepdims", false)});
      L.erase(Q, 1);
      --Q;
    }
  return X;
}

static void einsum(NodeContext &C) {
  C.allowAttrs({"equation"});
  std::string Eq;
  for (char Ch : C.attrStr("equation", ""))
    if (Ch != ' ')
      Eq.push_back(Ch);
  llvm::StringRef EqRef(Eq);
  auto [Lhs, Rhs] = EqRef.split("->");
  bool Explicit = EqRef.contains("->");
  llvm::SmallVector<llvm::StringRef, 4> Terms;
  Lhs.split(Terms, ',');
  if (Terms.size() != C.numInputs())
    return C.fail("equation '" + Eq + "' has " + llvm::Twine(Terms.size()) +
                  " input terms for " + llvm::Twine(C.numInputs()) + " inputs");
  std::vector<Value *> Xs;
  std::vector<Labels> Ls(Terms.size());
  int64_t EllRank = 0;
  std::string Err;
  for (size_t I = 0; I < Terms.size(); ++I) {
    Value *X = C.in(I);
    if (!X)
      return;
    if (!parseTerm(Terms[I], X->Type.rank(), EllRank, Ls[I], Err))
      return C.fail("equation '" + Eq + "': " + Err);
    Xs.push_back(X);
  }
  // Ellipsis placeholders were numbered from 32 down by each operand's own
  // ellipsis rank, which right-aligns them: char 32 - k is the k-th dim from
  // the right of the broadcast ellipsis.
  Labels Out;
  if (Explicit) {
    if (!parseTerm(Rhs, -1, EllRank, Out, Err))
      return C.fail("equation '" + Eq + "': " + Err);
  } else {
    for (int64_t J = 0; J < EllRank; ++J)
      Out.push_back(char(32 - EllRank + J));
    std::string Letters;
    for (const Labels &L : Ls)
      Letters += L;
    std::sort(Letters.begin(), Letters.end());
    for (size_t I = 0; I < Letters.size(); ++I)
      if (Letters[I] >= 'A' &&
          std::count(Letters.begin(), Letters.end(), Letters[I]) == 1)
        Out.push_back(Letters[I]);
  }
  for (char Ch : Out) {
    bool Known = false;
    for (const Labels &L : Ls)
      Known |= L.find(Ch) != Labels::npos;
    if (!Known || std::count(Out.begin(), Out.end(), Ch) != 1)
      return C.fail("equation '" + Eq + "': output label '" +
                    std::string(1, Ch < 'A' ? '.' : Ch) +
                    "' is repeated or not in any input");
  }

  // Global order: output labels, then the contracted ones.
  Labels All = Out;
  for (size_t I = 0; I < Xs.size(); ++I) {
    Xs[I] = takeDiagonals(C, Xs[I], Ls[I]);
    if (!Xs[I])
      return;
    // Labels of this operand alone (and not in the output) are summed now.
    std::vector<int64_t> Private;
    Labels Kept;
    for (size_t P = 0; P < Ls[I].size(); ++P) {
      char Ch = Ls[I][P];
      bool Elsewhere = Out.find(Ch) != Labels::npos;
      for (size_t J = 0; J < Ls.size(); ++J)
        Elsewhere |= J != I && Ls[J].find(Ch) != Labels::npos;
      if (Elsewhere)
        Kept.push_back(Ch);
      else
        Private.push_back(P);
    }
    if (!Private.empty())
      Xs[I] = C.op(OpKind::ReduceSum, {Xs[I]},
                   {aInts("axes", Private), aBool("keepdims", false)});
    Ls[I] = Kept;
    for (char Ch : Kept)
      if (All.find(Ch) == Labels::npos)
        All.push_back(Ch);
  }
  Value *Prod = nullptr;
  for (size_t I = 0; I < Xs.size() && !C.failed(); ++I) {
    // Transpose into global order, then unsqueeze the missing labels.
    std::vector<int64_t> Perm, Missing;
    for (size_t G = 0; G < All.size(); ++G) {
      size_t P = Ls[I].find(All[G]);
      if (P == Labels::npos)
        Missing.push_back(G);
      else
        Perm.push_back(P);
    }
    Value *X = Xs[I];
    bool Identity = true;
    for (size_t P = 0; P < Perm.size(); ++P)
      Identity &= Perm[P] == int64_t(P);
    if (!Identity)
      X = C.op(OpKind::Transpose, {X}, {aInts("perm", Perm)});
    if (!Missing.empty())
      X = C.op(OpKind::Unsqueeze, {X}, {aInts("axes", Missing)});
    Prod = Prod ? C.op(OpKind::Mul, {Prod, X}) : X;
  }
  if (!Prod)
    return C.fail("needs at least one input");
  if (All.size() > Out.size()) {
    std::vector<int64_t> Axes;
    for (size_t G = Out.size(); G < All.size(); ++G)
      Axes.push_back(G);
    Prod = C.op(OpKind::ReduceSum, {Prod},
                {aInts("axes", Axes), aBool("keepdims", false)});
  }
  C.setOutput(0, Prod);
}

void onnximp::addEinsumOps(std::vector<OpEntry> &T) {
  T.push_back({"Einsum", 12, einsum, {}});
}
