// Printer for the textual graph IR. print(parse(text)) reproduces text
// byte for byte when text is in printed form.
#ifndef DLC_IR_PRINTER_H
#define DLC_IR_PRINTER_H

#include "ir/IR.h"

#include "llvm/Support/raw_ostream.h"

namespace dlc {

struct PrintOptions {
  /// For display only (the output does not parse back): tensors with more
  /// elements print as `dense<T>[...]`. 0 prints every element.
  int64_t ElideTensorsAbove = 0;
};

void printModule(const Module &M, llvm::raw_ostream &OS,
                 const PrintOptions &Opts = {});
void printFunction(const Function &F, llvm::raw_ostream &OS,
                   const PrintOptions &Opts = {});
void printAttribute(const Attribute &A, llvm::raw_ostream &OS,
                    const PrintOptions &Opts = {});
std::string toString(const Module &M);

/// Shortest text that parses back to exactly V (always with '.', 'e',
/// "inf" or "nan" so it reads as a float).
std::string formatDouble(double V);

} // namespace dlc

#endif
