// Element type tables and tensor type helpers.
#include "ir/Types.h"

#include "llvm/ADT/StringSwitch.h"

using namespace dlc;

llvm::StringRef dlc::dtypeName(DType T) {
  switch (T) {
#define X(Id, Name, Size, Class)                                               \
  case DType::Id:                                                              \
    return Name;
    DLC_DTYPES(X)
#undef X
  }
  llvm_unreachable("bad dtype");
}

std::optional<DType> dlc::parseDType(llvm::StringRef Name) {
#define X(Id, N, Size, Class)                                                  \
  if (Name == N)                                                               \
    return DType::Id;
  DLC_DTYPES(X)
#undef X
  return std::nullopt;
}

unsigned dlc::dtypeSize(DType T) {
  switch (T) {
#define X(Id, Name, Size, Class)                                               \
  case DType::Id:                                                              \
    return Size;
    DLC_DTYPES(X)
#undef X
  }
  llvm_unreachable("bad dtype");
}

namespace {
enum class DClass { Float, SignedInt, UnsignedInt, Bool, Narrow, String };
DClass dclass(DType T) {
  switch (T) {
#define X(Id, Name, Size, Class)                                               \
  case DType::Id:                                                              \
    return DClass::Class;
    DLC_DTYPES(X)
#undef X
  }
  llvm_unreachable("bad dtype");
}
} // namespace

bool dlc::isFloat(DType T) { return dclass(T) == DClass::Float; }
bool dlc::isInteger(DType T) {
  return dclass(T) == DClass::SignedInt || dclass(T) == DClass::UnsignedInt;
}
bool dlc::isSigned(DType T) { return dclass(T) == DClass::SignedInt; }
bool dlc::isNarrow(DType T) { return dclass(T) == DClass::Narrow; }

std::string Dim::str() const {
  if (isStatic())
    return std::to_string(Size);
  if (isSymbol())
    return Sym;
  return "?";
}

TensorType TensorType::get(DType E, llvm::ArrayRef<int64_t> Sizes) {
  Shape S;
  for (int64_t N : Sizes)
    S.push_back(Dim::fixed(N));
  return TensorType(E, std::move(S));
}

bool TensorType::isStatic() const {
  for (const Dim &D : Dims)
    if (!D.isStatic())
      return false;
  return true;
}

std::optional<int64_t> TensorType::numElements() const {
  int64_t N = 1;
  for (const Dim &D : Dims) {
    if (!D.isStatic())
      return std::nullopt;
    if (D.size() != 0 && N > MaxElements / D.size())
      return MaxElements + 1;
    N *= D.size();
  }
  return N;
}

llvm::SmallVector<int64_t, 4> TensorType::staticSizes() const {
  llvm::SmallVector<int64_t, 4> R;
  for (const Dim &D : Dims) {
    assert(D.isStatic() && "staticSizes on a dynamic type");
    R.push_back(D.size());
  }
  return R;
}

std::string TensorType::str() const {
  std::string S = dtypeName(Elem).str() + "[";
  for (unsigned I = 0; I < Dims.size(); ++I) {
    if (I)
      S += ",";
    S += Dims[I].str();
  }
  return S + "]";
}

bool dlc::compatible(const TensorType &A, const TensorType &B) {
  if (A.elem() != B.elem() || A.rank() != B.rank())
    return false;
  for (unsigned I = 0; I < A.rank(); ++I)
    if (!A.dim(I).isUnknown() && !B.dim(I).isUnknown() && A.dim(I) != B.dim(I))
      return false;
  return true;
}
