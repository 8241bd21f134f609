// `dlc viz MODEL -o graph.dot|graph.svg`: the model's graph for Graphviz,
// one box per op computing on the inputs, its types on the edges; with
// --optimized, after the optimize pipeline, each fused group as a cluster.
#include "Commands.h"
#include "ModelGraph.h"

#include "frontend/onnx/OnnxImporter.h"
#include "passes/Pass.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

#include <map>

using namespace dlc;

/// Text inside a double-quoted DOT string.
static std::string escaped(llvm::StringRef S) {
  std::string Out;
  for (char C : S) {
    if (C == '"' || C == '\\')
      Out += '\\';
    Out += C;
  }
  return Out;
}

/// The graph in DOT. Ops that only compute weights or constants are left
/// out; an op that reads them says how many in its label.
static std::string toDot(const Function &F, llvm::StringRef Title) {
  std::string Dot;
  llvm::raw_string_ostream OS(Dot);
  OS << "digraph \"" << escaped(Title) << "\" {\n"
     << "  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", "
        "fillcolor=\"#e8eef7\", fontname=\"Helvetica\", fontsize=10];\n"
     << "  edge [fontname=\"Helvetica\", fontsize=8, color=\"#555555\"];\n";
  llvm::DenseSet<const Value *> Dep = inputDependent(F);
  llvm::DenseMap<const Value *, std::string> Node;
  for (size_t I = 0; I < F.Inputs.size(); ++I) {
    const Value &V = *F.Inputs[I];
    std::string Id = "in" + std::to_string(I);
    Node[&V] = Id;
    OS << "  " << Id << " [label=\"" << escaped(V.Name) << "\\n"
       << escaped(V.Type.str())
       << "\", shape=ellipse, fillcolor=\"#d9f2d9\"];\n";
  }
  std::map<int64_t, std::vector<std::string>> Groups; // fusion group -> ops
  unsigned N = 0;
  for (const auto &OpPtr : F.Body) {
    const Operation &Op = *OpPtr;
    if (Op.numResults() && !Dep.count(Op.result()))
      continue;
    std::string Id = "op" + std::to_string(N++);
    unsigned Fixed = 0;
    for (const Value *V : Op.Operands)
      Fixed += !Dep.count(V);
    OS << "  " << Id << " [label=\"" << escaped(Op.mnemonic()) << "\\n"
       << escaped(opDisplayName(Op));
    if (Fixed)
      OS << "\\n+" << Fixed << (Fixed == 1 ? " weight" : " weights");
    OS << "\"];\n";
    for (const auto &R : Op.Results)
      Node[R.get()] = Id;
    for (const Value *V : Op.Operands) {
      auto It = Node.find(V);
      if (It != Node.end())
        OS << "  " << It->second << " -> " << Id << " [label=\""
           << escaped(V->Type.str()) << "\"];\n";
    }
    if (const Attribute *G = Op.findAttr(FusionAttr))
      Groups[G->getInt()].push_back(Id);
  }
  for (size_t I = 0; I < F.Outputs.size(); ++I) {
    std::string Id = "out" + std::to_string(I);
    OS << "  " << Id << " [label=\"" << escaped(F.OutputNames[I])
       << "\", shape=ellipse, fillcolor=\"#f7e3cf\"];\n";
    auto It = Node.find(F.Outputs[I]);
    if (It != Node.end())
      OS << "  " << It->second << " -> " << Id << " [label=\""
         << escaped(F.Outputs[I]->Type.str()) << "\"];\n";
  }
  for (const auto &[G, Ids] : Groups) {
    OS << "  subgraph cluster_" << G << " {\n    label=\"kernel " << G
       << "\"; style=dashed; color=\"#3366cc\"; fontsize=9;\n   ";
    for (const std::string &Id : Ids)
      OS << " " << Id << ";";
    OS << "\n  }\n";
  }
  OS << "}\n";
  return Dot;
}

static llvm::Error viz(const VizOptions &Opts) {
  llvm::StringRef Ext = llvm::sys::path::extension(Opts.Output);
  if (Ext != ".dot" && Ext != ".svg")
    return makeError("-o must name a .dot file (Graphviz text) or an .svg "
                     "picture (needs Graphviz's 'dot'), got '" +
                     Opts.Output + "'");
  std::string DotExe;
  if (Ext == ".svg") {
    auto Found = llvm::sys::findProgramByName("dot");
    if (!Found)
      return makeError("writing an .svg needs Graphviz's 'dot' program "
                       "(Debian: apt-get install graphviz); -o NAME.dot "
                       "writes the graph without it");
    DotExe = *Found;
  }
  auto M = loadModelFile(Opts.Model);
  if (!M)
    return M.takeError();
  if (Opts.Optimized) {
    PassManager PM;
    if (auto E = PM.addPipeline("optimize"))
      return E;
    if (auto E = PM.run(**M))
      return E;
  }
  auto F = entryFunction(**M);
  if (!F)
    return F.takeError();
  std::string Dot = toDot(**F, llvm::sys::path::filename(Opts.Model));
  if (Ext == ".dot") {
    std::error_code EC;
    llvm::raw_fd_ostream OS(Opts.Output, EC);
    if (EC)
      return makeError("cannot write '" + Opts.Output + "': " + EC.message());
    OS << Dot;
    return llvm::Error::success();
  }
  // dot reads the graph from a temporary file and writes the picture.
  llvm::SmallString<128> DotFile;
  int FD;
  if (llvm::sys::fs::createTemporaryFile("dlc-viz", "dot", FD, DotFile))
    return makeError("cannot create a temporary file");
  {
    llvm::raw_fd_ostream OS(FD, /*shouldClose=*/true);
    OS << Dot;
  }
  llvm::StringRef Args[] = {DotExe, "-Tsvg", DotFile, "-o", Opts.Output};
  std::string Msg;
  int RC = llvm::sys::ExecuteAndWait(DotExe, Args, std::nullopt, {}, 120, 0,
                                     &Msg);
  llvm::sys::fs::remove(DotFile);
  if (RC != 0)
    return makeError("Graphviz's dot failed to draw '" + Opts.Output + "'" +
                     (Msg.empty() ? "" : ": " + Msg));
  return llvm::Error::success();
}

int dlc::vizCommand(const VizOptions &Opts) {
  if (llvm::Error E = viz(Opts)) {
    llvm::errs() << llvm::toString(std::move(E)) << "\n";
    return 1;
  }
  return 0;
}
