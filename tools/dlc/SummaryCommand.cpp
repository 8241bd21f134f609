// `dlc summary MODEL`: a table of the model's ops (as imported, before any
// optimization) with output shapes, parameter counts and FLOPs, then its
// inputs, outputs, opsets and totals; like Keras' model.summary().
#include "Commands.h"
#include "ModelGraph.h"

#include "frontend/onnx/OnnxImporter.h"
#include "ir/OpCost.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>

using namespace dlc;

/// 1234567 -> "1,234,567".
static std::string grouped(double N) {
  std::string Digits = std::to_string(int64_t(std::llround(N)));
  std::string Out;
  for (size_t I = 0; I < Digits.size(); ++I) {
    if (I && (Digits.size() - I) % 3 == 0)
      Out += ',';
    Out += Digits[I];
  }
  return Out;
}

/// 3.64e9 -> "3.64G".
static std::string scaled(std::optional<double> N) {
  if (!N)
    return "?";
  const char *Units[] = {"", "K", "M", "G", "T"};
  double V = *N;
  unsigned U = 0;
  while (V >= 1000 && U < 4) {
    V /= 1000;
    ++U;
  }
  char Buf[32];
  snprintf(Buf, sizeof Buf, U ? "%.2f%s" : "%.0f%s", V, Units[U]);
  return Buf;
}

static llvm::Error summarize(const SummaryOptions &Opts,
                             llvm::raw_ostream &OS) {
  auto M = loadModelFile(Opts.Model);
  if (!M)
    return M.takeError();
  auto Entry = entryFunction(**M);
  if (!Entry)
    return Entry.takeError();
  const Function *F = *Entry;
  DimSizes Sizes; // every symbolic dim is Opts.Batch
  auto bindAll = [&](const TensorType &T) {
    for (const Dim &D : T.dims())
      if (D.isSymbol())
        Sizes[D.sym()] = Opts.Batch;
  };
  for (const auto &In : F->Inputs)
    bindAll(In->Type);
  for (const auto &Op : F->Body)
    for (const auto &R : Op->Results)
      bindAll(R->Type);

  llvm::StringRef Path(Opts.Model);
  std::string Origin = "dlc IR";
  if (Path.ends_with_insensitive(".onnx")) {
    auto Info = onnxModelInfo(Path);
    if (!Info)
      return Info.takeError();
    Origin = *Info;
  }
  OS << "Model: " << Opts.Model << " (" << Origin << "), function @"
     << F->Name << "\n";
  const int NameW = 34, KindW = 18, ShapeW = 26, ParamW = 13, FlopW = 10;
  std::string Rule(NameW + KindW + ShapeW + ParamW + FlopW, '-');
  OS << Rule << "\n"
     << llvm::left_justify("Op", NameW) << llvm::left_justify("Kind", KindW)
     << llvm::left_justify("Output", ShapeW)
     << llvm::right_justify("Params", ParamW)
     << llvm::right_justify("FLOPs", FlopW) << "\n"
     << Rule << "\n";
  // Listed: the ops that compute on the inputs. A weight is a fixed
  // floating-point operand of rank >= 1, counted at its first use.
  llvm::DenseSet<const Value *> Dep = inputDependent(*F), Counted;
  double Params = 0, ParamBytes = 0, Flops = 0;
  bool FlopsKnown = true;
  unsigned Ops = 0, FixedOps = 0;
  for (const auto &OpPtr : F->Body) {
    const Operation &Op = *OpPtr;
    if (Op.numResults() && !Dep.count(Op.result())) {
      FixedOps += Op.kind() != OpKind::Constant;
      continue;
    }
    ++Ops;
    double OpParams = 0;
    for (const Value *V : Op.Operands) {
      if (Dep.count(V) || !isFloat(V->Type.elem()) || V->Type.rank() == 0 ||
          !Counted.insert(V).second)
        continue;
      auto N = elementCount(V->Type, Sizes);
      OpParams += N.value_or(0);
      ParamBytes += N.value_or(0) * double(dtypeSize(V->Type.elem()));
    }
    Params += OpParams;
    auto Cost = opFlops(Op, Sizes);
    if (Cost)
      Flops += *Cost;
    else
      FlopsKnown = false;
    std::string Shape =
        Op.numResults() ? Op.result()->Type.str() : std::string("-");
    if (Op.numResults() > 1)
      Shape += " (+" + std::to_string(Op.numResults() - 1) + ")";
    std::string Name = opDisplayName(Op);
    if (Name.size() >= size_t(NameW))
      Name = Name.substr(0, NameW - 4) + "... ";
    OS << llvm::left_justify(Name, NameW)
       << llvm::left_justify(Op.mnemonic(), KindW)
       << llvm::left_justify(Shape, ShapeW)
       << llvm::right_justify(OpParams ? grouped(OpParams) : "0", ParamW)
       << llvm::right_justify(scaled(Cost), FlopW) << "\n";
  }
  OS << Rule << "\n";
  for (const auto &In : F->Inputs)
    OS << "Input:  " << In->Name << " " << In->Type.str() << "\n";
  for (size_t I = 0; I < F->Outputs.size(); ++I)
    OS << "Output: " << F->OutputNames[I] << " " << F->Outputs[I]->Type.str()
       << "\n";
  OS << "Ops: " << Ops;
  if (FixedOps)
    OS << " (and " << FixedOps
       << " that compute weights or constants, not listed)";
  OS << "\n"
     << "Total params: " << grouped(Params) << " ("
     << llvm::format("%.2f", ParamBytes / (1024.0 * 1024.0)) << " MiB)\n"
     << "FLOPs per run with every symbolic dim = " << Opts.Batch << ": "
     << (FlopsKnown ? "" : "at least ") << scaled(Flops) << "\n";
  return llvm::Error::success();
}

int dlc::summaryCommand(const SummaryOptions &Opts) {
  if (Opts.Batch < 1) {
    llvm::errs() << "error: --batch must be at least 1\n";
    return 1;
  }
  if (llvm::Error E = summarize(Opts, llvm::outs())) {
    llvm::errs() << llvm::toString(std::move(E)) << "\n";
    return 1;
  }
  return 0;
}
