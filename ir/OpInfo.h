// OpKind and the static op table built from Ops.def.
#ifndef DLC_IR_OPINFO_H
#define DLC_IR_OPINFO_H

#include "ir/Attribute.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <optional>

namespace dlc {

enum class OpKind : uint16_t {
#define DLC_OP(Id, ...) Id,
#include "ir/Ops.def"
};

/// Op traits (bit flags), used by passes and checks.
enum OpTrait : unsigned {
  Elementwise = 1u << 0,  // result[i] depends only on operand elements at i
  Broadcast = 1u << 1,    // operands broadcast numpy-style
  Commutative = 1u << 2,  // binary, operands may be swapped
  Reduction = 1u << 3,    // reduces over axes
  Movement = 1u << 4,     // only moves or copies elements
  Composite = 1u << 5,    // decomposes into primitive ops
  NonDiff = 1u << 6,      // result has no gradient
  Random = 1u << 7,       // seeded random source
  FloatOnly = 1u << 8,    // operands must be floating point
  Bitwise = 1u << 9,      // operands bool (logical) or integer (bitwise)
  Compare = 1u << 10,     // produces bool from two equal-typed operands
  AnyType = 1u << 11,     // no element-type restriction beyond the shape rule
  Loss = 1u << 12,        // a loss function
  Strings = 1u << 13,     // may take or make `str` tensors (no other op may)
  Collective = 1u << 14,  // communicates with the other ranks: a host step,
                          // never folded, fused or merged with a copy
  DataShape = 1u << 15,   // result sizes come from operand values: a host
                          // step, planned once those values are known
  ControlFlow = 1u << 16, // has regions (ir/ControlFlow.h): a host step that
                          // runs them; never folded, fused or CSE'd
};

struct AttrSpec {
  llvm::StringRef Name;
  AttrKind Kind;
  const char *Default; // text syntax; nullptr when required, "" optional

  bool isRequired() const { return !Default; }
  /// Optional with no default: absent means "not given".
  bool isOptional() const { return Default && !*Default; }
  bool hasDefault() const { return Default && *Default; }
};

/// The one attribute every op may carry besides its own: the fusion group
/// (an int, > 0) that `--fuse` assigns; ops with the same value run as one
/// kernel. Not part of any op's Attrs list.
constexpr llvm::StringLiteral FusionAttr = "fusion";

struct OpInfo {
  OpKind Kind;
  llvm::StringRef Mnemonic;
  int MinOperands;
  int MaxOperands; // -1: variadic
  int NumResults;  // -1: variadic
  unsigned Traits;
  llvm::StringRef Summary;
  llvm::StringRef ExampleOperands; // ';'-separated operand types
  llvm::StringRef ExampleAttrs;
  llvm::StringRef ExampleResults;  // ';'-separated result types
  llvm::ArrayRef<AttrSpec> Attrs;

  bool has(OpTrait T) const { return Traits & T; }
  /// The op's attribute Name, or the fusion annotation (FusionAttr).
  const AttrSpec *findAttr(llvm::StringRef Name) const;
};

constexpr unsigned NumOpKinds = 0
#define DLC_OP(Id, ...) +1
#include "ir/Ops.def"
    ;

const OpInfo &getOpInfo(OpKind K);
llvm::ArrayRef<OpInfo> allOps();
std::optional<OpKind> lookupOp(llvm::StringRef Mnemonic);

} // namespace dlc

#endif
