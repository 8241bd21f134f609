// Subgraph import: a nested value scope over the ValueTable, and the node
// loop for a subgraph (the same steps as the top-level driver: look up the
// converter, convert, check the outputs, record shape computations).
#include "frontend/onnx/Subgraph.h"

#include "frontend/onnx/OnnxTensor.h"

using namespace dlc;
using namespace dlc::onnximp;

std::string Item::str() const {
  switch (Kind) {
  case TensorK:
    return T ? T->Type.str() : "<undefined>";
  case SequenceK:
    return "a sequence of " + std::to_string(Seq.size()) + " tensors";
  case NoneK:
    return "an empty optional";
  }
  return "";
}

std::optional<Item> onnximp::itemIn(NodeContext &C, unsigned I) {
  if (!C.has(I)) {
    C.fail("input " + llvm::Twine(I) + " is required");
    return std::nullopt;
  }
  ValueTable &VT = C.values();
  llvm::StringRef Name = C.Node.input(I);
  if (Value *V = VT.Values.lookup(Name))
    return Item::tensor(V);
  auto S = VT.Sequences.find(Name);
  if (S != VT.Sequences.end())
    return Item::sequence(S->second);
  if (VT.Nones.count(Name))
    return Item::none();
  C.fail("input '" + Name + "' is not defined before this node");
  return std::nullopt;
}

void onnximp::setItemOutput(NodeContext &C, unsigned I, const Item &It) {
  switch (It.Kind) {
  case Item::TensorK:
    return C.setOutput(I, It.T);
  case Item::SequenceK:
    return C.setSeqOutput(I, It.Seq);
  case Item::NoneK:
    if (C.wantsOutput(I))
      C.values().Nones.insert(C.Node.output(I));
    return;
  }
}

namespace {

/// Binds Name to It in VT, replacing whatever Name was bound to.
void bindItem(ValueTable &VT, llvm::StringRef Name, const Item &It) {
  VT.Values.erase(Name);
  VT.Sequences.erase(Name);
  VT.Nones.erase(Name);
  switch (It.Kind) {
  case Item::TensorK:
    VT.Values[Name] = It.T;
    return;
  case Item::SequenceK:
    VT.Sequences[Name] = It.Seq;
    return;
  case Item::NoneK:
    VT.Nones.insert(Name);
    return;
  }
}

/// A nested scope: names shadowed in it get their outer binding (or none)
/// back when the scope ends.
class ValueScope {
public:
  explicit ValueScope(ValueTable &VT) : VT(VT) {}
  ValueScope(const ValueScope &) = delete;
  ValueScope &operator=(const ValueScope &) = delete;

  /// Hides the outer binding of Name (once per name).
  void shadow(llvm::StringRef Name) {
    if (Name.empty() || !Seen.insert(Name).second)
      return;
    Saved S;
    S.Name = Name.str();
    if (Value *V = VT.Values.lookup(Name))
      S.Outer = Item::tensor(V);
    else if (VT.Sequences.count(Name))
      S.Outer = Item::sequence(VT.Sequences[Name]);
    else if (VT.Nones.count(Name))
      S.Outer = Item::none();
    S.Poisoned = VT.Poisoned.erase(Name);
    VT.Values.erase(Name);
    VT.Sequences.erase(Name);
    VT.Nones.erase(Name);
    Saves.push_back(std::move(S));
  }

  ~ValueScope() {
    for (Saved &S : Saves) {
      VT.Values.erase(S.Name);
      VT.Sequences.erase(S.Name);
      VT.Nones.erase(S.Name);
      VT.Poisoned.erase(S.Name);
      if (S.Outer)
        bindItem(VT, S.Name, *S.Outer);
      if (S.Poisoned)
        VT.Poisoned.insert(S.Name);
    }
  }

private:
  struct Saved {
    std::string Name;
    std::optional<Item> Outer;
    bool Poisoned = false;
  };
  ValueTable &VT;
  llvm::StringSet<> Seen;
  std::vector<Saved> Saves;
};

std::string nodeName(const onnx::NodeProto &N, int Index) {
  return (N.name().empty() ? "#" + std::to_string(Index)
                           : "'" + N.name() + "'") +
         " (" + N.op_type() + ")";
}

} // namespace

std::optional<std::vector<Item>>
onnximp::importSubgraph(NodeContext &C, llvm::StringRef Attr,
                        const onnx::GraphProto &G, llvm::ArrayRef<Item> Args,
                        Function *Into) {
  Function &Target = Into ? *Into : C.function();
  std::string In = "in subgraph '" + Attr.str() + "'";
  if (G.input_size() != int(Args.size())) {
    C.fail(In + ": it has " + llvm::Twine(G.input_size()) +
           " inputs, but the node passes " + llvm::Twine(Args.size()));
    return std::nullopt;
  }
  if (G.sparse_initializer_size()) {
    C.fail(In + ": sparse initializers are not supported");
    return std::nullopt;
  }
  ValueTable &VT = C.values();
  ValueScope Scope(VT);
  for (const auto &I : G.input())
    Scope.shadow(I.name());
  for (const auto &I : G.initializer())
    Scope.shadow(I.name());
  for (const auto &N : G.node())
    for (const auto &O : N.output())
      Scope.shadow(O);

  for (int K = 0; K < G.input_size(); ++K)
    bindItem(VT, G.input(K).name(), Args[K]);
  NodeContext Init(Target, VT, C.Node, C.Opset, C.L);
  for (const auto &I : G.initializer()) {
    auto T = tensorFromProto(I, ".");
    if (!T) {
      C.fail(In + ": initializer '" + I.name() +
             "': " + llvm::toString(T.takeError()));
      return std::nullopt;
    }
    VT.Values[I.name()] = Init.constant(std::move(*T));
  }

  int Index = 0;
  for (const auto &N : G.node()) {
    std::string Where = In + ", node " + nodeName(N, Index++) + ": ";
    std::string Why;
    const OpEntry *E = findConverter(N, C.Opset, Why);
    if (!E) {
      C.fail(Where + Why);
      return std::nullopt;
    }
    for (const auto &O : N.output())
      if (!O.empty() && VT.defines(O)) {
        C.fail(Where + "output '" + O + "' is already defined");
        return std::nullopt;
      }
    NodeContext Sub(Target, VT, N, C.Opset, C.L);
    runConverter(Sub, *E);
    if (Sub.failed()) {
      C.fail(Where + Sub.error());
      return std::nullopt;
    }
    Sub.trackShapes();
  }

  std::vector<Item> Out;
  for (const auto &O : G.output()) {
    llvm::StringRef Name = O.name();
    if (Value *V = VT.Values.lookup(Name))
      Out.push_back(Item::tensor(V));
    else if (VT.Sequences.count(Name))
      Out.push_back(Item::sequence(VT.Sequences[Name]));
    else if (VT.Nones.count(Name))
      Out.push_back(Item::none());
    else {
      C.fail(In + ": output '" + Name + "' is not defined");
      return std::nullopt;
    }
  }
  return Out;
}
