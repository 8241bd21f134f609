// Parser for the kernel IR text that printKernel writes (see KernelIR.h for
// the syntax). Names are kept, so parse(print(K)) prints as K did. Errors
// carry file:line:col; the parsed kernel is then verified.
#include "kernel/KernelParser.h"

#include "ir/Lexer.h"
#include "ir/Location.h"

#include "llvm/ADT/StringMap.h"

#include <cmath>

using namespace dlc;
using namespace dlc::kir;

namespace {
class KParser {
public:
  KParser(llvm::StringRef Text, llvm::StringRef File, unsigned FirstLine)
      : Lex(Text, FirstLine), File(File.str()) {
    Cur = Lex.next();
  }

  llvm::Expected<std::vector<std::unique_ptr<Kernel>>> run() {
    std::vector<std::unique_ptr<Kernel>> Ks;
    while (Cur.Kind != Tok::Eof) {
      auto K = kernel();
      if (!K)
        return K.takeError();
      Ks.push_back(std::move(*K));
    }
    return std::move(Ks);
  }

private:
  llvm::Error err(const Token &T, const llvm::Twine &Msg) {
    if (T.Kind == Tok::Error)
      return makeError(Loc::at(File, T.Line, T.Col), T.Text);
    return makeError(Loc::at(File, T.Line, T.Col), Msg);
  }
  llvm::Error err(const llvm::Twine &Msg) { return err(Cur, Msg); }
  void consume() { Cur = Lex.next(); }
  bool consumeIf(Tok K) {
    if (Cur.Kind != K)
      return false;
    consume();
    return true;
  }
  llvm::Error expect(Tok K, llvm::StringRef What) {
    if (consumeIf(K))
      return llvm::Error::success();
    return err("expected " + What);
  }
  bool isWord(llvm::StringRef W) const {
    return Cur.Kind == Tok::Ident && Cur.Text == W;
  }
  llvm::Expected<int64_t> integer() {
    if (Cur.Kind != Tok::Int)
      return err("expected an integer");
    int64_t V = std::strtoll(Cur.Text.c_str(), nullptr, 10);
    consume();
    return V;
  }
  llvm::Expected<double> number() {
    double V;
    if (Cur.Kind == Tok::Int || Cur.Kind == Tok::Float)
      V = std::strtod(Cur.Text.c_str(), nullptr);
    else if (isWord("inf"))
      V = INFINITY;
    else if (isWord("nan"))
      V = NAN;
    else
      return err("expected a number");
    consume();
    return V;
  }

  /// A use of a value by name.
  llvm::Expected<KValue *> use() {
    if (Cur.Kind != Tok::ValueId)
      return err("expected a %value");
    auto It = Values.find(Cur.Text);
    if (It == Values.end())
      return err("use of undefined value %" + Cur.Text);
    consume();
    return It->second;
  }
  llvm::Error define(const Token &T, KValue *V) {
    if (!Values.try_emplace(T.Text, V).second)
      return err(T, "%" + T.Text + " is defined twice");
    V->Name = T.Text;
    return llvm::Error::success();
  }

  /// index, f32, f32x16.
  llvm::Expected<SType> stype() {
    if (Cur.Kind != Tok::Ident)
      return err("expected a type");
    llvm::StringRef T = Cur.Text;
    if (T == "index") {
      consume();
      return SType::index();
    }
    unsigned Lanes = 1;
    auto [Elem, LanesText] = T.split('x');
    if (!LanesText.empty() && LanesText.getAsInteger(10, Lanes))
      return err("bad vector type '" + T + "'");
    std::optional<DType> E = parseDType(Elem);
    if (!E || Lanes < 1)
      return err("unknown type '" + T + "'");
    consume();
    return SType::vec(*E, Lanes);
  }

  /// f32[?,4] (static or '?' dims).
  llvm::Expected<TensorType> bufferType() {
    if (Cur.Kind != Tok::Ident || !parseDType(Cur.Text))
      return err("expected a buffer type such as f32[?,4]");
    DType E = *parseDType(Cur.Text);
    consume();
    if (auto Er = expect(Tok::LSquare, "'['"))
      return std::move(Er);
    Shape S;
    while (!consumeIf(Tok::RSquare)) {
      if (!S.empty())
        if (auto Er = expect(Tok::Comma, "',' or ']'"))
          return std::move(Er);
      if (consumeIf(Tok::Question)) {
        S.push_back(Dim::unknown());
        continue;
      }
      auto N = integer();
      if (!N)
        return N.takeError();
      S.push_back(Dim::fixed(*N));
    }
    return TensorType(E, S);
  }

