// ONNX sequences and optionals as graph inputs and outputs through
// dlc::Model::runValues: a variant per structure (length, element types,
// presence), sequences carried by a Loop whose trip count is a graph input
// (the length grows with it), If branches returning optionals, SequenceMap,
// and the errors a user can cause (wrong kind, wrong element type, run()
// on a sequence model, a GPU device), each naming the input.
#include "OnnxTestUtil.h"

#include "api/Model.h"

#include <gtest/gtest.h>

using namespace dlc;
using namespace onnx_test;

namespace {

/// A graph input or output typed sequence(tensor(Elem)) with rank Rank
/// ('?' dims), wrapped in optional when Optional.
void setSeqType(onnx::ValueInfoProto *V, const std::string &Name,
                bool Optional, bool Sequence = true, int Rank = 1,
                int Elem = onnx::TensorProto::FLOAT) {
  V->set_name(Name);
  onnx::TypeProto *T = V->mutable_type();
  if (Optional)
    T = T->mutable_optional_type()->mutable_elem_type();
  if (Sequence)
    T = T->mutable_sequence_type()->mutable_elem_type();
  auto *TT = T->mutable_tensor_type();
  TT->set_elem_type(Elem);
  auto *S = TT->mutable_shape();
  for (int I = 0; I < Rank; ++I)
    S->add_dim()->set_dim_param("n");
}

onnx::GraphProto *addGraphAttr(onnx::NodeProto *N, const std::string &Name) {
  auto *A = N->add_attribute();
  A->set_name(Name);
  A->set_type(onnx::AttributeProto::GRAPH);
  A->mutable_g()->set_name(Name);
  return A->mutable_g();
}

ModelOptions jit() {
  ModelOptions O;
  O.Engine = "jit";
  O.OptLevel = 1;
  O.Threads = 1;
  return O;
}

std::vector<double> values(const Tensor &T) {
  std::vector<double> V;
  for (int64_t I = 0; I < T.numElements(); ++I)
    V.push_back(T.getF(I));
  return V;
}

Tensor i64(int64_t V) {
  Tensor T(DType::I64, {});
  T.setI(0, V);
  return T;
}

Tensor boolean(bool B) {
  Tensor T(DType::Bool, {});
  T.setI(0, B);
  return T;
}

/// out = SequenceInsert(seq, t, pos); len = SequenceLength(out).
onnx::ModelProto insertModel() {
  onnx::ModelProto M = baseModel(17);
  auto &G = *M.mutable_graph();
  setSeqType(G.add_input(), "seq", false);
  addTensorInput(G, "t", {}, onnx::TensorProto::FLOAT, "m");
  addTensorInput(G, "pos", {}, onnx::TensorProto::INT64);
  addNode(G, "SequenceInsert", {"seq", "t", "pos"}, {"out"});
  addNode(G, "SequenceLength", {"out"}, {"len"});
  setSeqType(G.add_output(), "out", false);
  G.add_output()->set_name("len");
  return M;
}

} // namespace

