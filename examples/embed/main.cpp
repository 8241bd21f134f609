// Embedding dlc: compile a model once with the JIT, then run it on two
// batch sizes from two threads at once. Prints each output row's argmax.
// Then train a model from the builder API with the Trainer.
#include "api/Model.h"
#include "api/Trainer.h"
#include "frontend/builder/TutorialModels.h"

#include "llvm/Support/raw_ostream.h"

#include <thread>

static const char *ModelText = R"(
func @main(%x: f32[N,4]) params(%w: f32[4,3] = dense<f32[4,3]>[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]) -> (probs: f32[N,3], label: i64[N]) {
  %h = matmul %x, %w
  %probs = softmax %h
  %label = argmax %probs {axis = 1, keepdims = false}
  return %probs, %label
}
)";

int main() {
  llvm::ExitOnError Check("embed_model: ");
  dlc::ModelOptions Opts;
  Opts.Engine = "jit";
  dlc::Model M = Check(dlc::Model::fromText(ModelText, "model.dlc", Opts));
  llvm::outs() << "engine " << M.engine() << ", input '" << M.inputs()[0].Name
               << "' " << M.inputs()[0].Type.str() << "\n";
  // Row r of the input is one-hot at column r % 3.
  auto input = [](int64_t Rows) {
    dlc::Tensor X(dlc::DType::F32, {Rows, 4});
    for (int64_t R = 0; R < Rows; ++R)
      X.setF(R * 4 + R % 3, 5.0);
    return X;
  };
  std::vector<dlc::Tensor> A, B;
  std::thread T1([&] { A = Check(M.run({input(2)})); });
  std::thread T2([&] { B = Check(M.run({input(5)})); });
  T1.join();
  T2.join();
  for (auto *Out : {&A, &B}) {
    const dlc::Tensor &L = (*Out)[1];
    llvm::outs() << "labels";
    for (int64_t I = 0; I < L.numElements(); ++I)
      llvm::outs() << " " << L.getI(I);
    llvm::outs() << "\n";
  }
  // A wrong input is an error, not a crash.
  auto Bad = M.run({dlc::Tensor(dlc::DType::F32, {2, 5})});
  if (!Bad)
    llvm::outs() << llvm::toString(Bad.takeError()) << "\n";

  // Training: the one-neuron tutorial model learns the sign of x0 + x1.
  auto Neuron = Check(dlc::makeTutorialModel("neuron", 1));
  dlc::TrainerOptions TOpts;
  TOpts.Loss = dlc::LossKind::MeanSquaredError;
  TOpts.Optimizer.Kind = dlc::OptimizerKind::SGD;
  TOpts.Optimizer.LearningRate = 1.0;
  dlc::Trainer T = Check(dlc::Trainer::create(*Neuron->Functions[0], TOpts));
  dlc::Tensor X(dlc::DType::F32, {8, 2}), Y(dlc::DType::F32, {8, 1});
  for (int64_t I = 0; I < 8; ++I) {
    X.setF(2 * I, (I % 4) - 1.5);
    X.setF(2 * I + 1, (I / 4) - 0.25);
    Y.setF(I, X.getF(2 * I) + X.getF(2 * I + 1) > 0 ? 1 : 0);
  }
  double First = Check(T.step(X, Y)).Loss, Last = First;
  for (int S = 0; S < 300; ++S)
    Last = Check(T.step(X, Y)).Loss;
  dlc::StepResult R = Check(T.evaluate(X, Y));
  llvm::outs() << "training: loss " << (Last < First / 4 ? "fell" : "did not fall")
               << ", " << R.Correct << " of " << R.Count << " right\n";
  return 0;
}