  llvm::Expected<std::vector<KValue *>> indices() {
    std::vector<KValue *> Idx;
    if (auto E = expect(Tok::LSquare, "'['"))
      return std::move(E);
    while (!consumeIf(Tok::RSquare)) {
      if (!Idx.empty())
        if (auto E = expect(Tok::Comma, "',' or ']'"))
          return std::move(E);
      auto V = use();
      if (!V)
        return V.takeError();
      Idx.push_back(*V);
    }
    return Idx;
  }

  llvm::Expected<std::unique_ptr<Kernel>> kernel() {
    Values.clear();
    if (!isWord("kernel"))
      return err("expected 'kernel'");
    consume();
    if (Cur.Kind != Tok::FuncId)
      return err("expected the kernel's @name");
    auto K = std::make_unique<Kernel>();
    K->Name = Cur.Text;
    consume();
    KBuilder B(*K);
    if (auto E = expect(Tok::LParen, "'('"))
      return std::move(E);
    while (!consumeIf(Tok::RParen)) {
      if (!K->Args.empty())
        if (auto E = expect(Tok::Comma, "',' or ')'"))
          return std::move(E);
      Token Name = Cur;
      if (Cur.Kind != Tok::ValueId)
        return err("expected an argument %name");
      consume();
      if (auto E = expect(Tok::Colon, "':'"))
        return std::move(E);
      auto T = bufferType();
      if (!T)
        return T.takeError();
      if (auto E = define(Name, B.arg(Name.Text, *T)))
        return std::move(E);
    }
    while (isWord("may_alias")) {
      consume();
      if (auto E = expect(Tok::LParen, "'('"))
        return std::move(E);
      std::pair<unsigned, unsigned> Pair;
      for (unsigned *Slot : {&Pair.first, &Pair.second}) {
        auto V = use();
        if (!V)
          return V.takeError();
        unsigned I = 0;
        while (I < K->Args.size() && K->Args[I].get() != *V)
          ++I;
        if (I == K->Args.size())
          return err("may_alias takes kernel arguments");
        *Slot = I;
        if (Slot == &Pair.first)
          if (auto E = expect(Tok::Comma, "','"))
            return std::move(E);
      }
      if (auto E = expect(Tok::RParen, "')'"))
        return std::move(E);
      K->MayAlias.push_back(Pair);
    }
    if (auto E = expect(Tok::LBrace, "'{'"))
      return std::move(E);
    if (auto E = block(B))
      return std::move(E);
    if (auto E = verifyKernel(*K))
      return std::move(E);
    return std::move(K);
  }

  /// Ops up to the closing '}' (consumed).
  llvm::Error block(KBuilder &B) {
    while (!consumeIf(Tok::RBrace)) {
      if (Cur.Kind == Tok::Eof)
        return err("expected '}'");
      if (auto E = op(B))
        return E;
    }
    return llvm::Error::success();
  }

  llvm::Error forLoop(KBuilder &B) {
    consume(); // for
    Token IVName = Cur;
    if (Cur.Kind != Tok::ValueId)
      return err("expected the loop variable");
    consume();
    if (auto E = expect(Tok::Equal, "'='"))
      return E;
    auto Lo = use();
    if (!Lo)
      return Lo.takeError();
    if (!isWord("to"))
      return err("expected 'to'");
    consume();
    auto Hi = use();
    if (!Hi)
      return Hi.takeError();
    int64_t Step = 1;
    LoopMarks Marks;
    while (Cur.Kind == Tok::Ident) {
      Token WTok = Cur;
      std::string W = Cur.Text;
      consume();
      if (W == "step") {
        auto N = integer();
        if (!N)
          return N.takeError();
        Step = *N;
        continue;
      }
      if (W == "parallel") {
        Marks.Parallel = true;
        continue;
      }
      if (W == "reassoc") {
        Marks.Reassociate = true;
        continue;
      }
      if (W == "masked") {
        Marks.MaskedTail = true;
        continue;
      }
      if (W != "vectorize" && W != "unroll")
        return err(WTok, "unknown loop mark '" + W + "'");
      if (auto E = expect(Tok::LParen, "'('"))
        return E;
      auto N = integer();
      if (!N)
        return N.takeError();
      if (*N < 0)
        return err("a loop mark takes a count >= 0");
      if (auto E = expect(Tok::RParen, "')'"))
        return E;
      (W == "vectorize" ? Marks.Vectorize : Marks.Unroll) = unsigned(*N);
    }
    if (auto E = expect(Tok::LBrace, "'{'"))
      return E;
    KValue *IV = B.beginFor(*Lo, *Hi, Step);
    auto Saved = Values;
    if (auto E = define(IVName, IV))
      return E;
    if (auto E = block(B))
      return E;
    Values = std::move(Saved); // body values are not visible after the loop
    B.endFor()->Marks = Marks;
    return llvm::Error::success();
  }

