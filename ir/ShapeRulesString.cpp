// Shape rules of the string ops (string_normalizer, string_concat,
// string_split, regex_full_match, label_encoder).
#include "ir/ShapeRules.h"

#include <regex>

using namespace dlc;
using namespace dlc::shape;

static llvm::Error expectStr(const Ctx &C, unsigned K) {
  if (C.In[K].elem() == DType::Str)
    return llvm::Error::success();
  return C.err("operand " + std::to_string(K) + " has element type " +
               dtypeName(C.In[K].elem()) + ", expected str");
}

Result shape::inferStringNormalizer(const Ctx &C) {
  const Operation &Op = C.Op;
  if (auto E = expectStr(C, 0))
    return std::move(E);
  llvm::StringRef Action = Op.getString("case_change_action");
  if (Action != "NONE" && Action != "LOWER" && Action != "UPPER")
    return C.err("case_change_action must be \"NONE\", \"LOWER\" or "
                 "\"UPPER\", got \"" + Action + "\"");
  const TensorType &X = C.In[0];
  // A rank-2 operand's first dim must be 1 (checked at run time when it
  // is not static).
  bool Row = X.rank() == 2 && (!X.dim(0).isStatic() || X.dim(0).size() == 1);
  if (X.rank() != 1 && !Row)
    return C.err("operand must be str[C] or str[1,C], got " + X.str());
  Shape S = X.dims();
  if (X.rank() == 2)
    S[0] = Dim::fixed(1);
  // How many strings remain depends on the data.
  if (!Op.attr("stopwords").getStrings().empty())
    S.back() = Dim::unknown();
  return C.one(TensorType(DType::Str, S));
}

Result shape::inferStringConcat(const Ctx &C) {
  for (unsigned K = 0; K < 2; ++K)
    if (auto E = expectStr(C, K))
      return std::move(E);
  auto S = broadcastShapes(C.In[0].dims(), C.In[1].dims());
  if (!S) {
    llvm::consumeError(S.takeError());
    return C.err("operands " + C.In[0].str() + " and " + C.In[1].str() +
                 " are not broadcastable");
  }
  return C.one(TensorType(DType::Str, *S));
}

Result shape::inferStringSplit(const Ctx &C) {
  const Operation &Op = C.Op;
  if (auto E = expectStr(C, 0))
    return std::move(E);
  if (Op.getInt("maxsplit") < -1)
    return C.err("maxsplit must be -1 (no limit) or >= 0, got " +
                 std::to_string(Op.getInt("maxsplit")));
  Shape S = C.In[0].dims();
  Result R = C.one(TensorType(DType::I64, S));
  S.push_back(Dim::unknown()); // the largest piece count, from the data
  R->insert(R->begin(), TensorType(DType::Str, S));
  return R;
}

Result shape::inferRegexFullMatch(const Ctx &C) {
  const Operation &Op = C.Op;
  if (auto E = expectStr(C, 0))
    return std::move(E);
  try {
    std::regex Re(Op.getString("pattern").str(), std::regex::ECMAScript);
  } catch (const std::regex_error &Err) {
    return C.err("pattern \"" + Op.getString("pattern") +
                 "\" is not a valid regular expression (" + Err.what() +
                 ")");
  }
  return C.one(TensorType(DType::Bool, C.In[0].dims()));
}

Result shape::inferLabelEncoder(const Ctx &C) {
  const Operation &Op = C.Op;
  const Tensor &Keys = *Op.attr("keys").getTensor();
  const Tensor &Values = *Op.attr("values").getTensor();
  const Tensor &Default = *Op.attr("default").getTensor();
  if (Keys.elem() != C.In[0].elem())
    return C.err("keys are " + Keys.type().str() + ", the operand is " +
                 C.In[0].str());
  if (Keys.rank() != 1 || Values.rank() != 1 ||
      Keys.numElements() != Values.numElements())
    return C.err("keys and values must be 1-D of one length, got " +
                 Keys.type().str() + " and " + Values.type().str());
  if (Default.elem() != Values.elem() || Default.numElements() != 1)
    return C.err("default must be one element of the values' type " +
                 std::string(dtypeName(Values.elem())) + ", got " +
                 Default.type().str());
  return C.one(TensorType(Values.elem(), C.In[0].dims()));
}
