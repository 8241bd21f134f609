// Attribute constructors and structural equality.
#include "ir/Attribute.h"

#include <cstring>

using namespace dlc;

llvm::StringRef dlc::attrKindName(AttrKind K) {
  switch (K) {
  case AttrKind::Int: return "int";
  case AttrKind::Float: return "float";
  case AttrKind::String: return "string";
  case AttrKind::Bool: return "bool";
  case AttrKind::Type: return "type";
  case AttrKind::IntList: return "int list";
  case AttrKind::FloatList: return "float list";
  case AttrKind::StringList: return "string list";
  case AttrKind::Tensor: return "tensor";
  }
  llvm_unreachable("bad attribute kind");
}

Attribute Attribute::getInt(int64_t V) {
  Attribute A;
  A.Kind = AttrKind::Int;
  A.I = V;
  return A;
}
Attribute Attribute::getFloat(double V) {
  Attribute A;
  A.Kind = AttrKind::Float;
  A.F = V;
  return A;
}
Attribute Attribute::getString(llvm::StringRef V) {
  Attribute A;
  A.Kind = AttrKind::String;
  A.S = V.str();
  return A;
}
Attribute Attribute::getBool(bool V) {
  Attribute A;
  A.Kind = AttrKind::Bool;
  A.I = V;
  return A;
}
Attribute Attribute::getType(DType V) {
  Attribute A;
  A.Kind = AttrKind::Type;
  A.I = int64_t(V);
  return A;
}
Attribute Attribute::getInts(llvm::ArrayRef<int64_t> V) {
  Attribute A;
  A.Kind = AttrKind::IntList;
  A.Ints.assign(V.begin(), V.end());
  return A;
}
Attribute Attribute::getFloats(llvm::ArrayRef<double> V) {
  Attribute A;
  A.Kind = AttrKind::FloatList;
  A.Floats.assign(V.begin(), V.end());
  return A;
}
Attribute Attribute::getStrings(llvm::ArrayRef<std::string> V) {
  Attribute A;
  A.Kind = AttrKind::StringList;
  A.Strings.assign(V.begin(), V.end());
  return A;
}
Attribute Attribute::getTensor(TensorRef V, llvm::StringRef BlobName) {
  Attribute A;
  A.Kind = AttrKind::Tensor;
  A.T = std::move(V);
  A.S = BlobName.str();
  return A;
}

static bool sameBits(double A, double B) {
  return std::memcmp(&A, &B, sizeof(double)) == 0;
}

bool Attribute::operator==(const Attribute &O) const {
  if (Kind != O.Kind)
    return false;
  switch (Kind) {
  case AttrKind::Int:
  case AttrKind::Bool:
  case AttrKind::Type:
    return I == O.I;
  case AttrKind::Float:
    return sameBits(F, O.F);
  case AttrKind::String:
    return S == O.S;
  case AttrKind::IntList:
    return Ints == O.Ints;
  case AttrKind::FloatList:
    if (Floats.size() != O.Floats.size())
      return false;
    for (size_t K = 0; K < Floats.size(); ++K)
      if (!sameBits(Floats[K], O.Floats[K]))
        return false;
    return true;
  case AttrKind::StringList:
    return Strings == O.Strings;
  case AttrKind::Tensor:
    return S == O.S && (T == O.T || (T && O.T && *T == *O.T));
  }
  llvm_unreachable("bad attribute kind");
}
