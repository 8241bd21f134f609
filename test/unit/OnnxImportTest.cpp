// ONNX importer units: models built here with the protobuf classes. Bad
// inputs give one clear error each (never a crash); good ones import with
// the right types and run through the JIT with the expected values.
#include "codegen/Executor.h"
#include "OnnxTestUtil.h"
#include "frontend/onnx/OnnxImporter.h"
#include "interp/Interpreter.h"
#include "passes/Pass.h"

#include "onnx/onnx_pb.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

using namespace dlc;
using namespace onnx_test;

namespace {

/// y = relu(x) with x: f32[N, 3].
onnx::ModelProto reluModel() {
  onnx::ModelProto M = baseModel();
  auto &G = *M.mutable_graph();
  auto *I = G.add_input();
  I->set_name("x");
  auto *T = I->mutable_type()->mutable_tensor_type();
  T->set_elem_type(onnx::TensorProto::FLOAT);
  T->mutable_shape()->add_dim()->set_dim_param("N");
  T->mutable_shape()->add_dim()->set_dim_value(3);
  addNode(G, "Relu", {"x"}, {"y"}, "relu1");
  G.add_output()->set_name("y");
  return M;
}

onnx::TensorProto *addInit(onnx::GraphProto &G, const std::string &Name,
                           std::vector<int64_t> Dims) {
  auto *T = G.add_initializer();
  T->set_name(Name);
  T->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t D : Dims)
    T->add_dims(D);
  return T;
}

TEST(OnnxImport, TruncatedFile) {
  onnx::ModelProto M = reluModel();
  auto *W = addInit(*M.mutable_graph(), "w", {64});
  W->set_raw_data(std::string(256, '\0'));
  std::string Bytes = M.SerializeAsString();
  auto R = importOnnx(llvm::StringRef(Bytes).drop_back(40), "m.onnx");
  ASSERT_FALSE(R);
  EXPECT_NE(llvm::toString(R.takeError()).find("not a valid ONNX model"),
            std::string::npos);
}

TEST(OnnxImport, NotAProtobuf) {
  auto R = importOnnx("\xff\xff\xff\xff this is text", "m.onnx");
  ASSERT_FALSE(R);
  EXPECT_NE(llvm::toString(R.takeError()).find("not a valid ONNX model"),
            std::string::npos);
}

TEST(OnnxImport, EmptyGraph) {
  EXPECT_EQ(importError(baseModel()), "m.onnx: error: the graph has no outputs");
  onnx::ModelProto M;
  EXPECT_EQ(importError(M), "m.onnx: error: the model has no graph");
}

TEST(OnnxImport, UndefinedValue) {
  onnx::ModelProto M = reluModel();
  addNode(*M.mutable_graph(), "Add", {"y", "nowhere"}, {"z"}, "add1");
  EXPECT_EQ(importError(M), "m.onnx: node 'add1' (Add, opset 17): error: reads "
                            "'nowhere', which no node, input or initializer defines");
}

TEST(OnnxImport, Cycle) {
  onnx::ModelProto M = reluModel();
  auto &G = *M.mutable_graph();
  addNode(G, "Relu", {"b"}, {"a"}, "ra");
  addNode(G, "Relu", {"a"}, {"b"}, "rb");
  std::string E = importError(M);
  EXPECT_NE(E.find("node 'ra' (Relu, opset 17): error: reads 'b'"), std::string::npos) << E;
  EXPECT_NE(E.find("cycle"), std::string::npos) << E;
}

TEST(OnnxImport, DuplicateOutput) {
  onnx::ModelProto M = reluModel();
  addNode(*M.mutable_graph(), "Neg", {"x"}, {"y"}, "neg1");
  EXPECT_EQ(importError(M), "m.onnx: node 'neg1' (Neg, opset 17): error: "
                            "output 'y' is already defined");
}

TEST(OnnxImport, NegativeDims) {
  onnx::ModelProto M = reluModel();
  M.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()
      ->mutable_shape()->mutable_dim(1)->set_dim_value(-3);
  EXPECT_EQ(importError(M), "m.onnx: input 'x': error: has negative dim -3");
  onnx::ModelProto M2 = reluModel();
  addInit(*M2.mutable_graph(), "w", {2, -1});
  EXPECT_EQ(importError(M2), "m.onnx: initializer 'w': error: negative dim -1");
}

