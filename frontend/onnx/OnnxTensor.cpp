// ONNX element types and TensorProto contents as dlc tensors.
#include "frontend/onnx/OnnxTensor.h"
#include "runtime/SizeMath.h"

#include "interp/Interpreter.h"
#include "ir/Location.h"
#include "ir/LowPrecision.h"
#include "ir/TensorLimits.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cstring>

using namespace dlc;
using namespace dlc::onnximp;

static llvm::Error tErr(const llvm::Twine &Msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), Msg.str());
}

std::optional<DType> onnximp::dtypeFromOnnx(int32_t Code) {
  switch (Code) {
  case onnx::TensorProto::FLOAT: return DType::F32;
  case onnx::TensorProto::UINT8: return DType::U8;
  case onnx::TensorProto::UINT16: return DType::U16;
  case onnx::TensorProto::UINT32: return DType::U32;
  case onnx::TensorProto::UINT64: return DType::U64;
  case onnx::TensorProto::INT8: return DType::I8;
  case onnx::TensorProto::INT16: return DType::I16;
  case onnx::TensorProto::INT32: return DType::I32;
  case onnx::TensorProto::INT64: return DType::I64;
  case onnx::TensorProto::BOOL: return DType::Bool;
  case onnx::TensorProto::FLOAT16: return DType::F16;
  case onnx::TensorProto::DOUBLE: return DType::F64;
  case onnx::TensorProto::BFLOAT16: return DType::BF16;
  case onnx::TensorProto::STRING: return DType::Str;
  // Codes of the ONNX versions after 1.12, which the Debian proto classes
  // do not name.
  case 17: return DType::F8E4M3FN;
  case 18: return DType::F8E4M3FNUZ;
  case 19: return DType::F8E5M2;
  case 20: return DType::F8E5M2FNUZ;
  case 21: return DType::U4;
  case 22: return DType::I4;
  case 23: return DType::F4E2M1;
  case 24: return DType::F8E8M0;
  case 25: return DType::U2;
  case 26: return DType::I2;
  default: return std::nullopt;
  }
}

std::string onnximp::onnxTypeName(int32_t Code) {
  // Codes of the ONNX versions after 1.12 (float8, 4- and 2-bit types),
  // which the Debian proto classes do not name.
  static const char *Later[] = {"FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2",
                                "FLOAT8E5M2FNUZ", "UINT4", "INT4",
                                "FLOAT4E2M1", "FLOAT8E8M0", "UINT2", "INT2"};
  if (onnx::TensorProto::DataType_IsValid(Code))
    return onnx::TensorProto::DataType_Name(
        onnx::TensorProto::DataType(Code));
  if (Code >= 17 && Code <= 26)
    return Later[Code - 17];
  return "code " + std::to_string(Code);
}

/// The external data file of P, checked to stay inside BaseDir.
static llvm::Expected<std::string>
externalData(const onnx::TensorProto &P, llvm::StringRef BaseDir,
             uint64_t Bytes) {
  std::string Location;
  uint64_t Offset = 0, Length = Bytes;
  bool HasLength = false;
  for (const auto &KV : P.external_data()) {
    llvm::StringRef V = KV.value();
    if (KV.key() == "location") {
      Location = KV.value();
    } else if (KV.key() == "offset" || KV.key() == "length") {
      uint64_t N;
      if (V.getAsInteger(10, N))
        return tErr("external data " + KV.key() + " '" + V +
                         "' is not a number");
      (KV.key() == "offset" ? Offset : Length) = N;
      HasLength |= KV.key() == "length";
    }
  }
  if (Location.empty())
    return tErr("external data without a 'location'");
  llvm::StringRef Loc = Location;
  if (llvm::sys::path::is_absolute(Loc) ||
      llvm::any_of(llvm::make_range(llvm::sys::path::begin(Loc),
                                    llvm::sys::path::end(Loc)),
                   [](llvm::StringRef C) { return C == ".."; }))
    return tErr("external data location '" + Loc +
                     "' must be a relative path inside the model's folder");
  if (HasLength && Length != Bytes)
    return tErr("external data length " + std::to_string(Length) +
                     " does not match the " + std::to_string(Bytes) +
                     " bytes of the tensor");
  llvm::SmallString<256> Path(BaseDir);
  llvm::sys::path::append(Path, Loc);
  auto Buf = llvm::MemoryBuffer::getFile(Path, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/false);
  if (!Buf)
    return tErr("cannot read external data file '" + Path.str() +
                     "': " + Buf.getError().message());
  uint64_t Size = (*Buf)->getBufferSize();
  if (Offset > Size || Size - Offset < Bytes)
    return tErr("external data file '" + Path.str() + "' has " +
                     std::to_string(Size) + " bytes, the tensor needs " +
                     std::to_string(Bytes) + " from offset " +
                     std::to_string(Offset));
  return std::string((*Buf)->getBufferStart() + Offset, Bytes);
}

