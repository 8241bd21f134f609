// The builder API's layers (Keras-compatible defaults, NCHW layout):
// Conv2D, MaxPool2D, AvgPool2D, Dense, Flatten, Dropout, BatchNorm and the
// activations. Each is a small configuration with chainable setters:
//
//   dlc::Conv2D(64, 3).strides(2).padding(dlc::Padding::Same)
//   dlc::Dense(10, dlc::Activation::Softmax).kernelInit(dlc::Init::HeNormal)
#ifndef DLC_FRONTEND_BUILDER_LAYERS_H
#define DLC_FRONTEND_BUILDER_LAYERS_H

#include "frontend/builder/GraphBuilder.h"

#include <array>

namespace dlc {

enum class Activation {
  Linear, // none
  Relu,
  Sigmoid,
  Tanh,
  Softmax,    // over the last axis
  LogSoftmax, // over the last axis
  LeakyRelu,  // alpha 0.3 (Keras' LeakyReLU default)
  Gelu,       // exact (erf) form
};

/// "linear", "relu", "sigmoid", "tanh", "softmax", "log_softmax",
/// "leaky_relu", "gelu".
llvm::StringRef activationName(Activation A);
llvm::Expected<Activation> parseActivation(llvm::StringRef Name);

enum class Padding {
  Valid, // no padding
  Same,  // output size ceil(input / stride); odd padding goes at the end
};

/// Shared by the layers: the user-chosen name setter.
template <typename Derived> class LayerBase : public Layer {
public:
  Derived &name(llvm::StringRef N) {
    UserName = N.str();
    return static_cast<Derived &>(*this);
  }
  std::unique_ptr<Layer> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived &>(*this));
  }
};

/// 2-D convolution of x[N,C,H,W] with a kernel [Filters,C,kh,kw] and a bias
/// [Filters], then the activation. Parameters: NAME.kernel, NAME.bias.
class Conv2D : public LayerBase<Conv2D> {
public:
  Conv2D(int64_t Filters, int64_t Kernel, Activation Act = Activation::Linear)
      : Conv2D(Filters, {Kernel, Kernel}, Act) {}
  Conv2D(int64_t Filters, std::array<int64_t, 2> Kernel,
         Activation Act = Activation::Linear)
      : Filters(Filters), Kernel(Kernel), Act(Act) {}
  Conv2D &strides(int64_t S) { return strides({S, S}); }
  Conv2D &strides(std::array<int64_t, 2> S) { Strides = S; return *this; }
  Conv2D &padding(Padding P) { Pad = P; return *this; }
  Conv2D &activation(Activation A) { Act = A; return *this; }
  Conv2D &kernelInit(Init I) { KernelInit = I; return *this; }
  Conv2D &biasInit(Init I) { BiasInit = I; return *this; }
  Conv2D &useBias(bool B) { UseBias = B; return *this; }

  llvm::StringRef kindName() const override { return "Conv2D"; }
  llvm::StringRef baseName() const override { return "conv2d"; }
  llvm::Expected<Value *> build(GraphBuilder &B, Value *X,
                                llvm::StringRef Name) const override;

  int64_t Filters;
  std::array<int64_t, 2> Kernel;
  std::array<int64_t, 2> Strides = {1, 1};
  Padding Pad = Padding::Valid;
  Activation Act;
  Init KernelInit = Init::GlorotUniform, BiasInit = Init::Zeros;
  bool UseBias = true;
};

/// Max or average pooling over [N,C,H,W]; strides default to the pool size.
template <typename Derived> class Pool2DBase : public LayerBase<Derived> {
public:
  explicit Pool2DBase(int64_t Size) : Pool2DBase(std::array<int64_t, 2>{Size, Size}) {}
  explicit Pool2DBase(std::array<int64_t, 2> Size) : Size(Size), Strides(Size) {}
  Derived &strides(int64_t S) { return strides({S, S}); }
  Derived &strides(std::array<int64_t, 2> S) {
    Strides = S;
    return static_cast<Derived &>(*this);
  }
  Derived &padding(Padding P) {
    Pad = P;
    return static_cast<Derived &>(*this);
  }

  std::array<int64_t, 2> Size, Strides;
  Padding Pad = Padding::Valid;
};

class MaxPool2D : public Pool2DBase<MaxPool2D> {
public:
  using Pool2DBase::Pool2DBase;
  llvm::StringRef kindName() const override { return "MaxPool2D"; }
  llvm::StringRef baseName() const override { return "max_pooling2d"; }
  llvm::Expected<Value *> build(GraphBuilder &B, Value *X,
                                llvm::StringRef Name) const override;
};

