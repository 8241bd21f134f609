// The IR parser, part 2: attribute values (numbers, strings, lists, element
// types, dense and resource tensors), attribute dictionaries and the
// weights directive. Part 1 (types, ops, functions) is Parser.cpp.
#include "ir/LowPrecision.h"
#include "ir/ParserImpl.h"
#include "ir/TensorLimits.h"
#include "ir/Weights.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace dlc;
using namespace dlc::detail;

/// `KEYWORD<type>` as in `dense<f32[2]>` and `resource<f32[2]>`.
llvm::Expected<TensorType> Parser::parseAngleType() {
  std::string Keyword = Cur.Text;
  consume();
  if (auto E = expect(Tok::LAngle, "'<' after '" + Keyword + "'"))
    return std::move(E);
  auto T = parseType();
  if (!T)
    return T.takeError();
  if (auto E = expect(Tok::RAngle, "'>' after the tensor type"))
    return std::move(E);
  return T;
}

/// The value of a float token (`1.5`, `-2e-3`, `inf`, `-inf`, `nan`).
static double floatValue(const Token &T) {
  if (T.Text == "inf")
    return INFINITY;
  if (T.Text == "-inf")
    return -INFINITY;
  if (T.Text == "nan")
    return NAN;
  return strtod(T.Text.c_str(), nullptr);
}

static bool isFloatToken(const Token &T) {
  return T.Kind == Tok::Float ||
         (T.Kind == Tok::Ident && (T.Text == "inf" || T.Text == "nan"));
}

/// Whether integer V is representable in integer (or bool) type T.
static bool fitsInteger(DType T, int64_t V) {
  switch (T) {
  case DType::Bool: return V == 0 || V == 1;
  case DType::I8: return V >= INT8_MIN && V <= INT8_MAX;
  case DType::U8: return V >= 0 && V <= UINT8_MAX;
  case DType::U16: return V >= 0 && V <= UINT16_MAX;
  case DType::U32: return V >= 0 && V <= UINT32_MAX;
  case DType::U64: return true; // the bits of values of 2^63 and above
  case DType::I16: return V >= INT16_MIN && V <= INT16_MAX;
  case DType::I32: return V >= INT32_MIN && V <= INT32_MAX;
  case DType::I64: return true;
  case DType::I4: return V >= -8 && V <= 7;
  case DType::U4: return V >= 0 && V <= 15;
  case DType::I2: return V >= -2 && V <= 1;
  case DType::U2: return V >= 0 && V <= 3;
  case DType::F32: case DType::F64: case DType::F16: case DType::BF16:
  case DType::Str:
  case DType::F8E4M3FN: case DType::F8E4M3FNUZ: case DType::F8E5M2:
  case DType::F8E5M2FNUZ: case DType::F8E8M0: case DType::F4E2M1:
    return true;
  }
  llvm_unreachable("bad dtype");
}

