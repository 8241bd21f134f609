// ONNX models with dims known only at run time, as PyTorch's exporters write
// them, through dlc::Model: an LSTM over a symbolic sequence length (one
// Model, one compiled variant per length, the batch dim staying symbolic)
// checked against a plain C++ LSTM, and Reshape with allowzero = 1 and a
// shape computed at run time (a 0 entry is a 0 dim, not a copy).
#include "OnnxTestUtil.h"

#include "api/Model.h"
#include "frontend/onnx/OnnxExporter.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <random>
#include <variant>

using namespace dlc;
using namespace onnx_test;

namespace {

using DimSpec = std::variant<int64_t, std::string>;

/// A graph input with fixed and symbolic dims in any order.
void addInput(onnx::GraphProto &G, const std::string &Name,
              std::vector<DimSpec> Dims,
              int Type = onnx::TensorProto::FLOAT) {
  auto *I = G.add_input();
  I->set_name(Name);
  auto *T = I->mutable_type()->mutable_tensor_type();
  T->set_elem_type(Type);
  auto *S = T->mutable_shape();
  for (const DimSpec &D : Dims) {
    if (auto *N = std::get_if<int64_t>(&D))
      S->add_dim()->set_dim_value(*N);
    else
      S->add_dim()->set_dim_param(std::get<std::string>(D));
  }
}

void addFloatInit(onnx::GraphProto &G, const std::string &Name,
                  std::vector<int64_t> Dims, const std::vector<float> &V) {
  auto *T = G.add_initializer();
  T->set_name(Name);
  T->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t D : Dims)
    T->add_dims(D);
  for (float F : V)
    T->add_float_data(F);
}

void addIntInit(onnx::GraphProto &G, const std::string &Name,
                const std::vector<int64_t> &V) {
  auto *T = G.add_initializer();
  T->set_name(Name);
  T->set_data_type(onnx::TensorProto::INT64);
  T->add_dims(int64_t(V.size()));
  for (int64_t I : V)
    T->add_int64_data(I);
}

std::vector<float> randoms(size_t N, std::mt19937 &Gen) {
  std::uniform_real_distribution<float> U(-0.5f, 0.5f);
  std::vector<float> V(N);
  for (float &F : V)
    F = U(Gen);
  return V;
}

Tensor tensor(std::vector<int64_t> Shape, const std::vector<float> &V) {
  Tensor T(DType::F32, Shape);
  for (size_t I = 0; I < V.size(); ++I)
    T.setF(I, V[I]);
  return T;
}

ModelOptions jit() {
  ModelOptions O;
  O.Engine = "jit";
  O.OptLevel = 1;
  O.Threads = 1;
  return O;
}

constexpr int64_t In = 3, Hid = 4;

/// ONNX's LSTM (forward, gates i o f c, no peepholes) on X [T, B, In],
/// in plain loops: Y [T, 1, B, Hid] and Y_h [1, B, Hid].
void referenceLstm(const std::vector<float> &X, int64_t T, int64_t B,
                   const std::vector<float> &W, const std::vector<float> &R,
                   const std::vector<float> &Bias, std::vector<float> &Y,
                   std::vector<float> &YH) {
  auto Sig = [](double V) { return 1 / (1 + std::exp(-V)); };
  std::vector<double> H(B * Hid, 0), C(B * Hid, 0);
  Y.assign(T * B * Hid, 0);
  for (int64_t S = 0; S < T; ++S) {
    std::vector<double> NH(B * Hid), NC(B * Hid);
    for (int64_t N = 0; N < B; ++N)
      for (int64_t J = 0; J < Hid; ++J) {
        double G[4];
        for (int64_t K = 0; K < 4; ++K) {
          int64_t Row = K * Hid + J;
          double Acc = Bias[Row] + Bias[4 * Hid + Row];
          for (int64_t I = 0; I < In; ++I)
            Acc += X[(S * B + N) * In + I] * W[Row * In + I];
          for (int64_t I = 0; I < Hid; ++I)
            Acc += H[N * Hid + I] * R[Row * Hid + I];
          G[K] = Acc;
        }
        double I = Sig(G[0]), O = Sig(G[1]), F = Sig(G[2]);
        double Cn = F * C[N * Hid + J] + I * std::tanh(G[3]);
        NC[N * Hid + J] = Cn;
        NH[N * Hid + J] = O * std::tanh(Cn);
      }
    H = NH;
    C = NC;
    for (int64_t K = 0; K < B * Hid; ++K)
      Y[S * B * Hid + K] = float(H[K]);
  }
  YH.assign(H.begin(), H.end());
}

double maxDiff(const Tensor &T, const std::vector<float> &V) {
  double D = 0;
  for (size_t I = 0; I < V.size(); ++I)
    D = std::max(D, std::abs(T.getF(I) - V[I]));
  return D;
}

} // namespace

