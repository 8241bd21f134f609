// ONNX sequence ops (static-length sequences): models built with the
// protobuf classes, run through the JIT and compared with a std::vector
// model of the sequence; positions known at import time and at run time
// (negative ones included), out-of-range positions, and clean errors for
// what is not supported (sequence graph inputs/outputs, run-time splits).
// Splits whose piece count is known only at run time: their length, and
// single slices read at a run-time position.
#include "codegen/Executor.h"
#include "OnnxTestUtil.h"
#include "frontend/onnx/OnnxImporter.h"
#include "passes/Pass.h"

#include "onnx/onnx_pb.h"

#include <gtest/gtest.h>

#include <array>

using namespace dlc;
using namespace onnx_test;

namespace {

void addIntAttr(onnx::NodeProto *N, const std::string &Name, int64_t V) {
  auto *A = N->add_attribute();
  A->set_name(Name);
  A->set_type(onnx::AttributeProto::INT);
  A->set_i(V);
}

void addI64Init(onnx::GraphProto &G, const std::string &Name,
                std::vector<int64_t> Vals, bool Scalar) {
  auto *T = G.add_initializer();
  T->set_name(Name);
  T->set_data_type(onnx::TensorProto::INT64);
  if (!Scalar)
    T->add_dims(Vals.size());
  for (int64_t V : Vals)
    T->add_int64_data(V);
}

Tensor vec2(float A, float B) {
  Tensor T(DType::F32, {2});
  T.as<float>()[0] = A;
  T.as<float>()[1] = B;
  return T;
}

Tensor i64(int64_t V) {
  Tensor T(DType::I64, {});
  T.setI(0, V);
  return T;
}

/// The four tensors the sequence tests use: x, y, z build the sequence, w
/// is inserted; each is f32[2] holding {10k, 10k + 1}.
const char *const Names[] = {"x", "y", "z", "w"};

/// out = concat_from_sequence(erase(insert(seq(x, y, z), w, PIns), PEr),
/// new_axis) and at = sequence_at(that, PAt); len = its length. Positions
/// are initializers when Const, else run-time i64 scalar inputs.
onnx::ModelProto editModel(bool Const, int64_t PIns, int64_t PEr,
                           int64_t PAt) {
  onnx::ModelProto M = baseModel();
  auto &G = *M.mutable_graph();
  for (const char *N : Names)
    addTensorInput(G, N, {2});
  const char *Pos[] = {"p_ins", "p_er", "p_at"};
  int64_t Vals[] = {PIns, PEr, PAt};
  for (int K = 0; K < 3; ++K) {
    if (Const)
      addI64Init(G, Pos[K], {Vals[K]}, /*Scalar=*/true);
    else
      addTensorInput(G, Pos[K], {}, onnx::TensorProto::INT64);
  }
  addNode(G, "SequenceConstruct", {"x", "y", "z"}, {"s1"});
  addNode(G, "SequenceInsert", {"s1", "w", "p_ins"}, {"s2"});
  addNode(G, "SequenceErase", {"s2", "p_er"}, {"s3"});
  addIntAttr(addNode(G, "ConcatFromSequence", {"s3"}, {"out"}), "axis", 0);
  addIntAttr(G.mutable_node(3), "new_axis", 1);
  addNode(G, "SequenceAt", {"s3", "p_at"}, {"at"});
  addNode(G, "SequenceLength", {"s3"}, {"len"});
  for (const char *O : {"out", "at", "len"})
    G.add_output()->set_name(O);
  return M;
}

/// The reference: the same edits on a std::vector of tensor indices.
std::vector<int> editReference(int64_t PIns, int64_t PEr) {
  std::vector<int> S = {0, 1, 2};
  S.insert(S.begin() + (PIns < 0 ? PIns + 3 : PIns), 3);
  S.erase(S.begin() + (PEr < 0 ? PEr + 4 : PEr));
  return S;
}

void checkEdit(CompiledFunction &CF, bool Const, int64_t PIns, int64_t PEr,
               int64_t PAt) {
  std::vector<Tensor> In;
  for (int K = 0; K < 4; ++K)
    In.push_back(vec2(10 * K, 10 * K + 1));
  if (!Const)
    for (int64_t P : {PIns, PEr, PAt})
      In.push_back(i64(P));
  auto Out = CF.run(In);
  ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
  std::vector<int> Want = editReference(PIns, PEr);
  SCOPED_TRACE("insert at " + std::to_string(PIns) + ", erase at " +
               std::to_string(PEr) + ", read at " + std::to_string(PAt));
  ASSERT_EQ((*Out)[0].type().str(), "f32[3,2]");
  for (int I = 0; I < 3; ++I)
    for (int J = 0; J < 2; ++J)
      EXPECT_EQ((*Out)[0].as<float>()[2 * I + J], 10 * Want[I] + J);
  int At = Want[PAt < 0 ? PAt + 3 : PAt];
  ASSERT_EQ((*Out)[1].type().str(), "f32[2]");
  EXPECT_EQ((*Out)[1].as<float>()[0], 10 * At);
  EXPECT_EQ((*Out)[1].as<float>()[1], 10 * At + 1);
  EXPECT_EQ((*Out)[2].getI(0), 3);
}

TEST(OnnxSequence, ConstantPositions) {
  for (auto [PIns, PEr, PAt] : std::vector<std::array<int64_t, 3>>{
           {0, 0, 0}, {3, -1, -1}, {-1, 1, 2}, {-3, -4, -3}}) {
    std::unique_ptr<Module> Mod;
    auto CF = compileModel(editModel(true, PIns, PEr, PAt), Mod);
    ASSERT_TRUE(CF);
    // A constant position is resolved at import time: no select or gather.
    for (const auto &Op : Mod->Functions.front()->Body)
      EXPECT_NE(Op->kind(), OpKind::Gather);
    checkEdit(*CF, true, PIns, PEr, PAt);
  }
}

TEST(OnnxSequence, RunTimePositions) {
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(editModel(false, 0, 0, 0), Mod);
  ASSERT_TRUE(CF);
  // Every valid insert / erase / read position, negative ones included.
  for (int64_t PIns = -3; PIns <= 3; ++PIns)
    for (int64_t PEr = -4; PEr <= 3; ++PEr)
      for (int64_t PAt : {-3, -1, 0, 2})
        checkEdit(*CF, false, PIns, PEr, PAt);
}

TEST(OnnxSequence, RunTimePositionOutOfRangeIsAnError) {
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(editModel(false, 0, 0, 0), Mod);
  ASSERT_TRUE(CF);
  // Valid: insert [-3, 3], erase [-4, 3], read [-3, 2].
  for (auto [PIns, PEr, PAt] : std::vector<std::array<int64_t, 3>>{
           {4, 0, 0}, {-4, 0, 0}, {0, 4, 0}, {0, -5, 0}, {0, 0, 3},
           {0, 0, -4}}) {
    std::vector<Tensor> In;
    for (int K = 0; K < 4; ++K)
      In.push_back(vec2(K, K));
    for (int64_t P : {PIns, PEr, PAt})
      In.push_back(i64(P));
    auto Out = CF->run(In);
    ASSERT_FALSE(!!Out) << "positions " << PIns << " " << PEr << " " << PAt;
    std::string Msg = llvm::toString(Out.takeError());
    EXPECT_NE(Msg.find("out of range"), std::string::npos) << Msg;
  }
}

TEST(OnnxSequence, ConstantPositionOutOfRangeIsAnImportError) {
  std::string E = importError(editModel(true, 4, 0, 0));
  EXPECT_NE(E.find("(SequenceInsert, opset 17): error: position 4 is out of "
                   "range [-3, 3] for a sequence of 3 tensors"),
            std::string::npos)
      << E;
}

/// SplitToSequence without 'split' (single slices, keepdims 0) and with a
/// constant chunk size; ConcatFromSequence puts the pieces back.
TEST(OnnxSequence, SplitAndConcat) {
  onnx::ModelProto M = baseModel();
  auto &G = *M.mutable_graph();
  addTensorInput(G, "x", {2, 3});
  auto *S = addNode(G, "SplitToSequence", {"x"}, {"cols"});
  addIntAttr(S, "axis", 1);
  addIntAttr(S, "keepdims", 0);
  addIntAttr(addNode(G, "ConcatFromSequence", {"cols"}, {"flat"}), "axis", 0);
  addI64Init(G, "two", {2}, /*Scalar=*/true);
  addIntAttr(addNode(G, "SplitToSequence", {"x", "two"}, {"chunks"}), "axis",
             -1);
  addNode(G, "SequenceLength", {"chunks"}, {"n"});
  addI64Init(G, "last", {-1}, /*Scalar=*/true);
  addNode(G, "SequenceAt", {"chunks", "last"}, {"tail"});
  for (const char *O : {"flat", "n", "tail"})
    G.add_output()->set_name(O);
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(M, Mod);
  ASSERT_TRUE(CF);
  Tensor X(DType::F32, {2, 3});
  for (int I = 0; I < 6; ++I)
    X.as<float>()[I] = I; // [[0, 1, 2], [3, 4, 5]]
  auto Out = CF->run({X});
  ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
  // The columns one after another.
  ASSERT_EQ((*Out)[0].type().str(), "f32[6]");
  float Flat[6] = {0, 3, 1, 4, 2, 5};
  for (int I = 0; I < 6; ++I)
    EXPECT_EQ((*Out)[0].as<float>()[I], Flat[I]) << I;
  EXPECT_EQ((*Out)[1].getI(0), 2);
  ASSERT_EQ((*Out)[2].type().str(), "f32[2,1]");
  EXPECT_EQ((*Out)[2].as<float>()[0], 2);
  EXPECT_EQ((*Out)[2].as<float>()[1], 5);
}

TEST(OnnxSequence, SequenceGraphInputAndOutputAreReported) {
  onnx::ModelProto M = baseModel();
  auto &G = *M.mutable_graph();
  auto *I = G.add_input();
  I->set_name("seq");
  I->mutable_type()->mutable_sequence_type()->mutable_elem_type()
      ->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  addTensorInput(G, "x", {2});
  addNode(G, "SequenceLength", {"seq"}, {"n"});
  addNode(G, "SequenceConstruct", {"x", "x"}, {"s"});
  G.add_output()->set_name("n");
  G.add_output()->set_name("s");
  EXPECT_EQ(importError(M),
            "m.onnx: input 'seq': error: is a sequence of f32[]; the importer "
            "needs its structure (length, element types, presence) bound "
            "(OnnxImportOptions::BindStruct); dlc::Model, `dlc run` and `dlc "
            "test-onnx` bind it per run\n"
            "m.onnx: output 's': error: is a sequence; the importer alone "
            "returns tensors (dlc::Model, `dlc run` and `dlc test-onnx` return "
            "sequences and optionals)");
}

/// A run-time 'split' of static length fixes the sequence's length (usable)
/// but not its pieces' shapes (reading one is reported).
TEST(OnnxSequence, RunTimeSplitSizes) {
  onnx::ModelProto M = baseModel();
  auto &G = *M.mutable_graph();
  addTensorInput(G, "x", {6});
  addTensorInput(G, "sizes", {3}, onnx::TensorProto::INT64);
  addNode(G, "SplitToSequence", {"x", "sizes"}, {"s"});
  addNode(G, "SequenceLength", {"s"}, {"n"});
  G.add_output()->set_name("n");
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(M, Mod);
  ASSERT_TRUE(CF);
  Tensor X(DType::F32, {6});
  Tensor Sizes(DType::I64, {3});
  auto Out = CF->run({X, Sizes});
  ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
  EXPECT_EQ((*Out)[0].getI(0), 3);

  addI64Init(G, "zero", {0}, /*Scalar=*/true);
  addNode(G, "SequenceAt", {"s", "zero"}, {"piece"});
  G.add_output()->set_name("piece");
  std::string E = importError(M);
  EXPECT_NE(E.find("(SequenceAt, opset 17): error: element 0 is a piece of a "
                   "split at run-time sizes"),
            std::string::npos)
      << E;
  EXPECT_EQ(E.find('\n'), std::string::npos) << E;
}

/// Single slices along a dim known only at run time: the length and the
/// slice at a run-time position (negative too) follow the run-time shape.
TEST(OnnxSequence, RunTimeLengthSingleSlices) {
  onnx::ModelProto M = baseModel();
  auto &G = *M.mutable_graph();
  addTensorInput(G, "x", {3}, onnx::TensorProto::FLOAT, "n");
  addTensorInput(G, "pos", {}, onnx::TensorProto::INT64);
  auto *N = addNode(G, "SplitToSequence", {"x"}, {"s"});
  addIntAttr(N, "axis", 1);
  addIntAttr(N, "keepdims", 0);
  addNode(G, "SequenceLength", {"s"}, {"len"});
  addNode(G, "SequenceAt", {"s", "pos"}, {"col"});
  // keepdims = 1 keeps the split axis, of size 1.
  addIntAttr(addNode(G, "SplitToSequence", {"x"}, {"k"}), "axis", 1);
  addNode(G, "SequenceAt", {"k", "pos"}, {"kcol"});
  for (const char *O : {"len", "col", "kcol"})
    G.add_output()->set_name(O);
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(M, Mod);
  ASSERT_TRUE(CF);
  for (auto [Cols, Pos] : {std::pair<int64_t, int64_t>{4, -1}, {5, 2}, {1, 0}}) {
    SCOPED_TRACE(std::to_string(Cols) + " columns, position " +
                 std::to_string(Pos));
    Tensor X(DType::F32, {3, Cols});
    for (int64_t I = 0; I < 3 * Cols; ++I)
      X.as<float>()[I] = float(I);
    auto Out = CF->run({X, i64(Pos)});
    ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
    EXPECT_EQ((*Out)[0].getI(0), Cols);
    int64_t At = Pos < 0 ? Pos + Cols : Pos;
    ASSERT_EQ((*Out)[1].type().str(), "f32[3]");
    ASSERT_EQ((*Out)[2].type().str(), "f32[3,1]");
    for (int64_t R = 0; R < 3; ++R) {
      EXPECT_EQ((*Out)[1].as<float>()[R], float(R * Cols + At));
      EXPECT_EQ((*Out)[2].as<float>()[R], float(R * Cols + At));
    }
  }
  // A position out of range is a run-time error.
  Tensor X(DType::F32, {3, 2});
  auto Bad = CF->run({X, i64(2)});
  ASSERT_FALSE(!!Bad);
  llvm::consumeError(Bad.takeError());
}

/// Run-time sizes of run-time count, and a constant chunk size over a dim
/// known only at run time: the length is known at run time; reading a piece
/// (of data-dependent shape) is reported at import.
TEST(OnnxSequence, RunTimeLengthChunks) {
  onnx::ModelProto M = baseModel();
  auto &G = *M.mutable_graph();
  addTensorInput(G, "x", {}, onnx::TensorProto::FLOAT, "n");
  addTensorInput(G, "sizes", {}, onnx::TensorProto::INT64, "k");
  addI64Init(G, "two", {2}, /*Scalar=*/true);
  addNode(G, "SplitToSequence", {"x", "sizes"}, {"s"});
  addNode(G, "SequenceLength", {"s"}, {"len"});
  addNode(G, "SplitToSequence", {"x", "two"}, {"c"});
  addNode(G, "SequenceLength", {"c"}, {"clen"});
  for (const char *O : {"len", "clen"})
    G.add_output()->set_name(O);
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(M, Mod);
  ASSERT_TRUE(CF);
  for (int64_t Len : {5, 6, 1}) {
    Tensor X(DType::F32, {Len});
    Tensor Sizes(DType::I64, {Len});
    for (int64_t I = 0; I < Len; ++I)
      Sizes.setI(I, 1);
    auto Out = CF->run({X, Sizes});
    ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
    EXPECT_EQ((*Out)[0].getI(0), Len);
    EXPECT_EQ((*Out)[1].getI(0), (Len + 1) / 2);
  }

  addI64Init(G, "zero", {0}, /*Scalar=*/true);
  addNode(G, "SequenceAt", {"c", "zero"}, {"piece"});
  G.add_output()->set_name("piece");
  std::string E = importError(M);
  EXPECT_NE(E.find("(SequenceAt, opset 17): error: the sequence 'c' has a "
                   "length known only at run time"),
            std::string::npos)
      << E;
}

} // namespace
