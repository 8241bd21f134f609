// `dlc train` before training: argument values, model loading, the fit of
// model, data and loss, the communicator and errors on every rank, shards
// of a batch, and saving the trained model.
#include "TrainSetup.h"

#include "dist/MpiCommunicator.h"

#include "frontend/builder/TutorialModels.h"
#include "frontend/onnx/OnnxExporter.h"
#include "frontend/onnx/OnnxImporter.h"
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Weights.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

using namespace dlc;

/// Text as an integer of at least Min, or an error saying what Flag takes.
static llvm::Expected<int64_t> parseIntAtLeast(llvm::StringRef Flag,
                                               llvm::StringRef Text, int64_t Min,
                                               llvm::StringRef What) {
  int64_t V;
  if (Text.trim().getAsInteger(10, V) || V < Min)
    return makeError(Flag + " must be " + What + ", got '" + Text + "'");
  return V;
}

llvm::Expected<int64_t> dlc::parseInt(llvm::StringRef Flag,
                                      llvm::StringRef Text) {
  return parseIntAtLeast(Flag, Text, INT64_MIN, "an integer");
}

llvm::Expected<int64_t> dlc::parsePositiveInt(llvm::StringRef Flag,
                                              llvm::StringRef Text) {
  return parseIntAtLeast(Flag, Text, 1, "a positive integer");
}

llvm::Expected<int64_t> dlc::parseNonNegativeInt(llvm::StringRef Flag,
                                                 llvm::StringRef Text) {
  return parseIntAtLeast(Flag, Text, 0, "an integer >= 0");
}

llvm::Expected<double> dlc::parsePositiveNumber(llvm::StringRef Flag,
                                                llvm::StringRef Text) {
  double V;
  if (Text.trim().getAsDouble(V) || !std::isfinite(V) || V <= 0)
    return makeError(Flag + " must be a number > 0, got '" + Text + "'");
  return V;
}

/// IR text, or ONNX whose float initializers become the parameters to train.
static llvm::Expected<std::unique_ptr<Module>>
readModelFile(llvm::StringRef File) {
  auto Buf = llvm::MemoryBuffer::getFile(File);
  if (!Buf)
    return makeError("cannot read model '" + File + "': " +
                     Buf.getError().message());
  llvm::StringRef Bytes = (*Buf)->getBuffer();
  if (!isOnnxModel(File, Bytes))
    return parseModule(Bytes, File);
  OnnxImportOptions Opts;
  Opts.InitializersAsParams = true;
  return importOnnx(Bytes, File, Opts);
}

llvm::Expected<TrainModel> dlc::loadTrainModel(llvm::StringRef File,
                                               llvm::StringRef Name,
                                               int64_t Seed) {
  TrainModel T;
  if (!File.empty() && !Name.empty())
    return makeError("give a model file or --model NAME, not both");
  if (File.empty() && Name.empty()) {
    std::string Known;
    for (const std::string &N : tutorialModelNames())
      Known += (Known.empty() ? "" : ", ") + N;
    return makeError("no model: give MODEL.dlc or --model NAME (" + Known +
                     ")");
  }
  if (!Name.empty()) {
    auto M = makeTutorialModel(Name, Seed);
    if (!M)
      return M.takeError();
    T.M = std::move(*M);
    T.Label = ("--model " + Name).str();
  } else {
    auto M = readModelFile(File);
    if (!M)
      return M.takeError();
    T.M = std::move(*M);
    T.Label = File.str();
  }
  T.F = T.M->lookup("main");
  if (!T.F && !T.M->Functions.empty())
    T.F = T.M->Functions.front().get();
  if (!T.F)
    return makeError(T.Label + ": the model has no function");
  if (T.F->Inputs.size() != 1 || T.F->Outputs.size() != 1)
    return makeError(T.Label + ": training needs a function with one input "
                     "and one output; @" + T.F->Name + " has " +
                     llvm::Twine(T.F->Inputs.size()) + " inputs and " +
                     llvm::Twine(T.F->Outputs.size()) + " outputs");
  if (T.F->Params.empty())
    return makeError(T.Label + ": the model has no parameters to train (an "
                     "ONNX model's weights are its float initializers)");
  return std::move(T);
}

/// The op that computes F's output, or null for an input or parameter.
static const Operation *outputOp(const Function &F) {
  return F.Outputs.empty() ? nullptr : F.Outputs[0]->Def;
}

llvm::StringRef dlc::defaultLossName(const Function &F) {
  const Operation *Op = outputOp(F);
  if (Op && Op->kind() == OpKind::LogSoftmax)
    return "nll";
  if (Op && (Op->kind() == OpKind::Softmax || Op->kind() == OpKind::Sigmoid))
    return "sparse_categorical_crossentropy";
  return "cross_entropy"; // logits, as PyTorch models end

}

