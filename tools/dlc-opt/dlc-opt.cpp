// dlc-opt: runs named passes on IR text and prints the result (the base of
// the lit tests), in the spirit of mlir-opt.
#include "ir/Lexer.h"
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"
#include "ir/Weights.h"
#include "kernel/KernelParser.h"
#include "kernel/Schedule.h"
#include "passes/Pass.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/ToolOutputFile.h"

#include <deque>

using namespace dlc;
namespace cl = llvm::cl;

static cl::OptionCategory Cat("dlc-opt options");
static cl::opt<std::string> InputFile(cl::Positional,
                                      cl::desc("<input .dlc or kernel IR>"),
                                      cl::init("-"), cl::cat(Cat));
static cl::opt<std::string> OutputFile("o", cl::desc("Output file"),
                                       cl::init("-"), cl::cat(Cat));
static cl::opt<std::string>
    Pipeline("pass-pipeline",
             cl::desc("Comma-separated passes to run, in order ('optimize' is "
                      "the standard pipeline)"),
             cl::cat(Cat));
static cl::opt<bool> SplitInput(
    "split-input-file",
    cl::desc("Treat '// -----' lines as separators of independent inputs"),
    cl::cat(Cat));
static cl::opt<bool> VerifyEach("verify-each",
                                cl::desc("Verify the IR after every pass"),
                                cl::cat(Cat));
static cl::list<std::string>
    PrintAfter("print-ir-after",
               cl::desc("Print the IR after the named pass ('all' for every)"),
               cl::CommaSeparated, cl::cat(Cat));
static cl::opt<std::string> SaveWeights(
    "save-weights",
    cl::desc("Move large tensors into this weights file; the printed IR "
             "references them by name"),
    cl::cat(Cat));
static cl::opt<int64_t> WeightsThreshold(
    "weights-threshold",
    cl::desc("With --save-weights: tensors with more elements than this move "
             "(default 16)"),
    cl::init(16), cl::cat(Cat));
static cl::opt<bool> TimePasses("time-passes",
                                cl::desc("Print the time spent in each pass"),
                                cl::cat(Cat));

/// One pass flag per registered pass (`--cse`, `--dce`, ...), in the order
/// given on the command line.
static cl::list<const PassInfo *, bool, cl::parser<const PassInfo *>> &
passFlags() {
  static cl::list<const PassInfo *, bool, cl::parser<const PassInfo *>> L(
      cl::desc("Passes (run in command-line order, after --pass-pipeline):"),
      cl::cat(Cat));
  return L;
}

/// One flag per kernel pass (`--kir-tile=N`, ...), for kernel IR input.
static std::vector<std::unique_ptr<cl::opt<unsigned>>> &kernelPassFlags() {
  static std::vector<std::unique_ptr<cl::opt<unsigned>>> Flags = [] {
    static std::deque<std::string> Names; // cl::opt keeps references
    std::vector<std::unique_ptr<cl::opt<unsigned>>> V;
    for (const kir::KernelPass &P : kir::allKernelPasses()) {
      Names.push_back("kir-" + std::string(P.Name));
      V.push_back(std::make_unique<cl::opt<unsigned>>(
          llvm::StringRef(Names.back()), cl::desc(P.Description),
          cl::value_desc("N"), cl::cat(Cat)));
    }
    return V;
  }();
  return Flags;
}

/// Whether Text is kernel IR (starts with `kernel`) rather than graph IR.
static bool isKernelText(llvm::StringRef Text) {
  Token T = Lexer(Text, 1).next();
  return T.Kind == Tok::Ident && T.Text == "kernel";
}

/// Kernel IR input: parse, run the --kir-* passes in command-line order,
/// print.
static bool processKernels(llvm::StringRef Text, unsigned FirstLine,
                           llvm::raw_ostream &OS) {
  if (!passFlags().empty() || !Pipeline.empty()) {
    llvm::errs() << "error: graph passes do not apply to kernel IR input\n";
    return false;
  }
  auto Ks = kir::parseKernels(
      Text, InputFile == "-" ? "<stdin>" : InputFile.getValue(), FirstLine);
  if (!Ks) {
    llvm::errs() << llvm::toString(Ks.takeError()) << "\n";
    return false;
  }
  std::vector<std::pair<unsigned, size_t>> Order; // (position, pass)
  for (size_t I = 0; I < kernelPassFlags().size(); ++I)
    if (kernelPassFlags()[I]->getNumOccurrences())
      Order.push_back({kernelPassFlags()[I]->getPosition(), I});
  std::sort(Order.begin(), Order.end());
  for (auto &K : *Ks) {
    for (auto [Pos, I] : Order)
      if (auto E = kir::allKernelPasses()[I].Run(*K, *kernelPassFlags()[I])) {
        llvm::errs() << llvm::toString(std::move(E)) << "\n";
        return false;
      }
    kir::printKernel(*K, OS);
    OS << "\n"; // kernels are separated as `dlc compile --emit=kernel-ir` does
  }
  return true;
}

