// Reference kernels of the string ops. These are also what a compiled
// function runs for them: ops on str tensors are host steps (exec/Steps.h).
#include "interp/Kernels.h"

#include "llvm/ADT/STLExtras.h"

#include <cmath>
#include <map>
#include <regex>

using namespace dlc;
using namespace dlc::interp;

namespace {

char asciiLower(char C) { return C >= 'A' && C <= 'Z' ? C - 'A' + 'a' : C; }
char asciiUpper(char C) { return C >= 'a' && C <= 'z' ? C - 'a' + 'A' : C; }
bool isSpace(char C) {
  return C == ' ' || C == '\t' || C == '\n' || C == '\v' || C == '\f' ||
         C == '\r';
}

std::string lowered(llvm::StringRef S) {
  std::string R = S.str();
  for (char &C : R)
    C = asciiLower(C);
  return R;
}

/// Stopwords are dropped (compared exactly, or ASCII-case-insensitively),
/// the rest changes case (ASCII letters; other bytes, such as the parts of
/// multi-byte UTF-8 characters, stay). When nothing remains the result is
/// one empty string.
llvm::Error stringNormalizer(const Operation &Op, const Tensor &X, Tensor &R) {
  if (X.rank() == 2 && X.shape()[0] != 1)
    return opError(Op, "operand must be [C] or [1, C], got " +
                           shapeStr(X.shape()));
  bool Sensitive = Op.getBool("is_case_sensitive");
  llvm::StringRef Action = Op.getString("case_change_action");
  std::vector<std::string> Stop;
  for (const std::string &W : Op.attr("stopwords").getStrings())
    Stop.push_back(Sensitive ? W : lowered(W));
  std::vector<std::string> Kept;
  for (const std::string &S : X.strings()) {
    std::string Key = Sensitive ? S : lowered(S);
    if (llvm::is_contained(Stop, Key))
      continue;
    std::string V = S;
    for (char &C : V)
      C = Action == "LOWER" ? asciiLower(C)
          : Action == "UPPER" ? asciiUpper(C) : C;
    Kept.push_back(std::move(V));
  }
  if (Kept.empty())
    Kept.emplace_back();
  Sizes Shape(X.shape().begin(), X.shape().end());
  Shape.back() = int64_t(Kept.size());
  R = Tensor(DType::Str, Shape);
  R.strings() = std::move(Kept);
  return llvm::Error::success();
}

/// Python's str.split: at each occurrence of Delim (empty pieces kept), or
/// with an empty Delim at runs of white space (no empty pieces; the rest
/// after MaxSplit splits keeps its trailing white space).
std::vector<std::string> split(llvm::StringRef S, llvm::StringRef Delim,
                               int64_t MaxSplit) {
  std::vector<std::string> Pieces;
  auto mayCut = [&] {
    return MaxSplit < 0 || int64_t(Pieces.size()) < MaxSplit;
  };
  if (!Delim.empty()) {
    while (mayCut()) {
      size_t P = S.find(Delim);
      if (P == llvm::StringRef::npos)
        break;
      Pieces.push_back(S.substr(0, P).str());
      S = S.substr(P + Delim.size());
    }
    Pieces.push_back(S.str());
    return Pieces;
  }
  size_t I = 0;
  while (true) {
    while (I < S.size() && isSpace(S[I]))
      ++I;
    if (I == S.size())
      break;
    if (!mayCut()) {
      Pieces.push_back(S.substr(I).str());
      break;
    }
    size_t J = I;
    while (J < S.size() && !isSpace(S[J]))
      ++J;
    Pieces.push_back(S.substr(I, J - I).str());
    I = J;
  }
  return Pieces;
}

llvm::Error stringSplit(const Operation &Op, const Tensor &X, ResultList Out) {
  std::vector<std::vector<std::string>> All;
  int64_t Width = 0;
  for (const std::string &S : X.strings()) {
    All.push_back(split(S, Op.getString("delimiter"), Op.getInt("maxsplit")));
    Width = std::max<int64_t>(Width, All.back().size());
  }
  Sizes Shape(X.shape().begin(), X.shape().end());
  Out[1] = Tensor(DType::I64, Shape);
  Shape.push_back(Width);
  Out[0] = Tensor(DType::Str, Shape);
  for (size_t I = 0; I < All.size(); ++I) {
    Out[1].setI(I, int64_t(All[I].size()));
    for (size_t K = 0; K < All[I].size(); ++K)
      Out[0].strings()[I * Width + K] = std::move(All[I][K]);
  }
  return llvm::Error::success();
}

/// Copies element SI of Src to element DI of Dst (same element type).
void copyAny(const Tensor &Src, int64_t SI, Tensor &Dst, int64_t DI) {
  if (Src.elem() == DType::Str)
    Dst.strings()[DI] = Src.strings()[SI];
  else
    copyElem(Src, SI, Dst, DI);
}

llvm::Error labelEncoder(const Operation &Op, const Tensor &X, Tensor &R) {
  const Tensor &Keys = *Op.attr("keys").getTensor();
  const Tensor &Values = *Op.attr("values").getTensor();
  const Tensor &Default = *Op.attr("default").getTensor();
  if (Keys.elem() != X.elem() || Values.elem() != R.elem() ||
      Default.elem() != R.elem() || Default.numElements() != 1 ||
      Keys.numElements() != Values.numElements())
    return opError(Op, "keys, values or default do not fit the operand " +
                           X.type().str() + " and result " + R.type().str());
  // The first of equal keys wins. Float keys compare by value, NaN equal
  // to NaN (the map orders by a key in which all NaNs are one value);
  // integer keys compare exactly.
  std::map<std::string, int64_t> StrIdx;
  std::map<std::pair<int, double>, int64_t> NumIdx;
  auto numKey = [](const Tensor &T, int64_t I) {
    if (!isFloat(T.elem()))
      return std::make_pair(0, 0.0);
    double V = T.getF(I);
    return std::isnan(V) ? std::make_pair(1, 0.0) : std::make_pair(0, V);
  };
  std::map<int64_t, int64_t> IntIdx;
  bool Str = X.elem() == DType::Str;
  for (int64_t I = 0; I < Keys.numElements(); ++I) {
    if (Str)
      StrIdx.emplace(Keys.strings()[I], I);
    else if (isFloat(X.elem()))
      NumIdx.emplace(numKey(Keys, I), I);
    else
      IntIdx.emplace(Keys.getI(I), I);
  }
  for (int64_t I = 0; I < X.numElements(); ++I) {
    int64_t K = -1;
    if (Str) {
      auto It = StrIdx.find(X.strings()[I]);
      K = It == StrIdx.end() ? -1 : It->second;
    } else if (isFloat(X.elem())) {
      auto It = NumIdx.find(numKey(X, I));
      K = It == NumIdx.end() ? -1 : It->second;
    } else {
      auto It = IntIdx.find(X.getI(I));
      K = It == IntIdx.end() ? -1 : It->second;
    }
    if (K >= 0)
      copyAny(Values, K, R, I);
    else
      copyAny(Default, 0, R, I);
  }
  return llvm::Error::success();
}

} // namespace

