// Recursive-descent parser for the textual graph IR.
//
//   module   ::= ('weights' string)? func*
//   func     ::= 'func' @name '(' (arg (',' arg)*)? ')'
//                ('params' '(' (param (',' param)*)? ')')?
//                '->' '(' (out (',' out)*)? ')' '{' op* 'return' values '}'
//   arg      ::= %name ':' type            param ::= arg ('=' tensor-attr)?
//   out      ::= (ident | string) ':' type
//   op       ::= %r (',' %r)* '=' mnemonic (%v (',' %v)*)? attr-dict?
//                (':' type (',' type)*)? region*
//   region   ::= ('then' | 'else' | 'body') signature-and-body-of-a-func
//                (as many as the op has: ir/ControlFlow.h)
//   type     ::= dtype '[' (dim (',' dim)*)? ']'     dim ::= int | ident | '?'
//
// Each op is checked against the op table and shape inference as soon as it
// is parsed, so errors point at the op that caused them. Attribute values
// and the weights directive are parsed in ParseAttributes.cpp.
#include "ir/Parser.h"
#include "ir/Lexer.h"
#include "ir/ParserImpl.h"
#include "ir/ControlFlow.h"
#include "ir/ShapeInference.h"
#include "ir/Verifier.h"

using namespace dlc;
using namespace dlc::detail;

/// How deeply regions may nest in the text form.
static constexpr unsigned MaxRegionDepth = 64;

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
  // Regions: closed functions, each with a value scope of its own.
  for (unsigned R = 0; R < numRegions(*Kind); ++R) {
    llvm::StringRef Want = regionName(*Kind, R);
    Loc RegionLoc = here();
    if (auto E = expectKeyword(Want))
      return E;
    // Bounded so that hostile input cannot exhaust the stack.
    if (RegionDepth >= MaxRegionDepth)
      return makeError(RegionLoc, "regions nested more than " +
                                      std::to_string(MaxRegionDepth) +
                                      " deep");
    auto Region = std::make_unique<Function>();
    Region->Name = Want.str();
    Region->L = RegionLoc;
    llvm::StringMap<Value *> Outer = std::move(Names);
    Names.clear();
    ++RegionDepth;
    llvm::Error E = parseFunctionRest(*Region);
    --RegionDepth;
    Names = std::move(Outer);
    if (E)
      return E;
    Op->Regions.push_back(std::move(Region));
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
  return parseFunctionRest(F);
}

llvm::Error Parser::parseFunctionRest(Function &F) {
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
  // Result types may be left out (`-> (y)`): the returned value's inferred
  // type is the result's.
  std::vector<std::pair<Token, std::optional<TensorType>>> Outs;
  if (!consumeIf(Tok::RParen)) {
    while (true) {
      if (Cur.Kind != Tok::Ident && Cur.Kind != Tok::String)
        return err("expected a result name, found " + describe(Cur));
      Token N = Cur;
      consume();
      std::optional<TensorType> Declared;
      if (consumeIf(Tok::Colon)) {
        auto T = parseType();
        if (!T)
          return T.takeError();
        Declared = *T;
      } else if (Cur.Kind != Tok::Comma && Cur.Kind != Tok::RParen) {
        return err("expected ':' and a type, ',' or ')' after the result "
                   "name, found " + describe(Cur));
      }
      for (auto &O : Outs)
        if (O.first.Text == N.Text)
          return errAt(N, "duplicate result name '" + N.Text + "'");
      Outs.push_back({N, Declared});
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
    if (const std::optional<TensorType> &Declared = Outs[I].second) {
      if (!compatible(Rets[I]->Type, *Declared))
        return errAt(RetTok, "result '" + Outs[I].first.Text +
                                 "' is declared " + Declared->str() +
                                 " but returns " + Rets[I]->Type.str());
      // A declared dim refines a '?' of the returned value.
      Shape Dims = Rets[I]->Type.dims();
      for (unsigned D = 0; D < Dims.size(); ++D)
        if (Dims[D].isUnknown())
          Dims[D] = Declared->dim(D);
      Rets[I]->Type = TensorType(Rets[I]->Type.elem(), Dims);
    }
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

/// An error at the first NUL byte of Text, if it has one.
static llvm::Error checkNoNul(llvm::StringRef Text, llvm::StringRef FileName,
                              unsigned FirstLine) {
  if (Text.find('\0') != llvm::StringRef::npos) {
    size_t Pos = Text.find('\0');
    unsigned Line = FirstLine + Text.take_front(Pos).count('\n');
    size_t LineStart = Text.take_front(Pos).rfind('\n');
    unsigned Col = Pos - (LineStart == llvm::StringRef::npos ? 0 : LineStart + 1) + 1;
    return makeError(Loc::at(FileName, Line, Col),
                     "unexpected byte 0x00: this does not look like dlc IR text");
  }
  return llvm::Error::success();
}

llvm::Expected<std::unique_ptr<Module>>
dlc::parseModule(llvm::StringRef Text, llvm::StringRef FileName,
                 unsigned FirstLine) {
  if (auto E = checkNoNul(Text, FileName, FirstLine))
    return std::move(E);
  Parser P(Text, FileName, FirstLine);
  return P.parseModule();
}

llvm::Expected<std::unique_ptr<Module>>
dlc::parseModuleWithBlobs(llvm::StringRef Text, llvm::StringRef FileName,
                          const llvm::StringMap<llvm::StringRef> &Blobs) {
  if (auto E = checkNoNul(Text, FileName, 1))
    return std::move(E);
  Parser P(Text, FileName, 1);
  P.setBlobs(&Blobs);
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
