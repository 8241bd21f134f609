// `dlc --list-ops`: the op table with the capabilities each op has. Every
// column is probed from the code, never written by hand: shape inference and
// the interpreter are run on the op's example from Ops.def.
#include "Commands.h"

#include "interp/Interpreter.h"
#include "ir/OpExample.h"

#include "llvm/Support/Format.h"

using namespace dlc;

/// Shape inference "exists" for an op when its Ops.def example infers the
/// documented result types.
static bool shapeInferenceWorks(const OpInfo &I) {
  if (auto E = checkExample(I)) {
    llvm::consumeError(std::move(E));
    return false;
  }
  return true;
}

void dlc::listOps(llvm::raw_ostream &OS, bool Markdown) {
  const char *Yes = Markdown ? "yes" : "yes";
  const char *No = Markdown ? "-" : "-";
  if (Markdown) {
    OS << "| op | shape | interp | grad | cpu | gpu | kind | summary |\n"
       << "|---|---|---|---|---|---|---|---|\n";
  } else {
    OS << llvm::format("%-24s %-6s %-6s %-6s %-6s %-6s %s\n",
                       (const char *)"op", (const char *)"shape",
                       (const char *)"interp", (const char *)"grad",
                       (const char *)"cpu", (const char *)"gpu",
                       (const char *)"kind");
  }
  unsigned Counts[3] = {0, 0, 0};
  for (const OpInfo &I : allOps()) {
    bool Shape = shapeInferenceWorks(I), Interp = interpreterSupports(I.Kind);
    // Gradients and CPU/GPU lowering do not exist yet: later issues add
    // their registries, and these columns will read them.
    bool Grad = false, Cpu = false, Gpu = false;
    Counts[0] += Shape;
    Counts[1] += Interp;
    const char *Kind = I.has(Composite) ? "composite" : "primitive";
    Counts[2] += I.has(Composite);
    if (Markdown)
      OS << "| `" << I.Mnemonic << "` | " << (Shape ? Yes : No) << " | "
         << (Interp ? Yes : No) << " | " << (Grad ? Yes : No) << " | "
         << (Cpu ? Yes : No) << " | " << (Gpu ? Yes : No) << " | " << Kind
         << " | " << I.Summary << " |\n";
    else
      OS << llvm::format("%-24s %-6s %-6s %-6s %-6s %-6s %s\n",
                         I.Mnemonic.str().c_str(), Shape ? Yes : No,
                         Interp ? Yes : No, Grad ? Yes : No, Cpu ? Yes : No,
                         Gpu ? Yes : No, Kind);
  }
  if (!Markdown)
    OS << allOps().size() << " ops (" << Counts[2] << " composite): shape "
       << Counts[0] << ", interp " << Counts[1]
       << ", grad 0, cpu 0, gpu 0\n";
}
