// The builder API's layers: their checks and the dlc ops they emit.
#include "frontend/builder/Layers.h"

#include "ir/Location.h"
#include "ir/Printer.h"

using namespace dlc;

llvm::StringRef dlc::activationName(Activation A) {
  switch (A) {
  case Activation::Linear:
    return "linear";
  case Activation::Relu:
    return "relu";
  case Activation::Sigmoid:
    return "sigmoid";
  case Activation::Tanh:
    return "tanh";
  case Activation::Softmax:
    return "softmax";
  case Activation::LogSoftmax:
    return "log_softmax";
  case Activation::LeakyRelu:
    return "leaky_relu";
  case Activation::Gelu:
    return "gelu";
  }
  llvm_unreachable("bad activation");
}

llvm::Expected<Activation> dlc::parseActivation(llvm::StringRef Name) {
  for (Activation A :
       {Activation::Linear, Activation::Relu, Activation::Sigmoid,
        Activation::Tanh, Activation::Softmax, Activation::LogSoftmax,
        Activation::LeakyRelu, Activation::Gelu})
    if (Name == activationName(A))
      return A;
  return makeError("unknown activation '" + Name +
                   "' (expected linear, relu, sigmoid, tanh, softmax, "
                   "log_softmax, leaky_relu or gelu)");
}

llvm::Expected<Value *> dlc::applyActivation(GraphBuilder &B, Value *X,
                                             Activation A,
                                             llvm::StringRef Name,
                                             double Alpha) {
  switch (A) {
  case Activation::Linear:
    return X;
  case Activation::Relu:
    return B.emit(OpKind::Relu, {X}, {}, Name);
  case Activation::Sigmoid:
    return B.emit(OpKind::Sigmoid, {X}, {}, Name);
  case Activation::Tanh:
    return B.emit(OpKind::Tanh, {X}, {}, Name);
  case Activation::Softmax:
    return B.emit(OpKind::Softmax, {X}, {}, Name);
  case Activation::LogSoftmax:
    return B.emit(OpKind::LogSoftmax, {X}, {}, Name);
  case Activation::LeakyRelu:
    return B.emit(OpKind::LeakyRelu, {X}, {{"alpha", Attribute::getFloat(Alpha)}},
                  Name);
  case Activation::Gelu:
    return B.emit(OpKind::Gelu, {X}, {}, Name);
  }
  llvm_unreachable("bad activation");
}

/// "x" joined dims ("3x3").
static std::string dimsStr(std::array<int64_t, 2> D) {
  return std::to_string(D[0]) + "x" + std::to_string(D[1]);
}

/// Checks that X is [N,C,H,W] and Size/Strides are positive.
static llvm::Error checkWindowed(const Value *X, llvm::StringRef What,
                                 std::array<int64_t, 2> Size,
                                 std::array<int64_t, 2> Strides) {
  if (X->Type.rank() != 4)
    return makeError("expects a 4-D input [batch, channels, height, width], "
                     "got " + X->Type.str());
  if (Size[0] < 1 || Size[1] < 1)
    return makeError(What + " size must be positive, got " + dimsStr(Size));
  if (Strides[0] < 1 || Strides[1] < 1)
    return makeError("strides must be positive, got " + dimsStr(Strides));
  return llvm::Error::success();
}

