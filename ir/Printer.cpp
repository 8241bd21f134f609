// Printer for the textual graph IR (the inverse of Parser.cpp).
#include "ir/Printer.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Format.h"

#include <charconv>
#include <cstring>
#include <cmath>

using namespace dlc;

std::string dlc::formatDouble(double V) {
  if (std::isnan(V))
    return "nan";
  if (std::isinf(V))
    return V < 0 ? "-inf" : "inf";
  char Buf[64];
  auto R = std::to_chars(Buf, Buf + sizeof(Buf), V);
  std::string S(Buf, R.ptr);
  if (S.find_first_of(".e") == std::string::npos)
    S += ".0";
  return S;
}

static std::string formatFloat(float V) {
  if (std::isnan(V) || std::isinf(V))
    return formatDouble(V);
  char Buf[64];
  auto R = std::to_chars(Buf, Buf + sizeof(Buf), V);
  std::string S(Buf, R.ptr);
  if (S.find_first_of(".e") == std::string::npos)
    S += ".0";
  return S;
}

static bool isPlainName(llvm::StringRef S) {
  if (S.empty())
    return false;
  for (char C : S)
    if (!std::isalnum((unsigned char)C) && C != '_' && C != '.')
      return false;
  return true;
}

static void printQuoted(llvm::StringRef S, llvm::raw_ostream &OS) {
  OS << '"';
  for (unsigned char C : S) {
    if (C == '"' || C == '\\')
      OS << '\\' << C;
    else if (C == '\n')
      OS << "\\n";
    else if (C == '\t')
      OS << "\\t";
    else if (C < 0x20 || C >= 0x7f)
      OS << '\\' << llvm::format_hex_no_prefix(C, 2);
    else
      OS << C;
  }
  OS << '"';
}

/// Identifier-like names print bare; anything else (or a name that could be
/// mistaken for a keyword or type) prints as a quoted string.
static void printName(llvm::StringRef S, llvm::raw_ostream &OS) {
  if (isPlainName(S) && !std::isdigit((unsigned char)S[0]) && !parseDType(S) &&
      S != "true" && S != "false" && S != "inf" && S != "nan")
    OS << S;
  else
    printQuoted(S, OS);
}

static void printTensorElems(const Tensor &T, llvm::raw_ostream &OS) {
  int64_t N = T.numElements();
  if (T.elem() == DType::Str) { // quoted, escaped; no splat form
    for (int64_t I = 0; I < N; ++I) {
      if (I)
        OS << ", ";
      printQuoted(T.strings()[I], OS);
    }
    return;
  }
  // A tensor whose elements are all the same prints as that one element
  // (the parser splats it back).
  size_t ES = dtypeSize(T.elem());
  bool Splat = N > 1;
  for (int64_t I = 1; Splat && I < N; ++I)
    Splat = std::memcmp(T.data(), T.data() + I * ES, ES) == 0;
  if (Splat)
    N = 1;
  for (int64_t I = 0; I < N; ++I) {
    if (I)
      OS << ", ";
    switch (T.elem()) {
    case DType::F32:
    case DType::F16:
    case DType::BF16:
    case DType::F8E4M3FN:
    case DType::F8E4M3FNUZ:
    case DType::F8E5M2:
    case DType::F8E5M2FNUZ:
    case DType::F8E8M0:
    case DType::F4E2M1:
      OS << formatFloat(float(T.getF(I)));
      break;
    case DType::F64:
      OS << formatDouble(T.getF(I));
      break;
    case DType::Bool:
      OS << (T.getI(I) ? "true" : "false");
      break;
    case DType::I4:
    case DType::U4:
    case DType::I2:
    case DType::U2:
    case DType::I8:
    case DType::I16:
    case DType::I32:
    case DType::I64:
    case DType::U8:
    case DType::U16:
    case DType::U32:
      OS << T.getI(I);
      break;
    case DType::U64:
      OS << uint64_t(T.getI(I));
      break;
    case DType::Str:
      llvm_unreachable("printed above");
    }
  }
}

void dlc::printAttribute(const Attribute &A, llvm::raw_ostream &OS,
                         const PrintOptions &Opts) {
  switch (A.kind()) {
  case AttrKind::Int:
    OS << A.getInt();
    return;
  case AttrKind::Float:
    OS << formatDouble(A.getFloat());
    return;
  case AttrKind::String:
    printQuoted(A.getString(), OS);
    return;
  case AttrKind::Bool:
    OS << (A.getBool() ? "true" : "false");
    return;
  case AttrKind::Type:
    OS << dtypeName(A.getType());
    return;
  case AttrKind::IntList: {
    OS << '[';
    llvm::interleave(A.getInts(), OS, ", ");
    OS << ']';
    return;
  }
  case AttrKind::FloatList: {
    OS << '[';
    llvm::interleave(
        A.getFloats(), OS, [&](double D) { OS << formatDouble(D); }, ", ");
    OS << ']';
    return;
  }
  case AttrKind::StringList: {
    OS << '[';
    llvm::interleave(
        A.getStrings(), OS, [&](const std::string &S) { printQuoted(S, OS); },
        ", ");
    OS << ']';
    return;
  }
  case AttrKind::Tensor: {
    const Tensor &T = *A.getTensor();
    if (!A.blobName().empty()) {
      OS << "resource<" << T.type().str() << ">";
      printQuoted(A.blobName(), OS);
      return;
    }
    OS << "dense<" << T.type().str() << ">[";
    if (Opts.ElideTensorsAbove > 0 && T.numElements() > Opts.ElideTensorsAbove)
      OS << "...";
    else
      printTensorElems(T, OS);
    OS << ']';
    return;
  }
  }
  llvm_unreachable("bad attribute kind");
}

