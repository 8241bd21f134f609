// The builder API: layer shapes, the tutorial models, the IR it prints
// (round trip through the parser), its forward result against hand-written
// IR run by the interpreter, and errors for bad layer configurations.
#include "TestUtil.h"

#include "frontend/builder/Layers.h"
#include "frontend/builder/TutorialModels.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"
#include "ir/Printer.h"

#include "gtest/gtest.h"

using namespace dlc;

namespace {

std::unique_ptr<Module> check(llvm::Expected<std::unique_ptr<Module>> M) {
  if (!M) {
    ADD_FAILURE() << errText(M.takeError());
    return nullptr;
  }
  return std::move(*M);
}

std::string paramShapes(const Function &F) {
  std::string S;
  for (auto &P : F.Params)
    S += P->Name + ":" + P->Type.str() + " ";
  return S;
}

int64_t paramCount(const Function &F) {
  int64_t N = 0;
  for (auto &P : F.Params)
    N += *P->Type.numElements();
  return N;
}

/// The parameters' initial values, in order.
std::vector<Tensor> paramValues(const Function &F) {
  std::vector<Tensor> V;
  for (auto &I : F.ParamInits)
    V.push_back(*I->getTensor());
  return V;
}

TEST(Builder, KerasCnnShapes) {
  auto M = check(makeTutorialModel("keras-cnn", 1));
  ASSERT_TRUE(M);
  const Function &F = *M->Functions[0];
  EXPECT_EQ(F.Inputs[0]->Type.str(), "f32[N,1,28,28]");
  EXPECT_EQ(F.Outputs[0]->Type.str(), "f32[N,10]");
  EXPECT_EQ(F.Outputs[0]->Def->kind(), OpKind::Softmax);
  EXPECT_EQ(paramShapes(F),
            "conv2d.kernel:f32[32,1,3,3] conv2d.bias:f32[32] "
            "conv2d_1.kernel:f32[64,32,3,3] conv2d_1.bias:f32[64] "
            "conv2d_2.kernel:f32[64,64,3,3] conv2d_2.bias:f32[64] "
            "dense.kernel:f32[576,64] dense.bias:f32[64] "
            "dense_1.kernel:f32[64,10] dense_1.bias:f32[10] ");
  // Keras' model.summary() for this model: 93,322 parameters.
  EXPECT_EQ(paramCount(F), 93322);
}

TEST(Builder, TutorialModelSizes) {
  // Counts as Keras' summary / sum(p.numel()) in PyTorch report them.
  struct {
    const char *Name, *In, *Out;
    int64_t Params;
    OpKind Last;
  } Cases[] = {
      {"pytorch-net", "f32[N,1,28,28]", "f32[N,10]", 1199882, OpKind::LogSoftmax},
      {"small-cnn", "f32[N,1,28,28]", "f32[N,10]", 693962, OpKind::Softmax},
      {"mlp", "f32[N,1,28,28]", "f32[N,10]", 101770, OpKind::Softmax},
      {"neuron", "f32[N,2]", "f32[N,1]", 3, OpKind::Sigmoid},
  };
  for (auto &C : Cases) {
    SCOPED_TRACE(C.Name);
    auto M = check(makeTutorialModel(C.Name, 0));
    ASSERT_TRUE(M);
    const Function &F = *M->Functions[0];
    EXPECT_EQ(F.Inputs[0]->Type.str(), C.In);
    EXPECT_EQ(F.Outputs[0]->Type.str(), C.Out);
    EXPECT_EQ(paramCount(F), C.Params);
    EXPECT_EQ(F.Outputs[0]->Def->kind(), C.Last);
  }
  auto M = check(makeTutorialModel("pytorch-net", 0));
  unsigned Dropouts = 0;
  for (auto &Op : M->Functions[0]->Body)
    if (Op->kind() == OpKind::Dropout) {
      ++Dropouts;
      EXPECT_FALSE(Op->getBool("training"));
    }
  EXPECT_EQ(Dropouts, 2u);
  EXPECT_EQ(M->Functions[0]->Params[0]->Name, "conv1.kernel");
  auto Bad = makeTutorialModel("resnet", 0);
  ASSERT_FALSE(bool(Bad));
  EXPECT_EQ(errText(Bad.takeError()),
            "error: unknown model 'resnet' (known: keras-cnn, pytorch-net, "
            "small-cnn, mlp, neuron)");
}

TEST(Builder, PrintsIRThatParsesBack) {
  for (const std::string &Name : tutorialModelNames()) {
    SCOPED_TRACE(Name);
    auto M = check(makeTutorialModel(Name, 7));
    ASSERT_TRUE(M);
    std::string Text = toString(*M);
    auto P = parseModule(Text, Name + ".dlc");
    ASSERT_TRUE(bool(P)) << errText(P.takeError());
    EXPECT_EQ(toString(**P), Text);
  }
}

TEST(Builder, SeedsAreReproducible) {
  auto A = check(makeTutorialModel("small-cnn", 3));
  auto B = check(makeTutorialModel("small-cnn", 3));
  auto C = check(makeTutorialModel("small-cnn", 4));
  ASSERT_TRUE(A && B && C);
  EXPECT_EQ(toString(*A), toString(*B));
  std::vector<Tensor> PA = paramValues(*A->Functions[0]),
                      PC = paramValues(*C->Functions[0]);
  EXPECT_FALSE(PA[0] == PC[0]);
  // Two parameters of one model draw from different streams.
  std::vector<Tensor> PB = paramValues(*B->Functions[0]);
  EXPECT_NE(PB[0].getF(0) / PB[0].getF(1), PB[2].getF(0) / PB[2].getF(1));
}

// A model with every layer kind, against the same graph written by hand
// (the expected pads, attributes and op order spelled out) run by the
// interpreter with the built parameters.
TEST(Builder, ForwardMatchesHandWrittenIR) {
  GraphBuilder B(11);
  Value *X = B.input("x", {3, 8, 8});
  Value *H = B.apply(Conv2D(4, 3, Activation::Relu)
                         .strides(2)
                         .padding(Padding::Same)
                         .biasInit(Init::HeUniform),
                     X);
  H = B.apply(BatchNorm(), H);
  H = B.apply(AvgPool2D(3).strides(1).padding(Padding::Same), H);
  Value *Skip = H;
  H = B.apply(Conv2D(4, {1, 1}, Activation::Tanh).kernelInit(Init::HeNormal), H);
  H = B.op(OpKind::Add, {H, Skip});
  H = B.apply(MaxPool2D(2), H);
  H = B.apply(Dropout(0.5), H);
  H = B.apply(Flatten(), H);
  H = B.apply(Dense(6, Activation::LeakyRelu).biasInit(Init::GlorotNormal), H);
  H = B.apply(GELU(), H);
  H = B.apply(Dense(5).useBias(false).kernelInit(Init::TorchDefault), H);
  H = B.apply(Sigmoid(), H);
  H = B.apply(Softmax(), H);
  auto M = check(B.build(H, "p"));
  ASSERT_TRUE(M);
  const Function &F = *M->Functions[0];

  const char *Hand = R"(
func @main(%x: f32[N,3,8,8]) params(%k1: f32[4,3,3,3], %b1: f32[4],
    %g: f32[4], %be: f32[4], %m: f32[4], %v: f32[4], %k2: f32[4,4,1,1], %b2: f32[4],
    %k3: f32[16,6], %b3: f32[6], %k4: f32[6,5]) -> (p: f32[N,5]) {
  %c1 = conv %x, %k1, %b1 {pads = [0, 0, 1, 1], strides = [2, 2]}
  %r1 = relu %c1
  %bn = batch_norm %r1, %g, %be, %m, %v {epsilon = 0.001}
  %ap = avg_pool %bn {kernel = [3, 3], pads = [1, 1, 1, 1]}
  %c2 = conv %ap, %k2, %b2
  %t = tanh %c2
  %s = add %t, %ap
  %mp = max_pool %s {kernel = [2, 2], strides = [2, 2]}
  %fl = flatten %mp
  %d1 = matmul %fl, %k3
  %d1b = add %d1, %b3
  %lr = leaky_relu %d1b {alpha = 0.3}
  %ge = gelu %lr
  %d2 = matmul %ge, %k4
  %sg = sigmoid %d2
  %p = softmax %sg {axis = 1}
  return %p
}
)";
  auto HM = parseModule(Hand, "hand.dlc");
  ASSERT_TRUE(bool(HM)) << errText(HM.takeError());
  std::vector<Tensor> In = functionInputs(F, 2, 5);
  for (int64_t I = 0; I < In[0].numElements(); ++I)
    In[0].setF(I, In[0].getF(I) * 4 - 2);
  auto Got = interpret(F, In);
  ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
  auto Want = interpret(*(*HM)->Functions[0], In, paramValues(F));
  ASSERT_TRUE(bool(Want)) << errText(Want.takeError());
  ASSERT_EQ((*Got)[0].type(), (*Want)[0].type());
  EXPECT_EQ((*Got)[0].type().str(), "f32[2,5]");
  for (int64_t I = 0; I < (*Want)[0].numElements(); ++I)
    EXPECT_NEAR((*Got)[0].getF(I), (*Want)[0].getF(I), 1e-6) << I;
  // The output is not constant: the comparison means something.
  EXPECT_NE((*Want)[0].getF(0), (*Want)[0].getF(1));
}

