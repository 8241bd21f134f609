// Recursive-descent parser for the textual graph IR.
//
//   module   ::= ('weights' string)? func*
//   func     ::= 'func' @name '(' (arg (',' arg)*)? ')'
//                ('params' '(' (param (',' param)*)? ')')?
//                '->' '(' (out (',' out)*)? ')' '{' op* 'return' values '}'
//   arg      ::= %name ':' type            param ::= arg ('=' tensor-attr)?
//   out      ::= (ident | string) ':' type
//   op       ::= %r (',' %r)* '=' mnemonic (%v (',' %v)*)? attr-dict?
//                (':' type (',' type)*)?
//   type     ::= dtype '[' (dim (',' dim)*)? ']'     dim ::= int | ident | '?'
//
// Each op is checked against the op table and shape inference as soon as it
// is parsed, so errors point at the op that caused them.
#include "ir/Parser.h"
#include "ir/Lexer.h"
#include "ir/ShapeInference.h"
#include "ir/Verifier.h"
#include "ir/Weights.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Path.h"

#include "llvm/ADT/StringMap.h"

#include <cmath>

using namespace dlc;

namespace {

class Parser {
public:
  Parser(llvm::StringRef Text, llvm::StringRef File, unsigned FirstLine)
      : Lex(Text, FirstLine), File(File.str()) {
    Cur = Lex.next();
  }

  llvm::Expected<std::unique_ptr<Module>> parseModule();
  llvm::Expected<TensorType> parseType();
  llvm::Expected<Attribute> parseAttrValue(std::optional<AttrKind> Want,
                                           llvm::StringRef AttrName);
  bool atEof() const { return Cur.Kind == Tok::Eof; }
  llvm::Error expectEof() {
    if (Cur.Kind == Tok::Eof)
      return llvm::Error::success();
    return err("unexpected '" + Cur.Text + "' after the end");
  }
  llvm::Error lexError() { return err(Cur.Text); }

private:
  Loc here() const { return Loc::at(File, Cur.Line, Cur.Col); }
  llvm::Error err(const llvm::Twine &Msg) const {
    if (Cur.Kind == Tok::Error)
      return makeError(here(), Cur.Text);
    return makeError(here(), Msg);
  }
  llvm::Error errAt(const Token &T, const llvm::Twine &Msg) const {
    return makeError(Loc::at(File, T.Line, T.Col), Msg);
  }
  void consume() { Cur = Lex.next(); }
  bool consumeIf(Tok K) {
    if (Cur.Kind != K)
      return false;
    consume();
    return true;
  }
  std::string describe(const Token &T) const {
    if (T.Kind == Tok::Eof)
      return "end of input";
    return "'" + T.Text + "'";
  }
  llvm::Error expect(Tok K, llvm::StringRef What) {
    if (Cur.Kind == K) {
      consume();
      return llvm::Error::success();
    }
    return err("expected " + What + ", found " + describe(Cur));
  }
  llvm::Error expectKeyword(llvm::StringRef KW) {
    if (Cur.Kind == Tok::Ident && Cur.Text == KW) {
      consume();
      return llvm::Error::success();
    }
    return err("expected '" + KW + "', found " + describe(Cur));
  }

  llvm::Error parseFunction(Module &M);
  llvm::Error parseOp(Function &F);
  llvm::Error parseAttrDict(Operation &Op);
  llvm::Expected<Attribute> parseDense();
  llvm::Expected<Attribute> parseResource();
  llvm::Expected<TensorType> parseAngleType();
  llvm::Error parseWeightsDirective(Module &M);
  llvm::Error define(const Token &T, Value *V);
  llvm::Expected<Value *> useValue();
  llvm::Expected<int64_t> parseInt(const Token &T);

  Lexer Lex;
  Token Cur;
  std::string File;
  llvm::StringMap<Value *> Names; // per function
  std::optional<llvm::StringMap<TensorRef>> Weights;
};

} // namespace

llvm::Expected<int64_t> Parser::parseInt(const Token &T) {
  int64_t V;
  if (llvm::StringRef(T.Text).getAsInteger(10, V))
    return errAt(T, "integer literal '" + T.Text + "' is out of range");
  return V;
}

