// Parsing of kernel IR text (the form printKernel writes).
#ifndef DLC_KERNEL_KERNELPARSER_H
#define DLC_KERNEL_KERNELPARSER_H

#include "kernel/KernelIR.h"

namespace dlc {
namespace kir {

/// Parses every kernel in Text (File names it in errors, FirstLine is the
/// line number of its first line) and verifies each. Value names are kept,
/// so printing a parsed kernel gives back the text printKernel wrote.
llvm::Expected<std::vector<std::unique_ptr<Kernel>>>
parseKernels(llvm::StringRef Text, llvm::StringRef File, unsigned FirstLine = 1);

} // namespace kir
} // namespace dlc

#endif
