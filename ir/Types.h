// Element types, dimensions (static, symbolic or unknown) and tensor types.
#ifndef DLC_IR_TYPES_H
#define DLC_IR_TYPES_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <string>

namespace dlc {

/// Element types. The X-macro keeps mnemonic, byte size and class together.
/// `str` (a byte string, UTF-8 by convention) has no inline byte size: a
/// Tensor keeps its elements as std::strings, compiled code never sees them
/// (ops on strings run as host steps, see exec/Steps.h), and dtypeSize is 0.
/// The Narrow types (8-, 4- and 2-bit floats, 4- and 2-bit integers) are
/// storage-only: one byte per element in every dlc buffer (a float's bit
/// code in the low bits; an integer's value, sign- or zero-extended), moved
/// by data-movement ops and converted by `cast` (see ir/LowPrecision.h).
#define DLC_DTYPES(X)                                                          \
  X(F32, "f32", 4, Float)                                                      \
  X(F64, "f64", 8, Float)                                                      \
  X(F16, "f16", 2, Float)                                                      \
  X(BF16, "bf16", 2, Float)                                                    \
  X(I8, "i8", 1, SignedInt)                                                    \
  X(I16, "i16", 2, SignedInt)                                                  \
  X(I32, "i32", 4, SignedInt)                                                  \
  X(I64, "i64", 8, SignedInt)                                                  \
  X(U8, "u8", 1, UnsignedInt)                                                  \
  X(U16, "u16", 2, UnsignedInt)                                                \
  X(U32, "u32", 4, UnsignedInt)                                                \
  X(U64, "u64", 8, UnsignedInt)                                                \
  X(Bool, "bool", 1, Bool)                                                     \
  X(F8E4M3FN, "f8e4m3fn", 1, Narrow)                                           \
  X(F8E4M3FNUZ, "f8e4m3fnuz", 1, Narrow)                                       \
  X(F8E5M2, "f8e5m2", 1, Narrow)                                               \
  X(F8E5M2FNUZ, "f8e5m2fnuz", 1, Narrow)                                       \
  X(F8E8M0, "f8e8m0", 1, Narrow)                                               \
  X(F4E2M1, "f4e2m1", 1, Narrow)                                               \
  X(I4, "i4", 1, Narrow)                                                       \
  X(U4, "u4", 1, Narrow)                                                       \
  X(I2, "i2", 1, Narrow)                                                       \
  X(U2, "u2", 1, Narrow)                                                       \
  X(Str, "str", 0, String)

enum class DType : uint8_t {
#define X(Id, Name, Size, Class) Id,
  DLC_DTYPES(X)
#undef X
};

constexpr unsigned NumDTypes = 24;

llvm::StringRef dtypeName(DType T);
std::optional<DType> parseDType(llvm::StringRef Name);
unsigned dtypeSize(DType T);
bool isFloat(DType T);
bool isInteger(DType T); // signed or unsigned, not bool
bool isSigned(DType T);
inline bool isString(DType T) { return T == DType::Str; }
bool isNarrow(DType T); // storage-only low-precision type

/// One dimension of a tensor type: a number, a named symbol (`N`), or
/// unknown (`?`, a size only known at run time).
class Dim {
public:
  static Dim fixed(int64_t N) { return Dim(N, {}); }
  static Dim symbol(llvm::StringRef S) { return Dim(-1, S.str()); }
  static Dim unknown() { return Dim(-1, {}); }

  bool isStatic() const { return Size >= 0; }
  bool isSymbol() const { return Size < 0 && !Sym.empty(); }
  bool isUnknown() const { return Size < 0 && Sym.empty(); }
  int64_t size() const { return Size; }
  llvm::StringRef sym() const { return Sym; }
  std::string str() const;

  bool operator==(const Dim &O) const { return Size == O.Size && Sym == O.Sym; }
  bool operator!=(const Dim &O) const { return !(*this == O); }

private:
  Dim(int64_t N, std::string S) : Size(N), Sym(std::move(S)) {}
  int64_t Size;
  std::string Sym;
};

using Shape = llvm::SmallVector<Dim, 4>;

/// A ranked tensor type such as `f32[N,1,28,28]`; rank 0 prints as `f32[]`.
class TensorType {
public:
  TensorType() = default;
  TensorType(DType E, Shape S) : Elem(E), Dims(std::move(S)) {}
  static TensorType get(DType E, llvm::ArrayRef<int64_t> Sizes);

  DType elem() const { return Elem; }
  const Shape &dims() const { return Dims; }
  unsigned rank() const { return Dims.size(); }
  const Dim &dim(unsigned I) const { return Dims[I]; }
  bool isStatic() const;
  /// Number of elements when every dim is static.
  std::optional<int64_t> numElements() const;
  llvm::SmallVector<int64_t, 4> staticSizes() const; // requires isStatic()
  std::string str() const;

  bool operator==(const TensorType &O) const {
    return Elem == O.Elem && Dims == O.Dims;
  }
  bool operator!=(const TensorType &O) const { return !(*this == O); }

private:
  DType Elem = DType::F32;
  Shape Dims;
};

/// True when two types can describe the same run-time tensor: same element
/// type and rank, and every pair of dims equal or involving an unknown `?`.
bool compatible(const TensorType &A, const TensorType &B);

/// Largest element count dlc accepts in a static shape (2^40).
constexpr int64_t MaxElements = int64_t(1) << 40;

} // namespace dlc

#endif
