// `dlc train` before and around the trainer: argument values, model loading,
// the fit of model, data and loss, targets, saving, progress lines and the
// SVG plot.
#include "TestUtil.h"

#include "../../tools/dlc/TrainReport.h"
#include "../../tools/dlc/TrainSetup.h"

#include "frontend/builder/Layers.h"
#include "ir/Parser.h"
#include "ir/Printer.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

using namespace dlc;

namespace {

template <typename T> std::string errOf(llvm::Expected<T> V) {
  return V ? std::string("(ok)") : errText(V.takeError());
}

TEST(TrainSetup, ArgumentValues) {
  EXPECT_EQ(*parsePositiveInt("--epochs", "3"), 3);
  EXPECT_EQ(errOf(parsePositiveInt("--epochs", "0")),
            "error: --epochs must be a positive integer, got '0'");
  EXPECT_EQ(errOf(parsePositiveInt("--batch", "2.5")),
            "error: --batch must be a positive integer, got '2.5'");
  EXPECT_EQ(errOf(parsePositiveInt("--batch", "")),
            "error: --batch must be a positive integer, got ''");
  EXPECT_EQ(*parseNonNegativeInt("--threads", "0"), 0);
  EXPECT_EQ(errOf(parseNonNegativeInt("--threads", "-1")),
            "error: --threads must be an integer >= 0, got '-1'");
  EXPECT_EQ(*parseInt("--seed", "-7"), -7);
  EXPECT_DOUBLE_EQ(*parsePositiveNumber("--lr", "1e-3"), 1e-3);
  for (const char *Bad : {"0", "-0.1", "abc", "nan", "inf", "0.1x"})
    EXPECT_EQ(errOf(parsePositiveNumber("--lr", Bad)),
              std::string("error: --lr must be a number > 0, got '") + Bad + "'");
}

class TrainFiles : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("dlc-train-test", Dir));
  }
  void TearDown() override { llvm::sys::fs::remove_directories(Dir); }
  std::string write(llvm::StringRef Name, llvm::StringRef Text) {
    llvm::SmallString<256> P(Dir);
    llvm::sys::path::append(P, Name);
    std::error_code EC;
    llvm::raw_fd_ostream OS(P, EC);
    OS << Text;
    return std::string(P);
  }
  llvm::SmallString<128> Dir;
};

TEST_F(TrainFiles, LoadModel) {
  EXPECT_EQ(errOf(loadTrainModel("", "", 0)),
            "error: no model: give MODEL.dlc or --model NAME (keras-cnn, "
            "pytorch-net, small-cnn, mlp, neuron)");
  EXPECT_EQ(errOf(loadTrainModel("m.dlc", "mlp", 0)),
            "error: give a model file or --model NAME, not both");
  EXPECT_TRUE(llvm::StringRef(errOf(loadTrainModel("/nonexistent/net.onnx",
                                                    "", 0)))
                  .starts_with("error: cannot read model '/nonexistent/net.onnx'"));
  EXPECT_EQ(errOf(loadTrainModel("", "vgg", 0)),
            "error: unknown model 'vgg' (known: keras-cnn, pytorch-net, "
            "small-cnn, mlp, neuron)");
  std::string Missing = errOf(loadTrainModel("/nonexistent/m.dlc", "", 0));
  EXPECT_TRUE(llvm::StringRef(Missing).starts_with(
      "error: cannot read model '/nonexistent/m.dlc'"))
      << Missing;
  std::string Two = write("two.dlc", "func @main(%a: f32[N,784], %b: f32[N,784]) "
                                     "-> (s: f32[N,784]) {\n"
                                     "  %s = add %a, %b\n  return %s\n}\n");
  EXPECT_EQ(errOf(loadTrainModel(Two, "", 0)),
            "error: " + Two + ": training needs a function with one input and "
            "one output; @main has 2 inputs and 1 outputs");
  std::string NoParams = write("noparams.dlc",
                               "func @main(%a: f32[N,784]) -> (s: f32[N,784]) "
                               "{\n  %s = relu %a\n  return %s\n}\n");
  EXPECT_EQ(errOf(loadTrainModel(NoParams, "", 0)),
            "error: " + NoParams + ": the model has no parameters to train (an "
            "ONNX model's weights are its float initializers)");
  std::string Bad = write("bad.dlc", "func @main(%a: f32[N]) -> (s: f32[N]) {\n"
                                     "  %s = frobnicate %a\n  return %s\n}\n");
  EXPECT_NE(errOf(loadTrainModel(Bad, "", 0)).find("bad.dlc:2:"),
            std::string::npos);
  auto M = loadTrainModel("", "mlp", 0);
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  EXPECT_EQ(M->Label, "--model mlp");
  EXPECT_EQ(M->F->Name, "main");
}