TEST(OnnxImport, HugeTensorIsAnErrorNotAnAllocation) {
  onnx::ModelProto M = reluModel();
  addInit(*M.mutable_graph(), "w", {1000000, 1000000});
  std::string E = importError(M);
  EXPECT_NE(E.find("initializer 'w': error: tensor of 1000000000000 elements "
                   "is larger than 4 GiB"), std::string::npos) << E;
}

TEST(OnnxImport, RawDataLength) {
  onnx::ModelProto M = reluModel();
  addInit(*M.mutable_graph(), "w", {4})->set_raw_data(std::string(12, '\0'));
  EXPECT_EQ(importError(M), "m.onnx: initializer 'w': error: raw_data has 12 "
                            "bytes, its shape and type need 16");
}

TEST(OnnxImport, UnknownDType) {
  onnx::ModelProto M = reluModel();
  addInit(*M.mutable_graph(), "w", {4})->set_data_type(99);
  EXPECT_EQ(importError(M), "m.onnx: initializer 'w': error: element type "
                            "code 99 is not supported");
  onnx::ModelProto M2 = reluModel();
  M2.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()
      ->set_elem_type(onnx::TensorProto::COMPLEX64);
  EXPECT_EQ(importError(M2), "m.onnx: input 'x': error: element type "
                             "COMPLEX64 is not supported");
  // Strings import, but only string ops take them; the op's error is
  // reported once, after the node's location.
  onnx::ModelProto M3 = reluModel();
  M3.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()
      ->set_elem_type(onnx::TensorProto::STRING);
  EXPECT_EQ(importError(M3), "m.onnx: node 'relu1' (Relu, opset 17): error: "
                             "'relu': operand 0 is a str tensor, which this "
                             "op does not take");
}

TEST(OnnxImport, AttributeOfWrongType) {
  onnx::ModelProto M = reluModel();
  auto *N = addNode(*M.mutable_graph(), "Softmax", {"y"}, {"z"}, "sm");
  auto *A = N->add_attribute();
  A->set_name("axis");
  A->set_type(onnx::AttributeProto::FLOAT);
  A->set_f(1.0f);
  EXPECT_EQ(importError(M), "m.onnx: node 'sm' (Softmax, opset 17): error: "
                            "attribute 'axis' must be an int, not a float");
}

TEST(OnnxImport, MissingExternalData) {
  onnx::ModelProto M = reluModel();
  auto *W = addInit(*M.mutable_graph(), "w", {4});
  W->set_data_location(onnx::TensorProto::EXTERNAL);
  auto *KV = W->add_external_data();
  KV->set_key("location");
  KV->set_value("no-such-weights.bin");
  std::string E = importError(M);
  EXPECT_NE(E.find("initializer 'w': error: cannot read external data file"),
            std::string::npos) << E;
  KV->set_value("../escape.bin");
  E = importError(M);
  EXPECT_NE(E.find("must be a relative path inside the model's folder"),
            std::string::npos) << E;
}

TEST(OnnxImport, AllUnsupportedOpsAtOnce) {
  onnx::ModelProto M = reluModel();
  auto &G = *M.mutable_graph();
  addNode(G, "FancyOp", {"y"}, {"a"}, "f1");
  addNode(G, "Relu", {"a"}, {"b"}, "r2");
  addNode(G, "OtherOp", {"b"}, {"c"}, "f2");
  EXPECT_EQ(importError(M),
            "m.onnx: node 'f1' (FancyOp, opset 17): error: op type 'FancyOp' is "
            "not supported\n"
            "m.onnx: node 'f2' (OtherOp, opset 17): error: op type 'OtherOp' is "
            "not supported");
  onnx::ModelProto Old = reluModel();
  Old.mutable_opset_import(0)->set_version(3);
  EXPECT_EQ(importError(Old),
            "m.onnx: node 'relu1' (Relu, opset 3): error: 'Relu' before opset "
            "6 is not supported (of opsets 1 to 5, only ops unchanged since "
            "opset 1 are read: Not)");
  Old.mutable_opset_import(0)->set_version(29);
  EXPECT_EQ(importError(Old), "m.onnx: error: opset 29 of the default domain "
                              "is not supported (supported: 6 to 28)");
}

TEST(OnnxImport, DynamicShapeOperandIsReported) {
  onnx::ModelProto M = reluModel();
  auto &G = *M.mutable_graph();
  // (Reshape's shape may be a run-time value; Pad's pads may not.)
  addTensorInput(G, "pads", {4}, onnx::TensorProto::INT64);
  addNode(G, "Pad", {"y", "pads"}, {"z"}, "pd");
  std::string E = importError(M);
  EXPECT_NE(E.find("node 'pd' (Pad, opset 17): error: operand 'pads' "
                   "('pads') must be known at import time"),
            std::string::npos) << E;
}

