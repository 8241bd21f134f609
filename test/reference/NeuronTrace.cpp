// neuron-trace: trains the tutorial "neuron" model (y = sigmoid(x W + b),
// two inputs) with dlc's JIT-compiled training step, MSE loss and plain
// gradient descent, and prints everything an independent implementation
// needs to redo it as JSON: the data, the initial weights, the loss every
// 100 steps and the final weights. test_neuron_numpy.py compares it with
// numpy.
//
//   neuron-trace [--steps N] [--lr LR] [--engine jit|interp]
#include "api/Trainer.h"
#include "frontend/builder/TutorialModels.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

using namespace dlc;

static void printTensor(llvm::raw_ostream &OS, const Tensor &T) {
  OS << "[";
  for (int64_t I = 0; I < T.numElements(); ++I)
    OS << (I ? ", " : "") << llvm::format("%.9g", T.getF(I));
  OS << "]";
}

int main(int Argc, char **Argv) {
  llvm::ExitOnError Check("neuron-trace: ");
  int64_t Steps = 1000;
  double Lr = 0.01;
  std::string Engine = "jit";
  if (Argc % 2 == 0)
    Check(makeError("flags come in pairs: --steps N, --lr LR, --engine E"));
  for (int I = 1; I + 1 < Argc; I += 2) {
    llvm::StringRef Flag = Argv[I], Value = Argv[I + 1];
    bool Bad = false;
    if (Flag == "--steps")
      Bad = Value.getAsInteger(10, Steps) || Steps < 0;
    else if (Flag == "--lr")
      Bad = Value.getAsDouble(Lr) || !(Lr > 0);
    else if (Flag == "--engine")
      Engine = Value.str();
    else
      Check(makeError("unknown flag '" + Flag + "'"));
    if (Bad)
      Check(makeError("bad value '" + Value + "' for " + Flag));
  }

  // 16 points on a 4 x 4 grid over [-1.5, 1.5]^2; the target is 1 above the
  // line x0 + 2 x1 = 0.5, else 0 (linearly separable, so the loss falls).
  const int64_t N = 16;
  Tensor X(DType::F32, {N, 2}), Y(DType::F32, {N, 1});
  for (int64_t I = 0; I < N; ++I) {
    double A = -1.5 + double(I % 4), B = -1.5 + double(I / 4);
    X.setF(2 * I, A);
    X.setF(2 * I + 1, B);
    Y.setF(I, A + 2 * B > 0.5 ? 1.0 : 0.0);
  }

  auto Model = Check(makeTutorialModel("neuron", 7));
  TrainerOptions Opts;
  Opts.Loss = LossKind::MeanSquaredError;
  Opts.Optimizer.Kind = OptimizerKind::SGD;
  Opts.Optimizer.LearningRate = Lr;
  Opts.Engine = Engine;
  Trainer T = Check(Trainer::create(*Model->Functions[0], Opts));

  llvm::raw_ostream &OS = llvm::outs();
  auto PrintParams = [&](llvm::StringRef Key) {
    std::unique_ptr<Module> M = T.currentModel();
    const Function &F = *M->Functions[0];
    OS << "  \"" << Key << "\": {";
    for (size_t I = 0; I < F.Params.size(); ++I) {
      OS << (I ? ", " : "") << "\"" << F.Params[I]->Name << "\": ";
      printTensor(OS, *F.ParamInits[I]->getTensor());
    }
    OS << "},\n";
  };
  OS << "{\n  \"lr\": " << llvm::format("%.9g", Lr) << ",\n  \"x\": ";
  printTensor(OS, X);
  OS << ",\n  \"y\": ";
  printTensor(OS, Y);
  OS << ",\n";
  PrintParams("initial");
  OS << "  \"loss\": {";
  for (int64_t S = 0; S < Steps; ++S) {
    StepResult R = Check(T.step(X, Y));
    if (S % 100 == 0)
      OS << (S ? ", " : "") << "\"" << S << "\": " << llvm::format("%.9g", R.Loss);
  }
  StepResult Final = Check(T.evaluate(X, Y));
  OS << (Steps ? ", " : "") << "\"" << Steps << "\": "
     << llvm::format("%.9g", Final.Loss) << "},\n";
  PrintParams("final");
  OS << "  \"steps\": " << Steps << "\n}\n";
  return 0;
}