TEST(JitSequenceValues, SequenceInAndOutOneVariantPerLength) {
  TempModel T(insertModel());
  auto M = Model::fromFile(T.Path, jit());
  ASSERT_TRUE(!!M) << llvm::toString(M.takeError());
  ASSERT_EQ(M->inputs().size(), 3u);
  EXPECT_TRUE(M->inputs()[0].Sequence);
  EXPECT_FALSE(M->inputs()[0].Optional);
  EXPECT_EQ(M->inputs()[0].typeStr(), "sequence of f32[?]");
  EXPECT_TRUE(M->outputs()[0].Sequence);
  EXPECT_FALSE(M->outputs()[1].Sequence);

  RunValue S = RunValue::sequence({f32s({2}, {1, 2}), f32s({3}, {3, 4, 5})});
  // The position is taken per run-time value, so elements may differ in
  // shape (-1: before the last element).
  auto R = M->runValues({S, f32s({1}, {9}), i64(-1)});
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  ASSERT_TRUE((*R)[0].isSequence());
  ASSERT_EQ((*R)[0].Seq.size(), 3u);
  EXPECT_EQ(values((*R)[0].Seq[0]), (std::vector<double>{1, 2}));
  EXPECT_EQ(values((*R)[0].Seq[1]), (std::vector<double>{9}));
  EXPECT_EQ(values((*R)[0].Seq[2]), (std::vector<double>{3, 4, 5}));
  EXPECT_EQ((*R)[1].T.getI(0), 3);

  // Another length, and the empty sequence: new variants.
  R = M->runValues({RunValue::sequence({f32s({1}, {7})}), f32s({2}, {8, 6}),
                    i64(0)});
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  ASSERT_EQ((*R)[0].Seq.size(), 2u);
  EXPECT_EQ(values((*R)[0].Seq[0]), (std::vector<double>{8, 6}));
  EXPECT_EQ(values((*R)[0].Seq[1]), (std::vector<double>{7}));
  R = M->runValues({RunValue::sequence({}), f32s({1}, {4}), i64(0)});
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  ASSERT_EQ((*R)[0].Seq.size(), 1u);
  EXPECT_EQ((*R)[1].T.getI(0), 1);
  // The first structure and position again: a cache hit.
  R = M->runValues({S, f32s({1}, {4}), i64(-1)});
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  EXPECT_EQ(values((*R)[0].Seq[1]), (std::vector<double>{4}));
  SpecializationStats St = M->specialization();
  EXPECT_EQ(St.Inputs, std::vector<std::string>{"pos"});
  EXPECT_EQ(St.Compiles, 3u);
  EXPECT_EQ(St.Hits, 1u);

  // A position out of range is a run-time error, not a crash.
  R = M->runValues({S, f32s({1}, {9}), i64(7)});
  EXPECT_FALSE(!!R);
  llvm::consumeError(R.takeError());
}

TEST(JitSequenceValues, WrongInputsAreNamedErrors) {
  TempModel T(insertModel());
  auto M = Model::fromFile(T.Path, jit());
  ASSERT_TRUE(!!M) << llvm::toString(M.takeError());
  auto R = M->runValues({f32s({2}, {1, 2}), f32s({1}, {9}), i64(0)});
  ASSERT_FALSE(!!R);
  EXPECT_EQ(llvm::toString(R.takeError()),
            "error: input 'seq' must be a sequence of f32[?], got f32[2]");
  R = M->runValues({RunValue::none(), f32s({1}, {9}), i64(0)});
  ASSERT_FALSE(!!R);
  EXPECT_EQ(llvm::toString(R.takeError()),
            "error: input 'seq' must be a sequence of f32[?], got none (an empty "
            "optional)");
  Tensor I(DType::I64, {2});
  R = M->runValues({RunValue::sequence({I}), f32s({1}, {9}), i64(0)});
  ASSERT_FALSE(!!R);
  EXPECT_EQ(llvm::toString(R.takeError()),
            "error: input 'seq' holds elements of f32, got sequence of 1 (i64[2])");
  // An element of another rank than declared: the importer's located error.
  R = M->runValues({RunValue::sequence({f32s({1, 1}, {1})}), f32s({1}, {9}),
                    i64(0)});
  ASSERT_FALSE(!!R);
  std::string E = llvm::toString(R.takeError());
  EXPECT_NE(E.find("input 'seq': error: element 0 is f32[?,?], but the "
                   "model declares f32[?]"), std::string::npos) << E;
  // run() takes tensors only.
  auto Old = M->run({f32s({2}, {1, 2}), f32s({1}, {9}), i64(0)});
  ASSERT_FALSE(!!Old);
  EXPECT_EQ(llvm::toString(Old.takeError()),
            "error: input 'seq' is a sequence of f32[?]: run the model with "
            "Model::runValues");
  // A GPU device is refused at load, naming why.
  ModelOptions G = jit();
  G.Device = "cuda-emu";
  auto MG = Model::fromFile(T.Path, G);
  ASSERT_FALSE(!!MG);
  E = llvm::toString(MG.takeError());
  EXPECT_NE(E.find("include ONNX sequences or optionals, which run on device "
                   "'cpu' only"), std::string::npos) << E;
}