/// `dense<f32[2,2]>[1.0, 2.0, 3.0, 4.0]`; one value fills the whole tensor.
/// The elements go into a buffer that grows with what the text supplies, so
/// a type that claims more elements than are written costs no more memory
/// than the text; only the splat form expands, up to MaxSplatBytes.
llvm::Expected<Attribute> Parser::parseDense() {
  Token Start = Cur;
  auto T = parseAngleType();
  if (!T)
    return T.takeError();
  if (!T->isStatic())
    return errAt(Start, "a dense tensor needs a static shape, got " + T->str());
  int64_t N = *T->numElements();
  if (N > (int64_t(1) << 31))
    return errAt(Start, "dense tensor of type " + T->str() + " is too large");
  DType E = T->elem();
  auto Sizes = T->staticSizes();
  // Buf holds Cap elements (shape [Cap] until Cap reaches N).
  int64_t Cap = std::min<int64_t>(N, 1024);
  auto alloc = [&](int64_t C) {
    return C == N ? Tensor(E, Sizes) : Tensor(E, {C});
  };
  Tensor Buf = alloc(Cap);
  if (auto Er = expect(Tok::LSquare, "'[' before the tensor elements"))
    return std::move(Er);
  int64_t Count = 0;
  bool IsInt = !isFloat(E) && !isNarrowFloat(E);
  if (!consumeIf(Tok::RSquare)) {
    while (true) {
      if (Count >= std::max<int64_t>(N, 1) || N == 0)
        return err("too many elements for " + T->str() + " (expected " +
                   std::to_string(N) + ")");
      if (Count == Cap) { // grow: Cap < N here
        Tensor Bigger = alloc(std::min(N, 2 * Cap));
        if (E == DType::Str)
          std::move(Buf.strings().begin(), Buf.strings().end(),
                    Bigger.strings().begin());
        else
          std::memcpy(Bigger.data(), Buf.data(), Buf.byteSize());
        Cap = std::min(N, 2 * Cap);
        Buf = std::move(Bigger);
      }
      if ((Cur.Kind == Tok::String) != (E == DType::Str)) {
        return err(E == DType::Str
                       ? "expected a quoted string element for " + T->str() +
                             ", found " + describe(Cur)
                       : "a quoted string is not an element of " + T->str());
      } else if (Cur.Kind == Tok::String) {
        Buf.strings()[Count] = Cur.Text;
      } else if (Cur.Kind == Tok::Int) {
        auto V = parseInt(Cur);
        if (!V)
          return V.takeError();
        if (IsInt) {
          if (!fitsInteger(E, *V))
            return err("element " + Cur.Text + " does not fit in " +
                       dtypeName(E));
          Buf.setI(Count, *V);
        } else {
          Buf.setF(Count, double(*V));
        }
      } else if (isFloatToken(Cur)) {
        if (IsInt)
          return err("expected an integer element for " + T->str() +
                     ", found '" + Cur.Text + "'");
        double V = floatValue(Cur);
        Buf.setF(Count, V);
        if (std::isfinite(V) && !std::isfinite(Buf.getF(Count)))
          return err("element " + Cur.Text + " does not fit in " +
                     dtypeName(E));
      } else if (Cur.Kind == Tok::Ident && E == DType::Bool &&
                 (Cur.Text == "true" || Cur.Text == "false")) {
        Buf.setI(Count, Cur.Text == "true");
      } else {
        return err("expected a tensor element, found " + describe(Cur));
      }
      consume();
      ++Count;
      if (consumeIf(Tok::RSquare))
        break;
      if (auto Er = expect(Tok::Comma, "',' or ']' between tensor elements"))
        return std::move(Er);
    }
  }
  if (Count == N)
    return Attribute::getTensor(std::make_shared<Tensor>(std::move(Buf)));
  if (Count != 1)
    return errAt(Start, "dense tensor of type " + T->str() + " needs " +
                            std::to_string(N) + " elements, got " +
                            std::to_string(Count));
  // Splat: the one element fills all N.
  uint64_t Bytes = tensorHostBytes(E, N);
  if (Bytes > MaxSplatBytes)
    return errAt(Start, "dense tensor of type " + T->str() +
                            " splats one element into " +
                            std::to_string(Bytes) +
                            " bytes, more than the limit of " +
                            std::to_string(MaxSplatBytes >> 20) +
                            " MiB (list the elements, or keep the tensor in "
                            "a weights file as a resource)");
  auto Data = std::make_shared<Tensor>(E, Sizes);
  if (E == DType::Str) {
    for (std::string &S : Data->strings())
      S = Buf.strings()[0];
  } else {
    size_t ES = dtypeSize(E);
    for (int64_t I = 0; I < N; ++I)
      std::memcpy(Data->data() + I * ES, Buf.data(), ES);
  }
  return Attribute::getTensor(std::move(Data));
}

/// The tensor of type T whose bytes are the blob Name.
llvm::Expected<Attribute> Parser::blobTensor(const Token &Start,
                                             const TensorType &T,
                                             const std::string &Name) {
  auto It = Blobs->find(Name);
  if (It == Blobs->end())
    return errAt(Start, "resource \"" + Name +
                            "\" is not among the compiled model's tensors");
  if (!T.isStatic() || T.elem() == DType::Str)
    return errAt(Start, "resource \"" + Name + "\" has type " + T.str() +
                            ", which a compiled model cannot hold");
  auto Data = std::make_shared<Tensor>(T.elem(), T.staticSizes());
  if (It->second.size() != Data->byteSize())
    return errAt(Start, "resource \"" + Name + "\" has " +
                            std::to_string(It->second.size()) +
                            " bytes, but " + T.str() + " needs " +
                            std::to_string(Data->byteSize()));
  if (Data->byteSize())
    std::memcpy(Data->data(), It->second.data(), Data->byteSize());
  return Attribute::getTensor(std::move(Data), Name);
}

