// The graph IR: SSA values of tensor type, ops, functions and modules.
#ifndef DLC_IR_IR_H
#define DLC_IR_IR_H

#include "ir/Attribute.h"
#include "ir/Location.h"
#include "ir/OpInfo.h"

#include "llvm/ADT/DenseMap.h"

#include <list>
#include <memory>
#include <optional>

namespace dlc {

class Operation;
class Function;

/// An SSA value: a function input, a parameter (trainable weight), or an
/// op result.
class Value {
public:
  TensorType Type;
  /// Name hint from the source (`%logits`, an ONNX tensor name); may be empty.
  std::string Name;
  Operation *Def = nullptr; // defining op, null for inputs and params
  unsigned ResultNo = 0;
  Loc L;
};

class Operation {
public:
  Operation(OpKind K, Loc Where = {}) : L(std::move(Where)), Kind(K) {}
  ~Operation();

  OpKind kind() const { return Kind; }
  const OpInfo &info() const { return getOpInfo(Kind); }
  llvm::StringRef mnemonic() const { return info().Mnemonic; }

  unsigned numOperands() const { return Operands.size(); }
  Value *operand(unsigned I) const { return Operands[I]; }
  unsigned numResults() const { return Results.size(); }
  Value *result(unsigned I = 0) const { return Results[I].get(); }
  Value *addResult(TensorType T);

  /// Attributes set on this op, sorted by name.
  llvm::ArrayRef<NamedAttr> attrs() const { return Attrs; }
  const Attribute *findAttr(llvm::StringRef Name) const;
  void setAttr(llvm::StringRef Name, Attribute A);
  void removeAttr(llvm::StringRef Name);
  /// The attribute's value, or the op table's default when it is not set.
  /// Asserts that the table declares the attribute.
  const Attribute &attr(llvm::StringRef Name) const;
  int64_t getInt(llvm::StringRef N) const { return attr(N).getInt(); }
  double getFloat(llvm::StringRef N) const { return attr(N).getFloat(); }
  bool getBool(llvm::StringRef N) const { return attr(N).getBool(); }
  DType getType(llvm::StringRef N) const { return attr(N).getType(); }
  llvm::StringRef getString(llvm::StringRef N) const {
    return attr(N).getString();
  }
  llvm::ArrayRef<int64_t> getInts(llvm::StringRef N) const {
    return attr(N).getInts();
  }

  llvm::SmallVector<Value *, 4> Operands;
  llvm::SmallVector<std::unique_ptr<Value>, 1> Results;
  /// The regions of a control-flow op (if: then, else; loop, scan: body):
  /// closed nested functions that see only their own inputs, which the op
  /// binds from its operands (see ir/ControlFlow.h). Empty for other ops.
  std::vector<std::unique_ptr<Function>> Regions;
  Loc L;

private:
  OpKind Kind;
  std::vector<NamedAttr> Attrs;
};

/// A function: inputs, parameters (trainable weights with an optional
/// initial value), a body of ops in SSA order, and named outputs.
class Function {
public:
  std::string Name;
  std::vector<std::unique_ptr<Value>> Inputs;
  std::vector<std::unique_ptr<Value>> Params;
  /// Initial value per parameter (a tensor attribute), or none.
  std::vector<std::optional<Attribute>> ParamInits;
  std::list<std::unique_ptr<Operation>> Body;
  std::vector<Value *> Outputs;
  std::vector<std::string> OutputNames;
  Loc L;

  Value *addInput(llvm::StringRef Name, TensorType T);
  Value *addParam(llvm::StringRef Name, TensorType T,
                  std::optional<Attribute> Init = std::nullopt);
  void addOutput(llvm::StringRef Name, Value *V);

  /// Replaces every use of From (operands and outputs) by To.
  void replaceAllUses(Value *From, Value *To);
  /// Number of uses of each value, outputs included.
  llvm::DenseMap<const Value *, unsigned> countUses() const;
  /// A deep copy named NewName: new values, same types, names, attributes
  /// and locations; tensor attributes share their (immutable) data.
  std::unique_ptr<Function> clone(llvm::StringRef NewName) const;
};

class Module {
public:
  std::vector<std::unique_ptr<Function>> Functions;
  /// The weights side file that `resource<...>` tensors come from, as
  /// written after `weights` in the text; empty when everything is inline.
  std::string WeightsFile;
  Function *lookup(llvm::StringRef Name) const;
  Function *addFunction(llvm::StringRef Name);
};

/// Batched replaceAllUses for passes that walk a function in order: record
/// replacements, remap each op's operands when the walk reaches it, and
/// remap everything once at the end. Linear, where one replaceAllUses per
/// rewrite would be quadratic. Ops whose results were replaced must stay
/// alive until finish(): a freed value's address may be reused by a new one.
class ValueReplacer {
public:
  void replace(Value *From, Value *To) { Map[From] = To; }
  /// The value V now stands for (following chains of replacements).
  Value *lookup(Value *V) const;
  void remapOperands(Operation &Op) const;
  /// Remaps every operand and output of F.
  void finish(Function &F) const;

private:
  llvm::DenseMap<Value *, Value *> Map;
};

/// Inserts new ops into a function at a fixed point, inferring result types.
class OpBuilder {
public:
  OpBuilder(Function &F, std::list<std::unique_ptr<Operation>>::iterator IP,
            Loc L = {})
      : F(F), IP(IP), L(std::move(L)) {}
  /// Builds an op with shape-inferred results. Errors come from shape
  /// inference (for example non-broadcastable operands).
  llvm::Expected<Operation *> tryCreate(OpKind K,
                                        llvm::ArrayRef<Value *> Operands,
                                        std::vector<NamedAttr> Attrs = {});
  /// As tryCreate, for ops known to be valid; returns the first result.
  Value *create(OpKind K, llvm::ArrayRef<Value *> Operands,
                std::vector<NamedAttr> Attrs = {});
  Value *constant(Tensor T);
  Value *scalar(DType E, double V);
  void setLoc(Loc NewL) { L = std::move(NewL); }

private:
  Function &F;
  std::list<std::unique_ptr<Operation>>::iterator IP;
  Loc L;
};

/// Whether an operand or result of Op is a `str` tensor. Such ops are never
/// fused or compiled: they run on the host (see exec/Steps.h).
bool touchesStrings(const Operation &Op);
/// Whether Op runs as a host step (exec/Steps.h): it touches strings, or it
/// is a collective (all_reduce_sum), which calls the run's communicator.
bool runsOnHost(const Operation &Op);

} // namespace dlc

#endif
