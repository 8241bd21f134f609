// Tensor storage, element conversion and half-precision helpers.
#include "ir/Tensor.h"
#include "ir/LowPrecision.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace dlc;

uint16_t dlc::floatToHalf(float F) {
  uint32_t X;
  std::memcpy(&X, &F, 4);
  uint32_t Sign = (X >> 16) & 0x8000;
  uint32_t Exp = (X >> 23) & 0xff;
  uint32_t Man = X & 0x7fffff;
  if (Exp == 0xff) // inf or nan
    return Sign | 0x7c00 | (Man ? 0x200 : 0);
  int E = int(Exp) - 127 + 15;
  if (E >= 0x1f)
    return Sign | 0x7c00;
  if (E <= 0) {
    if (E < -10)
      return Sign;
    Man |= 0x800000;
    unsigned Shift = 14 - E;
    uint32_t Half = Man >> Shift;
    uint32_t Rem = Man & ((1u << Shift) - 1);
    uint32_t Mid = 1u << (Shift - 1);
    if (Rem > Mid || (Rem == Mid && (Half & 1)))
      ++Half;
    return Sign | Half;
  }
  uint32_t Half = (uint32_t(E) << 10) | (Man >> 13);
  uint32_t Rem = Man & 0x1fff;
  if (Rem > 0x1000 || (Rem == 0x1000 && (Half & 1)))
    ++Half; // may carry into the exponent, which is still correct
  return Sign | Half;
}

float dlc::halfToFloat(uint16_t H) {
  uint32_t Sign = uint32_t(H & 0x8000) << 16;
  uint32_t Exp = (H >> 10) & 0x1f;
  uint32_t Man = H & 0x3ff;
  uint32_t X;
  if (Exp == 0) {
    if (Man == 0) {
      X = Sign;
    } else {
      int E = -1;
      do {
        ++E;
        Man <<= 1;
      } while (!(Man & 0x400));
      X = Sign | uint32_t(127 - 15 - E) << 23 | (Man & 0x3ff) << 13;
    }
  } else if (Exp == 0x1f) {
    X = Sign | 0x7f800000 | Man << 13;
  } else {
    X = Sign | (Exp - 15 + 127) << 23 | Man << 13;
  }
  float F;
  std::memcpy(&F, &X, 4);
  return F;
}

uint16_t dlc::floatToBF16(float F) {
  uint32_t X;
  std::memcpy(&X, &F, 4);
  if (std::isnan(F))
    return (X >> 16) | 0x40;
  uint32_t Round = 0x7fff + ((X >> 16) & 1);
  return uint16_t((X + Round) >> 16);
}

float dlc::bf16ToFloat(uint16_t H) {
  uint32_t X = uint32_t(H) << 16;
  float F;
  std::memcpy(&F, &X, 4);
  return F;
}

Tensor::Tensor(DType E, llvm::ArrayRef<int64_t> Shape)
    : Elem(E), Sizes(Shape.begin(), Shape.end()) {
  if (E == DType::Str)
    Strs.assign(size_t(numElements()), std::string());
  else
    Bytes.assign(size_t(numElements()) * dtypeSize(E), 0);
}

Tensor Tensor::reshaped(llvm::ArrayRef<int64_t> Shape) const {
  Tensor R = *this;
  R.Sizes.assign(Shape.begin(), Shape.end());
  assert(R.numElements() == numElements() && "reshape changes the count");
  return R;
}

int64_t Tensor::numElements() const {
  int64_t N = 1;
  for (int64_t S : Sizes)
    N *= S;
  return N;
}

llvm::SmallVector<int64_t, 4> Tensor::strides() const {
  llvm::SmallVector<int64_t, 4> S(Sizes.size(), 1);
  for (int I = int(Sizes.size()) - 2; I >= 0; --I)
    S[I] = S[I + 1] * Sizes[I + 1];
  return S;
}

double Tensor::getF(int64_t I) const {
  switch (Elem) {
  case DType::F32: return as<float>()[I];
  case DType::F64: return as<double>()[I];
  case DType::F16: return halfToFloat(as<uint16_t>()[I]);
  case DType::BF16: return bf16ToFloat(as<uint16_t>()[I]);
  case DType::I8: return as<int8_t>()[I];
  case DType::I16: return as<int16_t>()[I];
  case DType::I32: return as<int32_t>()[I];
  case DType::I64: return double(as<int64_t>()[I]);
  case DType::U8: return as<uint8_t>()[I];
  case DType::U16: return as<uint16_t>()[I];
  case DType::U32: return as<uint32_t>()[I];
  case DType::U64: return double(as<uint64_t>()[I]);
  case DType::Bool: return as<uint8_t>()[I] ? 1.0 : 0.0;
  case DType::Str: break; // callers dispatch on string tensors first
  case DType::F8E4M3FN: case DType::F8E4M3FNUZ: case DType::F8E5M2:
  case DType::F8E5M2FNUZ: case DType::F8E8M0: case DType::F4E2M1:
  case DType::I4: case DType::U4: case DType::I2: case DType::U2:
    return narrowToDouble(Elem, as<uint8_t>()[I]);
  }
  llvm_unreachable("numeric access to a string tensor or a bad dtype");
}