llvm::Expected<TensorType> Parser::parseType() {
  if (Cur.Kind != Tok::Ident)
    return err("expected a tensor type such as f32[N,3], found " +
               describe(Cur));
  auto E = parseDType(Cur.Text);
  if (!E)
    return err("unknown element type '" + Cur.Text +
               "' (expected f32, f64, f16, bf16, i8, i16, i32, i64, u8 or "
               "bool)");
  consume();
  if (auto Er = expect(Tok::LSquare, "'[' after the element type"))
    return std::move(Er);
  Shape Dims;
  if (!consumeIf(Tok::RSquare)) {
    while (true) {
      if (Cur.Kind == Tok::Int) {
        auto V = parseInt(Cur);
        if (!V)
          return V.takeError();
        if (*V > MaxElements)
          return err("dimension " + Cur.Text + " is too large (limit 2^40)");
        if (*V < 0)
          return err("dimension " + Cur.Text + " is negative");
        Dims.push_back(Dim::fixed(*V));
        consume();
      } else if (Cur.Kind == Tok::Ident) {
        Dims.push_back(Dim::symbol(Cur.Text));
        consume();
      } else if (Cur.Kind == Tok::Question) {
        Dims.push_back(Dim::unknown());
        consume();
      } else {
        return err("expected a dimension (a size, a symbol or '?'), found " +
                   describe(Cur));
      }
      if (consumeIf(Tok::RSquare))
        break;
      if (auto Er = expect(Tok::Comma, "',' or ']' in the shape"))
        return std::move(Er);
    }
  }
  return TensorType(*E, std::move(Dims));
}

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
  case DType::I16: return V >= INT16_MIN && V <= INT16_MAX;
  case DType::I32: return V >= INT32_MIN && V <= INT32_MAX;
  case DType::I64: return true;
  case DType::F32: case DType::F64: case DType::F16: case DType::BF16:
    return true;
  }
  llvm_unreachable("bad dtype");
}

/// `dense<f32[2,2]>[1.0, 2.0, 3.0, 4.0]`; one value fills the whole tensor.
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
  auto Data = std::make_shared<Tensor>(T->elem(), T->staticSizes());
  if (auto E = expect(Tok::LSquare, "'[' before the tensor elements"))
    return std::move(E);
  int64_t Count = 0;
  bool IsInt = !isFloat(T->elem());
  if (!consumeIf(Tok::RSquare)) {
    while (true) {
      if (Count >= std::max<int64_t>(N, 1) || N == 0)
        return err("too many elements for " + T->str() + " (expected " +
                   std::to_string(N) + ")");
      if (Cur.Kind == Tok::Int) {
        auto V = parseInt(Cur);
        if (!V)
          return V.takeError();
        if (IsInt) {
          if (!fitsInteger(T->elem(), *V))
            return err("element " + Cur.Text + " does not fit in " +
                       dtypeName(T->elem()));
          Data->setI(Count, *V);
        } else {
          Data->setF(Count, double(*V));
        }
      } else if (isFloatToken(Cur)) {
        if (IsInt)
          return err("expected an integer element for " + T->str() +
                     ", found '" + Cur.Text + "'");
        double V = floatValue(Cur);
        Data->setF(Count, V);
        if (std::isfinite(V) && !std::isfinite(Data->getF(Count)))
          return err("element " + Cur.Text + " does not fit in " +
                     dtypeName(T->elem()));
      } else if (Cur.Kind == Tok::Ident && T->elem() == DType::Bool &&
                 (Cur.Text == "true" || Cur.Text == "false")) {
        Data->setI(Count, Cur.Text == "true");
      } else {
        return err("expected a tensor element, found " + describe(Cur));
      }
      consume();
      ++Count;
      if (consumeIf(Tok::RSquare))
        break;
      if (auto E = expect(Tok::Comma, "',' or ']' between tensor elements"))
        return std::move(E);
    }
  }
  if (Count == 1 && N > 1) { // splat
    for (int64_t I = 1; I < N; ++I)
      std::memcpy(Data->data() + I * dtypeSize(T->elem()), Data->data(),
                  dtypeSize(T->elem()));
  } else if (Count != N) {
    return errAt(Start, "dense tensor of type " + T->str() + " needs " +
                            std::to_string(N) + " elements, got " +
                            std::to_string(Count));
  }
  return Attribute::getTensor(std::move(Data));
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

llvm::Error Parser::define(const Token &T, Value *V) {
  auto [It, New] = Names.try_emplace(T.Text, V);
  if (!New)
    return errAt(T, "redefinition of value '%" + T.Text + "'");
  V->Name = T.Text;
  V->L = Loc::at(File, T.Line, T.Col);
  return llvm::Error::success();
}

llvm::Expected<Value *> Parser::useValue() {
  if (Cur.Kind != Tok::ValueId)
    return err("expected a value such as %x, found " + describe(Cur));
  auto It = Names.find(Cur.Text);
  if (It == Names.end())
    return err("use of undefined value '%" + Cur.Text + "'");
  consume();
  return It->second;
}