  /// launch grid(%gx, %gy, %gz) block(BX, BY, BZ)
  llvm::Error launch(KBuilder &B) {
    consume(); // launch
    if (!isWord("grid"))
      return err("expected 'grid'");
    consume();
    if (auto E = expect(Tok::LParen, "'('"))
      return E;
    KValue *G[3];
    for (int I = 0; I < 3; ++I) {
      if (I)
        if (auto E = expect(Tok::Comma, "','"))
          return E;
      auto V = use();
      if (!V)
        return V.takeError();
      G[I] = *V;
    }
    if (auto E = expect(Tok::RParen, "')'"))
      return E;
    if (!isWord("block"))
      return err("expected 'block'");
    consume();
    if (auto E = expect(Tok::LParen, "'('"))
      return E;
    int64_t Blk[3];
    for (int I = 0; I < 3; ++I) {
      if (I)
        if (auto E = expect(Tok::Comma, "','"))
          return E;
      auto N = integer();
      if (!N)
        return N.takeError();
      Blk[I] = *N;
    }
    if (auto E = expect(Tok::RParen, "')'"))
      return E;
    B.launch(G[0], G[1], G[2], Blk[0], Blk[1], Blk[2]);
    return llvm::Error::success();
  }

  llvm::Error op(KBuilder &B) {
    if (isWord("for"))
      return forLoop(B);
    if (isWord("launch"))
      return launch(B);
    if (isWord("barrier")) {
      consume();
      B.barrier();
      return llvm::Error::success();
    }
    if (isWord("threads")) {
      consume();
      if (auto E = expect(Tok::LBrace, "'{'"))
        return E;
      B.beginThreads();
      auto Saved = Values;
      if (auto E = block(B))
        return E;
      Values = std::move(Saved); // region values are not visible after it
      B.endThreads();
      return llvm::Error::success();
    }
    if (isWord("store") || isWord("set")) {
      bool Store = isWord("store");
      consume();
      auto V = use();
      if (!V)
        return V.takeError();
      if (auto E = expect(Tok::Comma, "','"))
        return E;
      auto Target = use();
      if (!Target)
        return Target.takeError();
      if (!Store) { // set %local, %value
        if (!(*V)->Def || (*V)->Def->kind() != KOpKind::Local)
          return err("set of a value that is not a local");
        B.set(*V, *Target);
        return llvm::Error::success();
      }
      if (!(*Target)->IsBuffer)
        return err("store into a value that is not a buffer");
      auto Idx = indices();
      if (!Idx)
        return Idx.takeError();
      auto Shape = accessShape();
      if (!Shape)
        return Shape.takeError();
      B.setValidLanes(Shape->Valid);
      B.store(*V, *Target, *Idx, Shape->Stride);
      B.setValidLanes(0);
      return llvm::Error::success();
    }
    Token Name = Cur;
    if (Cur.Kind != Tok::ValueId)
      return err("expected an op");
    consume();
    if (auto E = expect(Tok::Equal, "'='"))
      return E;
    if (Cur.Kind != Tok::Ident)
      return err("expected an op name");
    Token OpTok = Cur;
    std::string Mn = Cur.Text;
    consume();
    auto R = result(B, Mn, OpTok);
    if (!R)
      return R.takeError();
    return define(Name, *R);
  }

  llvm::Expected<KValue *> typed(KValue *V, SType Want, const Token &At) {
    if (V->Type != Want)
      return err(At, "type " + Want.str() + " does not match the op's " +
                         V->Type.str());
    return V;
  }