/// A narrow-type tensor from its ONNX bytes: 8-bit codes one per byte, 4-
/// and 2-bit elements packed from the low bits of each byte up.
static Tensor unpackNarrow(DType E, llvm::ArrayRef<int64_t> Dims, uint64_t N,
                           llvm::function_ref<uint8_t(uint64_t)> Byte) {
  Tensor T(E, Dims);
  unsigned Bits = narrowBits(E);
  for (uint64_t I = 0; I < N; ++I) {
    uint64_t Bit = I * Bits;
    uint8_t V = uint8_t(Byte(Bit / 8) >> (Bit % 8)) & uint8_t((1u << Bits) - 1);
    T.as<uint8_t>()[I] = isNarrowInt(E) ? narrowFromInt(E, V) : V;
  }
  return T;
}

static llvm::Expected<Tensor> narrowFromProto(const onnx::TensorProto &P,
                                              llvm::StringRef BaseDir, DType E,
                                              llvm::ArrayRef<int64_t> Dims,
                                              uint64_t N) {
  uint64_t Bytes = (N * narrowBits(E) + 7) / 8;
  auto FromString = [&](const std::string &S) -> llvm::Expected<Tensor> {
    if (S.size() != Bytes)
      return tErr("data has " + std::to_string(S.size()) +
                  " bytes, its shape and type need " + std::to_string(Bytes));
    return unpackNarrow(E, Dims, N, [&](uint64_t I) { return uint8_t(S[I]); });
  };
  if (P.data_location() == onnx::TensorProto::EXTERNAL) {
    auto S = externalData(P, BaseDir, Bytes);
    if (!S)
      return S.takeError();
    return FromString(*S);
  }
  if (P.has_raw_data())
    return FromString(P.raw_data());
  // int32_data holds one 8-bit code, or one byte of packed 4- or 2-bit
  // elements, per entry.
  if (uint64_t(P.int32_data_size()) != Bytes)
    return tErr("holds " + std::to_string(P.int32_data_size()) +
                " values, its shape and type need " + std::to_string(Bytes));
  return unpackNarrow(E, Dims, N,
                      [&](uint64_t I) { return uint8_t(P.int32_data(I)); });
}