Dataset fakeData(int64_t N) {
  Dataset D;
  D.Images = Tensor(DType::F32, {N, 1, 28, 28});
  D.Labels = Tensor(DType::I64, {N});
  for (int64_t I = 0; I < D.Images.numElements(); ++I)
    D.Images.setF(I, double(I % 255) / 255);
  for (int64_t I = 0; I < N; ++I)
    D.Labels.setI(I, (I * 3) % 10);
  return D;
}

std::unique_ptr<Module> model(Sequential S) {
  auto M = S.build();
  EXPECT_TRUE(bool(M));
  return M ? std::move(*M) : nullptr;
}

std::string fitError(const Function &F, LossKind L, llvm::StringRef Name) {
  auto R = checkModelFits(F, fakeData(2), L, Name);
  return R ? "(fits)" : errText(R.takeError());
}

TEST(TrainSetup, ModelFitsDataAndLoss) {
  using LK = LossKind;
  auto Keras = loadTrainModel("", "keras-cnn", 0);
  auto Torch = loadTrainModel("", "pytorch-net", 0);
  auto Neuron = loadTrainModel("", "neuron", 0);
  ASSERT_TRUE(Keras && Torch && Neuron);
  const Function &K = *Keras->F, &T = *Torch->F;
  EXPECT_EQ(defaultLossName(K), "sparse_categorical_crossentropy");
  EXPECT_EQ(defaultLossName(T), "nll");
  EXPECT_EQ(fitError(K, LK::SparseCategoricalCrossEntropy, "x"), "(fits)");
  EXPECT_EQ(fitError(K, LK::CategoricalCrossEntropy, "x"), "(fits)");
  EXPECT_EQ(fitError(K, LK::MeanSquaredError, "mse"), "(fits)");
  EXPECT_EQ(fitError(K, LK::BinaryCrossEntropy, "bce"),
            "error: the loss 'bce' needs one probability per example (two "
            "classes), but the data have 10 classes; use "
            "sparse_categorical_crossentropy");
  EXPECT_EQ(fitError(T, LK::NegativeLogLikelihood, "nll"), "(fits)");
  EXPECT_EQ(fitError(K, LK::NegativeLogLikelihood, "nll"),
            "error: the loss 'nll' needs log-probabilities (a final "
            "log_softmax), but the model's output comes from 'softmax'; use "
            "sparse_categorical_crossentropy");
  EXPECT_EQ(fitError(T, LK::SparseCategoricalCrossEntropy,
                     "sparse_categorical_crossentropy"),
            "error: the loss 'sparse_categorical_crossentropy' needs "
            "probabilities, but the model ends with log_softmax "
            "(log-probabilities); use --loss nll");
  EXPECT_EQ(fitError(*Neuron->F, LK::BinaryCrossEntropy, "bce"),
            "error: the model's input 'x' is f32[N,2], but the data are f32 "
            "images [N,1,28,28], [N,28,28] or [N,784]");
  // Logits (no final activation) are not probabilities; mse takes them.
  auto Logits = model(Sequential({784}).add(Dense(10)));
  EXPECT_EQ(fitError(*Logits->Functions[0], LK::CategoricalCrossEntropy,
                     "categorical_crossentropy"),
            "error: the loss 'categorical_crossentropy' needs probabilities (a "
            "final softmax), but the model's output comes from 'gemm'");
  EXPECT_EQ(fitError(*Logits->Functions[0], LK::MeanSquaredError, "mse"),
            "(fits)");
  auto Five = model(
      Sequential({28, 28}).add(Flatten()).add(Dense(5, Activation::Softmax)));
  EXPECT_EQ(fitError(*Five->Functions[0], LK::SparseCategoricalCrossEntropy,
                     "sparse_categorical_crossentropy"),
            "error: the model's output 'output' is f32[N,5], but the loss "
            "'sparse_categorical_crossentropy' on 10 classes needs scores "
            "[N,10]");
  // A static batch dim is reported; images take the input's rank.
  auto Static = parseModule(
      "func @main(%x: f32[8,28,28]) params(%w: f32[784,10]) -> (p: f32[8,10]) {\n"
      "  %f = flatten %x\n  %p = matmul %f, %w\n  return %p\n}\n",
      "static.dlc");
  ASSERT_TRUE(bool(Static)) << errText(Static.takeError());
  const Function &S = *(*Static)->Functions[0];
  auto Fit = checkModelFits(S, fakeData(2), LK::MeanSquaredError, "mse");
  ASSERT_TRUE(bool(Fit));
  EXPECT_EQ(Fit->StaticBatch, 8);
  EXPECT_EQ(checkModelFits(K, fakeData(2), LK::MeanSquaredError, "mse")
                ->StaticBatch,
            -1);
  Dataset D = fakeData(3);
  Tensor Im = imagesForModel(D.Images, S.Inputs[0]->Type);
  EXPECT_EQ(Im.type().str(), "f32[3,28,28]");
  EXPECT_EQ(Im.bytes(), D.Images.bytes());
}

