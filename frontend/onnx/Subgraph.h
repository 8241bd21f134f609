// Import of ONNX subgraphs (the bodies of If, Loop, Scan, SequenceMap) into
// the function being built. dlc's IR has no regions: a subgraph is inlined
// at the point of use, once per use (a loop body once per iteration), in a
// nested value scope: its inputs and the names it defines shadow the outer
// ones while it is imported, and names it does not define resolve to the
// outer scope (ONNX subgraphs read outer values by name).
#ifndef DLC_FRONTEND_ONNX_SUBGRAPH_H
#define DLC_FRONTEND_ONNX_SUBGRAPH_H

#include "frontend/onnx/NodeContext.h"

#include <optional>

namespace dlc {
namespace onnximp {

/// One ONNX value at import time: a tensor, a sequence (a list of tensors),
/// or an optional known to be empty. A non-empty optional is its element.
struct Item {
  enum KindT { TensorK, SequenceK, NoneK } Kind = TensorK;
  Value *T = nullptr;
  std::vector<Value *> Seq;

  static Item tensor(Value *V) { return {TensorK, V, {}}; }
  static Item sequence(std::vector<Value *> S) {
    return {SequenceK, nullptr, std::move(S)};
  }
  static Item none() { return {NoneK, nullptr, {}}; }
  /// "f32[2,3]", "a sequence of 3 tensors", "an empty optional".
  std::string str() const;
};

/// Input I of C's node as an item; fails (sticky) when it is undefined.
std::optional<Item> itemIn(NodeContext &C, unsigned I);
/// Sets output I of C's node to It (ignored when the output is not wanted).
void setItemOutput(NodeContext &C, unsigned I, const Item &It);

/// Imports subgraph G (attribute Attr of C's node) with its formal inputs
/// bound to Args and returns its outputs. A node of G that fails fails C's
/// node with the message prefixed by where it is in the subgraph. Its ops
/// go into Into when given (a region being built: ImportRegion.h), else
/// into C's function.
std::optional<std::vector<Item>>
importSubgraph(NodeContext &C, llvm::StringRef Attr, const onnx::GraphProto &G,
               llvm::ArrayRef<Item> Args, Function *Into = nullptr);

/// Unrolling limit: iterations times nodes per iteration.
constexpr int64_t MaxUnrolledNodes = 1 << 16;

} // namespace onnximp
} // namespace dlc

#endif