/// Float to integer conversion that saturates instead of invoking undefined
/// behaviour for NaN or out-of-range values (NaN becomes 0).
template <typename T> static T saturate(double V) {
  if (std::isnan(V))
    return 0;
  if (V <= double(std::numeric_limits<T>::min()))
    return std::numeric_limits<T>::min();
  if (V >= double(std::numeric_limits<T>::max()))
    return std::numeric_limits<T>::max();
  return T(V);
}

void Tensor::setF(int64_t I, double V) {
  switch (Elem) {
  case DType::F32: as<float>()[I] = float(V); return;
  case DType::F64: as<double>()[I] = V; return;
  case DType::F16: as<uint16_t>()[I] = floatToHalf(float(V)); return;
  case DType::BF16: as<uint16_t>()[I] = floatToBF16(float(V)); return;
  case DType::I8: as<int8_t>()[I] = saturate<int8_t>(V); return;
  case DType::I16: as<int16_t>()[I] = saturate<int16_t>(V); return;
  case DType::I32: as<int32_t>()[I] = saturate<int32_t>(V); return;
  case DType::I64: as<int64_t>()[I] = saturate<int64_t>(V); return;
  case DType::U8: as<uint8_t>()[I] = saturate<uint8_t>(V); return;
  case DType::U16: as<uint16_t>()[I] = saturate<uint16_t>(V); return;
  case DType::U32: as<uint32_t>()[I] = saturate<uint32_t>(V); return;
  case DType::U64: as<uint64_t>()[I] = saturate<uint64_t>(V); return;
  case DType::Bool: as<uint8_t>()[I] = V != 0.0; return;
  case DType::Str: break;
  case DType::F8E4M3FN: case DType::F8E4M3FNUZ: case DType::F8E5M2:
  case DType::F8E5M2FNUZ: case DType::F8E8M0: case DType::F4E2M1:
  case DType::I4: case DType::U4: case DType::I2: case DType::U2:
    as<uint8_t>()[I] = narrowFromDouble(Elem, V);
    return;
  }
  llvm_unreachable("numeric access to a string tensor or a bad dtype");
}

int64_t Tensor::getI(int64_t I) const {
  switch (Elem) {
  case DType::I8: return as<int8_t>()[I];
  case DType::I16: return as<int16_t>()[I];
  case DType::I32: return as<int32_t>()[I];
  case DType::I64: return as<int64_t>()[I];
  case DType::U8: return as<uint8_t>()[I];
  case DType::U16: return as<uint16_t>()[I];
  case DType::U32: return as<uint32_t>()[I];
  // Values of 2^63 and above come back as their two's complement bits.
  case DType::U64: return int64_t(as<uint64_t>()[I]);
  case DType::Bool: return as<uint8_t>()[I] != 0;
  case DType::I4: case DType::I2: return int8_t(as<uint8_t>()[I]);
  case DType::U4: case DType::U2: return as<uint8_t>()[I];
  case DType::F8E4M3FN: case DType::F8E4M3FNUZ: case DType::F8E5M2:
  case DType::F8E5M2FNUZ: case DType::F8E8M0: case DType::F4E2M1:
  case DType::F32:
  case DType::F64:
  case DType::F16:
  case DType::BF16:
    return saturate<int64_t>(getF(I));
  case DType::Str: break;
  }
  llvm_unreachable("numeric access to a string tensor or a bad dtype");
}

void Tensor::setI(int64_t I, int64_t V) {
  switch (Elem) {
  case DType::I8: as<int8_t>()[I] = int8_t(V); return;
  case DType::I16: as<int16_t>()[I] = int16_t(V); return;
  case DType::I32: as<int32_t>()[I] = int32_t(V); return;
  case DType::I64: as<int64_t>()[I] = V; return;
  case DType::U8: as<uint8_t>()[I] = uint8_t(V); return;
  case DType::U16: as<uint16_t>()[I] = uint16_t(V); return;
  case DType::U32: as<uint32_t>()[I] = uint32_t(V); return;
  case DType::U64: as<uint64_t>()[I] = uint64_t(V); return;
  case DType::Bool: as<uint8_t>()[I] = V != 0; return;
  case DType::I4: case DType::U4: case DType::I2: case DType::U2:
    as<uint8_t>()[I] = narrowFromInt(Elem, V);
    return;
  case DType::F8E4M3FN: case DType::F8E4M3FNUZ: case DType::F8E5M2:
  case DType::F8E5M2FNUZ: case DType::F8E8M0: case DType::F4E2M1:
  case DType::F32:
  case DType::F64:
  case DType::F16:
  case DType::BF16:
    setF(I, double(V));
    return;
  case DType::Str: break;
  }
  llvm_unreachable("numeric access to a string tensor or a bad dtype");
}