/// Gemm with an initializer in typed fields and one in an external file;
/// the batch dim stays symbolic; the JIT matches hand-computed values.
TEST(OnnxImport, GemmWithExternalDataRuns) {
  llvm::SmallString<128> Dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("dlc-onnx", Dir));
  onnx::ModelProto M = baseModel(13);
  auto &G = *M.mutable_graph();
  addTensorInput(G, "x", {}, onnx::TensorProto::FLOAT, "batch");
  G.mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()
      ->add_dim()->set_dim_value(2);
  auto *W = addInit(G, "w", {2, 3});
  for (float V : {1.f, 2.f, 3.f, 4.f, 5.f, 6.f})
    W->add_float_data(V);
  auto *B = addInit(G, "b", {3});
  B->set_data_location(onnx::TensorProto::EXTERNAL);
  auto *KV = B->add_external_data();
  KV->set_key("location");
  KV->set_value("b.bin");
  float Bias[3] = {0.5f, -100.f, 1.f};
  {
    std::error_code EC;
    llvm::raw_fd_ostream OS((Dir + "/b.bin").str(), EC);
    OS.write(reinterpret_cast<const char *>(Bias), sizeof(Bias));
  }
  addNode(G, "Gemm", {"x", "w", "b"}, {"g"});
  addNode(G, "Relu", {"g"}, {"y"});
  G.add_output()->set_name("y");
  std::string Path = (Dir + "/m.onnx").str();
  {
    std::error_code EC;
    llvm::raw_fd_ostream OS(Path, EC);
    OS << M.SerializeAsString();
  }
  auto Mod = importOnnxFile(Path);
  ASSERT_TRUE(!!Mod) << llvm::toString(Mod.takeError());
  Function &F = *(*Mod)->Functions.front();
  EXPECT_EQ(F.Inputs[0]->Type.str(), "f32[batch,2]");
  PassManager PM;
  ASSERT_FALSE(PM.addPipeline(optimizePipeline()));
  ASSERT_FALSE(PM.run(**Mod));
  auto CF = CompiledFunction::compile(F, 1, 1);
  ASSERT_TRUE(!!CF) << llvm::toString(CF.takeError());
  Tensor X(DType::F32, {2, 2});
  float XV[4] = {1, 1, -1, 2};
  std::memcpy(X.data(), XV, sizeof(XV));
  auto Out = (*CF)->run({X});
  ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
  // x @ w + b = [[5.5, -93, 10], [7.5, -92, 10]], then relu.
  float Want[6] = {5.5f, 0.f, 10.f, 7.5f, 0.f, 10.f};
  ASSERT_EQ((*Out)[0].type().str(), "f32[2,3]");
  for (int I = 0; I < 6; ++I)
    EXPECT_FLOAT_EQ((*Out)[0].as<float>()[I], Want[I]) << I;
  llvm::sys::fs::remove_directories(Dir);
}

/// Opset-dependent semantics: Reshape's shape and Unsqueeze's axes as
/// attributes (old opsets) or constant inputs (new ones) import alike.
TEST(OnnxImport, AttributesThatBecameInputs) {
  for (int Opset : {11, 13}) {
    onnx::ModelProto M = baseModel(Opset);
    auto &G = *M.mutable_graph();
    addTensorInput(G, "x", {2, 3});
    auto *N = addNode(G, "Unsqueeze", {"x"}, {"u"});
    if (Opset < 13) {
      auto *A = N->add_attribute();
      A->set_name("axes");
      A->set_type(onnx::AttributeProto::INTS);
      A->add_ints(0);
    } else {
      auto *Ax = G.add_initializer();
      Ax->set_name("axes");
      Ax->set_data_type(onnx::TensorProto::INT64);
      Ax->add_dims(1);
      Ax->add_int64_data(0);
      N->add_input("axes");
    }
    G.add_output()->set_name("u");
    auto Mod = importOnnx(M.SerializeAsString(), "m.onnx");
    ASSERT_TRUE(!!Mod) << llvm::toString(Mod.takeError());
    EXPECT_EQ((*Mod)->Functions.front()->Outputs[0]->Type.str(), "f32[1,2,3]")
        << "opset " << Opset;
  }
}

} // namespace
