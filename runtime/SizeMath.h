// Overflow-checked size arithmetic: element counts, byte sizes and offsets.
// The one helper every layer uses for sizes that come from a user (a model,
// a .npy header, a C API call), so no product wraps around silently.
// Header-only and free of dependencies: runtime/ is the leaf of the layering.
#ifndef DLC_RUNTIME_SIZEMATH_H
#define DLC_RUNTIME_SIZEMATH_H

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace dlc {

/// Out = A * B for sizes (both >= 0); false when an operand is negative or
/// the product does not fit in int64_t.
inline bool mulSize(int64_t A, int64_t B, int64_t &Out) {
  if (A < 0 || B < 0)
    return false;
  return !__builtin_mul_overflow(A, B, &Out);
}

/// Out = A + B for sizes (both >= 0); false on a negative operand or an
/// overflow.
inline bool addSize(int64_t A, int64_t B, int64_t &Out) {
  if (A < 0 || B < 0)
    return false;
  return !__builtin_add_overflow(A, B, &Out);
}

/// Out = the product of Sizes (1 for none); false when an entry is negative
/// or the product overflows. Range holds integers (int64_t, uint64_t, ...).
template <typename Range> bool productOf(const Range &Sizes, int64_t &Out) {
  int64_t N = 1;
  for (auto S : Sizes) {
    int64_t V;
    if constexpr (std::is_signed_v<decltype(S)>)
      V = int64_t(S);
    else if (uint64_t(S) > uint64_t(INT64_MAX))
      return false;
    else
      V = int64_t(S);
    if (!mulSize(N, V, N))
      return false;
  }
  Out = N;
  return true;
}

/// Out = the product of Count sizes at Sizes (see productOf).
inline bool productOf(const int64_t *Sizes, size_t Count, int64_t &Out) {
  int64_t N = 1;
  for (size_t I = 0; I < Count; ++I)
    if (!mulSize(N, Sizes[I], N))
      return false;
  Out = N;
  return true;
}

/// Out = Elements * ElemBytes as a byte count that also fits in size_t.
inline bool bytesOf(int64_t Elements, int64_t ElemBytes, size_t &Out) {
  int64_t B;
  if (!mulSize(Elements, ElemBytes, B) || uint64_t(B) > SIZE_MAX)
    return false;
  Out = size_t(B);
  return true;
}

/// memcpy that accepts empty ranges with null pointers (memcpy's pointers
/// must be valid even for 0 bytes: an empty tensor's data may be null).
inline void copyBytes(void *Dst, const void *Src, size_t N) {
  if (N)
    __builtin_memcpy(Dst, Src, N);
}

} // namespace dlc

#endif
