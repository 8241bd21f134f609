// The tutorial models, built with the builder API for 28x28 grey images
// (input f32[N,1,28,28], output f32[N,10]) and the single sigmoid neuron
// (input f32[N,2], output f32[N,1]).
#ifndef DLC_FRONTEND_BUILDER_TUTORIALMODELS_H
#define DLC_FRONTEND_BUILDER_TUTORIALMODELS_H

#include "ir/IR.h"

#include <string>
#include <vector>

namespace dlc {

/// keras-cnn:   Conv(32,3x3,relu) - MaxPool 2 - Conv(64,3x3,relu) -
///              MaxPool 2 - Conv(64,3x3,relu) - Flatten - Dense(64,relu) -
///              Dense(10,softmax)                       (Keras initializers)
/// pytorch-net: Conv(32,3) - relu - Conv(64,3) - relu - MaxPool 2 -
///              Dropout 0.25 - Flatten - Dense(128) - relu - Dropout 0.5 -
///              Dense(10) - log_softmax                 (PyTorch initializers)
/// small-cnn:   Conv(32,3x3,relu) - MaxPool 2 - Flatten - Dense(128,relu) -
///              Dense(10,softmax)
/// mlp:         Flatten - Dense(128,relu) - Dense(10,softmax)
/// neuron:      y = sigmoid(W x + b), two inputs
/// Errors: an unknown name (the message lists the known ones).
llvm::Expected<std::unique_ptr<Module>>
makeTutorialModel(llvm::StringRef Name, int64_t Seed = 0);

/// The names makeTutorialModel knows, in the order above.
std::vector<std::string> tutorialModelNames();

} // namespace dlc

#endif
