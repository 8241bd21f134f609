// ONNX string ops (StringNormalizer, StringConcat, StringSplit,
// RegexFullMatch) and ai.onnx.ml's LabelEncoder. Each maps to one dlc op of
// the same semantics; on str tensors they run as host steps.
#include "frontend/onnx/NodeContext.h"
#include "frontend/onnx/OnnxTensor.h"

using namespace dlc;
using namespace dlc::onnximp;

static bool strIn(NodeContext &C, Value *X) {
  if (X && X->Type.elem() != DType::Str)
    C.fail("'" + C.Node.op_type() + "' takes string tensors, got " +
           X->Type.str());
  return X && X->Type.elem() == DType::Str;
}

static void stringNormalizer(NodeContext &C) {
  C.allowAttrs({"case_change_action", "is_case_sensitive", "locale",
                "stopwords"});
  Value *X = C.in(0);
  if (!strIn(C, X))
    return;
  // The locale only matters for non-ASCII case changes, which dlc leaves
  // alone; "" and the en_US family are what exporters write.
  std::string Locale = C.attrStr("locale", "");
  if (!Locale.empty() && !llvm::StringRef(Locale).starts_with("en"))
    C.fail("locale '" + Locale + "' is not supported (ASCII case only)");
  std::vector<NamedAttr> A = {
      aStr("case_change_action", C.attrStr("case_change_action", "NONE")),
      aBool("is_case_sensitive", C.attrInt("is_case_sensitive", 0) != 0),
      {"stopwords", Attribute::getStrings(C.attrStrs("stopwords"))}};
  C.setOutput(0, C.op(OpKind::StringNormalizer, {X}, std::move(A)));
}

static void stringConcat(NodeContext &C) {
  C.allowAttrs({});
  Value *A = C.in(0), *B = C.in(1);
  if (strIn(C, A) && strIn(C, B))
    C.setOutput(0, C.op(OpKind::StringConcat, {A, B}));
}

static void stringSplit(NodeContext &C) {
  C.allowAttrs({"delimiter", "maxsplit"});
  Value *X = C.in(0);
  if (!strIn(C, X))
    return;
  int64_t Max = C.attrInt("maxsplit", -1);
  if (C.hasAttr("maxsplit") && Max < 0)
    C.fail("maxsplit must be >= 0, got " + llvm::Twine(Max));
  auto R = C.opN(OpKind::StringSplit, {X},
                 {aStr("delimiter", C.attrStr("delimiter", "")),
                  aInt("maxsplit", Max)});
  if (R.size() != 2)
    return;
  C.setOutput(0, R[0]);
  if (C.wantsOutput(1))
    C.setOutput(1, R[1]);
}

static void regexFullMatch(NodeContext &C) {
  C.allowAttrs({"pattern"});
  Value *X = C.in(0);
  if (!C.hasAttr("pattern"))
    C.fail("attribute 'pattern' is required");
  if (strIn(C, X))
    C.setOutput(0, C.op(OpKind::RegexFullMatch, {X},
                        {aStr("pattern", C.attrStr("pattern", ""))}));
}

/// One LabelEncoder side (keys or values): the <Side>_tensor attribute, or
/// one of the typed lists. Null when none is given (a failure is recorded).
static std::shared_ptr<Tensor> encoderSide(NodeContext &C,
                                           llvm::StringRef Side) {
  std::shared_ptr<Tensor> T;
  unsigned Given = 0;
  if (const onnx::TensorProto *P = C.attrTensor((Side + "_tensor").str())) {
    auto V = tensorFromProto(*P, "");
    if (!V) {
      C.fail(Side + "_tensor: " + llvm::toString(V.takeError()));
      return nullptr;
    }
    T = std::make_shared<Tensor>(V->reshaped({V->numElements()}));
    ++Given;
  }
  if (C.hasAttr((Side + "_strings").str())) {
    auto S = C.attrStrs((Side + "_strings").str());
    T = std::make_shared<Tensor>(DType::Str, llvm::ArrayRef<int64_t>{int64_t(S.size())});
    T->strings() = std::move(S);
    ++Given;
  }
  if (C.hasAttr((Side + "_int64s").str())) {
    auto I = C.attrInts((Side + "_int64s").str());
    T = std::make_shared<Tensor>(DType::I64, llvm::ArrayRef<int64_t>{int64_t(I.size())});
    for (size_t K = 0; K < I.size(); ++K)
      T->setI(K, I[K]);
    ++Given;
  }
  if (C.hasAttr((Side + "_floats").str())) {
    auto F = C.attrFloats((Side + "_floats").str());
    T = std::make_shared<Tensor>(DType::F32, llvm::ArrayRef<int64_t>{int64_t(F.size())});
    for (size_t K = 0; K < F.size(); ++K)
      T->setF(K, F[K]);
    ++Given;
  }
  if (Given != 1) {
    C.fail("exactly one of " + Side + "_tensor, " + Side + "_strings, " +
           Side + "_int64s and " + Side + "_floats is required, got " +
           llvm::Twine(Given));
    return nullptr;
  }
  return T;
}

static void labelEncoder(NodeContext &C) {
  C.allowAttrs({"keys_tensor", "keys_strings", "keys_int64s", "keys_floats",
                "values_tensor", "values_strings", "values_int64s",
                "values_floats", "default_tensor", "default_string",
                "default_int64", "default_float"});
  Value *X = C.in(0);
  auto Keys = encoderSide(C, "keys");
  auto Values = encoderSide(C, "values");
  if (!X || !Keys || !Values)
    return;
  // The default: default_tensor, or the typed attribute of the values'
  // type (ONNX's defaults: "_Unused", -1, -0.0).
  auto Default = std::make_shared<Tensor>(Values->elem(), llvm::ArrayRef<int64_t>{});
  if (const onnx::TensorProto *P = C.attrTensor("default_tensor")) {
    auto V = tensorFromProto(*P, "");
    if (!V) {
      C.fail("default_tensor: " + llvm::toString(V.takeError()));
      return;
    }
    if (V->numElements() != 1 || V->elem() != Values->elem()) {
      C.fail("default_tensor must be one " +
             std::string(dtypeName(Values->elem())) + " element, got " +
             V->type().str());
      return;
    }
    *Default = V->reshaped({});
  } else if (Values->elem() == DType::Str) {
    Default->strings()[0] = C.attrStr("default_string", "_Unused");
  } else if (Values->elem() == DType::I64) {
    Default->setI(0, C.attrInt("default_int64", -1));
  } else if (Values->elem() == DType::F32) {
    Default->setF(0, C.attrFloat("default_float", -0.0));
  } else {
    C.fail("values of type " + std::string(dtypeName(Values->elem())) +
           " need a default_tensor");
    return;
  }
  if (Keys->elem() != X->Type.elem()) {
    C.fail("keys are " + Keys->type().str() + " but the input is " +
           X->Type.str());
    return;
  }
  C.setOutput(0, C.op(OpKind::LabelEncoder, {X},
                      {{"keys", Attribute::getTensor(std::move(Keys))},
                       {"values", Attribute::getTensor(std::move(Values))},
                       {"default", Attribute::getTensor(std::move(Default))}}));
}

void onnximp::addStringOps(std::vector<OpEntry> &T) {
  T.insert(T.end(), {
      {"StringNormalizer", 10, stringNormalizer, {}},
      {"StringConcat", 20, stringConcat, {}},
      {"StringSplit", 20, stringSplit, {}},
      {"RegexFullMatch", 20, regexFullMatch, {}},
      {"ai.onnx.ml.LabelEncoder", 1, labelEncoder, {}},
  });
}
