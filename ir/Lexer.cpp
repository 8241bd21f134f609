// Tokenizer for the textual graph IR: identifiers, %values, @functions,
// numbers, strings and punctuation; `//` comments run to the end of a line.
#include "ir/Lexer.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

using namespace dlc;

static bool isIdentStart(char C) { return std::isalpha((unsigned char)C) || C == '_'; }
static bool isIdentChar(char C) {
  return std::isalnum((unsigned char)C) || C == '_' || C == '.';
}

char Lexer::get() {
  char C = Buf[Pos++];
  if (C == '\n') {
    ++Line;
    Col = 1;
  } else {
    ++Col;
  }
  return C;
}

Token Lexer::next() {
  // Skip whitespace and comments.
  while (Pos < Buf.size()) {
    char C = peek();
    if (C == ' ' || C == '\t' || C == '\n' || C == '\r') {
      get();
    } else if (C == '/' && peek(1) == '/') {
      while (Pos < Buf.size() && peek() != '\n')
        get();
    } else {
      break;
    }
  }
  unsigned L = Line, C0 = Col;
  if (Pos >= Buf.size())
    return make(Tok::Eof, "", L, C0);
  char C = peek();
  if (isIdentStart(C)) {
    size_t Start = Pos;
    while (Pos < Buf.size() && isIdentChar(peek()))
      get();
    return make(Tok::Ident, Buf.slice(Start, Pos).str(), L, C0);
  }
  if (std::isdigit((unsigned char)C) ||
      (C == '-' && (std::isdigit((unsigned char)peek(1)) || peek(1) == 'i')))
    return lexNumber(L, C0);
  if (C == '%' || C == '@') {
    get();
    std::string Name;
    if (peek() == '"') {
      Token T = lexString(L, C0, Name);
      if (T.Kind == Tok::Error)
        return T;
    } else {
      size_t Start = Pos;
      while (Pos < Buf.size() && isIdentChar(peek()))
        get();
      Name = Buf.slice(Start, Pos).str();
    }
    if (Name.empty())
      return make(Tok::Error,
                  std::string("expected a name after '") + C + "'", L, C0);
    return make(C == '%' ? Tok::ValueId : Tok::FuncId, Name, L, C0);
  }
  if (C == '"') {
    std::string S;
    Token T = lexString(L, C0, S);
    if (T.Kind == Tok::Error)
      return T;
    return make(Tok::String, S, L, C0);
  }
  get();
  switch (C) {
  case '(': return make(Tok::LParen, "(", L, C0);
  case ')': return make(Tok::RParen, ")", L, C0);
  case '[': return make(Tok::LSquare, "[", L, C0);
  case ']': return make(Tok::RSquare, "]", L, C0);
  case '{': return make(Tok::LBrace, "{", L, C0);
  case '}': return make(Tok::RBrace, "}", L, C0);
  case '<': return make(Tok::LAngle, "<", L, C0);
  case '>': return make(Tok::RAngle, ">", L, C0);
  case ',': return make(Tok::Comma, ",", L, C0);
  case ':': return make(Tok::Colon, ":", L, C0);
  case '=': return make(Tok::Equal, "=", L, C0);
  case '?': return make(Tok::Question, "?", L, C0);
  case '-':
    if (peek() == '>') {
      get();
      return make(Tok::Arrow, "->", L, C0);
    }
    break;
  default:
    break;
  }
  if (std::isprint((unsigned char)C))
    return make(Tok::Error, std::string("unexpected character '") + C + "'",
                L, C0);
  char Hex[8];
  snprintf(Hex, sizeof(Hex), "0x%02x", unsigned((unsigned char)C));
  return make(Tok::Error, std::string("unexpected byte ") + Hex, L, C0);
}

Token Lexer::lexNumber(unsigned L, unsigned C0) {
  size_t Start = Pos;
  if (peek() == '-')
    get();
  if (peek() == 'i') { // -inf
    size_t S2 = Pos;
    while (Pos < Buf.size() && isIdentChar(peek()))
      get();
    if (Buf.slice(S2, Pos) != "inf")
      return make(Tok::Error, "invalid number '" + Buf.slice(Start, Pos).str() + "'", L, C0);
    return make(Tok::Float, "-inf", L, C0);
  }
  bool IsFloat = false;
  while (Pos < Buf.size()) {
    char C = peek();
    if (std::isdigit((unsigned char)C)) {
      get();
    } else if (C == '.') {
      IsFloat = true;
      get();
    } else if ((C == 'e' || C == 'E')) {
      IsFloat = true;
      get();
      if (peek() == '+' || peek() == '-')
        get();
    } else {
      break;
    }
  }
  if (Pos < Buf.size() && std::isalpha((unsigned char)peek())) {
    while (Pos < Buf.size() && isIdentChar(peek()))
      get();
    return make(Tok::Error, "invalid number '" + Buf.slice(Start, Pos).str() + "'", L, C0);
  }
  std::string Text = Buf.slice(Start, Pos).str();
  if (IsFloat) {
    // The whole literal must be one number: digits, at most one '.', an
    // optional exponent with digits, and a finite value.
    char *End = nullptr;
    double V = std::strtod(Text.c_str(), &End);
    size_t Dot = Text.find('.'), E = Text.find_first_of("eE");
    bool Shape = End == Text.c_str() + Text.size() &&
                 (Dot == std::string::npos || Dot + 1 < Text.size()) &&
                 (E == std::string::npos || std::isdigit((unsigned char)Text.back()));
    if (!Shape)
      return make(Tok::Error, "invalid number '" + Text + "'", L, C0);
    if (std::isinf(V))
      return make(Tok::Error, "float literal '" + Text + "' is out of range", L, C0);
  }
  return make(IsFloat ? Tok::Float : Tok::Int, Text, L, C0);
}

Token Lexer::lexString(unsigned L, unsigned C0, std::string &Out) {
  get(); // opening quote
  while (true) {
    if (Pos >= Buf.size() || peek() == '\n')
      return make(Tok::Error, "unterminated string", L, C0);
    char C = get();
    if (C == '"')
      return make(Tok::String, Out, L, C0);
    if (C != '\\') {
      Out += C;
      continue;
    }
    if (Pos >= Buf.size())
      return make(Tok::Error, "unterminated string", L, C0);
    char E = get();
    switch (E) {
    case 'n': Out += '\n'; break;
    case 't': Out += '\t'; break;
    case '"': Out += '"'; break;
    case '\\': Out += '\\'; break;
    default:
      if (std::isxdigit((unsigned char)E) && std::isxdigit((unsigned char)peek())) {
        char H[3] = {E, get(), 0};
        Out += char(strtol(H, nullptr, 16));
        break;
      }
      return make(Tok::Error, std::string("unknown escape '\\") + E + "' in string", L, C0);
    }
  }
}
