// Tokenizer for the textual graph IR.
#ifndef DLC_IR_LEXER_H
#define DLC_IR_LEXER_H

#include "ir/Location.h"

#include "llvm/ADT/StringRef.h"

namespace dlc {

enum class Tok {
  Eof,
  Error,      // Text holds the message
  Ident,      // func, add, f32, N, true, inf ...
  ValueId,    // %x, %0, %"a b" (Text is the name, unquoted)
  FuncId,     // @main
  Int,        // 42, -3
  Float,      // 1.5, -2e-3 (also -inf, produced for `-inf`)
  String,     // "..." (Text is the unescaped contents)
  LParen, RParen, LSquare, RSquare, LBrace, RBrace, LAngle, RAngle,
  Comma, Colon, Equal, Arrow, Question,
};

struct Token {
  Tok Kind = Tok::Eof;
  std::string Text;
  unsigned Line = 0, Col = 0;
};

class Lexer {
public:
  Lexer(llvm::StringRef Buf, unsigned FirstLine)
      : Buf(Buf), Line(FirstLine) {}
  Token next();

private:
  Token make(Tok K, std::string Text, unsigned L, unsigned C) {
    return Token{K, std::move(Text), L, C};
  }
  Token lexNumber(unsigned L, unsigned C);
  Token lexString(unsigned L, unsigned C, std::string &Out);
  char peek(size_t Off = 0) const {
    return Pos + Off < Buf.size() ? Buf[Pos + Off] : '\0';
  }
  char get();

  llvm::StringRef Buf;
  size_t Pos = 0;
  unsigned Line, Col = 1;
};

} // namespace dlc

#endif
