// Bit-exact conversions between double and dlc's storage-only narrow
// element types (8- and 4-bit floats, 4- and 2-bit integers): the reference
// semantics that the interpreter uses and the code generator must match.
#ifndef DLC_IR_LOWPRECISION_H
#define DLC_IR_LOWPRECISION_H

#include "ir/Types.h"

#include <cstdint>
#include <optional>

namespace dlc {

/// Rounding of a conversion to f8e8m0 (a power of two): `Up` rounds any
/// value that is not a power of two up, `Down` truncates, `Nearest` rounds
/// on the first dropped mantissa bit (as ONNX's reference does).
enum class E8M0Round { Up, Down, Nearest };
std::optional<E8M0Round> parseE8M0Round(llvm::StringRef S);

/// Layout of a narrow float type: mantissa bits, exponent bias, total bits,
/// the code of its largest finite magnitude, and its special values.
struct NarrowFloatFormat {
  unsigned Mant;
  int Bias;
  unsigned Bits;
  uint8_t MaxFinite; // magnitude code of the largest finite value
  bool FNUZ;         // no negative zero; 0x80 is the only NaN
  bool HasInf;       // e5m2: 0x7C is infinity
};

bool isNarrowFloat(DType T);  // the narrow types other than i4, u4, i2, u2
bool isNarrowInt(DType T);    // i4, u4, i2, u2
bool isNarrowSigned(DType T); // i4, i2
unsigned narrowBits(DType T); // 8, 4 or 2
/// The format of a narrow float type other than f8e8m0.
NarrowFloatFormat narrowFloatFormat(DType T);

/// The value of a narrow element's byte (a float's code, an integer's
/// sign- or zero-extended value). NaN for NaN codes.
double narrowToDouble(DType T, uint8_t Code);
/// The byte of a narrow element for value V. Floats round to nearest even;
/// out-of-range values and infinities become the largest finite value when
/// Saturate (always for f4e2m1), else infinity (f8e5m2) or NaN. Integers
/// truncate toward zero and wrap to their bit width, like casts between
/// integer types.
uint8_t narrowFromDouble(DType T, double V, bool Saturate = true,
                         E8M0Round Round = E8M0Round::Up);
/// Wraps an integer to a narrow integer type's byte (sign-extended for i4
/// and i2).
uint8_t narrowFromInt(DType T, int64_t V);

} // namespace dlc

#endif