llvm::Expected<Tensor> onnximp::tensorFromProto(const onnx::TensorProto &P,
                                                llvm::StringRef BaseDir) {
  auto E = dtypeFromOnnx(P.data_type());
  if (!E)
    return tErr("element type " + onnxTypeName(P.data_type()) +
                     " is not supported");
  llvm::SmallVector<int64_t, 4> Dims;
  uint64_t N = 1;
  for (int64_t D : P.dims()) {
    if (D < 0)
      return tErr("negative dim " + std::to_string(D));
    if (D && N > uint64_t(MaxElements) / uint64_t(D))
      return tErr("more than 2^40 elements");
    N *= D;
    Dims.push_back(D);
  }
  uint64_t Size = dtypeSize(*E);
  if (tensorHostBytes(*E, N) > InterpreterTensorLimit)
    return tErr("tensor of " + std::to_string(N) +
                     " elements is larger than 4 GiB");
  if (isNarrow(*E))
    return narrowFromProto(P, BaseDir, *E, Dims, N);
  auto Count = [&](uint64_t Have) -> llvm::Error {
    if (Have != N)
      return tErr("holds " + std::to_string(Have) +
                       " values, its shape needs " + std::to_string(N));
    return llvm::Error::success();
  };
  if (*E == DType::Str) { // string_data only: bytes, UTF-8 by convention
    if (P.data_location() == onnx::TensorProto::EXTERNAL || P.has_raw_data())
      return tErr("a STRING tensor must hold its values in string_data");
    if (auto Err = Count(P.string_data_size()))
      return std::move(Err);
    Tensor T(*E, Dims);
    for (uint64_t I = 0; I < N; ++I)
      T.strings()[I] = P.string_data(I);
    return T;
  }
  if (P.data_location() == onnx::TensorProto::EXTERNAL) {
    auto Bytes = externalData(P, BaseDir, N * Size);
    if (!Bytes)
      return Bytes.takeError();
    Tensor T(*E, Dims);
    copyBytes(T.data(), Bytes->data(), Bytes->size());
    return T;
  }
  if (P.has_raw_data()) {
    if (P.raw_data().size() != N * Size)
      return tErr("raw_data has " + std::to_string(P.raw_data().size()) +
                       " bytes, its shape and type need " +
                       std::to_string(N * Size));
    Tensor T(*E, Dims);
    copyBytes(T.data(), P.raw_data().data(), N * Size); // little-endian host
    return T;
  }
  Tensor T;
  switch (*E) {
  case DType::F32:
    if (auto Err = Count(P.float_data_size()))
      return std::move(Err);
    T = Tensor(*E, Dims);
    for (uint64_t I = 0; I < N; ++I)
      T.as<float>()[I] = P.float_data(I);
    return T;
  case DType::F64:
    if (auto Err = Count(P.double_data_size()))
      return std::move(Err);
    T = Tensor(*E, Dims);
    for (uint64_t I = 0; I < N; ++I)
      T.as<double>()[I] = P.double_data(I);
    return T;
  case DType::I64:
    if (auto Err = Count(P.int64_data_size()))
      return std::move(Err);
    T = Tensor(*E, Dims);
    for (uint64_t I = 0; I < N; ++I)
      T.as<int64_t>()[I] = P.int64_data(I);
    return T;
  case DType::F16:
  case DType::BF16:
    // int32_data holds the 16-bit patterns.
    if (auto Err = Count(P.int32_data_size()))
      return std::move(Err);
    T = Tensor(*E, Dims);
    for (uint64_t I = 0; I < N; ++I)
      T.as<uint16_t>()[I] = uint16_t(P.int32_data(I));
    return T;
  case DType::U32:
  case DType::U64:
    if (auto Err = Count(P.uint64_data_size()))
      return std::move(Err);
    T = Tensor(*E, Dims);
    for (uint64_t I = 0; I < N; ++I)
      T.setI(I, int64_t(P.uint64_data(I)));
    return T;
  case DType::F8E4M3FN: case DType::F8E4M3FNUZ: case DType::F8E5M2:
  case DType::F8E5M2FNUZ: case DType::F8E8M0: case DType::F4E2M1:
  case DType::I4: case DType::U4: case DType::I2: case DType::U2:
    llvm_unreachable("narrow types are read above");
  case DType::I8:
  case DType::I16:
  case DType::I32:
  case DType::U8:
  case DType::U16:
  case DType::Bool:
    if (auto Err = Count(P.int32_data_size()))
      return std::move(Err);
    T = Tensor(*E, Dims);
    for (uint64_t I = 0; I < N; ++I)
      T.setI(I, P.int32_data(I));
    return T;
  case DType::Str:
    break; // read above
  }
  llvm_unreachable("covered switch");
}