TEST(JitDynamicDims, LstmOverARunTimeSequenceLength) {
  std::mt19937 Gen(7);
  std::vector<float> W = randoms(4 * Hid * In, Gen);
  std::vector<float> R = randoms(4 * Hid * Hid, Gen);
  std::vector<float> Bias = randoms(8 * Hid, Gen);
  onnx::ModelProto M = baseModel(17);
  auto &G = *M.mutable_graph();
  addInput(G, "x", {std::string("seq"), std::string("batch"), In});
  addFloatInit(G, "w", {1, 4 * Hid, In}, W);
  addFloatInit(G, "r", {1, 4 * Hid, Hid}, R);
  addFloatInit(G, "b", {1, 8 * Hid}, Bias);
  auto *N = addNode(G, "LSTM", {"x", "w", "r", "b"}, {"y", "y_h"}, "lstm");
  auto *A = N->add_attribute();
  A->set_name("hidden_size");
  A->set_type(onnx::AttributeProto::INT);
  A->set_i(Hid);
  G.add_output()->set_name("y");
  G.add_output()->set_name("y_h");
  TempModel File(M);

  // The plain import names the dim it needs.
  std::string E = importError(M);
  EXPECT_NE(E.find("needs a sequence length known at import time, got "
                   "f32[seq,batch,3]"),
            std::string::npos)
      << E;
  auto Dims = onnxStaticDimInputs(File.Path);
  ASSERT_TRUE(!!Dims) << llvm::toString(Dims.takeError());
  EXPECT_EQ(*Dims, (std::vector<std::pair<std::string, unsigned>>{{"x", 0}}));

  for (const char *Engine : {"jit", "interp"}) {
    ModelOptions O = jit();
    O.Engine = Engine;
    auto Mod = Model::fromFile(File.Path, O);
    ASSERT_TRUE(!!Mod) << llvm::toString(Mod.takeError());
    EXPECT_EQ(Mod->specialization().Inputs,
              std::vector<std::string>{"x dim 0"});
    // Two lengths, two batch sizes each, from the one Model.
    for (auto [T, B] : {std::pair<int64_t, int64_t>{3, 2}, {7, 2}, {3, 5},
                        {7, 1}}) {
      std::vector<float> X = randoms(T * B * In, Gen), Y, YH;
      referenceLstm(X, T, B, W, R, Bias, Y, YH);
      auto Out = Mod->run({tensor({T, B, In}, X)});
      ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
      ASSERT_EQ((*Out)[0].shape(), llvm::ArrayRef<int64_t>({T, 1, B, Hid}));
      ASSERT_EQ((*Out)[1].shape(), llvm::ArrayRef<int64_t>({1, B, Hid}));
      EXPECT_LT(maxDiff((*Out)[0], Y), 1e-5) << Engine << " T=" << T;
      EXPECT_LT(maxDiff((*Out)[1], YH), 1e-5) << Engine << " T=" << T;
    }
    // One variant per length; the batch dim stays symbolic in each.
    SpecializationStats S = Mod->specialization();
    EXPECT_EQ(S.Compiles, 2u) << Engine;
    EXPECT_EQ(S.Hits, 2u) << Engine;
  }

  // A wrong rank is an error naming the input, not a crash.
  auto Mod = Model::fromFile(File.Path, jit());
  ASSERT_TRUE(!!Mod);
  auto Bad = Mod->run({tensor({3, 2}, randoms(6, Gen))});
  ASSERT_FALSE(!!Bad);
  E = llvm::toString(Bad.takeError());
  EXPECT_NE(E.find("input 'x' must be f32[seq,batch,3]"), std::string::npos)
      << E;
}

/// y = Reshape(x, shape, allowzero) where shape = Gather(Shape(x), [1, 0])
/// + [0, 0]: x's dims swapped, computed at run time (the Add keeps the
/// importer from resolving it to dims).
static onnx::ModelProto swapDimsModel(int64_t AllowZero) {
  onnx::ModelProto M = baseModel(17);
  auto &G = *M.mutable_graph();
  addInput(G, "x", {std::string("n"), 3});
  addIntInit(G, "perm", {1, 0});
  addIntInit(G, "zeros", {0, 0});
  addNode(G, "Shape", {"x"}, {"s"});
  addNode(G, "Gather", {"s", "perm"}, {"swapped"});
  addNode(G, "Add", {"swapped", "zeros"}, {"shape"});
  auto *N = addNode(G, "Reshape", {"x", "shape"}, {"y"}, "view");
  auto *A = N->add_attribute();
  A->set_name("allowzero");
  A->set_type(onnx::AttributeProto::INT);
  A->set_i(AllowZero);
  G.add_output()->set_name("y");
  return M;
}