/// Padded positions do not count in the average (Keras' "same").
class AvgPool2D : public Pool2DBase<AvgPool2D> {
public:
  using Pool2DBase::Pool2DBase;
  llvm::StringRef kindName() const override { return "AvgPool2D"; }
  llvm::StringRef baseName() const override { return "average_pooling2d"; }
  llvm::Expected<Value *> build(GraphBuilder &B, Value *X,
                                llvm::StringRef Name) const override;
};

/// x[N,in] @ kernel[in,Units] + bias[Units], then the activation. The input
/// must be 2-D (put a Flatten before it). Parameters: NAME.kernel, NAME.bias.
class Dense : public LayerBase<Dense> {
public:
  explicit Dense(int64_t Units, Activation Act = Activation::Linear)
      : Units(Units), Act(Act) {}
  Dense &activation(Activation A) { Act = A; return *this; }
  Dense &kernelInit(Init I) { KernelInit = I; return *this; }
  Dense &biasInit(Init I) { BiasInit = I; return *this; }
  Dense &useBias(bool B) { UseBias = B; return *this; }

  llvm::StringRef kindName() const override { return "Dense"; }
  llvm::StringRef baseName() const override { return "dense"; }
  llvm::Expected<Value *> build(GraphBuilder &B, Value *X,
                                llvm::StringRef Name) const override;

  int64_t Units;
  Activation Act;
  Init KernelInit = Init::GlorotUniform, BiasInit = Init::Zeros;
  bool UseBias = true;
};

/// [N, d1, d2, ...] -> [N, d1*d2*...].
class Flatten : public LayerBase<Flatten> {
public:
  llvm::StringRef kindName() const override { return "Flatten"; }
  llvm::StringRef baseName() const override { return "flatten"; }
  llvm::Expected<Value *> build(GraphBuilder &B, Value *X,
                                llvm::StringRef Name) const override;
};

/// dlc `dropout` with training = false: the identity at inference; the
/// trainer switches it on (and seeds it) for training steps.
class Dropout : public LayerBase<Dropout> {
public:
  explicit Dropout(double Rate) : Rate(Rate) {}
  llvm::StringRef kindName() const override { return "Dropout"; }
  llvm::StringRef baseName() const override { return "dropout"; }
  llvm::Expected<Value *> build(GraphBuilder &B, Value *X,
                                llvm::StringRef Name) const override;
  double Rate;
};

/// Batch normalization over the channel axis 1:
/// (x - mean) / sqrt(var + epsilon) * gamma + beta. gamma (ones) and beta
/// (zeros) are trained; the moving mean (zeros) and variance (ones) are
/// parameters NAME.moving_mean, NAME.moving_variance that training updates
/// as running averages of the batch statistics it normalizes with (Keras'
/// convention; see buildTrainingGraphs). Inference uses the moving ones.
class BatchNorm : public LayerBase<BatchNorm> {
public:
  BatchNorm &epsilon(double E) { Epsilon = E; return *this; }
  llvm::StringRef kindName() const override { return "BatchNorm"; }
  llvm::StringRef baseName() const override { return "batch_normalization"; }
  llvm::Expected<Value *> build(GraphBuilder &B, Value *X,
                                llvm::StringRef Name) const override;
  double Epsilon = 1e-3; // Keras' default
};

/// An activation as a layer of its own.
class ActivationLayer : public LayerBase<ActivationLayer> {
public:
  explicit ActivationLayer(Activation A, double Alpha = 0.3)
      : Act(A), Alpha(Alpha) {}
  llvm::StringRef kindName() const override { return "Activation"; }
  llvm::StringRef baseName() const override { return activationName(Act); }
  llvm::Expected<Value *> build(GraphBuilder &B, Value *X,
                                llvm::StringRef Name) const override;
  Activation Act;
  double Alpha; // LeakyRelu's slope for x < 0
};

inline ActivationLayer ReLU() { return ActivationLayer(Activation::Relu); }
inline ActivationLayer Sigmoid() { return ActivationLayer(Activation::Sigmoid); }
inline ActivationLayer Tanh() { return ActivationLayer(Activation::Tanh); }
inline ActivationLayer Softmax() { return ActivationLayer(Activation::Softmax); }
inline ActivationLayer LogSoftmax() {
  return ActivationLayer(Activation::LogSoftmax);
}
inline ActivationLayer LeakyReLU(double Alpha = 0.3) {
  return ActivationLayer(Activation::LeakyRelu, Alpha);
}
inline ActivationLayer GELU() { return ActivationLayer(Activation::Gelu); }

/// Emits activation A on X (nothing for Linear); used by the layers with an
/// activation argument. Name is the result's name.
llvm::Expected<Value *> applyActivation(GraphBuilder &B, Value *X,
                                        Activation A, llvm::StringRef Name,
                                        double Alpha = 0.3);

} // namespace dlc

#endif
