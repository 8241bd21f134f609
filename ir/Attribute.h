// Attributes: the compile-time parameters of an op (`{axis = 1, pads = [...]}`).
#ifndef DLC_IR_ATTRIBUTE_H
#define DLC_IR_ATTRIBUTE_H

#include "ir/Tensor.h"

#include <string>
#include <vector>

namespace dlc {

enum class AttrKind : uint8_t {
  Int,
  Float,
  String,
  Bool,
  Type,
  IntList,
  FloatList,
  StringList,
  Tensor,
};

llvm::StringRef attrKindName(AttrKind K);

/// A tagged value. Tensor attributes share their data; a tensor may carry a
/// blob name, in which case the printer writes a reference to it instead of
/// its elements.
class Attribute {
public:
  Attribute() = default;
  static Attribute getInt(int64_t V);
  static Attribute getFloat(double V);
  static Attribute getString(llvm::StringRef V);
  static Attribute getBool(bool V);
  static Attribute getType(DType V);
  static Attribute getInts(llvm::ArrayRef<int64_t> V);
  static Attribute getFloats(llvm::ArrayRef<double> V);
  static Attribute getStrings(llvm::ArrayRef<std::string> V);
  static Attribute getTensor(TensorRef V, llvm::StringRef BlobName = {});

  AttrKind kind() const { return Kind; }
  int64_t getInt() const { return I; }
  double getFloat() const { return F; }
  bool getBool() const { return I != 0; }
  DType getType() const { return DType(I); }
  llvm::StringRef getString() const { return S; }
  llvm::ArrayRef<int64_t> getInts() const { return Ints; }
  llvm::ArrayRef<double> getFloats() const { return Floats; }
  llvm::ArrayRef<std::string> getStrings() const { return Strings; }
  const TensorRef &getTensor() const { return T; }
  /// For tensor attributes stored as a named blob, its name; else empty.
  llvm::StringRef blobName() const { return S; }

  bool operator==(const Attribute &O) const;
  bool operator!=(const Attribute &O) const { return !(*this == O); }

private:
  AttrKind Kind = AttrKind::Int;
  int64_t I = 0;
  double F = 0;
  std::string S;
  std::vector<int64_t> Ints;
  std::vector<double> Floats;
  std::vector<std::string> Strings;
  TensorRef T;
};

/// A named attribute; ops keep them sorted by name so printing is canonical.
struct NamedAttr {
  std::string Name;
  Attribute Value;
};

} // namespace dlc

#endif