/// The pads attribute ([top, left, bottom, right]) of a window of Size with
/// Strides over X's spatial dims, or an error when a valid window does not
/// fit. Same padding follows TensorFlow: output ceil(in / stride), the odd
/// pad at the end.
static llvm::Expected<std::vector<int64_t>>
windowPads(const Value *X, llvm::StringRef What, std::array<int64_t, 2> Size,
           std::array<int64_t, 2> Strides, Padding Pad) {
  std::vector<int64_t> Begin(2), End(2);
  for (unsigned I = 0; I < 2; ++I) {
    const Dim &D = X->Type.dim(2 + I);
    if (Pad == Padding::Valid) {
      if (D.isStatic() && Size[I] > D.size())
        return makeError(What + " " + dimsStr(Size) +
                         " is larger than the input's spatial size " +
                         X->Type.dim(2).str() + "x" + X->Type.dim(3).str() +
                         " (input " + X->Type.str() +
                         "); use a smaller one or padding 'same'");
      continue;
    }
    int64_t Total;
    if (D.isStatic()) {
      int64_t Out = (D.size() + Strides[I] - 1) / Strides[I];
      Total = std::max<int64_t>((Out - 1) * Strides[I] + Size[I] - D.size(), 0);
    } else if (Strides[I] == 1) {
      Total = Size[I] - 1;
    } else {
      return makeError("padding 'same' with stride " +
                       std::to_string(Strides[I]) +
                       " needs static spatial dims, got " + X->Type.str());
    }
    Begin[I] = Total / 2;
    End[I] = Total - Begin[I];
  }
  return std::vector<int64_t>{Begin[0], Begin[1], End[0], End[1]};
}

/// Window attributes, leaving out defaults (strides 1, pads 0).
static std::vector<NamedAttr> windowAttrs(std::array<int64_t, 2> Strides,
                                          llvm::ArrayRef<int64_t> Pads) {
  std::vector<NamedAttr> A;
  if (llvm::any_of(Pads, [](int64_t P) { return P != 0; }))
    A.push_back({"pads", Attribute::getInts(Pads)});
  if (Strides[0] != 1 || Strides[1] != 1)
    A.push_back({"strides", Attribute::getInts({Strides[0], Strides[1]})});
  return A;
}

llvm::Expected<Value *> Conv2D::build(GraphBuilder &B, Value *X,
                                      llvm::StringRef Name) const {
  if (Filters < 1)
    return makeError("filters must be positive, got " +
                     std::to_string(Filters));
  if (auto E = checkWindowed(X, "kernel", Kernel, Strides))
    return std::move(E);
  const Dim &C = X->Type.dim(1);
  if (!C.isStatic())
    return makeError("needs a static channel dim, got " + X->Type.str());
  auto Pads = windowPads(X, "kernel", Kernel, Strides, Pad);
  if (!Pads)
    return Pads.takeError();
  int64_t Area = Kernel[0] * Kernel[1];
  int64_t FanIn = C.size() * Area, FanOut = Filters * Area;
  std::vector<Value *> Ops{X, B.param((Name + ".kernel").str(),
                                      {Filters, C.size(), Kernel[0], Kernel[1]},
                                      KernelInit, FanIn, FanOut)};
  if (UseBias)
    Ops.push_back(
        B.param((Name + ".bias").str(), {Filters}, BiasInit, FanIn, FanOut));
  auto Y = B.emit(OpKind::Conv, Ops, windowAttrs(Strides, *Pads), Name);
  if (!Y)
    return Y.takeError();
  return applyActivation(B, *Y, Act, (Name + "." + activationName(Act)).str());
}

/// A 2-D pooling op of kind K over windows Size with the given strides
/// and padding mode.
template <typename SizeT, typename StridesT, typename PadT>
static llvm::Expected<Value *> pool2D(GraphBuilder &B, Value *X, OpKind K,
                                      const SizeT &Size, const StridesT &Strides,
                                      PadT Pad, llvm::StringRef Name) {
  if (auto E = checkWindowed(X, "pool", Size, Strides))
    return std::move(E);
  auto Pads = windowPads(X, "pool", Size, Strides, Pad);
  if (!Pads)
    return Pads.takeError();
  std::vector<NamedAttr> A = windowAttrs(Strides, *Pads);
  A.push_back({"kernel", Attribute::getInts({Size[0], Size[1]})});
  return B.emit(K, {X}, std::move(A), Name);
}