llvm::Error Parser::parseOp(Function &F) {
  Token First = Cur;
  std::vector<Token> ResultToks;
  while (true) {
    if (Cur.Kind != Tok::ValueId)
      return err("expected a result name such as %0, found " + describe(Cur));
    ResultToks.push_back(Cur);
    consume();
    if (consumeIf(Tok::Equal))
      break;
    if (auto E = expect(Tok::Comma, "',' or '=' after the result name"))
      return E;
  }
  if (Cur.Kind != Tok::Ident)
    return err("expected an op name, found " + describe(Cur));
  Token OpTok = Cur;
  auto Kind = lookupOp(Cur.Text);
  if (!Kind) {
    std::string Best;
    unsigned BestD = 3;
    for (const OpInfo &I : allOps()) {
      unsigned D = llvm::StringRef(Cur.Text).edit_distance(I.Mnemonic);
      if (D < BestD) {
        BestD = D;
        Best = I.Mnemonic.str();
      }
    }
    return err("unknown op '" + Cur.Text + "'" +
               (Best.empty() ? std::string() : "; did you mean '" + Best + "'?") +
               " (dlc --list-ops lists them)");
  }
  consume();
  auto Op = std::make_unique<Operation>(
      *Kind, Loc::at(File, OpTok.Line, OpTok.Col));
  if (Cur.Kind == Tok::ValueId) {
    while (true) {
      auto V = useValue();
      if (!V)
        return V.takeError();
      Op->Operands.push_back(*V);
      if (!consumeIf(Tok::Comma))
        break;
    }
  }
  if (Cur.Kind == Tok::LBrace)
    if (auto E = parseAttrDict(*Op))
      return E;
  std::vector<std::pair<Token, TensorType>> Annotated;
  if (consumeIf(Tok::Colon)) {
    while (true) {
      Token T = Cur;
      auto Ty = parseType();
      if (!Ty)
        return Ty.takeError();
      Annotated.push_back({T, *Ty});
      if (!consumeIf(Tok::Comma))
        break;
    }
  }
  if (auto E = verifyOpStructure(*Op))
    return E;
  auto Types = inferResultTypes(*Op);
  if (!Types)
    return Types.takeError();
  if (Types->size() != ResultToks.size())
    return errAt(First, "op '" + Op->mnemonic() + "' has " +
                            std::to_string(Types->size()) + " result(s), but " +
                            std::to_string(ResultToks.size()) +
                            " name(s) are bound");
  if (!Annotated.empty() && Annotated.size() != Types->size())
    return errAt(Annotated[0].first,
                 "expected " + std::to_string(Types->size()) +
                     " result type(s), got " +
                     std::to_string(Annotated.size()));
  for (size_t I = 0; I < Types->size(); ++I) {
    TensorType T = (*Types)[I];
    if (!Annotated.empty()) {
      const TensorType &A = Annotated[I].second;
      if (!compatible(A, T))
        return errAt(Annotated[I].first,
                     "result type " + A.str() + " of '" + Op->mnemonic() +
                         "' does not match the inferred type " + T.str());
      T = A; // an annotation may refine '?' dims
    }
    Value *V = Op->addResult(T);
    if (auto E = define(ResultToks[I], V))
      return E;
  }
  F.Body.push_back(std::move(Op));
  return llvm::Error::success();
}