TEST(Builder, SamePaddingShapes) {
  struct {
    int64_t Size, Kernel, Stride;
    const char *Out;
  } Cases[] = {{28, 3, 1, "f32[N,8,28,28]"}, {28, 3, 2, "f32[N,8,14,14]"},
               {7, 3, 2, "f32[N,8,4,4]"},    {7, 5, 3, "f32[N,8,3,3]"},
               {2, 5, 1, "f32[N,8,2,2]"}};
  for (auto &C : Cases) {
    GraphBuilder B;
    Value *X = B.input("x", {1, C.Size, C.Size});
    Value *Y = B.apply(
        Conv2D(8, C.Kernel).strides(C.Stride).padding(Padding::Same), X);
    ASSERT_TRUE(Y);
    EXPECT_EQ(Y->Type.str(), C.Out);
  }
}

/// The error building Layers on an input of InputDims gives.
std::string buildError(std::vector<int64_t> InputDims,
                       std::vector<std::unique_ptr<Layer>> Layers) {
  Sequential S(InputDims);
  for (auto &L : Layers)
    S.add(*L);
  auto M = S.build();
  if (M)
    return "(built)";
  return errText(M.takeError());
}

template <typename... Ls>
std::vector<std::unique_ptr<Layer>> layers(const Ls &...L) {
  std::vector<std::unique_ptr<Layer>> V;
  (V.push_back(L.clone()), ...);
  return V;
}

