// The tutorial models as Sequential stacks.
#include "frontend/builder/TutorialModels.h"

#include "frontend/builder/Layers.h"

using namespace dlc;

std::vector<std::string> dlc::tutorialModelNames() {
  return {"keras-cnn", "pytorch-net", "small-cnn", "mlp", "neuron"};
}

/// PyTorch's defaults for every weight and bias.
static Conv2D torchConv(int64_t Filters, int64_t Kernel) {
  return Conv2D(Filters, Kernel)
      .kernelInit(Init::TorchDefault)
      .biasInit(Init::TorchDefault);
}
static Dense torchDense(int64_t Units) {
  return Dense(Units)
      .kernelInit(Init::TorchDefault)
      .biasInit(Init::TorchDefault);
}

llvm::Expected<std::unique_ptr<Module>>
dlc::makeTutorialModel(llvm::StringRef Name, int64_t Seed) {
  using A = Activation;
  if (Name == "keras-cnn")
    return Sequential({1, 28, 28}, "images")
        .add(Conv2D(32, 3, A::Relu))
        .add(MaxPool2D(2))
        .add(Conv2D(64, 3, A::Relu))
        .add(MaxPool2D(2))
        .add(Conv2D(64, 3, A::Relu))
        .add(Flatten())
        .add(Dense(64, A::Relu))
        .add(Dense(10, A::Softmax))
        .build(Seed, "probs");
  if (Name == "pytorch-net")
    return Sequential({1, 28, 28}, "images")
        .add(torchConv(32, 3).name("conv1"))
        .add(ReLU())
        .add(torchConv(64, 3).name("conv2"))
        .add(ReLU())
        .add(MaxPool2D(2))
        .add(Dropout(0.25).name("dropout1"))
        .add(Flatten())
        .add(torchDense(128).name("fc1"))
        .add(ReLU())
        .add(Dropout(0.5).name("dropout2"))
        .add(torchDense(10).name("fc2"))
        .add(LogSoftmax())
        .build(Seed, "log_probs");
  if (Name == "small-cnn")
    return Sequential({1, 28, 28}, "images")
        .add(Conv2D(32, 3, A::Relu))
        .add(MaxPool2D(2))
        .add(Flatten())
        .add(Dense(128, A::Relu))
        .add(Dense(10, A::Softmax))
        .build(Seed, "probs");
  if (Name == "mlp")
    return Sequential({1, 28, 28}, "images")
        .add(Flatten())
        .add(Dense(128, A::Relu))
        .add(Dense(10, A::Softmax))
        .build(Seed, "probs");
  if (Name == "neuron")
    return Sequential({2}, "x").add(Dense(1, A::Sigmoid)).build(Seed, "y");
  std::string Known;
  for (const std::string &N : tutorialModelNames())
    Known += (Known.empty() ? "" : ", ") + N;
  return makeError("unknown model '" + Name + "' (known: " + Known + ")");
}