  llvm::Expected<KValue *> result(KBuilder &B, llvm::StringRef Mn,
                                  const Token &At) {
    static const llvm::StringMap<IndexOp> IndexOps = {
        {"iadd", IndexOp::Add}, {"isub", IndexOp::Sub}, {"imul", IndexOp::Mul},
        {"idiv", IndexOp::Div}, {"irem", IndexOp::Rem}, {"imin", IndexOp::Min},
        {"imax", IndexOp::Max}};
    if (Mn == "const") {
      auto V = number();
      if (!V)
        return V.takeError();
      if (auto E = expect(Tok::Colon, "':'"))
        return std::move(E);
      auto T = stype();
      if (!T)
        return T.takeError();
      if (T->IsIndex) {
        // 1e100, inf and nan have no int64_t value (the cast is undefined).
        if (!std::isfinite(*V) || *V != std::trunc(*V) || *V < -0x1p63 ||
            *V >= 0x1p63)
          return err(At, "an index constant must be an integer in the int64 "
                         "range");
        return B.constIndex(int64_t(*V));
      }
      return B.constFloat(T->Elem, *V, T->Lanes);
    }
    if (Mn == "dim") {
      auto Buf = use();
      if (!Buf)
        return Buf.takeError();
      if (auto E = expect(Tok::Comma, "','"))
        return std::move(E);
      auto A = integer();
      if (!A)
        return A.takeError();
      if (!(*Buf)->IsBuffer || *A < 0 || *A >= int64_t((*Buf)->BufType.rank()))
        return err(At, "dim of a value that is not a buffer, or out of range");
      return B.dim(*Buf, unsigned(*A));
    }
    if (auto It = IndexOps.find(Mn); It != IndexOps.end()) {
      auto X = use();
      if (!X)
        return X.takeError();
      if (auto E = expect(Tok::Comma, "','"))
        return std::move(E);
      auto Y = use();
      if (!Y)
        return Y.takeError();
      return B.index(It->second, *X, *Y);
    }
    if (Mn == "scratch") {
      auto T = bufferType();
      if (!T)
        return T.takeError();
      if (!T->isStatic() || T->rank() == 0)
        return err(At, "scratch needs a static shape of rank >= 1");
      return B.scratch(std::move(*T));
    }
    if (Mn == "shared") {
      auto T = bufferType();
      if (!T)
        return T.takeError();
      if (!T->isStatic() || T->rank() == 0)
        return err(At, "shared needs a static shape of rank >= 1");
      return B.shared(std::move(*T));
    }
    for (GpuIdKind Id : {GpuIdKind::ThreadId, GpuIdKind::BlockId,
                         GpuIdKind::BlockDim, GpuIdKind::GridDim}) {
      if (Mn != gpuIdName(Id))
        continue;
      int Axis = isWord("x") ? 0 : isWord("y") ? 1 : isWord("z") ? 2 : -1;
      if (Axis < 0)
        return err("expected x, y or z");
      consume();
      return B.gpuIndex(Id, unsigned(Axis));
    }
    if (Mn == "shfl_down" || Mn == "shfl_xor") {
      auto V = use();
      if (!V)
        return V.takeError();
      if (auto E = expect(Tok::Comma, "','"))
        return std::move(E);
      auto Off = integer();
      if (!Off)
        return Off.takeError();
      if (*Off < 1 || *Off > 31)
        return err(At, "a shuffle offset is in 1..31");
      if (auto E = expect(Tok::Colon, "':'"))
        return std::move(E);
      auto T = stype();
      if (!T)
        return T.takeError();
      if ((*V)->IsBuffer || (*V)->Type.IsIndex || (*V)->Type.isVector())
        return err(At, "a shuffle takes a scalar of an element type");
      return typed(B.shuffle(Mn == "shfl_down" ? ShflMode::Down : ShflMode::Xor,
                             *V, unsigned(*Off)),
                   *T, At);
    }
    if (Mn == "local") {
      auto T = stype();
      if (!T)
        return T.takeError();
      return B.local(T->Elem, T->Lanes);
    }
    // The rest end with ': type'.
    std::vector<KValue *> Args;
    std::vector<std::pair<std::string, double>> Attrs;
    bool Load = Mn == "load";
    do {
      auto V = use();
      if (!V)
        return V.takeError();
      Args.push_back(*V);
    } while (!Load && consumeIf(Tok::Comma));
    std::vector<KValue *> Idx;
    if (Load) {
      if (!Args[0]->IsBuffer)
        return err(At, "load from a value that is not a buffer");
      auto I = indices();
      if (!I)
        return I.takeError();
      Idx = std::move(*I);
    }
    if (consumeIf(Tok::LBrace)) {
      while (!consumeIf(Tok::RBrace)) {
        if (!Attrs.empty())
          if (auto E = expect(Tok::Comma, "',' or '}'"))
            return std::move(E);
        if (Cur.Kind != Tok::Ident)
          return err("expected an attribute name");
        std::string N = Cur.Text;
        consume();
        if (auto E = expect(Tok::Equal, "'='"))
          return std::move(E);
        auto V = number();
        if (!V)
          return V.takeError();
        Attrs.push_back({N, *V});
      }
    }
    if (auto E = expect(Tok::Colon, "':'"))
      return std::move(E);
    auto T = stype();
    if (!T)
      return T.takeError();
    if (Load) {
      auto Shape = accessShape();
      if (!Shape)
        return Shape.takeError();
      B.setValidLanes(Shape->Valid);
      KValue *L = B.load(Args[0], Idx, T->Lanes, Shape->Stride);
      B.setValidLanes(0);
      return typed(L, *T, At);
    }
    if (Mn == "broadcast")
      return typed(B.broadcast(Args[0], T->Lanes), *T, At);
    if (Mn == "mma_m16n8k8_tf32") {
      if (Args.size() != 3 || Args[0]->IsBuffer || Args[1]->IsBuffer ||
          Args[2]->IsBuffer)
        return err(At, "mma_m16n8k8_tf32 takes three fragments: a, b and c");
      return typed(B.mma(Args[0], Args[1], Args[2]), *T, At);
    }
    if (Mn == "round_tf32") {
      if (Args.size() != 1 || Args[0]->IsBuffer)
        return err(At, "round_tf32 takes one value");
      return typed(B.roundTf32(Args[0]), *T, At);
    }
    if (Mn == "mma_m16n8k16_bf16") {
      if (Args.size() != 3 || Args[0]->IsBuffer || Args[1]->IsBuffer ||
          Args[2]->IsBuffer)
        return err(At, "mma_m16n8k16_bf16 takes three fragments: a, b and c");
      return typed(B.mmaBf16(Args[0], Args[1], Args[2]), *T, At);
    }
    if (Mn == "round_bf16") {
      if (Args.size() != 1 || Args[0]->IsBuffer)
        return err(At, "round_bf16 takes one value");
      return typed(B.roundBf16(Args[0]), *T, At);
    }
    if (Mn == "get") {
      if (!Args[0]->Def || Args[0]->Def->kind() != KOpKind::Local)
        return err(At, "get of a value that is not a local");
      return typed(B.get(Args[0]), *T, At);
    }
    std::optional<OpKind> K = lookupOp(Mn);
    if (!K)
      return err(At, "unknown op '" + Mn + "'");
    return B.scalar(*K, Args, *T, std::move(Attrs));
  }

