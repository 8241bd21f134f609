// ONNX nodes in training mode: BatchNormalization with training_mode = 1
// (batch statistics, the running-statistics outputs, momentum) and Dropout
// with a training_mode input; their errors; and how dlc's training treats
// them (per-node momentum, warnings, inference form after training).
#include "OnnxTestUtil.h"

#include "api/Trainer.h"
#include "interp/Interpreter.h"
#include "ir/Printer.h"
#include "passes/TrainingStep.h"

#include <cmath>

using namespace dlc;
using namespace onnx_test;

namespace {

onnx::TensorProto *addFloats(onnx::GraphProto &G, const std::string &Name,
                             std::vector<float> V) {
  auto *T = G.add_initializer();
  T->set_name(Name);
  T->set_data_type(onnx::TensorProto::FLOAT);
  T->add_dims(int64_t(V.size()));
  for (float F : V)
    T->add_float_data(F);
  return T;
}

void addBool(onnx::GraphProto &G, const std::string &Name, bool V) {
  auto *T = G.add_initializer();
  T->set_name(Name);
  T->set_data_type(onnx::TensorProto::BOOL);
  T->add_int32_data(V);
}

void setFloat(onnx::NodeProto *N, const std::string &Name, float V) {
  auto *A = N->add_attribute();
  A->set_name(Name);
  A->set_type(onnx::AttributeProto::FLOAT);
  A->set_f(V);
}

void setInt(onnx::NodeProto *N, const std::string &Name, int64_t V) {
  auto *A = N->add_attribute();
  A->set_name(Name);
  A->set_type(onnx::AttributeProto::INT);
  A->set_i(V);
}

/// x: f32[2,2,3] = 0..11; scale [1, 2], bias [0, 1], running mean
/// [0.5, -0.5] and var [1, 2]; one BatchNormalization "bn" with epsilon
/// 1e-3 and the given outputs.
onnx::ModelProto bnModel(std::vector<std::string> Outs, int64_t TrainingMode,
                         float Momentum = 0.8f, int Opset = 15) {
  onnx::ModelProto M = baseModel(Opset);
  auto &G = *M.mutable_graph();
  addTensorInput(G, "x", {2, 2, 3});
  addFloats(G, "s", {1, 2});
  addFloats(G, "b", {0, 1});
  addFloats(G, "m", {0.5f, -0.5f});
  addFloats(G, "v", {1, 2});
  auto *N = addNode(G, "BatchNormalization", {"x", "s", "b", "m", "v"}, Outs,
                    "bn");
  setFloat(N, "epsilon", 1e-3f);
  if (!std::isnan(Momentum)) // NAN: no momentum attribute
    setFloat(N, "momentum", Momentum);
  setInt(N, "training_mode", TrainingMode);
  for (auto &O : Outs)
    if (!O.empty())
      G.add_output()->set_name(O);
  return M;
}

Tensor iotaX() {
  Tensor X(DType::F32, {2, 2, 3});
  for (int I = 0; I < 12; ++I)
    X.setF(I, I);
  return X;
}

const Operation *findOp(const Function &F, OpKind K) {
  for (auto &Op : F.Body)
    if (Op->kind() == K)
      return Op.get();
  return nullptr;
}

// numpy: mean [4, 7], biased var [9.6667, 9.6667] over axes (0, 2).
const float WantY[12] = {-1.286469f, -0.964851f, -0.643234f, -1.572937f,
                         -0.929703f, -0.286469f, 0.643234f,  0.964851f,
                         1.286469f,  2.286469f,  2.929703f,  3.572937f};

TEST(OnnxTrainingMode, BatchNormUsesBatchStatistics) {
  auto Mod = importOnnx(bnModel({"y"}, 1).SerializeAsString(), "m.onnx");
  ASSERT_TRUE(!!Mod) << llvm::toString(Mod.takeError());
  const Function &F = *(*Mod)->Functions[0];
  const Operation *BN = findOp(F, OpKind::BatchNorm);
  ASSERT_TRUE(BN);
  EXPECT_TRUE(BN->getBool("training"));
  ASSERT_TRUE(BN->findAttr("momentum"));
  EXPECT_NEAR(BN->findAttr("momentum")->getFloat(), 0.8, 1e-7);
  EXPECT_NEAR(BN->getFloat("epsilon"), 1e-3, 1e-9);
  auto Out = interpret(F, {iotaX()});
  ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
  for (int I = 0; I < 12; ++I)
    EXPECT_NEAR((*Out)[0].getF(I), WantY[I], 1e-5) << I;
  // The JIT (through the decomposition) agrees.
  std::unique_ptr<Module> Keep;
  auto CF = compileModel(bnModel({"y"}, 1), Keep);
  ASSERT_TRUE(CF);
  auto J = CF->run({iotaX()});
  ASSERT_TRUE(!!J) << llvm::toString(J.takeError());
  for (int I = 0; I < 12; ++I)
    EXPECT_NEAR((*J)[0].getF(I), WantY[I], 1e-5) << I;
}

TEST(OnnxTrainingMode, BatchNormRunningOutputs) {
  for (bool Jit : {false, true}) {
    onnx::ModelProto M = bnModel({"y", "rm", "rv"}, 1);
    std::vector<Tensor> Out;
    std::unique_ptr<Module> Keep;
    if (Jit) {
      auto CF = compileModel(M, Keep);
      ASSERT_TRUE(CF);
      auto R = CF->run({iotaX()});
      ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
      Out = std::move(*R);
    } else {
      auto Mod = importOnnx(M.SerializeAsString(), "m.onnx");
      ASSERT_TRUE(!!Mod) << llvm::toString(Mod.takeError());
      auto R = interpret(*(*Mod)->Functions[0], {iotaX()});
      ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
      Out = std::move(*R);
    }
    ASSERT_EQ(Out.size(), 3u);
    EXPECT_NEAR(Out[0].getF(11), WantY[11], 1e-5);
    // running = running * 0.8 + batch * 0.2, biased variance.
    EXPECT_NEAR(Out[1].getF(0), 1.2, 1e-5) << Jit;
    EXPECT_NEAR(Out[1].getF(1), 1.0, 1e-5) << Jit;
    EXPECT_NEAR(Out[2].getF(0), 2.733333, 1e-5) << Jit;
    EXPECT_NEAR(Out[2].getF(1), 3.533333, 1e-5) << Jit;
  }
  // Only the running variance asked for.
  auto Mod =
      importOnnx(bnModel({"y", "", "rv"}, 1).SerializeAsString(), "m.onnx");
  ASSERT_TRUE(!!Mod) << llvm::toString(Mod.takeError());
  auto R = interpret(*(*Mod)->Functions[0], {iotaX()});
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  ASSERT_EQ(R->size(), 2u);
  EXPECT_NEAR((*R)[1].getF(1), 3.533333, 1e-5);
}

TEST(OnnxTrainingMode, BatchNormInferenceKeepsMomentumOnlyWhenGiven) {
  auto Mod = importOnnx(bnModel({"y"}, 0, 0.9f).SerializeAsString(), "m.onnx");
  ASSERT_TRUE(!!Mod) << llvm::toString(Mod.takeError());
  const Operation *BN = findOp(*(*Mod)->Functions[0], OpKind::BatchNorm);
  ASSERT_TRUE(BN);
  EXPECT_FALSE(BN->getBool("training"));
  ASSERT_TRUE(BN->findAttr("momentum"));
  EXPECT_NEAR(BN->findAttr("momentum")->getFloat(), 0.9, 1e-7);
  auto Out = interpret(*(*Mod)->Functions[0], {iotaX()});
  ASSERT_TRUE(!!Out);
  // (0 - 0.5) / sqrt(1.001) * 1 + 0: the running statistics.
  EXPECT_NEAR((*Out)[0].getF(0), -0.4997502, 1e-6);

  Mod = importOnnx(bnModel({"y"}, 0, NAN).SerializeAsString(), "m.onnx");
  ASSERT_TRUE(!!Mod) << llvm::toString(Mod.takeError());
  BN = findOp(*(*Mod)->Functions[0], OpKind::BatchNorm);
  ASSERT_TRUE(BN);
  EXPECT_FALSE(BN->findAttr("momentum"));
  // In training mode ONNX's default momentum (0.9) applies.
  Mod = importOnnx(bnModel({"y"}, 1, NAN).SerializeAsString(), "m.onnx");
  ASSERT_TRUE(!!Mod) << llvm::toString(Mod.takeError());
  BN = findOp(*(*Mod)->Functions[0], OpKind::BatchNorm);
  ASSERT_TRUE(BN && BN->findAttr("momentum"));
  EXPECT_NEAR(BN->findAttr("momentum")->getFloat(), 0.9, 1e-9);
}

TEST(OnnxTrainingMode, BatchNormErrors) {
  std::string E = importError(bnModel({"y"}, 1, 1.5f));
  EXPECT_NE(E.find("node 'bn' (BatchNormalization"), std::string::npos) << E;
  EXPECT_NE(E.find("momentum must be in [0, 1)"), std::string::npos) << E;
  EXPECT_NE(E.find("got 1.5"), std::string::npos) << E;
  E = importError(bnModel({"y"}, 0, -0.25f));
  EXPECT_NE(E.find("momentum must be in [0, 1)"), std::string::npos) << E;
  E = importError(bnModel({"y", "rm", "rv"}, 0));
  EXPECT_NE(E.find("'bn'"), std::string::npos) << E;
  EXPECT_NE(E.find("need training_mode = 1"), std::string::npos) << E;
  // Opset 9's five outputs (training by their presence).
  onnx::ModelProto Old = bnModel({"y", "rm", "rv"}, 0, 0.9f, 9);
  auto *N = Old.mutable_graph()->mutable_node(0);
  N->mutable_attribute()->RemoveLast(); // training_mode is opset 14's
  E = importError(Old);
  EXPECT_NE(E.find("opset 9 are not supported; export with opset 14"),
            std::string::npos)
      << E;
}

/// Dropout "do" of x f32[1000] (all ones) with ratio 0.5 and training_mode
/// from Mode: "const" (a Constant node), "init" (an initializer), "input"
/// (a graph input) or "" (absent).
onnx::ModelProto dropoutModel(const std::string &Mode, bool On, bool Mask,
                              bool RatioInput = false) {
  onnx::ModelProto M = baseModel(13);
  auto &G = *M.mutable_graph();
  addTensorInput(G, "x", {1000});
  if (RatioInput)
    addTensorInput(G, "r", {});
  else
    G.add_initializer()->CopyFrom([] {
      onnx::TensorProto T;
      T.set_name("r");
      T.set_data_type(onnx::TensorProto::FLOAT);
      T.add_float_data(0.5f);
      return T;
    }());
  std::vector<std::string> In = {"x", "r"};
  if (Mode == "const") {
    auto *C = addNode(G, "Constant", {}, {"t"});
    auto *A = C->add_attribute();
    A->set_name("value");
    A->set_type(onnx::AttributeProto::TENSOR);
    A->mutable_t()->set_data_type(onnx::TensorProto::BOOL);
    A->mutable_t()->add_int32_data(On);
    In.push_back("t");
  } else if (Mode == "init") {
    addBool(G, "t", On);
    In.push_back("t");
  } else if (Mode == "input") {
    addTensorInput(G, "t", {}, onnx::TensorProto::BOOL);
    In.push_back("t");
  }
  std::vector<std::string> Out = {"y"};
  if (Mask)
    Out.push_back("mask");
  auto *N = addNode(G, "Dropout", In, Out, "do");
  setInt(N, "seed", 5);
  for (auto &O : Out)
    G.add_output()->set_name(O);
  return M;
}

Tensor ones(int64_t N) {
  Tensor X(DType::F32, {N});
  for (int64_t I = 0; I < N; ++I)
    X.setF(I, 1);
  return X;
}

TEST(OnnxTrainingMode, DropoutSwitchedOn) {
  for (const char *Mode : {"const", "init"})
    for (bool Jit : {false, true}) {
      onnx::ModelProto M = dropoutModel(Mode, true, true);
      std::vector<Tensor> Out;
      std::unique_ptr<Module> Keep;
      if (Jit) {
        auto CF = compileModel(M, Keep);
        ASSERT_TRUE(CF);
        auto R = CF->run({ones(1000)});
        ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
        Out = std::move(*R);
      } else {
        auto Mod = importOnnx(M.SerializeAsString(), "m.onnx");
        ASSERT_TRUE(!!Mod) << llvm::toString(Mod.takeError());
        const Operation *D = findOp(*(*Mod)->Functions[0], OpKind::Dropout);
        ASSERT_TRUE(D);
        EXPECT_TRUE(D->getBool("training"));
        EXPECT_EQ(D->getFloat("ratio"), 0.5);
        auto R = interpret(*(*Mod)->Functions[0], {ones(1000)});
        ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
        Out = std::move(*R);
      }
      ASSERT_EQ(Out.size(), 2u);
      EXPECT_EQ(Out[1].elem(), DType::Bool);
      int64_t Kept = 0;
      for (int64_t I = 0; I < 1000; ++I) {
        double Y = Out[0].getF(I);
        bool K = Out[1].getI(I) != 0;
        // Kept elements are scaled by 1 / (1 - 0.5); the mask is the draw.
        EXPECT_EQ(Y, K ? 2.0 : 0.0) << Mode << " " << Jit << " at " << I;
        Kept += K;
      }
      EXPECT_GT(Kept, 430) << Mode;
      EXPECT_LT(Kept, 570) << Mode;
    }
}

TEST(OnnxTrainingMode, DropoutSwitchedOffIsTheIdentity) {
  for (const char *Mode : {"const", "init", ""}) {
    auto Mod = importOnnx(dropoutModel(Mode, false, true).SerializeAsString(),
                          "m.onnx");
    ASSERT_TRUE(!!Mod) << llvm::toString(Mod.takeError());
    auto R = interpret(*(*Mod)->Functions[0], {ones(1000)});
    ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
    for (int64_t I = 0; I < 1000; ++I) {
      EXPECT_EQ((*R)[0].getF(I), 1.0);
      EXPECT_EQ((*R)[1].getI(I), 1);
    }
  }
}

TEST(OnnxTrainingMode, DropoutErrors) {
  // A run-time training_mode: the importer says what to do (dlc::Model binds
  // such an input per run, see JitSpecializeTest).
  std::string E = importError(dropoutModel("input", true, false));
  EXPECT_NE(E.find("node 'do' (Dropout"), std::string::npos) << E;
  EXPECT_NE(E.find("training_mode must be a one-element constant or "
                   "initializer; make it one"),
            std::string::npos)
      << E;
  E = importError(dropoutModel("init", true, false, /*RatioInput=*/true));
  EXPECT_NE(E.find("in training mode the ratio must be a one-element "
                   "constant"),
            std::string::npos)
      << E;
  onnx::ModelProto M = dropoutModel("init", true, false);
  M.mutable_graph()->mutable_initializer(0)->set_float_data(0, 1.0f);
  E = importError(M);
  EXPECT_NE(E.find("ratio must be in [0, 1), got 1.0"), std::string::npos) << E;
  // Inference mode with a run-time ratio stays the identity, as before.
  EXPECT_EQ(importError(dropoutModel("", false, false, true)), "<no error>");
}

/// A model for the trainer: x f32[N,2,3] -> batch_norm -> flatten -> gemm
/// -> scores [N,2]; the BN's running statistics are initializers (Params)
/// or Constant nodes.
onnx::ModelProto trainModel(bool Params, int64_t TrainingMode) {
  onnx::ModelProto M = baseModel(15);
  auto &G = *M.mutable_graph();
  addTensorInput(G, "x", {}, onnx::TensorProto::FLOAT, "N");
  auto *S = G.mutable_input(0)->mutable_type()->mutable_tensor_type()
                ->mutable_shape();
  S->add_dim()->set_dim_value(2);
  S->add_dim()->set_dim_value(3);
  addFloats(G, "s", {1, 2});
  addFloats(G, "b", {0, 1});
  if (Params) {
    addFloats(G, "m", {0.5f, -0.5f});
    addFloats(G, "v", {1, 2});
  } else {
    for (const char *Name : {"m", "v"}) {
      auto *C = addNode(G, "Constant", {}, {Name});
      auto *A = C->add_attribute();
      A->set_name("value");
      A->set_type(onnx::AttributeProto::TENSOR);
      A->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
      A->mutable_t()->add_dims(2);
      A->mutable_t()->add_float_data(Name[0] == 'm' ? 0.5f : 1.f);
      A->mutable_t()->add_float_data(Name[0] == 'm' ? -0.5f : 2.f);
    }
  }
  auto *N = addNode(G, "BatchNormalization", {"x", "s", "b", "m", "v"},
                    TrainingMode ? std::vector<std::string>{"y", "rm", "rv"}
                                 : std::vector<std::string>{"y"},
                    "bn");
  setFloat(N, "momentum", 0.75f);
  setInt(N, "training_mode", TrainingMode);
  addNode(G, "Flatten", {"y"}, {"f"});
  auto *W = G.add_initializer();
  W->set_name("w");
  W->set_data_type(onnx::TensorProto::FLOAT);
  W->add_dims(6);
  W->add_dims(2);
  for (int I = 0; I < 12; ++I)
    W->add_float_data(0.1f * float(I % 5) - 0.2f);
  addNode(G, "MatMul", {"f", "w"}, {"scores"});
  G.add_output()->set_name("scores");
  return M;
}

std::unique_ptr<Module> importForTraining(const onnx::ModelProto &M) {
  OnnxImportOptions O;
  O.InitializersAsParams = true;
  auto Mod = importOnnx(M.SerializeAsString(), "m.onnx", O);
  EXPECT_TRUE(!!Mod) << llvm::toString(Mod.takeError());
  return Mod ? std::move(*Mod) : nullptr;
}

int64_t paramIndex(const Function &F, llvm::StringRef Name) {
  for (size_t I = 0; I < F.Params.size(); ++I)
    if (F.Params[I]->Name == Name)
      return int64_t(I);
  return -1;
}

/// One SGD step (lr 0) on x = 0..11 with labels [0, 1]; the trained model's
/// running mean.
std::vector<double>
runningMeanAfterOneStep(const Function &F, std::optional<double> Override,
                        std::vector<std::string> *Warnings) {
  TrainerOptions O;
  O.Engine = "interp";
  O.Loss = LossKind::CrossEntropy;
  O.Optimizer.Kind = OptimizerKind::SGD;
  O.Optimizer.LearningRate = 1e-9;
  O.BatchNormMomentum = Override;
  O.OnWarning = [Warnings](const std::string &W) {
    if (Warnings)
      Warnings->push_back(W);
  };
  auto T = Trainer::create(F, O);
  EXPECT_TRUE(!!T) << llvm::toString(T.takeError());
  if (!T)
    return {};
  Tensor Labels(DType::I64, {2});
  Labels.setI(0, 0);
  Labels.setI(1, 1);
  auto R = T->step(iotaX(), Labels);
  EXPECT_TRUE(!!R) << llvm::toString(R.takeError());
  auto M = T->trainedModel();
  EXPECT_TRUE(!!M);
  if (!M)
    return {};
  const Function &G = *(*M)->Functions[0];
  // Inference form after training.
  for (auto &Op : G.Body)
    if (Op->kind() == OpKind::BatchNorm || Op->kind() == OpKind::Dropout) {
      EXPECT_FALSE(Op->getBool("training")) << Op->mnemonic().str();
    }
  int64_t I = paramIndex(G, "m");
  if (I < 0)
    return {};
  const Tensor &Mean = *G.ParamInits[I]->getTensor();
  return {Mean.getF(0), Mean.getF(1)};
}

TEST(OnnxTrainingMode, TrainingUsesTheNodesMomentum) {
  // Batch means [4, 7]; running [0.5, -0.5].
  for (int64_t Mode : {0, 1}) {
    auto Mod = importForTraining(trainModel(true, Mode));
    ASSERT_TRUE(Mod);
    const Function &F = *Mod->Functions[0];
    std::vector<std::string> W;
    auto Mean = runningMeanAfterOneStep(F, std::nullopt, &W);
    ASSERT_EQ(Mean.size(), 2u);
    EXPECT_TRUE(W.empty());
    // The node's 0.75: 0.5 * 0.75 + 4 * 0.25 = 1.375.
    EXPECT_NEAR(Mean[0], 1.375, 1e-6) << Mode;
    EXPECT_NEAR(Mean[1], -0.5 * 0.75 + 7 * 0.25, 1e-6) << Mode;
    // An override wins: 0.5 * 0.5 + 4 * 0.5 = 2.25.
    Mean = runningMeanAfterOneStep(F, 0.5, nullptr);
    ASSERT_EQ(Mean.size(), 2u);
    EXPECT_NEAR(Mean[0], 2.25, 1e-6) << Mode;
  }
  // Without the attribute: the default (0.99).
  onnx::ModelProto M = trainModel(true, 0);
  M.mutable_graph()->mutable_node(0)->mutable_attribute()->DeleteSubrange(0, 1);
  auto Mod = importForTraining(M);
  ASSERT_TRUE(Mod);
  auto Mean =
      runningMeanAfterOneStep(*Mod->Functions[0], std::nullopt, nullptr);
  ASSERT_EQ(Mean.size(), 2u);
  EXPECT_NEAR(Mean[0], 0.5 * 0.99 + 4 * 0.01, 1e-6);
  // A bad override is refused.
  TrainerOptions O;
  O.BatchNormMomentum = 1.0;
  auto T = Trainer::create(*Mod->Functions[0], O);
  ASSERT_FALSE(!!T);
  std::string E = llvm::toString(T.takeError());
  EXPECT_NE(E.find("momentum must be in [0, 1)"), std::string::npos) << E;
}

TEST(OnnxTrainingMode, TrainingStepKeepsTheNodesEpsilon) {
  onnx::ModelProto M = trainModel(true, 1);
  setFloat(M.mutable_graph()->mutable_node(0), "epsilon", 0.25f);
  auto Mod = importForTraining(M);
  ASSERT_TRUE(Mod);
  auto G = buildTrainingGraphs(*Mod->Functions[0], LossKind::CrossEntropy,
                               OptimizerConfig());
  ASSERT_TRUE(!!G) << llvm::toString(G.takeError());
  // Evaluation and prediction: the batch norm in inference form, over the
  // running statistics (inputs).
  for (const Function *F : {G->Eval, G->Predict}) {
    const Operation *BN = findOp(*F, OpKind::BatchNorm);
    ASSERT_TRUE(BN) << F->Name;
    EXPECT_EQ(BN->getFloat("epsilon"), 0.25) << F->Name;
    EXPECT_FALSE(BN->getBool("training")) << F->Name;
    EXPECT_EQ(BN->operand(3)->Def, nullptr) << F->Name;
  }
  // The step (differentiated through the decomposition) adds the node's
  // epsilon to the batch variance.
  bool Found = false;
  for (auto &Op : G->Step->Body)
    if (Op->kind() == OpKind::Add)
      for (Value *V : Op->Operands)
        if (V->Def && V->Def->kind() == OpKind::Constant &&
            V->Def->attr("value").getTensor()->numElements() == 1 &&
            V->Def->attr("value").getTensor()->getF(0) == 0.25)
          Found = true;
  EXPECT_TRUE(Found) << toString(*G->M);
}

TEST(OnnxTrainingMode, ConstantRunningStatisticsWarn) {
  for (int64_t Mode : {0, 1}) {
    auto Mod = importForTraining(trainModel(false, Mode));
    ASSERT_TRUE(Mod);
    std::vector<std::string> W;
    runningMeanAfterOneStep(*Mod->Functions[0], std::nullopt, &W);
    ASSERT_EQ(W.size(), 1u) << Mode;
    EXPECT_NE(W[0].find("node 'bn' (BatchNormalization"), std::string::npos)
        << W[0];
    EXPECT_NE(W[0].find("warning: this batch_norm's running mean and variance "
                        "are constants"),
              std::string::npos)
        << W[0];
    EXPECT_NE(W[0].find("make them parameters (in ONNX, initializers"),
              std::string::npos)
        << W[0];
    EXPECT_NE(W[0].find(Mode ? "never updates the running ones"
                             : "as a fixed scale and shift"),
              std::string::npos)
        << W[0];
  }
}

} // namespace