llvm::Expected<Value *> MaxPool2D::build(GraphBuilder &B, Value *X,
                                         llvm::StringRef Name) const {
  return pool2D(B, X, OpKind::MaxPool, Size, Strides, Pad, Name);
}

llvm::Expected<Value *> AvgPool2D::build(GraphBuilder &B, Value *X,
                                         llvm::StringRef Name) const {
  return pool2D(B, X, OpKind::AvgPool, Size, Strides, Pad, Name);
}

llvm::Expected<Value *> Dense::build(GraphBuilder &B, Value *X,
                                     llvm::StringRef Name) const {
  if (Units < 1)
    return makeError("units must be positive, got " + std::to_string(Units));
  if (X->Type.rank() != 2)
    return makeError("expects a 2-D input [batch, features], got " +
                     X->Type.str() +
                     (X->Type.rank() > 2 ? "; put a Flatten before it" : ""));
  const Dim &In = X->Type.dim(1);
  if (!In.isStatic())
    return makeError("needs a static feature dim, got " + X->Type.str());
  std::vector<Value *> Ops{X, B.param((Name + ".kernel").str(),
                                      {In.size(), Units}, KernelInit,
                                      In.size(), Units)};
  if (UseBias)
    Ops.push_back(
        B.param((Name + ".bias").str(), {Units}, BiasInit, In.size(), Units));
  auto Y = B.emit(UseBias ? OpKind::Gemm : OpKind::MatMul, Ops, {}, Name);
  if (!Y)
    return Y.takeError();
  return applyActivation(B, *Y, Act, (Name + "." + activationName(Act)).str());
}

llvm::Expected<Value *> Flatten::build(GraphBuilder &B, Value *X,
                                       llvm::StringRef Name) const {
  if (X->Type.rank() < 2)
    return makeError("expects an input with a batch dim and at least one "
                     "more, got " + X->Type.str());
  return B.emit(OpKind::Flatten, {X}, {}, Name);
}

llvm::Expected<Value *> Dropout::build(GraphBuilder &B, Value *X,
                                       llvm::StringRef Name) const {
  if (!(Rate >= 0 && Rate < 1))
    return makeError("rate must be in [0, 1), got " + formatDouble(Rate));
  return B.emit(OpKind::Dropout, {X},
                {{"ratio", Attribute::getFloat(Rate)},
                 {"seed", Attribute::getInt(B.layerSeed())},
                 {"training", Attribute::getBool(false)}},
                Name);
}

llvm::Expected<Value *> BatchNorm::build(GraphBuilder &B, Value *X,
                                         llvm::StringRef Name) const {
  if (X->Type.rank() < 2 || !X->Type.dim(1).isStatic())
    return makeError("expects an input [batch, channels, ...] with a static "
                     "channel dim, got " + X->Type.str());
  if (!(Epsilon > 0))
    return makeError("epsilon must be positive");
  int64_t C = X->Type.dim(1).size();
  Value *Gamma = B.param((Name + ".gamma").str(), {C}, Init::Ones, C, C);
  Value *Beta = B.param((Name + ".beta").str(), {C}, Init::Zeros, C, C);
  // Parameters too, so a trained model carries them; the training step
  // updates them as running averages instead of by gradient.
  Value *Mean = B.param((Name + ".moving_mean").str(), {C}, Init::Zeros, C, C);
  Value *Var = B.param((Name + ".moving_variance").str(), {C}, Init::Ones, C, C);
  return B.emit(OpKind::BatchNorm, {X, Gamma, Beta, Mean, Var},
                {{"epsilon", Attribute::getFloat(Epsilon)}}, Name);
}

llvm::Expected<Value *> ActivationLayer::build(GraphBuilder &B, Value *X,
                                               llvm::StringRef Name) const {
  if (Act == Activation::Linear)
    return B.emit(OpKind::Identity, {X}, {}, Name);
  return applyActivation(B, X, Act, Name, Alpha);
}