llvm::Error interp::evalString(const Operation &Op, TensorList In,
                               ResultList Out) {
  const Tensor &X = *In[0];
  if (Op.kind() != OpKind::LabelEncoder)
    for (const Tensor *T : In)
      if (T->elem() != DType::Str)
        return opError(Op, "operands must be str tensors");
  if (Op.kind() == OpKind::StringNormalizer)
    return stringNormalizer(Op, X, Out[0]);
  if (Op.kind() == OpKind::StringSplit)
    return stringSplit(Op, X, Out);
  if (Op.kind() == OpKind::LabelEncoder)
    return labelEncoder(Op, X, Out[0]);
  if (Op.kind() == OpKind::StringConcat) {
    const Tensor &B = *In[1];
    auto SA = broadcastStrides(Op, X.shape(), Out[0].shape());
    if (!SA)
      return SA.takeError();
    auto SB = broadcastStrides(Op, B.shape(), Out[0].shape());
    if (!SB)
      return SB.takeError();
    Sizes Idx(Out[0].rank(), 0);
    for (int64_t I = 0; I < Out[0].numElements(); ++I) {
      unravel(I, Out[0].shape(), Idx);
      Out[0].strings()[I] =
          X.strings()[dot(Idx, *SA)] + B.strings()[dot(Idx, *SB)];
    }
    return llvm::Error::success();
  }
  // RegexFullMatch (the shape rule has checked that the pattern compiles).
  std::regex Re;
  try {
    Re = std::regex(Op.getString("pattern").str(), std::regex::ECMAScript);
  } catch (const std::regex_error &E) {
    return opError(Op, "pattern is not a valid regular expression");
  }
  if (Out[0].shape() != X.shape())
    return opError(Op, "result shape differs from the operand's");
  for (int64_t I = 0; I < X.numElements(); ++I)
    Out[0].setI(I, std::regex_match(X.strings()[I], Re));
  return llvm::Error::success();
}
