// Builds and checks the per-op examples of Ops.def.
#include "ir/OpExample.h"
#include "ir/Parser.h"

using namespace dlc;

static llvm::SmallVector<llvm::StringRef, 4> splitTypes(llvm::StringRef S) {
  llvm::SmallVector<llvm::StringRef, 4> Parts, Out;
  S.split(Parts, ';', -1, false);
  for (llvm::StringRef P : Parts)
    Out.push_back(P.trim());
  return Out;
}

std::string dlc::exampleText(const OpInfo &I) {
  auto Ops = splitTypes(I.ExampleOperands), Res = splitTypes(I.ExampleResults);
  auto list = [](size_t N, llvm::StringRef Prefix) {
    std::string S;
    for (size_t K = 0; K < N; ++K)
      S += (K ? ", " : "") + Prefix.str() + std::to_string(K);
    return S;
  };
  std::string T = "func @example(";
  for (size_t K = 0; K < Ops.size(); ++K)
    T += (K ? ", %a" : "%a") + std::to_string(K) + ": " + Ops[K].str();
  T += ") -> (";
  for (size_t K = 0; K < Res.size(); ++K)
    T += (K ? ", r" : "r") + std::to_string(K) + ": " + Res[K].str();
  T += ") {\n  " + list(Res.size(), "%r") + " = " + I.Mnemonic.str();
  if (!Ops.empty())
    T += " " + list(Ops.size(), "%a");
  // Regions (control-flow ops) follow the attributes after a newline.
  auto [Attrs, Regions] = I.ExampleAttrs.split('\n');
  if (!Attrs.empty())
    T += " " + Attrs.str();
  T += " : ";
  for (size_t K = 0; K < Res.size(); ++K)
    T += (K ? ", " : "") + Res[K].str();
  if (!Regions.empty())
    T += "\n" + Regions.str();
  T += "\n  return " + list(Res.size(), "%r") + "\n}\n";
  return T;
}

llvm::Error dlc::checkExample(const OpInfo &I) {
  auto M = parseModule(exampleText(I), ("<example of " + I.Mnemonic + ">").str());
  if (!M)
    return M.takeError();
  // The parser already checked the annotated result types against shape
  // inference; also require the exact documented types (no '?').
  const Operation &Op = *(*M)->Functions[0]->Body.front();
  auto Res = splitTypes(I.ExampleResults);
  for (size_t K = 0; K < Res.size(); ++K) {
    auto T = parseTensorType(Res[K]);
    if (!T)
      return T.takeError();
    if (Op.result(K)->Type != *T)
      return makeError("example of '" + I.Mnemonic + "' infers " +
                       Op.result(K)->Type.str() + ", documented " + T->str());
  }
  return llvm::Error::success();
}
