// ONNX ops whose result sizes come from the data (NonZero, Compress,
// Unique, NonMaxSuppression), the window functions, ReverseSequence, LRN
// and the integer / quantized linear ops, through the JIT at odd sizes,
// against values worked out by hand; bad values as located errors.
#include "OnnxTestUtil.h"

#include <cmath>

using namespace dlc;
using namespace onnx_test;

namespace {

std::vector<int64_t> ints(const Tensor &T) {
  std::vector<int64_t> R;
  for (int64_t I = 0; I < T.numElements(); ++I)
    R.push_back(T.getI(I));
  return R;
}

std::vector<double> floats(const Tensor &T) {
  std::vector<double> R;
  for (int64_t I = 0; I < T.numElements(); ++I)
    R.push_back(T.getF(I));
  return R;
}

std::vector<int64_t> shape(const Tensor &T) {
  return {T.shape().begin(), T.shape().end()};
}

/// One node Op over graph inputs In (f32 with dims Dims each, '?' dims as
/// symbols) writing Outs.
onnx::ModelProto oneNode(const std::string &Op,
                         std::vector<std::pair<std::string, int>> In,
                         std::vector<std::vector<int64_t>> Dims,
                         std::vector<std::string> Outs, int Opset = 17) {
  onnx::ModelProto M = baseModel(Opset);
  auto &G = *M.mutable_graph();
  std::vector<std::string> Names;
  for (size_t I = 0; I < In.size(); ++I) {
    addTensorInput(G, In[I].first, Dims[I], In[I].second);
    Names.push_back(In[I].first);
  }
  addNode(G, Op, Names, Outs, "n1");
  for (auto &O : Outs)
    G.add_output()->set_name(O);
  return M;
}

void setIntAttr(onnx::ModelProto &M, const std::string &Name, int64_t V) {
  auto *A = M.mutable_graph()->mutable_node(0)->add_attribute();
  A->set_name(Name);
  A->set_type(onnx::AttributeProto::INT);
  A->set_i(V);
}

} // namespace