llvm::Expected<DataFit> dlc::checkModelFits(const Function &F,
                                            const Dataset &D, LossKind Loss,
                                            llvm::StringRef LossLabel) {
  DataFit Fit;
  const TensorType &In = F.Inputs[0]->Type;
  llvm::ArrayRef<int64_t> Img = D.Images.shape().drop_front(); // [1,H,W]
  int64_t H = Img[1], W = Img[2];
  std::string Want = "[N,1," + std::to_string(H) + "," + std::to_string(W) +
                     "], [N," + std::to_string(H) + "," + std::to_string(W) +
                     "] or [N," + std::to_string(H * W) + "]";
  llvm::SmallVector<int64_t, 4> Rest;
  for (unsigned I = 1; I < In.rank(); ++I)
    Rest.push_back(In.dim(I).isStatic() ? In.dim(I).size() : -1);
  bool ShapeOk = (Rest == llvm::SmallVector<int64_t, 4>{1, H, W}) ||
                 (Rest == llvm::SmallVector<int64_t, 4>{H, W}) ||
                 (Rest == llvm::SmallVector<int64_t, 4>{H * W});
  if (!isFloat(In.elem()) || !ShapeOk)
    return makeError("the model's input '" + F.Inputs[0]->Name + "' is " +
                     In.str() + ", but the data are f32 images " + Want);
  if (In.dim(0).isStatic())
    Fit.StaticBatch = In.dim(0).size();

  const TensorType &Out = F.Outputs[0]->Type;
  int64_t C = D.NumClasses;
  if (Out.rank() != 2 || !Out.dim(1).isStatic() || Out.dim(1).size() != C)
    return makeError("the model's output '" + F.OutputNames[0] + "' is " +
                     Out.str() + ", but the loss '" + LossLabel + "' on " +
                     llvm::Twine(C) + " classes needs scores [N," +
                     llvm::Twine(C) + "]");
  const Operation *Last = outputOp(F);
  OpKind K = Last ? Last->kind() : OpKind::Identity;
  llvm::StringRef From = Last ? Last->mnemonic() : "an input or parameter";
  switch (Loss) {
  case LossKind::NegativeLogLikelihood:
    if (K != OpKind::LogSoftmax)
      return makeError("the loss 'nll' needs log-probabilities (a final "
                       "log_softmax), but the model's output comes from '" +
                       From + "'; use sparse_categorical_crossentropy");
    break;
  case LossKind::SparseCategoricalCrossEntropy:
  case LossKind::CategoricalCrossEntropy:
    // As in Keras (from_logits = false): the scores are probabilities.
    if (K == OpKind::LogSoftmax)
      return makeError("the loss '" + LossLabel + "' needs probabilities, but "
                       "the model ends with log_softmax (log-probabilities); "
                       "use --loss nll");
    if (K != OpKind::Softmax && K != OpKind::Sigmoid)
      return makeError("the loss '" + LossLabel + "' needs probabilities (a "
                       "final softmax), but the model's output comes from '" +
                       From + "'; for logits use --loss cross_entropy");
    break;
  case LossKind::CrossEntropy:
    if (K == OpKind::Softmax || K == OpKind::Sigmoid)
      return makeError("the loss 'cross_entropy' reads logits, but the model "
                       "ends with " + From + " (probabilities); use --loss "
                       "sparse_categorical_crossentropy");
    break;
  case LossKind::BinaryCrossEntropy:
    return makeError("the loss 'bce' needs one probability per example (two "
                     "classes), but the data have " + llvm::Twine(C) +
                     " classes; use sparse_categorical_crossentropy");
  case LossKind::MeanSquaredError:
    break;
  }
  return Fit;
}

Tensor dlc::imagesForModel(const Tensor &Images, const TensorType &Input) {
  llvm::SmallVector<int64_t, 4> Shape{Images.shape()[0]};
  for (unsigned I = 1; I < Input.rank(); ++I)
    Shape.push_back(Input.dim(I).size());
  Tensor T(DType::F32, Shape);
  assert(T.byteSize() == Images.byteSize() && "checked by checkModelFits");
  T.bytes() = Images.bytes();
  return T;
}

Tensor dlc::targetsForLoss(const Tensor &Labels, LossKind Loss,
                           int64_t NumClasses) {
  switch (Loss) {
  case LossKind::SparseCategoricalCrossEntropy:
  case LossKind::NegativeLogLikelihood:
  case LossKind::CrossEntropy:
    return Labels;
  case LossKind::MeanSquaredError:
  case LossKind::BinaryCrossEntropy:
  case LossKind::CategoricalCrossEntropy:
    break;
  }
  int64_t B = Labels.numElements();
  Tensor T(DType::F32, {B, NumClasses});
  for (int64_t I = 0; I < B; ++I)
    T.as<float>()[I * NumClasses + Labels.as<int64_t>()[I]] = 1.0f;
  return T;
}