/// `resource<f32[784,10]>"fc1.weight"`: a tensor from the weights file.
llvm::Expected<Attribute> Parser::parseResource() {
  Token Start = Cur;
  auto T = parseAngleType();
  if (!T)
    return T.takeError();
  if (Cur.Kind != Tok::String)
    return err("expected the resource name as a string, found " + describe(Cur));
  std::string Name = Cur.Text;
  consume();
  if (Blobs)
    return blobTensor(Start, *T, Name);
  if (!Weights)
    return errAt(Start, "resource \"" + Name +
                            "\" needs a weights file: add `weights \"FILE\"` "
                            "at the top of the module");
  auto It = Weights->find(Name);
  if (It == Weights->end())
    return errAt(Start, "resource \"" + Name + "\" is not in the weights file");
  if (It->second->type() != *T)
    return errAt(Start, "resource \"" + Name + "\" has type " +
                            It->second->type().str() + ", not " + T->str());
  return Attribute::getTensor(It->second, Name);
}

llvm::Error Parser::parseWeightsDirective(Module &M) {
  Token Start = Cur;
  consume(); // weights
  if (Cur.Kind != Tok::String)
    return err("expected the weights file name as a string, found " +
               describe(Cur));
  M.WeightsFile = Cur.Text;
  consume();
  llvm::SmallString<256> Path(M.WeightsFile);
  if (!llvm::sys::path::is_absolute(Path) && File != "<stdin>") {
    Path = llvm::sys::path::parent_path(File);
    llvm::sys::path::append(Path, M.WeightsFile);
  }
  auto W = readWeights(Path);
  if (!W) {
    std::string Msg = llvm::toString(W.takeError());
    return errAt(Start, llvm::StringRef(Msg).drop_front(
                            llvm::StringRef(Msg).starts_with("error: ") ? 7 : 0));
  }
  Weights = std::move(*W);
  return llvm::Error::success();
}

