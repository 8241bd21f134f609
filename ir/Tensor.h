// Tensor: a concrete, dense, row-major array of one element type. Constants,
// weights and the reference interpreter's values are Tensors. Numeric
// elements live in a byte vector; `str` elements in a vector of
// std::string (the tensor owns its strings; the byte vector stays empty).
#ifndef DLC_IR_TENSOR_H
#define DLC_IR_TENSOR_H

#include "ir/Types.h"

#include <memory>
#include <string>
#include <vector>

namespace dlc {

/// IEEE half and bfloat16 conversions (round to nearest even).
uint16_t floatToHalf(float F);
float halfToFloat(uint16_t H);
uint16_t floatToBF16(float F);
float bf16ToFloat(uint16_t H);

class Tensor {
public:
  Tensor() = default;
  /// A zero-filled tensor.
  Tensor(DType E, llvm::ArrayRef<int64_t> Shape);

  DType elem() const { return Elem; }
  llvm::ArrayRef<int64_t> shape() const { return Sizes; }
  unsigned rank() const { return Sizes.size(); }
  int64_t numElements() const;
  TensorType type() const { return TensorType::get(Elem, Sizes); }

  uint8_t *data() { return Bytes.data(); }
  const uint8_t *data() const { return Bytes.data(); }
  size_t byteSize() const { return Bytes.size(); }
  std::vector<uint8_t> &bytes() { return Bytes; }
  const std::vector<uint8_t> &bytes() const { return Bytes; }

  /// Element access through double / int64 (converting from and to the
  /// element type). Integers beyond 2^53 should use the int64 accessors.
  double getF(int64_t I) const;
  void setF(int64_t I, double V);
  int64_t getI(int64_t I) const;
  void setI(int64_t I, int64_t V);

  template <typename T> T *as() { return reinterpret_cast<T *>(Bytes.data()); }
  template <typename T> const T *as() const {
    return reinterpret_cast<const T *>(Bytes.data());
  }

  /// The elements of a `str` tensor (empty for other element types).
  std::vector<std::string> &strings() { return Strs; }
  const std::vector<std::string> &strings() const { return Strs; }
  /// The same elements under another shape of the same element count.
  Tensor reshaped(llvm::ArrayRef<int64_t> Shape) const;

  /// Row-major strides in elements.
  llvm::SmallVector<int64_t, 4> strides() const;

  bool operator==(const Tensor &O) const {
    return Elem == O.Elem && Sizes == O.Sizes && Bytes == O.Bytes &&
           Strs == O.Strs;
  }

private:
  DType Elem = DType::F32;
  llvm::SmallVector<int64_t, 4> Sizes;
  std::vector<uint8_t> Bytes;
  std::vector<std::string> Strs;
};

using TensorRef = std::shared_ptr<const Tensor>;

} // namespace dlc

#endif