llvm::Error dlc::checkOutputPath(llvm::StringRef Path) {
  llvm::StringRef Ext = llvm::sys::path::extension(Path);
  if (!Ext.equals_insensitive(".dlc") && !Ext.equals_insensitive(".onnx"))
    return makeError("-o '" + Path + "': unknown extension '" + Ext +
                     "'; write .dlc (IR text with a .weights file) or .onnx");
  llvm::StringRef Dir = llvm::sys::path::parent_path(Path);
  if (!Dir.empty() && !llvm::sys::fs::is_directory(Dir))
    return makeError("-o '" + Path + "': directory '" + Dir +
                     "' does not exist");
  return llvm::Error::success();
}

llvm::Error dlc::saveTrainedModel(Module &M, llvm::StringRef Path) {
  if (auto E = checkOutputPath(Path))
    return E;
  if (Path.ends_with_insensitive(".onnx")) {
    Function *F = M.lookup("main");
    if (!F && !M.Functions.empty())
      F = M.Functions.front().get();
    if (!F)
      return makeError("-o '" + Path + "': the model has no function");
    return exportOnnxFile(*F, Path);
  }
  llvm::SmallString<256> Weights(Path);
  llvm::sys::path::replace_extension(Weights, "weights");
  if (auto E = externalizeWeights(M, Weights, 16))
    return E;
  // The text names the side file relative to itself.
  M.WeightsFile = llvm::sys::path::filename(Weights).str();
  std::error_code EC;
  llvm::raw_fd_ostream OS(Path, EC);
  if (EC)
    return makeError("cannot write '" + Path + "': " + EC.message());
  printModule(M, OS);
  OS.close();
  if (OS.has_error())
    return makeError("error writing '" + Path + "'");
  return llvm::Error::success();
}

/// Rows [Begin, End) of T along its first dim.
static Tensor rows(const Tensor &T, int64_t Begin, int64_t End) {
  llvm::SmallVector<int64_t, 4> Shape(T.shape().begin(), T.shape().end());
  size_t RowBytes = Shape[0] ? T.byteSize() / size_t(Shape[0]) : 0;
  Shape[0] = End - Begin;
  Tensor Out(T.elem(), Shape);
  if (Out.byteSize())
    std::memcpy(Out.data(), T.data() + size_t(Begin) * RowBytes,
                Out.byteSize());
  return Out;
}

llvm::Expected<Dataset> dlc::splitOffValidation(Dataset &D, double Fraction) {
  if (!(Fraction > 0 && Fraction < 1))
    return makeError("--validation-split must be between 0 and 1 "
                     "(exclusive), got " + formatDouble(Fraction));
  int64_t N = D.size();
  int64_t Val = int64_t(double(N) * Fraction);
  if (Val < 1 || Val >= N)
    return makeError("--validation-split " + formatDouble(Fraction) +
                     " of " + std::to_string(N) +
                     " training examples leaves an empty training or "
                     "validation set");
  Dataset V;
  V.NumClasses = D.NumClasses;
  V.Images = rows(D.Images, N - Val, N);
  V.Labels = rows(D.Labels, N - Val, N);
  D.Images = rows(D.Images, 0, N - Val);
  D.Labels = rows(D.Labels, 0, N - Val);
  return V;
}

llvm::Expected<std::shared_ptr<Communicator>>
dlc::trainCommunicator(bool Distributed, double TimeoutSeconds) {
  if (!Distributed && !launchedAsRanks())
    return std::make_shared<LocalCommunicator>();
  MpiOptions Opts;
  Opts.TimeoutSeconds = TimeoutSeconds;
  auto C = createMpiCommunicator(Opts);
  if (!C)
    return C.takeError();
  return std::shared_ptr<Communicator>(std::move(*C));
}

void RankCheck::fail(llvm::Error E) {
  llvm::outs().flush();
  if (C.size() > 1) {
    llvm::logAllUnhandledErrors(std::move(E), llvm::errs(),
                                "dlc train: " + C.describe() + ": ");
    llvm::errs().flush();
    C.abort(1);
  }
  llvm::logAllUnhandledErrors(std::move(E), llvm::errs(), "");
  std::exit(1);
}

Batch dlc::shardBatch(const Dataset &D, llvm::ArrayRef<int64_t> Order,
                      int64_t Begin, int64_t End) {
  if (Begin < End)
    return makeBatch(D, Order.slice(size_t(Begin), size_t(End - Begin)), 0,
                     End - Begin);
  llvm::SmallVector<int64_t, 4> Shape(D.Images.shape());
  Shape[0] = 0;
  return {Tensor(DType::F32, Shape), Tensor(DType::I64, {0})};
}
