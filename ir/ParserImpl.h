// Internal to the IR parser (Parser.cpp, ParseAttributes.cpp): the
// recursive-descent parser class.
#ifndef DLC_IR_PARSERIMPL_H
#define DLC_IR_PARSERIMPL_H

#include "ir/IR.h"
#include "ir/Lexer.h"

#include "llvm/ADT/StringMap.h"

#include <optional>

namespace dlc {
namespace detail {

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
  /// Resolves `resource` tensors from raw bytes (parseModuleWithBlobs).
  void setBlobs(const llvm::StringMap<llvm::StringRef> *B) { Blobs = B; }

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
  /// A function or region after its name: arguments, results and body.
  llvm::Error parseFunctionRest(Function &F);
  llvm::Error parseOp(Function &F);
  llvm::Error parseAttrDict(Operation &Op);
  llvm::Expected<Attribute> parseDense();
  llvm::Expected<Attribute> parseResource();
  llvm::Expected<Attribute> blobTensor(const Token &Start, const TensorType &T,
                                       const std::string &Name);
  llvm::Expected<TensorType> parseAngleType();
  llvm::Error parseWeightsDirective(Module &M);
  llvm::Error define(const Token &T, Value *V);
  llvm::Expected<Value *> useValue();
  llvm::Expected<int64_t> parseInt(const Token &T);

  Lexer Lex;
  Token Cur;
  std::string File;
  llvm::StringMap<Value *> Names; // per function
  unsigned RegionDepth = 0;        // regions open around the current op
  std::optional<llvm::StringMap<TensorRef>> Weights;
  /// Raw tensor bytes by resource name (parseModuleWithBlobs), or null.
  const llvm::StringMap<llvm::StringRef> *Blobs = nullptr;
};

} // namespace detail
} // namespace dlc

#endif