TEST(TrainSetup, Targets) {
  Tensor L(DType::I64, {3});
  L.setI(0, 2), L.setI(1, 0), L.setI(2, 9);
  EXPECT_TRUE(targetsForLoss(L, LossKind::NegativeLogLikelihood, 10) == L);
  EXPECT_TRUE(targetsForLoss(L, LossKind::SparseCategoricalCrossEntropy, 10) ==
              L);
  for (LossKind K : {LossKind::MeanSquaredError, LossKind::BinaryCrossEntropy,
                     LossKind::CategoricalCrossEntropy}) {
    Tensor T = targetsForLoss(L, K, 10);
    ASSERT_EQ(T.type().str(), "f32[3,10]");
    for (int64_t I = 0; I < 3; ++I)
      for (int64_t C = 0; C < 10; ++C)
        EXPECT_EQ(T.getF(I * 10 + C), C == L.getI(I) ? 1.0 : 0.0);
  }
}

TEST_F(TrainFiles, SaveModel) {
  auto M = loadTrainModel("", "small-cnn", 5);
  ASSERT_TRUE(bool(M));
  std::string Text = toString(*M->M);
  llvm::SmallString<256> Out(Dir);
  llvm::sys::path::append(Out, "trained.dlc");
  ASSERT_FALSE(bool(saveTrainedModel(*M->M, Out)));
  EXPECT_TRUE(llvm::sys::fs::exists(Dir + "/trained.weights"));
  auto Buf = llvm::MemoryBuffer::getFile(Out);
  ASSERT_TRUE(bool(Buf));
  EXPECT_TRUE((*Buf)->getBuffer().starts_with("weights \"trained.weights\""));
  // Loaded back (the weights file found next to the text), every parameter
  // has its value.
  auto Back = parseModule((*Buf)->getBuffer(), Out);
  ASSERT_TRUE(bool(Back)) << errText(Back.takeError());
  auto Fresh = loadTrainModel("", "small-cnn", 5);
  const Function &A = *(*Back)->Functions[0], &B = *Fresh->F;
  ASSERT_EQ(A.Params.size(), B.Params.size());
  for (size_t I = 0; I < A.Params.size(); ++I)
    EXPECT_TRUE(*A.ParamInits[I]->getTensor() == *B.ParamInits[I]->getTensor());
  EXPECT_EQ(errText(checkOutputPath("model.onnx")), "");
  EXPECT_EQ(errText(checkOutputPath("/nonexistent/dir/m.dlc")),
            "error: -o '/nonexistent/dir/m.dlc': directory '/nonexistent/dir' "
            "does not exist");
  EXPECT_EQ(errText(saveTrainedModel(*M->M, (Dir + "/m.weights").str())),
            "error: -o '" + std::string(Dir) +
                "/m.weights': unknown extension '.weights'; write .dlc (IR "
                "text with a .weights file) or .onnx");
  EXPECT_EQ(errText(checkOutputPath("out.pt")),
            "error: -o 'out.pt': unknown extension '.pt'; write .dlc (IR text "
            "with a .weights file) or .onnx");
  EXPECT_FALSE(llvm::sys::fs::exists(Dir + "/m.weights"));
}

TEST(TrainReport, Lines) {
  EXPECT_EQ(formatDuration(4.4), "4s");
  EXPECT_EQ(formatDuration(187), "3m07s");
  EXPECT_EQ(formatDuration(3725), "1h02m");
  EXPECT_EQ(formatDuration(NAN), "?");
  EXPECT_EQ(progressLine(2, 5, 250, 1000, 0.51234, 0.8, 500, 10),
            "epoch 2/5 [==>       ] 250/1000 loss 0.5123 accuracy 0.8000 500 "
            "images/s ETA 2s");
  EXPECT_EQ(progressLine(1, 1, 1000, 1000, 0.1, 1, 0, 4),
            "epoch 1/1 [====] 1000/1000 loss 0.1000 accuracy 1.0000 0 images/s "
            "ETA ?");
  EXPECT_EQ(progressLine(1, 3, 10, 20, 1, 0.5, 10, 0),
            "epoch 1/3 10/20 loss 1.0000 accuracy 0.5000 10 images/s ETA 1s");
  EpochStats S{3, 0.41234, 0.85, 0.44, 0.839, 25.61, 2345.4, {}};
  EXPECT_EQ(epochLine(S, 5),
            "epoch 3/5: loss 0.4123, accuracy 0.8500 | test loss 0.4400, "
            "accuracy 0.8390 | 2345 images/s, 25.6s");
}

