// Training a CNN with the C++ API: the builder describes the model, the data
// library loads Fashion-MNIST, dlc::Trainer compiles one training step and
// runs it. The README's training example.
// Usage: train_cnn [DATA (fashion-mnist, fashion-mnist:DIR, mnist:DIR)] [LIMIT]
#include "api/Trainer.h"
#include "frontend/builder/Layers.h"
#include "frontend/data/Dataset.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

using namespace dlc;

int main(int argc, char **argv) {
  llvm::ExitOnError Check("train_cnn: ");
  std::string Data = argc > 1 ? argv[1] : "fashion-mnist";
  int64_t Limit = argc > 2 ? std::atoll(argv[2]) : -1; // first N images

  auto Model = Check(Sequential({1, 28, 28}, "images")  // f32[N,1,28,28]
                         .add(Conv2D(32, 3, Activation::Relu))
                         .add(MaxPool2D(2))
                         .add(Flatten())
                         .add(Dense(128, Activation::Relu))
                         .add(Dense(10, Activation::Softmax))
                         .build(/*Seed=*/1));
  DataSource Src = Check(parseDataSpec(Data));
  Dataset Train = Check(loadSplit(Src, Split::Train, {}, Limit));
  Dataset Test = Check(loadSplit(Src, Split::Test, {}, Limit));

  TrainerOptions Opts; // sparse categorical cross-entropy, Adam, lr 0.001
  Trainer T = Check(Trainer::create(*Model->Functions[0], Opts));
  const int64_t BatchSize = 64, EvalSize = 1000;
  for (int64_t Epoch = 1; Epoch <= 2; ++Epoch) {
    std::vector<int64_t> Order = epochOrder(Train.size(), /*Seed=*/1, Epoch);
    for (int64_t K = 0; K < numBatches(Train.size(), BatchSize); ++K) {
      Batch B = makeBatch(Train, Order, K, BatchSize);
      Check(T.step(B.Images, B.Labels));
    }
    std::vector<int64_t> InOrder = epochOrder(Test.size(), 0, 0, false);
    int64_t Correct = 0;
    for (int64_t K = 0; K < numBatches(Test.size(), EvalSize); ++K) {
      Batch B = makeBatch(Test, InOrder, K, EvalSize);
      Correct += Check(T.evaluate(B.Images, B.Labels)).Correct;
    }
    llvm::outs() << llvm::format("epoch %d: test accuracy %.4f\n", int(Epoch),
                                 double(Correct) / double(Test.size()));
  }
}