llvm::Error Parser::parseFunction(Module &M) {
  if (auto E = expectKeyword("func"))
    return E;
  if (Cur.Kind != Tok::FuncId)
    return err("expected a function name such as @main, found " + describe(Cur));
  if (M.lookup(Cur.Text))
    return err("redefinition of function '@" + Cur.Text + "'");
  Function &F = *M.addFunction(Cur.Text);
  F.L = here();
  consume();
  Names.clear();
  auto parseArgs = [&](bool IsParam) -> llvm::Error {
    if (auto E = expect(Tok::LParen, "'('"))
      return E;
    if (consumeIf(Tok::RParen))
      return llvm::Error::success();
    while (true) {
      if (Cur.Kind != Tok::ValueId)
        return err("expected an argument such as %x, found " + describe(Cur));
      Token NameTok = Cur;
      consume();
      if (auto E = expect(Tok::Colon, "':' after the argument name"))
        return E;
      auto T = parseType();
      if (!T)
        return T.takeError();
      Value *V;
      if (IsParam) {
        std::optional<Attribute> Init;
        if (consumeIf(Tok::Equal)) {
          Token InitTok = Cur;
          auto A = parseAttrValue(AttrKind::Tensor, NameTok.Text);
          if (!A)
            return A.takeError();
          if (A->getTensor()->type() != *T)
            return errAt(InitTok, "initial value of type " +
                                      A->getTensor()->type().str() +
                                      " does not match parameter type " +
                                      T->str());
          Init = std::move(*A);
        }
        V = F.addParam(NameTok.Text, *T, std::move(Init));
      } else {
        V = F.addInput(NameTok.Text, *T);
      }
      if (auto E = define(NameTok, V))
        return E;
      if (consumeIf(Tok::RParen))
        return llvm::Error::success();
      if (auto E = expect(Tok::Comma, "',' or ')' in the argument list"))
        return E;
    }
  };
  if (auto E = parseArgs(false))
    return E;
  if (Cur.Kind == Tok::Ident && Cur.Text == "params") {
    consume();
    if (auto E = parseArgs(true))
      return E;
  }
  if (auto E = expect(Tok::Arrow, "'->' before the result list"))
    return E;
  if (auto E = expect(Tok::LParen, "'(' to open the result list"))
    return E;
  std::vector<std::pair<Token, TensorType>> Outs;
  if (!consumeIf(Tok::RParen)) {
    while (true) {
      if (Cur.Kind != Tok::Ident && Cur.Kind != Tok::String)
        return err("expected a result name, found " + describe(Cur));
      Token N = Cur;
      consume();
      if (auto E = expect(Tok::Colon, "':' after the result name"))
        return E;
      auto T = parseType();
      if (!T)
        return T.takeError();
      for (auto &O : Outs)
        if (O.first.Text == N.Text)
          return errAt(N, "duplicate result name '" + N.Text + "'");
      Outs.push_back({N, *T});
      if (consumeIf(Tok::RParen))
        break;
      if (auto E = expect(Tok::Comma, "',' or ')' in the result list"))
        return E;
    }
  }
  if (auto E = expect(Tok::LBrace, "'{' to open the function body"))
    return E;
  while (!(Cur.Kind == Tok::Ident && Cur.Text == "return")) {
    if (Cur.Kind == Tok::Eof)
      return err("unterminated function '@" + F.Name +
                 "': expected 'return' and '}'");
    if (Cur.Kind == Tok::RBrace)
      return err("function '@" + F.Name + "' has no 'return'");
    if (auto E = parseOp(F))
      return E;
  }
  Token RetTok = Cur;
  consume();
  std::vector<Value *> Rets;
  if (Cur.Kind == Tok::ValueId) {
    while (true) {
      auto V = useValue();
      if (!V)
        return V.takeError();
      Rets.push_back(*V);
      if (!consumeIf(Tok::Comma))
        break;
    }
  }
  if (Rets.size() != Outs.size())
    return errAt(RetTok, "'return' has " + std::to_string(Rets.size()) +
                             " value(s) but '@" + F.Name + "' declares " +
                             std::to_string(Outs.size()) + " result(s)");
  for (size_t I = 0; I < Rets.size(); ++I) {
    if (!compatible(Rets[I]->Type, Outs[I].second))
      return errAt(RetTok, "result '" + Outs[I].first.Text + "' is declared " +
                               Outs[I].second.str() + " but returns " +
                               Rets[I]->Type.str());
    F.addOutput(Outs[I].first.Text, Rets[I]);
  }
  if (Cur.Kind == Tok::Eof)
    return err("unterminated function '@" + F.Name + "': expected '}'");
  return expect(Tok::RBrace, "'}' after 'return'");
}

llvm::Expected<std::unique_ptr<Module>> Parser::parseModule() {
  auto M = std::make_unique<Module>();
  if (Cur.Kind == Tok::Ident && Cur.Text == "weights")
    if (auto E = parseWeightsDirective(*M))
      return std::move(E);
  while (Cur.Kind != Tok::Eof) {
    if (Cur.Kind == Tok::Error)
      return lexError();
    if (auto E = parseFunction(*M))
      return std::move(E);
  }
  if (auto E = verifyModule(*M))
    return std::move(E);
  return std::move(M);
}

llvm::Expected<std::unique_ptr<Module>>
dlc::parseModule(llvm::StringRef Text, llvm::StringRef FileName,
                 unsigned FirstLine) {
  if (Text.find('\0') != llvm::StringRef::npos) {
    size_t Pos = Text.find('\0');
    unsigned Line = FirstLine + Text.take_front(Pos).count('\n');
    size_t LineStart = Text.take_front(Pos).rfind('\n');
    unsigned Col = Pos - (LineStart == llvm::StringRef::npos ? 0 : LineStart + 1) + 1;
    return makeError(Loc::at(FileName, Line, Col),
                     "unexpected byte 0x00: this does not look like dlc IR text");
  }
  Parser P(Text, FileName, FirstLine);
  return P.parseModule();
}

llvm::Expected<Attribute> dlc::parseAttributeText(llvm::StringRef Text,
                                                  AttrKind Kind) {
  Parser P(Text, "<attribute>", 1);
  auto A = P.parseAttrValue(Kind, "value");
  if (!A)
    return A.takeError();
  if (auto E = P.expectEof())
    return std::move(E);
  return A;
}

llvm::Expected<TensorType> dlc::parseTensorType(llvm::StringRef Text) {
  Parser P(Text, "<type>", 1);
  auto T = P.parseType();
  if (!T)
    return T.takeError();
  if (auto E = P.expectEof())
    return std::move(E);
  return T;
}
