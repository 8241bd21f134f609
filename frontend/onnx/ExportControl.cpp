// Export of the control-flow ops (ir/ControlFlow.h) as ONNX If, Loop and
// Scan. A region becomes a subgraph attribute: its leading inputs (a loop's
// iteration and condition and carried values, a scan's states and slices)
// are the subgraph's formal inputs, and its captures, which dlc passes as
// operands, are read from the outer graph by name, as ONNX subgraphs do.
#include "frontend/onnx/ExportContext.h"

#include "llvm/ADT/DenseSet.h"

using namespace dlc;
using namespace dlc::onnxexp;

namespace {


/// Writes region R into G: its first NFormal inputs become G's inputs, the
/// others are the outer values named Outer.
std::optional<std::string> writeRegion(ExportContext &Parent,
                                       const Function &R, unsigned NFormal,
                                       llvm::ArrayRef<std::string> Outer,
                                       onnx::GraphProto &G) {
  G.set_name(Parent.unique(R.Name));
  ExportContext C(G, Parent);
  for (unsigned I = 0; I < R.Inputs.size(); ++I) {
    const Value *V = R.Inputs[I].get();
    if (I >= NFormal) {
      C.bind(V, Outer[I - NFormal]);
      continue;
    }
    std::string N = C.unique(V->Name.empty() ? "in" : V->Name);
    C.bind(V, N);
    setValueInfo(*G.add_input(), N, V->Type);
  }
  // The ops the region's results depend on, in order.
  llvm::DenseSet<const Value *> Live(R.Outputs.begin(), R.Outputs.end());
  std::vector<const Operation *> Ops;
  for (auto It = R.Body.rbegin(); It != R.Body.rend(); ++It) {
    bool Used = false;
    for (auto &Res : (*It)->Results)
      Used |= Live.count(Res.get()) > 0;
    if (!Used)
      continue;
    Ops.push_back(It->get());
    Live.insert((*It)->Operands.begin(), (*It)->Operands.end());
  }
  std::reverse(Ops.begin(), Ops.end());
  std::vector<std::string> OutNames;
  llvm::DenseSet<const Value *> Direct;
  for (size_t I = 0; I < R.Outputs.size(); ++I) {
    const Value *V = R.Outputs[I];
    std::string N = C.unique(R.OutputNames[I].empty() ? "out"
                                                       : R.OutputNames[I]);
    OutNames.push_back(N);
    if (V->Def && Direct.insert(V).second)
      C.bind(V, N);
  }
  for (const Operation *Op : Ops)
    if (auto Why = exportOp(C, *Op))
      return "in region '" + R.Name + "', '" + Op->mnemonic().str() +
             "': " + *Why;
  for (size_t I = 0; I < R.Outputs.size(); ++I) {
    const Value *V = R.Outputs[I];
    if (C.name(V) != OutNames[I])
      C.node("Identity", {C.name(V)}, {OutNames[I]});
    setValueInfo(*G.add_output(), OutNames[I], V->Type);
  }
  return std::nullopt;
}

onnx::GraphProto &graphAttr(onnx::NodeProto &N, llvm::StringRef Name) {
  onnx::AttributeProto &A = *N.add_attribute();
  A.set_name(Name.str());
  A.set_type(onnx::AttributeProto::GRAPH);
  return *A.mutable_g();
}

} // namespace

std::optional<std::string> onnxexp::exportControlFlow(ExportContext &C,
                                                      const Operation &Op) {
  // Operands before the captures; the captures by their outer names.
  unsigned Lead = 1;
  if (Op.kind() == OpKind::Loop)
    Lead = 2 + Op.getInt("num_carried");
  else if (Op.kind() == OpKind::Scan)
    Lead = Op.getInt("num_states") + Op.getInt("num_scan_inputs");
  std::vector<std::string> Ins, Caps, Outs;
  for (unsigned I = 0; I < Op.numOperands(); ++I)
    (I < Lead ? Ins : Caps).push_back(C.name(Op.operand(I)));
  for (auto &R : Op.Results)
    Outs.push_back(C.name(R.get()));
  switch (Op.kind()) {
  case OpKind::If: {
    onnx::NodeProto N;
    N.set_op_type("If");
    N.set_name(Outs.empty() ? C.unique("if") : Outs[0]);
    N.add_input(Ins[0]);
    for (const std::string &O : Outs)
      N.add_output(O);
    for (unsigned K = 0; K < 2; ++K)
      if (auto Why = writeRegion(C, *Op.Regions[K], 0, Caps,
                                 graphAttr(N, K ? "else_branch"
                                                : "then_branch")))
        return Why;
    onnx::NodeProto &Dst = C.node("If", {}, {});
    Dst = std::move(N);
    return std::nullopt;
  }
  case OpKind::Loop:
  case OpKind::Scan: {
    bool IsLoop = Op.kind() == OpKind::Loop;
    onnx::NodeProto N;
    N.set_op_type(IsLoop ? "Loop" : "Scan");
    N.set_name(Outs.empty() ? C.unique(IsLoop ? "loop" : "scan") : Outs[0]);
    for (const std::string &I : Ins)
      N.add_input(I);
    for (const std::string &O : Outs)
      N.add_output(O);
    if (auto Why = writeRegion(C, *Op.Regions[0], Lead, Caps,
                               graphAttr(N, "body")))
      return Why;
    if (!IsLoop) {
      attrInt(N, "num_scan_inputs", Op.getInt("num_scan_inputs"));
      attrIntsIfAny(N, "scan_input_axes", Op.getInts("scan_input_axes"));
      attrIntsIfAny(N, "scan_input_directions",
                    Op.getInts("scan_input_directions"));
      attrIntsIfAny(N, "scan_output_axes", Op.getInts("scan_output_axes"));
      attrIntsIfAny(N, "scan_output_directions",
                    Op.getInts("scan_output_directions"));
    }
    onnx::NodeProto &Dst = C.node(IsLoop ? "Loop" : "Scan", {}, {});
    Dst = std::move(N);
    return std::nullopt;
  }
  default:
    return std::string("not a control-flow op");
  }
}
