// The example instance that Ops.def gives for each op, as IR text. Tests use
// it to cover every op automatically; `dlc --list-ops` probes shape
// inference with it.
#ifndef DLC_IR_OPEXAMPLE_H
#define DLC_IR_OPEXAMPLE_H

#include "ir/OpInfo.h"

#include "llvm/Support/Error.h"

#include <string>

namespace dlc {

/// `func @example(%a0: T0, ...) -> (r0: R0, ...) { %r0 = op %a0 {...} : R0
/// return %r0 }`, in printed (canonical) form.
std::string exampleText(const OpInfo &I);

/// Parses the example and checks that shape inference gives exactly the
/// documented result types; the error says what differed.
llvm::Error checkExample(const OpInfo &I);

} // namespace dlc

#endif
