// RunValue: a value given to or returned by a model at run time that may be
// more than one tensor: an ONNX sequence of tensors, or an empty optional (a
// non-empty optional is its element: a tensor or a sequence).
#ifndef DLC_IR_RUNVALUE_H
#define DLC_IR_RUNVALUE_H

#include "ir/Tensor.h"

namespace dlc {

struct RunValue {
  enum Kind { TensorK, SequenceK, NoneK };
  Kind K = TensorK;
  Tensor T;                // TensorK
  std::vector<Tensor> Seq; // SequenceK: the elements, in order

  RunValue() = default;
  RunValue(Tensor X) : T(std::move(X)) {}
  static RunValue sequence(std::vector<Tensor> S) {
    RunValue V;
    V.K = SequenceK;
    V.Seq = std::move(S);
    return V;
  }
  static RunValue none() {
    RunValue V;
    V.K = NoneK;
    return V;
  }
  bool isTensor() const { return K == TensorK; }
  bool isSequence() const { return K == SequenceK; }
  bool isNone() const { return K == NoneK; }

  /// "f32[2,3]", "sequence of 2 (f32[3], f32[4])", "none".
  std::string str() const {
    if (K == NoneK)
      return "none (an empty optional)";
    if (K == TensorK)
      return T.type().str();
    std::string S = "sequence of " + std::to_string(Seq.size()) + " (";
    for (size_t I = 0; I < Seq.size() && I < 4; ++I)
      S += (I ? ", " : "") + Seq[I].type().str();
    return S + (Seq.size() > 4 ? ", ...)" : ")");
  }
};

} // namespace dlc

#endif
