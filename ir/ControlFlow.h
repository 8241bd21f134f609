// Control-flow ops with regions: `if`, `loop` and `scan`.
//
// DESIGN. A region is a nested Function owned by its op
// (Operation::Regions), closed from above: it reads only its own inputs,
// which the op binds from its operands, so every op inside a region sees
// values of that region alone and every pass, the interpreter and the JIT
// work on a region as on any function (the pass manager runs each pass on
// the regions too; the JIT compiles each region once into its own
// executable). Values from outside are passed in as trailing "capture"
// operands, bound to the region's trailing inputs.
//
//   if    operands (cond, captures...)        regions then, else
//         then/else(captures...) -> (results...)
//   loop  operands (trip, cond, carried..., captures...)   region body;
//         num_carried says how many are carried
//         body(iter i64[], cond bool[], carried..., captures...)
//           -> (cond bool[], carried..., scan slices...)
//         results: carried..., scans... (slices stacked on a new axis 0)
//   scan  operands (states..., scan inputs..., captures...)  region body
//         body(states..., slices..., captures...) -> (states..., outs...)
//
// Text form: the regions follow the op's result types, each a function
// header without `func @` and with the region's name:
//
//   %y = if %c, %x : f32[?]
//     then(%a: f32[3]) -> (r: f32[3]) {
//       ...
//       return %0
//     }
//     else(%a: f32[3]) -> (r: f32[2]) { ... }
//
// Shapes: a region's symbols are its own; shape inference binds them to the
// operands' dims and substitutes them into the region's result types. A dim
// that differs between the branches, a carried value whose shape changes
// between iterations, and the leading dim of a loop's scan output when the
// iteration count is not known before the run, are '?'. The executor then
// runs the op when it plans the run (like the DataShape ops).
#ifndef DLC_IR_CONTROLFLOW_H
#define DLC_IR_CONTROLFLOW_H

#include "ir/IR.h"

namespace dlc {

/// The number of regions ops of kind K have (0 for ops without).
unsigned numRegions(OpKind K);
/// Region I's name in the text form (then, else, body).
llvm::StringRef regionName(OpKind K, unsigned I);

/// The most iterations a `loop` runs (its trip count and condition aside):
/// DLC_MAX_LOOP_ITERATIONS from the environment when set to a positive
/// integer, else 2^20. A loop that reaches it stops with an error, so a
/// data-dependent loop that never ends cannot hang a run.
int64_t maxLoopIterations();

/// Whether Op's results can only be sized by running it (a '?' dim that
/// shape inference cannot resolve from the operands' shapes): the executor
/// then evaluates it while planning.
bool controlFlowNeedsValues(const Operation &Op);

/// A scan op's axis and direction per scan input and per scan output, 0
/// where the attribute is absent (axes not yet normalized).
struct ScanLayout {
  std::vector<int64_t> InAxes, InDirs, OutAxes, OutDirs;
};
ScanLayout scanLayout(const Operation &Op);

} // namespace dlc

#endif
