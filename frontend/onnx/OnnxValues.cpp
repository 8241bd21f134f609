// Graph inputs and outputs that are not plain tensors: the form of an ONNX
// TypeProto (sequence, optional), and SequenceProto / OptionalProto files
// read as run-time values.
#include "frontend/onnx/OnnxValues.h"

#include "frontend/onnx/OnnxImporter.h"
#include "frontend/onnx/OnnxTensor.h"

#include "onnx/onnx-data.pb.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace dlc;
using namespace dlc::onnximp;

/// The ONNX name of a TypeProto's kind, for messages.
static std::string kindName(const onnx::TypeProto &T) {
  switch (T.value_case()) {
  case onnx::TypeProto::kTensorType:
    return "a tensor";
  case onnx::TypeProto::kSequenceType:
    return "a sequence";
  case onnx::TypeProto::kOptionalType:
    return "an optional";
  case onnx::TypeProto::kMapType:
    return "a map";
  case onnx::TypeProto::kSparseTensorType:
    return "a sparse tensor";
  default:
    return "an untyped value";
  }
}

bool onnximp::portForm(const onnx::TypeProto &T, OnnxPortForm &Form,
                       const onnx::TypeProto_Tensor *&Elem, std::string &Err) {
  Form = OnnxPortForm();
  const onnx::TypeProto *Cur = &T;
  if (Cur->has_optional_type()) {
    Form.Optional = true;
    Cur = &Cur->optional_type().elem_type();
  }
  if (Cur->has_sequence_type()) {
    Form.Sequence = true;
    Cur = &Cur->sequence_type().elem_type();
  }
  if (!Cur->has_tensor_type()) {
    Err = "only tensors, sequences of tensors and optional tensors or "
          "sequences are supported; this is " +
          (Form.structured() ? std::string(Form.Optional ? "an optional" :
                                                           "a sequence") +
                                   " of " + kindName(*Cur)
                             : kindName(*Cur));
    return false;
  }
  Elem = &Cur->tensor_type();
  Form.HasShape = Elem->has_shape();
  return true;
}

/// The tensors of a SequenceProto (Where names it in messages).
static llvm::Expected<std::vector<Tensor>>
sequenceTensors(const onnx::SequenceProto &SP, llvm::StringRef BaseDir,
                const std::string &Where) {
  if (SP.elem_type() != onnx::SequenceProto::TENSOR &&
      !(SP.elem_type() == onnx::SequenceProto::UNDEFINED &&
        SP.tensor_values_size() == 0))
    return makeError(Loc::named(Where), "only sequences of tensors are supported "
                     "(elem_type " + std::to_string(SP.elem_type()) + ")");
  std::vector<Tensor> Out;
  for (int I = 0; I < SP.tensor_values_size(); ++I) {
    auto T = tensorFromProto(SP.tensor_values(I), BaseDir);
    if (!T)
      return makeError(Loc::named(Where), "element " + std::to_string(I) + ": " +
                       llvm::toString(T.takeError()));
    if (!Out.empty() && T->elem() != Out[0].elem())
      return makeError(Loc::named(Where), "element " + std::to_string(I) + " is " +
                       T->type().str() + ", element 0 " +
                       Out[0].type().str() + " (a sequence holds one "
                       "element type)");
    Out.push_back(std::move(*T));
  }
  return Out;
}

llvm::Expected<RunValue> dlc::readOnnxValueFile(llvm::StringRef Path,
                                                const OnnxPortForm &Form) {
  if (!Form.structured()) {
    auto T = readOnnxTensorFile(Path);
    if (!T)
      return T.takeError();
    return RunValue(std::move(*T));
  }
  auto Buf = llvm::MemoryBuffer::getFile(Path, false, false);
  if (!Buf)
    return makeError("cannot read '" + Path + "': " +
                     Buf.getError().message());
  std::string Where = Path.str();
  llvm::StringRef Base = llvm::sys::path::parent_path(Path);
  const char *Data = (*Buf)->getBufferStart();
  int Size = int(std::min<size_t>((*Buf)->getBufferSize(), INT32_MAX));
  if (Form.Optional) {
    onnx::OptionalProto OP;
    if (!OP.ParseFromArray(Data, Size))
      return makeError(Loc::named(Where), "not a serialized onnx.OptionalProto");
    if (OP.has_sequence_value()) {
      if (!Form.Sequence)
        return makeError(Loc::named(Where), "holds a sequence, but the input "
                         "is an optional tensor");
      auto S = sequenceTensors(OP.sequence_value(), Base, Where);
      if (!S)
        return S.takeError();
      return RunValue::sequence(std::move(*S));
    }
    if (OP.has_tensor_value()) {
      if (Form.Sequence)
        return makeError(Loc::named(Where), "holds a tensor, but the input is "
                         "an optional sequence");
      auto T = tensorFromProto(OP.tensor_value(), Base);
      if (!T)
        return makeError(Loc::named(Where), "" + llvm::toString(T.takeError()));
      return RunValue(std::move(*T));
    }
    if (OP.has_map_value() || OP.has_optional_value() ||
        OP.has_sparse_tensor_value())
      return makeError(Loc::named(Where), "only optional tensors and sequences "
                       "are supported");
    return RunValue::none();
  }
  onnx::SequenceProto SP;
  if (!SP.ParseFromArray(Data, Size))
    return makeError(Loc::named(Where), "not a serialized onnx.SequenceProto");
  auto S = sequenceTensors(SP, Base, Where);
  if (!S)
    return S.takeError();
  return RunValue::sequence(std::move(*S));
}