TEST(JitSequenceValues, ImporterAloneNamesTheUnboundSequence) {
  std::string E = importError(insertModel());
  EXPECT_NE(E.find("m.onnx: input 'seq': error: is a sequence of f32[?]; the "
                   "importer needs its structure"), std::string::npos) << E;
}

namespace {

/// seq_out = Loop(trip, cond, seq): each iteration inserts x[0 : i + 1]
/// (x: f32[5], an initializer) at the back: the sequence grows with the
/// trip count, a graph input, and its elements differ in length.
onnx::ModelProto growingLoopModel() {
  onnx::ModelProto M = baseModel(17);
  auto &G = *M.mutable_graph();
  addTensorInput(G, "trip", {}, onnx::TensorProto::INT64);
  addTensorInput(G, "cond", {}, onnx::TensorProto::BOOL);
  setSeqType(G.add_input(), "seq", false);
  auto *X = G.add_initializer();
  X->set_name("x");
  X->set_data_type(onnx::TensorProto::FLOAT);
  X->add_dims(5);
  for (float V : {1, 2, 3, 4, 5})
    X->add_float_data(V);
  for (const char *N : {"zero", "one"}) {
    auto *C = G.add_initializer();
    C->set_name(N);
    C->set_data_type(onnx::TensorProto::INT64);
    C->add_dims(1);
    C->add_int64_data(N[0] == 'o');
  }
  auto *L = addNode(G, "Loop", {"trip", "cond", "seq"}, {"seq_out"});
  auto *B = addGraphAttr(L, "body");
  addTensorInput(*B, "i", {}, onnx::TensorProto::INT64);
  addTensorInput(*B, "c", {}, onnx::TensorProto::BOOL);
  setSeqType(B->add_input(), "s_in", false);
  addNode(*B, "Identity", {"c"}, {"c_out"});
  addNode(*B, "Add", {"i", "one"}, {"end"});
  addNode(*B, "Slice", {"x", "zero", "end"}, {"piece"});
  addNode(*B, "SequenceInsert", {"s_in", "piece"}, {"s_out"});
  B->add_output()->set_name("c_out");
  setSeqType(B->add_output(), "s_out", false);
  setSeqType(G.add_output(), "seq_out", false);
  return M;
}

} // namespace

TEST(JitSequenceValues, LoopCarriedSequenceGrowsWithTheTripCount) {
  TempModel T(growingLoopModel());
  auto M = Model::fromFile(T.Path, jit());
  ASSERT_TRUE(!!M) << llvm::toString(M.takeError());
  EXPECT_EQ(M->specialization().Inputs,
            (std::vector<std::string>{"trip", "cond"}));
  for (int64_t Trip : {3, 1, 5}) {
    auto R = M->runValues({i64(Trip), boolean(true),
                           RunValue::sequence({f32s({1}, {-1})})});
    ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
    const RunValue &S = (*R)[0];
    ASSERT_TRUE(S.isSequence());
    ASSERT_EQ(S.Seq.size(), size_t(Trip + 1));
    EXPECT_EQ(values(S.Seq[0]), (std::vector<double>{-1}));
    for (int64_t I = 0; I < Trip; ++I) {
      std::vector<double> Want;
      for (int64_t K = 0; K <= I; ++K)
        Want.push_back(double(K + 1));
      EXPECT_EQ(values(S.Seq[I + 1]), Want) << "trip " << Trip;
    }
  }
  // cond false: the body never runs.
  auto R = M->runValues({i64(4), boolean(false), RunValue::sequence({})});
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  EXPECT_EQ((*R)[0].Seq.size(), 0u);
}