llvm::Expected<Attribute> Parser::parseAttrValue(std::optional<AttrKind> Want,
                                                 llvm::StringRef AttrName) {
  Token Start = Cur;
  auto mismatch = [&](llvm::StringRef Got) -> llvm::Error {
    return errAt(Start, "attribute '" + AttrName + "' must be " +
                            attrKindName(*Want) + ", got " + Got);
  };
  auto parseScalar = [&](AttrKind &Kind) -> llvm::Expected<Attribute> {
    if (Cur.Kind == Tok::Int) {
      auto V = parseInt(Cur);
      if (!V)
        return V.takeError();
      consume();
      Kind = AttrKind::Int;
      return Attribute::getInt(*V);
    }
    if (isFloatToken(Cur)) {
      double V = floatValue(Cur);
      consume();
      Kind = AttrKind::Float;
      return Attribute::getFloat(V);
    }
    if (Cur.Kind == Tok::String) {
      std::string S = Cur.Text;
      consume();
      Kind = AttrKind::String;
      return Attribute::getString(S);
    }
    if (Cur.Kind == Tok::Ident && (Cur.Text == "true" || Cur.Text == "false")) {
      bool B = Cur.Text == "true";
      consume();
      Kind = AttrKind::Bool;
      return Attribute::getBool(B);
    }
    if (Cur.Kind == Tok::Ident && parseDType(Cur.Text)) {
      DType T = *parseDType(Cur.Text);
      consume();
      Kind = AttrKind::Type;
      return Attribute::getType(T);
    }
    if (Cur.Kind == Tok::Ident && Cur.Text == "dense") {
      Kind = AttrKind::Tensor;
      return parseDense();
    }
    if (Cur.Kind == Tok::Ident && Cur.Text == "resource") {
      Kind = AttrKind::Tensor;
      return parseResource();
    }
    return err("expected an attribute value, found " + describe(Cur));
  };

  Attribute Result;
  AttrKind Kind;
  if (Cur.Kind == Tok::LSquare) {
    consume();
    std::vector<Attribute> Elems;
    std::optional<AttrKind> ElemKind;
    bool AllNumeric = true;
    if (!consumeIf(Tok::RSquare)) {
      while (true) {
        AttrKind K;
        auto A = parseScalar(K);
        if (!A)
          return A.takeError();
        if (K != AttrKind::Int && K != AttrKind::Float && K != AttrKind::String)
          return errAt(Start, "lists hold only numbers or strings");
        if (K == AttrKind::String || (ElemKind && *ElemKind == AttrKind::String))
          if (ElemKind && *ElemKind != K)
            return errAt(Start, "list mixes strings and numbers");
        if (K == AttrKind::String)
          AllNumeric = false;
        if (!ElemKind || K == AttrKind::Float)
          ElemKind = K;
        Elems.push_back(std::move(*A));
        if (consumeIf(Tok::RSquare))
          break;
        if (auto E = expect(Tok::Comma, "',' or ']' in the list"))
          return std::move(E);
      }
    }
    bool WantFloats = Want && *Want == AttrKind::FloatList;
    if (Elems.empty()) {
      Kind = Want && (*Want == AttrKind::FloatList || *Want == AttrKind::StringList)
                 ? *Want
                 : AttrKind::IntList;
    } else if (!AllNumeric) {
      Kind = AttrKind::StringList;
    } else if (*ElemKind == AttrKind::Float || WantFloats) {
      Kind = AttrKind::FloatList;
    } else {
      Kind = AttrKind::IntList;
    }
    if (Kind == AttrKind::IntList) {
      std::vector<int64_t> V;
      for (auto &A : Elems)
        V.push_back(A.getInt());
      Result = Attribute::getInts(V);
    } else if (Kind == AttrKind::FloatList) {
      std::vector<double> V;
      for (auto &A : Elems)
        V.push_back(A.kind() == AttrKind::Int ? double(A.getInt()) : A.getFloat());
      Result = Attribute::getFloats(V);
    } else {
      std::vector<std::string> V;
      for (auto &A : Elems)
        V.push_back(A.getString().str());
      Result = Attribute::getStrings(V);
    }
  } else {
    auto A = parseScalar(Kind);
    if (!A)
      return A.takeError();
    Result = std::move(*A);
    if (Want && *Want == AttrKind::Float && Kind == AttrKind::Int) {
      Result = Attribute::getFloat(double(Result.getInt()));
      Kind = AttrKind::Float;
    }
  }
  if (Want && Kind != *Want)
    return mismatch(attrKindName(Kind));
  return Result;
}

llvm::Error Parser::parseAttrDict(Operation &Op) {
  consume(); // {
  if (consumeIf(Tok::RBrace))
    return llvm::Error::success();
  while (true) {
    if (Cur.Kind != Tok::Ident)
      return err("expected an attribute name, found " + describe(Cur));
    Token NameTok = Cur;
    consume();
    const AttrSpec *Spec = Op.info().findAttr(NameTok.Text);
    if (!Spec) {
      std::string Known;
      for (const AttrSpec &S : Op.info().Attrs)
        Known += (Known.empty() ? "" : ", ") + S.Name.str();
      return errAt(NameTok, "op '" + Op.mnemonic() + "' has no attribute '" +
                                NameTok.Text + "'" +
                                (Known.empty() ? std::string(" (it takes none)")
                                               : " (known: " + Known + ")"));
    }
    if (Op.findAttr(NameTok.Text))
      return errAt(NameTok, "attribute '" + NameTok.Text + "' given twice");
    if (auto E = expect(Tok::Equal, "'=' after the attribute name"))
      return E;
    auto A = parseAttrValue(Spec->Kind, NameTok.Text);
    if (!A)
      return A.takeError();
    Op.setAttr(NameTok.Text, std::move(*A));
    if (consumeIf(Tok::RBrace))
      return llvm::Error::success();
    if (auto E = expect(Tok::Comma, "',' or '}' in the attribute list"))
      return E;
  }
}