  /// An optional `valid(N)` after a load or store (0 when absent).
  /// A vector access's optional `stride(S)` and `valid(N)`, in that order.
  struct AccessShape {
    unsigned Stride = 1, Valid = 0;
  };
  llvm::Expected<AccessShape> accessShape() {
    AccessShape A;
    auto Stride = parenCount("stride");
    if (!Stride)
      return Stride.takeError();
    auto Valid = parenCount("valid");
    if (!Valid)
      return Valid.takeError();
    A.Stride = *Stride ? *Stride : 1;
    A.Valid = *Valid;
    return A;
  }

  /// An optional `Word(N)` with N in [1, 2^16]; 0 when absent.
  llvm::Expected<unsigned> parenCount(llvm::StringRef Word) {
    if (!(Cur.Kind == Tok::Ident && Cur.Text == Word))
      return 0u;
    consume();
    if (auto E = expect(Tok::LParen, "'('"))
      return std::move(E);
    auto N = integer();
    if (!N)
      return N.takeError();
    if (*N < 1 || *N > (1 << 16))
      return err(Word.str() + "(N) takes N in [1, 65536]");
    if (auto E = expect(Tok::RParen, "')'"))
      return std::move(E);
    return unsigned(*N);
  }

  Lexer Lex;
  Token Cur;
  std::string File;
  llvm::StringMap<KValue *> Values;
};
} // namespace

llvm::Expected<std::vector<std::unique_ptr<Kernel>>>
kir::parseKernels(llvm::StringRef Text, llvm::StringRef File,
                  unsigned FirstLine) {
  return KParser(Text, File, FirstLine).run();
}