/// Runs one chunk; errors are printed and counted, output goes to OS.
static bool processChunk(llvm::StringRef Text, unsigned FirstLine,
                         llvm::raw_ostream &OS) {
  if (isKernelText(Text))
    return processKernels(Text, FirstLine, OS);
  for (auto &F : kernelPassFlags())
    if (F->getNumOccurrences()) {
      llvm::errs() << "error: --" << F->ArgStr
                   << " applies to kernel IR input only\n";
      return false;
    }
  auto M = parseModule(Text, InputFile == "-" ? "<stdin>" : InputFile.getValue(),
                       FirstLine);
  if (!M) {
    llvm::errs() << llvm::toString(M.takeError()) << "\n";
    return false;
  }
  PassManagerOptions Opts;
  Opts.VerifyEach = VerifyEach;
  Opts.PrintAfter.assign(PrintAfter.begin(), PrintAfter.end());
  Opts.TimePasses = TimePasses;
  PassManager PM(Opts);
  if (!Pipeline.empty())
    if (auto E = PM.addPipeline(Pipeline)) {
      llvm::errs() << llvm::toString(std::move(E)) << "\n";
      return false;
    }
  for (const PassInfo *P : passFlags())
    PM.add(P->Create());
  if (auto E = PM.run(**M)) {
    llvm::errs() << llvm::toString(std::move(E)) << "\n";
    return false;
  }
  if (auto E = verifyModule(**M)) {
    llvm::errs() << llvm::toString(std::move(E)) << "\n";
    return false;
  }
  if (!SaveWeights.empty()) {
    if (auto E = externalizeWeights(**M, SaveWeights, WeightsThreshold)) {
      llvm::errs() << llvm::toString(std::move(E)) << "\n";
      return false;
    }
    // The text names the weights file relative to itself: by its base name
    // when both sit in one folder, else by its absolute path.
    llvm::SmallString<256> W(SaveWeights), O(OutputFile);
    llvm::sys::fs::make_absolute(W);
    llvm::sys::fs::make_absolute(O);
    bool SameDir = OutputFile != "-" && llvm::sys::path::parent_path(W) ==
                                            llvm::sys::path::parent_path(O);
    (*M)->WeightsFile =
        SameDir ? llvm::sys::path::filename(W).str() : std::string(W.str());
  }
  printModule(**M, OS);
  return true;
}

int main(int argc, char **argv) {
  llvm::InitLLVM X(argc, argv);
  for (const PassInfo &P : allPasses())
    passFlags().getParser().addLiteralOption(P.Name, &P, P.Description);
  kernelPassFlags();
  cl::HideUnrelatedOptions(Cat);
  cl::ParseCommandLineOptions(argc, argv, "dlc IR optimizer driver\n");
  for (const std::string &Name : PrintAfter)
    if (Name != "all" && !lookupPass(Name)) {
      llvm::errs() << "error: --print-ir-after names unknown pass '" << Name
                   << "'; see dlc-opt --help\n";
      return 1;
    }

  auto Buf = llvm::MemoryBuffer::getFileOrSTDIN(InputFile);
  if (!Buf) {
    llvm::errs() << "error: cannot read '" << InputFile
                 << "': " << Buf.getError().message() << "\n";
    return 1;
  }
  // dlc-opt reads IR text; an ONNX model (a protobuf ModelProto, whose
  // first byte is the tag of ir_version, 0x08) gets a pointer to the tool
  // that imports it.
  if (llvm::StringRef(InputFile).ends_with_insensitive(".onnx") ||
      (*Buf)->getBuffer().starts_with("\x08")) {
    llvm::errs() << "error: '" << InputFile
                 << "' is not dlc IR text (an ONNX model?); import it first: "
                    "dlc compile " << InputFile << " --emit=ir -o MODEL.dlc\n";
    return 1;
  }
  if (SplitInput && !SaveWeights.empty()) {
    llvm::errs() << "error: --save-weights cannot be combined with "
                    "--split-input-file (the chunks would share one file)\n";
    return 1;
  }
  // Output is collected first: an output file (possibly the input itself)
  // is only written when everything succeeded.
  std::string Result;
  llvm::raw_string_ostream OutOS(Result);
  llvm::StringRef Text = (*Buf)->getBuffer();
  bool Ok = true;
  if (!SplitInput) {
    Ok = processChunk(Text, 1, OutOS);
  } else {
    // Split at lines that are exactly "// -----"; keep line numbers.
    unsigned Line = 1, ChunkLine = 1;
    size_t ChunkStart = 0, Pos = 0;
    bool First = true;
    auto flush = [&](size_t End) {
      if (!First)
        OutOS << "// -----\n";
      First = false;
      Ok &= processChunk(Text.slice(ChunkStart, End), ChunkLine, OutOS);
    };
    while (Pos < Text.size()) {
      size_t EOL = Text.find('\n', Pos);
      if (EOL == llvm::StringRef::npos)
        EOL = Text.size();
      if (Text.slice(Pos, EOL).rtrim() == "// -----") {
        flush(Pos);
        ChunkStart = EOL + 1;
        ChunkLine = Line + 1;
      }
      Pos = EOL + 1;
      ++Line;
    }
    ChunkStart = std::min(ChunkStart, Text.size());
    flush(Text.size());
  }
  if (OutputFile == "-") {
    llvm::outs() << Result; // with --split-input-file, the chunks that worked
  } else if (Ok) {
    std::error_code EC;
    llvm::ToolOutputFile File(OutputFile, EC, llvm::sys::fs::OF_None);
    if (EC) {
      llvm::errs() << "error: cannot write '" << OutputFile
                   << "': " << EC.message() << "\n";
      return 1;
    }
    File.os() << Result;
    File.keep();
  }
  return Ok ? 0 : 1;
}