namespace {

/// out = If(cond): then an empty optional sequence, else Optional([x]);
/// has = OptionalHasElement(opt) for an optional tensor input opt.
onnx::ModelProto optionalModel() {
  onnx::ModelProto M = baseModel(18);
  auto &G = *M.mutable_graph();
  addTensorInput(G, "cond", {}, onnx::TensorProto::BOOL);
  addTensorInput(G, "x", {2});
  setSeqType(G.add_input(), "opt", true, false);
  auto *If = addNode(G, "If", {"cond"}, {"out"});
  auto *Then = addGraphAttr(If, "then_branch");
  auto *E = addNode(*Then, "Optional", {}, {"none"});
  auto *A = E->add_attribute();
  A->set_name("type");
  A->set_type(onnx::AttributeProto::TYPE_PROTO);
  auto *TT = A->mutable_tp()->mutable_sequence_type()->mutable_elem_type()
                 ->mutable_tensor_type();
  TT->set_elem_type(onnx::TensorProto::FLOAT);
  setSeqType(Then->add_output(), "none", true);
  auto *Else = addGraphAttr(If, "else_branch");
  addNode(*Else, "Neg", {"x"}, {"nx"});
  addNode(*Else, "SequenceConstruct", {"x", "nx"}, {"s"});
  addNode(*Else, "Optional", {"s"}, {"some"});
  setSeqType(Else->add_output(), "some", true);
  addNode(G, "OptionalHasElement", {"opt"}, {"has"});
  setSeqType(G.add_output(), "out", true);
  G.add_output()->set_name("has");
  return M;
}

} // namespace

TEST(JitSequenceValues, IfReturnsOptionalsAndOptionalInputs) {
  TempModel T(optionalModel());
  auto M = Model::fromFile(T.Path, jit());
  ASSERT_TRUE(!!M) << llvm::toString(M.takeError());
  EXPECT_TRUE(M->outputs()[0].Optional && M->outputs()[0].Sequence);
  EXPECT_TRUE(M->inputs()[2].Optional && !M->inputs()[2].Sequence);
  Tensor X = f32s({2}, {1.5, -2});
  auto R = M->runValues({boolean(true), X, RunValue::none()});
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  EXPECT_TRUE((*R)[0].isNone());
  EXPECT_EQ((*R)[1].T.getI(0), 0);
  R = M->runValues({boolean(false), X, RunValue(f32s({1}, {3}))});
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  ASSERT_TRUE((*R)[0].isSequence());
  ASSERT_EQ((*R)[0].Seq.size(), 2u);
  EXPECT_EQ(values((*R)[0].Seq[1]), (std::vector<double>{-1.5, 2}));
  EXPECT_EQ((*R)[1].T.getI(0), 1);
  // An optional tensor cannot be given a sequence.
  R = M->runValues({boolean(false), X, RunValue::sequence({X})});
  ASSERT_FALSE(!!R);
  EXPECT_EQ(llvm::toString(R.takeError()),
            "error: input 'opt' must be an optional f32[n] (empty or not), got "
            "sequence of 1 (f32[2])");
}

namespace {

/// out = SequenceMap(seq, t) with body y = Add(e, t) (t broadcast).
onnx::ModelProto mapModel() {
  onnx::ModelProto M = baseModel(17);
  auto &G = *M.mutable_graph();
  setSeqType(G.add_input(), "seq", false);
  addTensorInput(G, "t", {1});
  auto *N = addNode(G, "SequenceMap", {"seq", "t"}, {"out"});
  auto *B = addGraphAttr(N, "body");
  setSeqType(B->add_input(), "e", false, false);
  addTensorInput(*B, "u", {1});
  addNode(*B, "Add", {"e", "u"}, {"y"});
  setSeqType(B->add_output(), "y", false, false);
  setSeqType(G.add_output(), "out", false);
  return M;
}

} // namespace

TEST(JitSequenceValues, SequenceMapOverAnInputSequence) {
  TempModel T(mapModel());
  auto M = Model::fromFile(T.Path, jit());
  ASSERT_TRUE(!!M) << llvm::toString(M.takeError());
  auto R = M->runValues({RunValue::sequence({f32s({3}, {1, 2, 3}),
                                             f32s({1}, {10})}),
                         f32s({1}, {0.5})});
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  ASSERT_EQ((*R)[0].Seq.size(), 2u);
  EXPECT_EQ(values((*R)[0].Seq[0]), (std::vector<double>{1.5, 2.5, 3.5}));
  EXPECT_EQ(values((*R)[0].Seq[1]), (std::vector<double>{10.5}));
}