TEST(OnnxDataShape, NonZeroSizesItsResultPerRun) {
  // One compiled function, three runs with different counts (0 included).
  auto M = oneNode("NonZero", {{"x", onnx::TensorProto::FLOAT}}, {{3, 7}},
                   {"y"});
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(M, Mod);
  ASSERT_TRUE(CF);
  std::vector<double> V(21, 0.0);
  V[1] = 2, V[7] = -1, V[20] = 0.5; // (0,1), (1,0), (2,6)
  auto Out = CF->run({f32s({3, 7}, V)});
  ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
  EXPECT_EQ(shape((*Out)[0]), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(ints((*Out)[0]), (std::vector<int64_t>{0, 1, 2, 1, 0, 6}));
  Out = CF->run({f32s({3, 7}, std::vector<double>(21, 0.0))});
  ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
  EXPECT_EQ(shape((*Out)[0]), (std::vector<int64_t>{2, 0}));
  Out = CF->run({f32s({3, 7}, std::vector<double>(21, 1.0))});
  ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
  EXPECT_EQ(shape((*Out)[0]), (std::vector<int64_t>{2, 21}));
  EXPECT_EQ((*Out)[0].getI(21 + 20), 6); // column 20 is (2, 6)
}

TEST(OnnxDataShape, CompressFeedsLaterOps) {
  // Compress along axis 1, then a Relu over the data-sized result.
  onnx::ModelProto M = baseModel(17);
  auto &G = *M.mutable_graph();
  addTensorInput(G, "x", {2, 5});
  addTensorInput(G, "c", {5}, onnx::TensorProto::BOOL);
  auto *N = addNode(G, "Compress", {"x", "c"}, {"t"}, "n1");
  auto *A = N->add_attribute();
  A->set_name("axis");
  A->set_type(onnx::AttributeProto::INT);
  A->set_i(1);
  addNode(G, "Relu", {"t"}, {"y"}, "n2");
  G.add_output()->set_name("y");
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(M, Mod);
  ASSERT_TRUE(CF);
  Tensor C(DType::Bool, {5});
  for (int64_t I : {0, 3, 4})
    C.setI(I, 1);
  auto Out = CF->run({f32s({2, 5}, {1, -2, 3, -4, 5, -6, 7, -8, 9, -10}), C});
  ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
  EXPECT_EQ(shape((*Out)[0]), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(floats((*Out)[0]), (std::vector<double>{1, 0, 5, 0, 9, 0}));
}

TEST(OnnxDataShape, CompressConditionPastTheAxisIsAnError) {
  auto M = oneNode("Compress",
                   {{"x", onnx::TensorProto::FLOAT},
                    {"c", onnx::TensorProto::BOOL}},
                   {{3}, {5}}, {"y"});
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(M, Mod);
  ASSERT_TRUE(CF);
  Tensor C(DType::Bool, {5});
  C.setI(4, 1); // position 4 of a 3-element input
  auto Out = CF->run({f32s({3}, {1, 2, 3}), C});
  ASSERT_FALSE(!!Out);
  EXPECT_NE(llvm::toString(Out.takeError()).find("error"), std::string::npos);
}

TEST(OnnxDataShape, UniqueSortedAndInOrderOfAppearance) {
  for (int Sorted : {1, 0}) {
    auto M = oneNode("Unique", {{"x", onnx::TensorProto::FLOAT}}, {{7}},
                     {"y", "i", "inv", "n"}, 11);
    setIntAttr(M, "sorted", Sorted);
    std::unique_ptr<Module> Mod;
    auto CF = compileModel(M, Mod);
    ASSERT_TRUE(CF);
    auto Out = CF->run({f32s({7}, {3, 1, 3, 2, 1, 3, 5})});
    ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
    if (Sorted) {
      EXPECT_EQ(floats((*Out)[0]), (std::vector<double>{1, 2, 3, 5}));
      EXPECT_EQ(ints((*Out)[1]), (std::vector<int64_t>{1, 3, 0, 6}));
      EXPECT_EQ(ints((*Out)[2]), (std::vector<int64_t>{2, 0, 2, 1, 0, 2, 3}));
      EXPECT_EQ(ints((*Out)[3]), (std::vector<int64_t>{2, 1, 3, 1}));
    } else {
      EXPECT_EQ(floats((*Out)[0]), (std::vector<double>{3, 1, 2, 5}));
      EXPECT_EQ(ints((*Out)[1]), (std::vector<int64_t>{0, 1, 3, 6}));
      EXPECT_EQ(ints((*Out)[2]), (std::vector<int64_t>{0, 1, 0, 2, 1, 0, 3}));
      EXPECT_EQ(ints((*Out)[3]), (std::vector<int64_t>{3, 2, 1, 1}));
    }
  }
}

TEST(OnnxDataShape, UniqueRowsAlongAnAxis) {
  auto M = oneNode("Unique", {{"x", onnx::TensorProto::FLOAT}}, {{3, 2}},
                   {"y", "i", "inv", "n"}, 11);
  setIntAttr(M, "axis", -2);
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(M, Mod);
  ASSERT_TRUE(CF);
  auto Out = CF->run({f32s({3, 2}, {4, 5, 1, 2, 4, 5})});
  ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
  EXPECT_EQ(shape((*Out)[0]), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(floats((*Out)[0]), (std::vector<double>{1, 2, 4, 5}));
  EXPECT_EQ(ints((*Out)[2]), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(ints((*Out)[3]), (std::vector<int64_t>{1, 2}));
}

TEST(OnnxDataShape, UniqueAxisOutOfRangeIsLocated) {
  auto M = oneNode("Unique", {{"x", onnx::TensorProto::FLOAT}}, {{3, 2}},
                   {"y"}, 11);
  setIntAttr(M, "axis", 2);
  EXPECT_NE(importError(M).find("node 'n1' (Unique, opset 11): error: "),
            std::string::npos)
      << importError(M);
}

TEST(OnnxDataShape, NonMaxSuppressionKeepsTheBestOfOverlaps) {
  // Boxes 0 and 1 overlap (IoU 0.81), box 2 is apart; box 1 scores best.
  onnx::ModelProto M = baseModel(17);
  auto &G = *M.mutable_graph();
  addTensorInput(G, "b", {1, 3, 4});
  addTensorInput(G, "s", {1, 1, 3});
  addTensorInput(G, "m", {1}, onnx::TensorProto::INT64);
  addTensorInput(G, "iou", {1});
  addNode(G, "NonMaxSuppression", {"b", "s", "m", "iou"}, {"y"}, "n1");
  G.add_output()->set_name("y");
  // The thresholds are graph inputs: dlc::Model compiles per value; here
  // they are bound as an importing user would through OnnxImportOptions.
  OnnxImportOptions IO;
  IO.Bind["m"] = i64s({5});
  IO.Bind["iou"] = f32s({1}, {0.5});
  auto R = importOnnx(M.SerializeAsString(), "m.onnx", IO);
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  PassManager PM;
  ASSERT_FALSE(PM.addPipeline(optimizePipeline()));
  ASSERT_FALSE(PM.run(**R));
  auto CF = CompiledFunction::compile(*(*R)->Functions.front(), 1, 1);
  ASSERT_TRUE(!!CF) << llvm::toString(CF.takeError());
  auto Out = (*CF)->run({f32s({1, 3, 4}, {0, 0, 1, 1, 0, 0, 0.9, 0.9, 5, 5,
                                          6, 6}),
                         f32s({1, 1, 3}, {0.5, 0.9, 0.2})});
  ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
  EXPECT_EQ(shape((*Out)[0]), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(ints((*Out)[0]), (std::vector<int64_t>{0, 0, 1, 0, 0, 2}));
  // Scores of the wrong shape for the boxes: a located run-time error.
  Out = (*CF)->run({f32s({1, 3, 4}, std::vector<double>(12, 0.0)),
                    f32s({1, 1, 2}, {0.5, 0.9})});
  EXPECT_FALSE(!!Out);
  llvm::consumeError(Out.takeError());
}

TEST(OnnxDataShape, HannWindowSymmetricAtOddSize) {
  onnx::ModelProto M = baseModel(17);
  auto &G = *M.mutable_graph();
  auto *Init = G.add_initializer();
  Init->set_name("n");
  Init->set_data_type(onnx::TensorProto::INT64);
  Init->add_int64_data(7);
  auto *N = addNode(G, "HannWindow", {"n"}, {"y"}, "n1");
  auto *A = N->add_attribute();
  A->set_name("periodic");
  A->set_type(onnx::AttributeProto::INT);
  A->set_i(0);
  G.add_output()->set_name("y");
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(M, Mod);
  ASSERT_TRUE(CF);
  auto Out = CF->run({});
  ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
  ASSERT_EQ((*Out)[0].numElements(), 7);
  for (int I = 0; I < 7; ++I)
    EXPECT_NEAR((*Out)[0].getF(I), 0.5 - 0.5 * std::cos(2 * M_PI * I / 6),
                1e-6);
  Init->set_int64_data(0, -3);
  EXPECT_NE(importError(M).find("size -3 is out of range"), std::string::npos)
      << importError(M);
}

TEST(OnnxDataShape, ReverseSequencePerBatchLength) {
  auto M = oneNode("ReverseSequence",
                   {{"x", onnx::TensorProto::FLOAT},
                    {"l", onnx::TensorProto::INT64}},
                   {{3, 5}, {3}}, {"y"}, 10);
  setIntAttr(M, "batch_axis", 0);
  setIntAttr(M, "time_axis", 1);
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(M, Mod);
  ASSERT_TRUE(CF);
  std::vector<double> V;
  for (int I = 0; I < 15; ++I)
    V.push_back(I);
  auto Out = CF->run({f32s({3, 5}, V), i64s({5, 1, 3})});
  ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
  EXPECT_EQ(floats((*Out)[0]), (std::vector<double>{4, 3, 2, 1, 0, 5, 6, 7, 8,
                                                    9, 12, 11, 10, 13, 14}));
}

TEST(OnnxDataShape, MatMulIntegerSubtractsZeroPoints) {
  auto M = oneNode("MatMulInteger",
                   {{"a", onnx::TensorProto::UINT8},
                    {"b", onnx::TensorProto::UINT8},
                    {"az", onnx::TensorProto::UINT8},
                    {"bz", onnx::TensorProto::UINT8}},
                   {{2, 3}, {3, 1}, {}, {}}, {"y"}, 10);
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(M, Mod);
  ASSERT_TRUE(CF);
  auto U8 = [](std::vector<int64_t> Shape, std::vector<int64_t> V) {
    Tensor T(DType::U8, Shape);
    for (size_t I = 0; I < V.size(); ++I)
      T.setI(I, V[I]);
    return T;
  };
  // (a - 10) @ (b - 3) with a = [[11,12,13],[255,10,10]], b = [4,5,6].
  auto Out = CF->run({U8({2, 3}, {11, 12, 13, 255, 10, 10}),
                      U8({3, 1}, {4, 5, 6}), U8({}, {10}), U8({}, {3})});
  ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
  EXPECT_EQ((*Out)[0].elem(), DType::I32);
  EXPECT_EQ(ints((*Out)[0]), (std::vector<int64_t>{1 + 4 + 9, 245}));
}

TEST(OnnxDataShape, BitCastReadsTheSameBytes) {
  auto M = oneNode("BitCast", {{"x", onnx::TensorProto::FLOAT}}, {{5}},
                   {"y"}, 26);
  setIntAttr(M, "to", onnx::TensorProto::INT32);
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(M, Mod);
  ASSERT_TRUE(CF);
  auto Out = CF->run({f32s({5}, {1.0, -2.0, 0.0, 0.5, -0.0})});
  ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
  EXPECT_EQ((*Out)[0].elem(), DType::I32);
  EXPECT_EQ(ints((*Out)[0]),
            (std::vector<int64_t>{0x3f800000, int32_t(0xc0000000u), 0,
                                  0x3f000000, int32_t(0x80000000u)}));
  // Element sizes that differ: a located import error.
  auto Bad = oneNode("BitCast", {{"x", onnx::TensorProto::FLOAT}}, {{5}},
                     {"y"}, 26);
  setIntAttr(Bad, "to", onnx::TensorProto::INT64);
  EXPECT_NE(importError(Bad).find("node 'n1' (BitCast, opset 26): error: "),
            std::string::npos)
      << importError(Bad);
  EXPECT_NE(importError(Bad).find("element sizes must be equal"),
            std::string::npos);
}