namespace {
/// Assigns each value of a function its printed name: its own name when it
/// has one that is not taken, else the next free number.
class Namer {
public:
  explicit Namer(const Function &F) {
    auto claim = [&](const Value *V) {
      if (!V->Name.empty() && Taken.insert(V->Name).second)
        Names[V] = V->Name;
    };
    for (auto &V : F.Inputs)
      claim(V.get());
    for (auto &V : F.Params)
      claim(V.get());
    for (auto &Op : F.Body)
      for (auto &R : Op->Results)
        claim(R.get());
    for (auto &V : F.Inputs)
      assign(V.get());
    for (auto &V : F.Params)
      assign(V.get());
    for (auto &Op : F.Body)
      for (auto &R : Op->Results)
        assign(R.get());
  }
  void print(const Value *V, llvm::raw_ostream &OS) const {
    auto It = Names.find(V);
    OS << '%';
    if (It == Names.end()) {
      OS << "<<undefined>>";
      return;
    }
    if (isPlainName(It->second))
      OS << It->second;
    else
      printQuoted(It->second, OS);
  }

private:
  void assign(const Value *V) {
    if (Names.count(V))
      return;
    std::string N;
    do
      N = std::to_string(Next++);
    while (!Taken.insert(N).second);
    Names[V] = N;
  }
  llvm::DenseMap<const Value *, std::string> Names;
  llvm::StringSet<> Taken;
  unsigned Next = 0;
};
} // namespace

/// F's header, body and closing brace. A region (Indent > 0) prints its
/// name without `func @` and every line indented by Indent spaces.
static void printFunctionAt(const Function &F, llvm::raw_ostream &OS,
                            const PrintOptions &Opts, unsigned Indent) {
  Namer N(F);
  std::string Pad(Indent, ' ');
  if (Indent) {
    OS << F.Name;
  } else {
    OS << "func @";
    if (isPlainName(F.Name))
      OS << F.Name;
    else
      printQuoted(F.Name, OS);
  }
  OS << '(';
  for (size_t I = 0; I < F.Inputs.size(); ++I) {
    if (I)
      OS << ", ";
    N.print(F.Inputs[I].get(), OS);
    OS << ": " << F.Inputs[I]->Type.str();
  }
  OS << ')';
  if (!F.Params.empty()) {
    OS << " params(";
    for (size_t I = 0; I < F.Params.size(); ++I) {
      if (I)
        OS << ", ";
      N.print(F.Params[I].get(), OS);
      OS << ": " << F.Params[I]->Type.str();
      if (I < F.ParamInits.size() && F.ParamInits[I]) {
        OS << " = ";
        printAttribute(*F.ParamInits[I], OS, Opts);
      }
    }
    OS << ')';
  }
  OS << " -> (";
  for (size_t I = 0; I < F.Outputs.size(); ++I) {
    if (I)
      OS << ", ";
    printName(F.OutputNames[I], OS);
    OS << ": " << F.Outputs[I]->Type.str();
  }
  OS << ") {\n";
  for (auto &Op : F.Body) {
    OS << Pad << "  ";
    for (unsigned I = 0; I < Op->numResults(); ++I) {
      if (I)
        OS << ", ";
      N.print(Op->result(I), OS);
    }
    OS << " = " << Op->mnemonic();
    for (unsigned I = 0; I < Op->numOperands(); ++I) {
      OS << (I ? ", " : " ");
      N.print(Op->operand(I), OS);
    }
    if (!Op->attrs().empty()) {
      OS << " {";
      bool First = true;
      for (const NamedAttr &A : Op->attrs()) {
        if (!First)
          OS << ", ";
        First = false;
        OS << A.Name << " = ";
        printAttribute(A.Value, OS, Opts);
      }
      OS << '}';
    }
    OS << " : ";
    for (unsigned I = 0; I < Op->numResults(); ++I) {
      if (I)
        OS << ", ";
      OS << Op->result(I)->Type.str();
    }
    OS << '\n';
    for (auto &R : Op->Regions) {
      OS << Pad << "    ";
      printFunctionAt(*R, OS, Opts, Indent + 4);
    }
  }
  OS << Pad << "  return";
  for (size_t I = 0; I < F.Outputs.size(); ++I) {
    OS << (I ? ", " : " ");
    N.print(F.Outputs[I], OS);
  }
  OS << "\n" << Pad << "}\n";
}

void dlc::printFunction(const Function &F, llvm::raw_ostream &OS,
                        const PrintOptions &Opts) {
  printFunctionAt(F, OS, Opts, 0);
}

void dlc::printModule(const Module &M, llvm::raw_ostream &OS,
                      const PrintOptions &Opts) {
  if (!M.WeightsFile.empty()) {
    OS << "weights ";
    printQuoted(M.WeightsFile, OS);
    OS << "\n\n";
  }
  for (size_t I = 0; I < M.Functions.size(); ++I) {
    if (I)
      OS << '\n';
    printFunction(*M.Functions[I], OS, Opts);
  }
}

std::string dlc::toString(const Module &M) {
  std::string S;
  llvm::raw_string_ostream OS(S);
  printModule(M, OS);
  return S;
}