TEST(Builder, LayerConfigErrors) {
  EXPECT_EQ(buildError({1, 28, 28}, layers(Conv2D(8, 3), Dense(10))),
            "layer 'dense' (Dense): error: expects a 2-D input [batch, "
            "features], got f32[N,8,26,26]; put a Flatten before it");
  EXPECT_EQ(buildError({1, 4, 4}, layers(Conv2D(8, 5))),
            "layer 'conv2d' (Conv2D): error: kernel 5x5 is larger than the "
            "input's spatial size 4x4 (input f32[N,1,4,4]); use a smaller one "
            "or padding 'same'");
  EXPECT_EQ(buildError({1, 28, 28}, layers(MaxPool2D(2), MaxPool2D(2),
                                           MaxPool2D(2), MaxPool2D(4))),
            "layer 'max_pooling2d_3' (MaxPool2D): error: pool 4x4 is larger "
            "than the input's spatial size 3x3 (input f32[N,1,3,3]); use a "
            "smaller one or padding 'same'");
  EXPECT_EQ(buildError({784}, layers(Conv2D(8, 3))),
            "layer 'conv2d' (Conv2D): error: expects a 4-D input [batch, "
            "channels, height, width], got f32[N,784]");
  EXPECT_EQ(buildError({1, 8, 8}, layers(Conv2D(0, 3))),
            "layer 'conv2d' (Conv2D): error: filters must be positive, got 0");
  EXPECT_EQ(buildError({1, 8, 8}, layers(Conv2D(4, 3).strides(0))),
            "layer 'conv2d' (Conv2D): error: strides must be positive, got 0x0");
  EXPECT_EQ(buildError({16}, layers(Dense(-3))),
            "layer 'dense' (Dense): error: units must be positive, got -3");
  EXPECT_EQ(buildError({16}, layers(Dropout(1.0))),
            "layer 'dropout' (Dropout): error: rate must be in [0, 1), got 1.0");
  EXPECT_EQ(buildError({16}, layers(Dense(4).name("fc"), Dense(4).name("fc"))),
            "layer 'fc' (Dense): error: the name is already taken by another "
            "layer");
  // The first error wins; the layers after it are not built.
  EXPECT_EQ(buildError({16}, layers(Dense(0), Conv2D(1, 1))),
            "layer 'dense' (Dense): error: units must be positive, got 0");
  // Automatic names skip user names.
  Sequential S({4});
  S.add(Dense(3).name("dense_1")).add(Dense(3)).add(Dense(3));
  auto M = check(S.build());
  ASSERT_TRUE(M);
  EXPECT_EQ(paramShapes(*M->Functions[0]),
            "dense_1.kernel:f32[4,3] dense_1.bias:f32[3] dense.kernel:f32[3,3] "
            "dense.bias:f32[3] dense_2.kernel:f32[3,3] dense_2.bias:f32[3] ");
}