TEST(JitDynamicDims, ReshapeAllowZeroWithARunTimeShape) {
  onnx::ModelProto M = swapDimsModel(1);
  // The shape is read by value at run time, with allowzero on the op.
  auto Imp = importOnnx(M.SerializeAsString(), "m.onnx");
  ASSERT_TRUE(!!Imp) << llvm::toString(Imp.takeError());
  const Operation *Reshape = nullptr;
  for (auto &Op : (*Imp)->Functions.front()->Body)
    if (Op->kind() == OpKind::Reshape)
      Reshape = Op.get();
  ASSERT_NE(Reshape, nullptr);
  EXPECT_TRUE(Reshape->getBool("by_value"));
  EXPECT_TRUE(Reshape->getBool("allowzero"));

  TempModel File(M);
  for (const char *Engine : {"jit", "interp"}) {
    ModelOptions O = jit();
    O.Engine = Engine;
    auto Mod = Model::fromFile(File.Path, O);
    ASSERT_TRUE(!!Mod) << llvm::toString(Mod.takeError());
    // n = 0: the shape is [3, 0], and the 0 is a dim of size 0.
    auto Out = Mod->run({Tensor(DType::F32, {0, 3})});
    ASSERT_TRUE(!!Out) << Engine << ": " << llvm::toString(Out.takeError());
    EXPECT_EQ((*Out)[0].shape(), llvm::ArrayRef<int64_t>({3, 0})) << Engine;
    // n = 2: an ordinary reshape to [3, 2], the elements in order.
    std::vector<float> X = {1, 2, 3, 4, 5, 6};
    Out = Mod->run({tensor({2, 3}, X)});
    ASSERT_TRUE(!!Out) << Engine << ": " << llvm::toString(Out.takeError());
    EXPECT_EQ((*Out)[0].shape(), llvm::ArrayRef<int64_t>({3, 2})) << Engine;
    EXPECT_EQ(maxDiff((*Out)[0], X), 0) << Engine;
  }

  // allowzero = 0: the 0 copies x's dim 1 (3), so [3, 3] from 0 elements
  // is an error, not a silent [3, 0].
  TempModel Copying(swapDimsModel(0));
  auto Mod = Model::fromFile(Copying.Path, jit());
  ASSERT_TRUE(!!Mod) << llvm::toString(Mod.takeError());
  auto Out = Mod->run({Tensor(DType::F32, {0, 3})});
  ASSERT_FALSE(!!Out);
  std::string E = llvm::toString(Out.takeError());
  EXPECT_NE(E.find("reshape"), std::string::npos) << E;
}

TEST(JitDynamicDims, ReshapeAllowZeroWithAConstantShape) {
  // x f32[n, 0, 4] to [4, 0, 2]: allowzero makes the 0 a dim (without it,
  // the 0 would copy x's dim 1, also 0 here); before, the importer refused
  // it.
  onnx::ModelProto M = baseModel(17);
  auto &G = *M.mutable_graph();
  addInput(G, "x", {std::string("n"), 0, 4});
  addIntInit(G, "shape", {4, 0, 2});
  auto *N = addNode(G, "Reshape", {"x", "shape"}, {"y"}, "view");
  auto *A = N->add_attribute();
  A->set_name("allowzero");
  A->set_type(onnx::AttributeProto::INT);
  A->set_i(1);
  G.add_output()->set_name("y");
  auto Imp = importOnnx(M.SerializeAsString(), "m.onnx");
  ASSERT_TRUE(!!Imp) << llvm::toString(Imp.takeError());
  Function &F = *(*Imp)->Functions.front();
  EXPECT_EQ(F.Outputs[0]->Type.str(), "f32[4,0,2]");
  auto Out = interpret(F, {Tensor(DType::F32, {5, 0, 4})});
  ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
  EXPECT_EQ((*Out)[0].shape(), llvm::ArrayRef<int64_t>({4, 0, 2}));
}

TEST(JitDynamicDims, ExportKeepsAllowZeroAndRunTimeShapes) {
  // Export writes allowzero = 1, and a by_value shape as its values (not
  // the shape of the shape); the re-import computes the same at run time.
  auto M = parseModule(R"(
func @main(%x: f32[n,3]) -> (y: f32[?,?]) {
  %s = shape %x
  %p = constant {value = dense<i64[2]>[1, 0]}
  %t = gather %s, %p {axis = 0}
  %y = reshape %x, %t {allowzero = true, by_value = true, shape = []}
  return %y
}
)",
                       "m.dlc");
  ASSERT_TRUE(!!M) << llvm::toString(M.takeError());
  auto Bytes = exportOnnx(*(*M)->Functions.front());
  ASSERT_TRUE(!!Bytes) << llvm::toString(Bytes.takeError());
  onnx::ModelProto P;
  ASSERT_TRUE(P.ParseFromString(*Bytes));
  const onnx::NodeProto *R = nullptr;
  for (const onnx::NodeProto &N : P.graph().node())
    if (N.op_type() == "Reshape")
      R = &N;
  ASSERT_NE(R, nullptr);
  ASSERT_EQ(R->attribute_size(), 1);
  EXPECT_EQ(R->attribute(0).name(), "allowzero");
  EXPECT_EQ(R->attribute(0).i(), 1);
  auto Back = importOnnx(*Bytes, "m.onnx");
  ASSERT_TRUE(!!Back) << llvm::toString(Back.takeError());
  Function &F = *(*Back)->Functions.front();
  for (int64_t N : {0, 2}) {
    std::vector<float> X(N * 3, 1.5f);
    auto Out = interpret(F, {tensor({N, 3}, X)});
    ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
    EXPECT_EQ((*Out)[0].shape(), llvm::ArrayRef<int64_t>({3, N}));
  }
}
