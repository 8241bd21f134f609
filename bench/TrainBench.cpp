// Trains a tutorial model on Fashion-MNIST and reports, per epoch, the
// training time, images/s and test accuracy; with --steps N it only times N
// training steps (ms per step and the implied epoch time).
//
//   build/bench/train-bench keras-cnn adam 0.001 5
//   build/bench/train-bench pytorch-net sgd-momentum 0.01 1
//   build/bench/train-bench keras-cnn adam 0.001 --steps 50
#include "api/Trainer.h"
#include "frontend/builder/TutorialModels.h"
#include "frontend/data/Dataset.h"

#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace dlc;
using Clock = std::chrono::steady_clock;

static double secondsSince(Clock::time_point T0) {
  return std::chrono::duration<double>(Clock::now() - T0).count();
}

int main(int Argc, char **Argv) {
  llvm::ExitOnError Check("train-bench: ");
  if (Argc < 5) {
    std::fprintf(stderr, "usage: train-bench MODEL OPTIMIZER LR EPOCHS|--steps N "
                         "[threads]\n");
    return 1;
  }
  std::string ModelName = Argv[1], OptName = Argv[2];
  double Lr = std::atof(Argv[3]);
  bool StepsOnly = std::strcmp(Argv[4], "--steps") == 0;
  int Epochs = StepsOnly ? 1 : std::atoi(Argv[4]);
  int Steps = StepsOnly ? std::atoi(Argv[5]) : 0;
  unsigned Threads = Argc > (StepsOnly ? 6 : 5) ? std::atoi(Argv[StepsOnly ? 6 : 5]) : 0;
  const int64_t BatchSize = 64;

  auto M = Check(makeTutorialModel(ModelName, 0));
  TrainerOptions Opts;
  bool LogSoftmaxOut = ModelName == "pytorch-net";
  Opts.Loss = LogSoftmaxOut ? LossKind::NegativeLogLikelihood
                            : LossKind::SparseCategoricalCrossEntropy;
  if (OptName == "sgd-momentum") {
    Opts.Optimizer.Kind = OptimizerKind::Momentum;
    Opts.Optimizer.Momentum = 0.5;
  } else {
    Opts.Optimizer.Kind = Check(parseOptimizer(OptName));
  }
  Opts.Optimizer.LearningRate = Lr;
  Opts.Threads = Threads;
  auto T0 = Clock::now();
  Trainer T = Check(Trainer::create(*M->Functions[0], Opts));
  std::printf("%s, %s lr %g, batch %lld, threads %u: compiled in %.2f s\n",
              ModelName.c_str(), OptName.c_str(), Lr, (long long)BatchSize,
              Threads, secondsSince(T0));

  DataSource Src = Check(parseDataSpec("fashion-mnist"));
  Dataset Train = Check(loadSplit(Src, Split::Train));
  Dataset Test = Check(loadSplit(Src, Split::Test));
  int64_t NB = numBatches(Train.size(), BatchSize);
  for (int E = 0; E < Epochs; ++E) {
    std::vector<int64_t> Order = epochOrder(Train.size(), 1, E);
    int64_t Limit = StepsOnly ? std::min<int64_t>(Steps + 3, NB) : NB;
    double LossSum = 0;
    int64_t Correct = 0, Seen = 0;
    Clock::time_point Start = Clock::now();
    for (int64_t K = 0; K < Limit; ++K) {
      if (StepsOnly && K == 3)
        Start = Clock::now(); // three warm-up steps
      Batch B = makeBatch(Train, Order, K, BatchSize);
      StepResult R = Check(T.step(B.Images, B.Labels));
      LossSum += R.Loss * R.Count;
      Correct += R.Correct;
      Seen += R.Count;
    }
    double Secs = secondsSince(Start);
    if (StepsOnly) {
      double PerStep = Secs / Steps;
      std::printf("%d steps: %.1f ms/step, %.0f images/s, implied epoch (%lld "
                  "steps) %.1f s\n",
                  Steps, 1e3 * PerStep, BatchSize / PerStep, (long long)NB,
                  PerStep * NB);
      return 0;
    }
    // Test accuracy in batches of 1000.
    std::vector<int64_t> TestOrder = epochOrder(Test.size(), 0, 0, false);
    int64_t TestCorrect = 0;
    double TestLoss = 0;
    for (int64_t K = 0; K < numBatches(Test.size(), 1000); ++K) {
      Batch B = makeBatch(Test, TestOrder, K, 1000);
      StepResult R = Check(T.evaluate(B.Images, B.Labels));
      TestCorrect += R.Correct;
      TestLoss += R.Loss * R.Count;
    }
    std::printf("epoch %d: %.1f s (%.0f images/s), train loss %.4f acc %.4f, "
                "test loss %.4f acc %.4f\n",
                E + 1, Secs, Seen / Secs, LossSum / Seen, double(Correct) / Seen,
                TestLoss / Test.size(), double(TestCorrect) / Test.size());
    std::fflush(stdout);
  }
  return 0;
}