TEST(Builder, GraphErrors) {
  GraphBuilder B;
  Value *X = B.input("x", {4});
  Value *Y = B.input("y", {5});
  EXPECT_EQ(B.op(OpKind::Add, {X, Y}, {}, "sum"), nullptr);
  auto M = B.build(X);
  ASSERT_FALSE(bool(M));
  EXPECT_EQ(errText(M.takeError()),
            "op 'sum' (add): error: 'add': operands f32[N,4], f32[N,5] are not "
            "broadcastable");

  GraphBuilder Other;
  Value *Z = Other.input("z", {4});
  GraphBuilder C;
  C.input("x", {4});
  EXPECT_EQ(C.apply(Dense(2), Z), nullptr);
  auto N = C.build(Z);
  ASSERT_FALSE(bool(N));
  EXPECT_EQ(errText(N.takeError()), "layer 'dense' (Dense): error: its input "
                                    "is not a value of this graph");

  GraphBuilder D;
  Value *W = D.input("w", {4});
  ASSERT_TRUE(bool(D.build(W)));
  auto Again = D.build(W);
  ASSERT_FALSE(bool(Again));
  EXPECT_EQ(errText(Again.takeError()),
            "error: build() was called twice on one GraphBuilder");
}

TEST(Builder, ActivationNames) {
  for (Activation A :
       {Activation::Linear, Activation::Relu, Activation::Sigmoid,
        Activation::Tanh, Activation::Softmax, Activation::LogSoftmax,
        Activation::LeakyRelu, Activation::Gelu}) {
    auto P = parseActivation(activationName(A));
    ASSERT_TRUE(bool(P));
    EXPECT_EQ(*P, A);
  }
  auto Bad = parseActivation("swish");
  ASSERT_FALSE(bool(Bad));
  EXPECT_NE(errText(Bad.takeError()).find("unknown activation 'swish'"),
            std::string::npos);
}

} // namespace