size_t count(const std::string &S, const std::string &Sub) {
  size_t N = 0;
  for (size_t P = S.find(Sub); P != std::string::npos; P = S.find(Sub, P + 1))
    ++N;
  return N;
}

/// The cy of the circle whose title starts with Title.
double circleY(const std::string &Svg, const std::string &Title) {
  size_t T = Svg.find("<title>" + Title);
  size_t C = Svg.rfind("cy=\"", T);
  return std::stod(Svg.substr(C + 4));
}

TEST(TrainReport, Plot) {
  std::vector<EpochStats> E = {{1, 0.9, 0.70, 0.8, 0.72, 1, 1, {}},
                               {2, 0.5, 0.82, 0.6, 0.80, 1, 1, {}},
                               {3, 0.3, 0.90, NAN, 0.85, 1, 1, {}}};
  std::string Svg = renderTrainingPlot(E, "keras-cnn <fashion-mnist>");
  EXPECT_TRUE(llvm::StringRef(Svg).starts_with("<?xml"));
  EXPECT_TRUE(llvm::StringRef(Svg).ends_with("</svg>\n"));
  EXPECT_NE(Svg.find("keras-cnn &lt;fashion-mnist&gt;"), std::string::npos);
  EXPECT_EQ(Svg.find("<fashion"), std::string::npos);
  // 4 series, one of them broken by the NaN (two points, then nothing).
  EXPECT_EQ(count(Svg, "<polyline"), 4u);
  EXPECT_EQ(count(Svg, "<circle"), 11u);
  for (const char *Name : {"train loss", "test loss", "train accuracy",
                           "test accuracy"})
    EXPECT_NE(Svg.find(std::string(">") + Name + "</text>"), std::string::npos);
  // Higher values sit higher (smaller y); equal values on one panel align.
  EXPECT_LT(circleY(Svg, "train loss, epoch 1"), circleY(Svg, "train loss, epoch 2"));
  EXPECT_GT(circleY(Svg, "test accuracy, epoch 1"),
            circleY(Svg, "test accuracy, epoch 3"));
  EXPECT_LT(circleY(Svg, "train accuracy, epoch 3"),
            circleY(Svg, "test accuracy, epoch 3"));
  // One epoch still draws (a single point per series).
  std::string One = renderTrainingPlot({E[0]}, "one");
  EXPECT_EQ(count(One, "<circle"), 4u);
  EXPECT_EQ(One.find("nan"), std::string::npos);
  EXPECT_EQ(count(One, "class=\"steps\""), 0u);
  // Step losses: one smoothed curve across the epochs, falling when the
  // losses fall, from the first epoch's start (x of the y axis) on.
  for (int K = 0; K < 100; ++K) {
    E[0].StepLosses.push_back(1.0 - K * 0.002);
    E[1].StepLosses.push_back(0.7 - K * 0.002);
  }
  E[1].StepLosses[5] = NAN; // skipped, not drawn as a gap
  std::string Steps = renderTrainingPlot({E[0], E[1]}, "steps");
  ASSERT_EQ(count(Steps, "class=\"steps\""), 1u);
  EXPECT_NE(Steps.find("train loss per step (smoothed)"), std::string::npos);
  size_t P = Steps.find("points=\"", Steps.find("class=\"steps\""));
  llvm::SmallVector<llvm::StringRef, 256> Pts;
  llvm::StringRef(Steps).substr(P + 8).split('"').first.split(Pts, ' ');
  ASSERT_EQ(Pts.size(), 199u);
  double FirstX = std::stod(Pts.front().split(',').first.str());
  double FirstY = std::stod(Pts.front().split(',').second.str());
  double LastY = std::stod(Pts.back().split(',').second.str());
  EXPECT_GT(LastY, FirstY); // a lower loss sits lower on the page
  EXPECT_NEAR(FirstX, 60 + 0.005 * (450 - 75), 0.2); // 1/100 of 2 epochs
  EXPECT_EQ(Steps.find("nan"), std::string::npos);
}

} // namespace
