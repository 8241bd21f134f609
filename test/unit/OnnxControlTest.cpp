// ONNX control flow (If, Loop, Scan, SequenceMap) and optionals: models
// built with the protobuf classes, run through the JIT and compared with the
// same computation written as a C++ loop; subgraphs reading outer values by
// name (nested scopes, shadowing); unrolling when counts are known at import
// time, and if / loop / scan ops with regions when they are known only at
// run time (run-time conditions, trip counts and scan lengths).
#include "codegen/Executor.h"
#include "OnnxTestUtil.h"
#include "frontend/onnx/OnnxImporter.h"
#include "passes/Pass.h"

#include "onnx/onnx_pb.h"

#include <gtest/gtest.h>

using namespace dlc;
using namespace onnx_test;

namespace {

void addIntAttr(onnx::NodeProto *N, const std::string &Name, int64_t V) {
  auto *A = N->add_attribute();
  A->set_name(Name);
  A->set_type(onnx::AttributeProto::INT);
  A->set_i(V);
}

void addIntsAttr(onnx::NodeProto *N, const std::string &Name,
                 std::vector<int64_t> V) {
  auto *A = N->add_attribute();
  A->set_name(Name);
  A->set_type(onnx::AttributeProto::INTS);
  for (int64_t X : V)
    A->add_ints(X);
}

/// Adds an empty subgraph attribute Name to N and returns it.
onnx::GraphProto *addGraphAttr(onnx::NodeProto *N, const std::string &Name) {
  auto *A = N->add_attribute();
  A->set_name(Name);
  A->set_type(onnx::AttributeProto::GRAPH);
  A->mutable_g()->set_name(Name);
  return A->mutable_g();
}

void addInit(onnx::GraphProto &G, const std::string &Name, int Type,
             std::vector<int64_t> Dims, std::vector<double> Vals) {
  auto *T = G.add_initializer();
  T->set_name(Name);
  T->set_data_type(Type);
  for (int64_t D : Dims)
    T->add_dims(D);
  for (double V : Vals) {
    if (Type == onnx::TensorProto::FLOAT)
      T->add_float_data(float(V));
    else if (Type == onnx::TensorProto::BOOL)
      T->add_int32_data(V != 0);
    else
      T->add_int64_data(int64_t(V));
  }
}

Tensor floats(std::vector<int64_t> Shape, std::vector<float> V) {
  Tensor T(DType::F32, Shape);
  for (size_t I = 0; I < V.size(); ++I)
    T.as<float>()[I] = V[I];
  return T;
}

Tensor boolean(bool B) {
  Tensor T(DType::Bool, {});
  T.setI(0, B);
  return T;
}

size_t countOps(const Module &M, OpKind K) {
  size_t N = 0;
  for (const auto &Op : M.Functions.front()->Body)
    N += Op->kind() == K;
  return N;
}

/// out = cond ? x + x : x * x, the branches reading x from the outer scope;
/// the else branch defines a name ('x2') that the outer graph also defines
/// after the If (shadowing must not leak).
onnx::ModelProto ifModel(bool ConstCond, bool CondValue) {
  onnx::ModelProto M = baseModel();
  auto &G = *M.mutable_graph();
  addTensorInput(G, "x", {3});
  if (ConstCond)
    addInit(G, "cond", onnx::TensorProto::BOOL, {}, {double(CondValue)});
  else
    addTensorInput(G, "cond", {}, onnx::TensorProto::BOOL);
  auto *If = addNode(G, "If", {"cond"}, {"out"});
  auto *Then = addGraphAttr(If, "then_branch");
  addNode(*Then, "Add", {"x", "x"}, {"t"});
  Then->add_output()->set_name("t");
  auto *Else = addGraphAttr(If, "else_branch");
  addNode(*Else, "Mul", {"x", "x"}, {"x2"});
  Else->add_output()->set_name("x2");
  addNode(G, "Sub", {"out", "x"}, {"x2"});
  G.add_output()->set_name("x2");
  return M;
}

TEST(OnnxControl, IfWithConstantConditionImportsOnlyTheTakenBranch) {
  for (bool Cond : {true, false}) {
    std::unique_ptr<Module> Mod;
    auto CF = compileModel(ifModel(true, Cond), Mod);
    ASSERT_TRUE(CF);
    EXPECT_EQ(countOps(*Mod, OpKind::Mul), Cond ? 0u : 1u);
    EXPECT_EQ(countOps(*Mod, OpKind::Where), 0u);
    auto Out = CF->run({floats({3}, {1, 2, -3})});
    ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
    for (int I = 0; I < 3; ++I) {
      float X = std::vector<float>{1, 2, -3}[I];
      EXPECT_EQ((*Out)[0].as<float>()[I], (Cond ? X + X : X * X) - X);
    }
  }
}

TEST(OnnxControl, IfWithRunTimeConditionSelects) {
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(ifModel(false, false), Mod);
  ASSERT_TRUE(CF);
  // One `if` op: only the taken branch runs (no `where` of both).
  EXPECT_EQ(countOps(*Mod, OpKind::If), 1u);
  EXPECT_EQ(countOps(*Mod, OpKind::Where), 0u);
  for (bool Cond : {true, false}) {
    auto Out = CF->run({floats({3}, {1, 2, -3}), boolean(Cond)});
    ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
    for (int I = 0; I < 3; ++I) {
      float X = std::vector<float>{1, 2, -3}[I];
      EXPECT_EQ((*Out)[0].as<float>()[I], (Cond ? X + X : X * X) - X);
    }
  }
}

TEST(OnnxControl, IfWithRunTimeConditionMayDifferInShape) {
  // The else branch gives f32[1] (a sum), the then branch f32[3]: the
  // result is f32[?], sized when the run is planned.
  onnx::ModelProto M = ifModel(false, false);
  auto *Else = M.mutable_graph()->mutable_node(0)->mutable_attribute(1)
                   ->mutable_g();
  addInit(*Else, "axes", onnx::TensorProto::INT64, {1}, {0});
  Else->mutable_node(0)->set_output(0, "sq");
  addNode(*Else, "ReduceSum", {"sq", "axes"}, {"x2"});
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(M, Mod);
  ASSERT_TRUE(CF);
  std::vector<float> X = {1, 2, -3};
  for (bool Cond : {true, false, true}) {
    auto Out = CF->run({floats({3}, X), boolean(Cond)});
    ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
    ASSERT_EQ((*Out)[0].type().str(), "f32[3]");
    for (int I = 0; I < 3; ++I)
      EXPECT_EQ((*Out)[0].as<float>()[I], Cond ? X[I] : 14.f - X[I]);
  }
}

TEST(OnnxControl, ErrorInABranchNamesTheSubgraphNode) {
  onnx::ModelProto M = ifModel(true, true);
  auto *Then = M.mutable_graph()->mutable_node(0)->mutable_attribute(0)
                   ->mutable_g();
  Then->mutable_node(0)->set_op_type("NoSuchOp");
  EXPECT_EQ(importError(M),
            "m.onnx: node 'If_out' (If, opset 17): error: in subgraph "
            "'then_branch', node 'Add_t' (NoSuchOp): op type 'NoSuchOp' is "
            "not supported");
}

/// y_{i+1} = y_i * a + x[i] for i < trip (x read from the outer scope by
/// Gather at the iteration number), scan output s_i = y_{i+1}; with
/// WhileLess, the body's condition is y_{i+1} < limit (a run-time input).
onnx::ModelProto loopModel(int64_t Trip, bool WhileLess) {
  onnx::ModelProto M = baseModel();
  auto &G = *M.mutable_graph();
  addTensorInput(G, "x", {8});
  addTensorInput(G, "y0", {});
  addInit(G, "trip", onnx::TensorProto::INT64, {}, {double(Trip)});
  addInit(G, "a", onnx::TensorProto::FLOAT, {}, {0.5});
  if (WhileLess)
    addTensorInput(G, "limit", {});
  addInit(G, "true", onnx::TensorProto::BOOL, {}, {1});
  auto *L = addNode(G, "Loop", {"trip", "true", "y0"},
                    WhileLess ? std::vector<std::string>{"y"}
                              : std::vector<std::string>{"y", "s"});
  auto *B = addGraphAttr(L, "body");
  addTensorInput(*B, "i", {}, onnx::TensorProto::INT64);
  addTensorInput(*B, "c", {}, onnx::TensorProto::BOOL);
  addTensorInput(*B, "y_in", {});
  addNode(*B, "Gather", {"x", "i"}, {"xi"});
  addNode(*B, "Mul", {"y_in", "a"}, {"ya"});
  addNode(*B, "Add", {"ya", "xi"}, {"y_out"});
  if (WhileLess) {
    addNode(*B, "Less", {"y_out", "limit"}, {"c_out"});
  } else {
    addNode(*B, "Identity", {"c"}, {"c_out"});
    addNode(*B, "Identity", {"y_out"}, {"s_out"});
  }
  for (const char *O : {"c_out", "y_out"})
    B->add_output()->set_name(O);
  if (!WhileLess)
    B->add_output()->set_name("s_out");
  G.add_output()->set_name("y");
  if (!WhileLess)
    G.add_output()->set_name("s");
  return M;
}

const std::vector<float> LoopX = {1, -2, 3, 4, -5, 6, 7, 8};

TEST(OnnxControl, LoopUnrollsWithCarriedValuesAndScanOutputs) {
  for (int64_t Trip : {1, 5}) {
    std::unique_ptr<Module> Mod;
    auto CF = compileModel(loopModel(Trip, false), Mod);
    ASSERT_TRUE(CF);
    auto Out = CF->run({floats({8}, LoopX), floats({}, {2})});
    ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
    ASSERT_EQ((*Out)[1].type().str(), "f32[" + std::to_string(Trip) + "]");
    float Y = 2;
    for (int64_t I = 0; I < Trip; ++I) {
      Y = Y * 0.5f + LoopX[I];
      EXPECT_EQ((*Out)[1].as<float>()[I], Y) << I;
    }
    EXPECT_EQ((*Out)[0].as<float>()[0], Y);
  }
}

TEST(OnnxControl, LoopWithRunTimeConditionStopsUpdating) {
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(loopModel(6, true), Mod);
  ASSERT_TRUE(CF);
  EXPECT_EQ(countOps(*Mod, OpKind::Loop), 1u);
  for (float Limit : {-100.f, 0.f, 3.f, 5.f, 100.f}) {
    auto Out = CF->run({floats({8}, LoopX), floats({}, {2}), floats({}, {Limit})});
    ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
    float Y = 2;
    for (int64_t I = 0; I < 6; ++I) { // do { ... } while (y < limit)
      Y = Y * 0.5f + LoopX[I];
      if (!(Y < Limit))
        break;
    }
    EXPECT_EQ((*Out)[0].as<float>()[0], Y) << "limit " << Limit;
  }
}

TEST(OnnxControl, LoopWithRunTimeTripCountRunsAsALoopOp) {
  onnx::ModelProto M = loopModel(3, false);
  auto &G = *M.mutable_graph();
  G.mutable_initializer(0)->set_name("unused");
  addTensorInput(G, "trip", {}, onnx::TensorProto::INT64);
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(M, Mod);
  ASSERT_TRUE(CF);
  EXPECT_EQ(countOps(*Mod, OpKind::Loop), 1u);
  for (int64_t Trip : {3, 0, 8, -2, 5}) {
    Tensor T(DType::I64, {});
    T.setI(0, Trip);
    auto Out = CF->run({floats({8}, LoopX), floats({}, {2}), T});
    ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
    int64_t N = std::max<int64_t>(0, Trip);
    ASSERT_EQ((*Out)[1].type().str(), "f32[" + std::to_string(N) + "]");
    float Y = 2;
    for (int64_t I = 0; I < N; ++I) {
      Y = Y * 0.5f + LoopX[I];
      EXPECT_EQ((*Out)[1].as<float>()[I], Y) << I;
    }
    EXPECT_EQ((*Out)[0].as<float>()[0], Y);
  }
  // Past the end of x, the body's gather fails at run time, located.
  Tensor T(DType::I64, {});
  T.setI(0, 9);
  auto Bad = CF->run({floats({8}, LoopX), floats({}, {2}), T});
  ASSERT_FALSE(bool(Bad));
  std::string E = llvm::toString(Bad.takeError());
  EXPECT_NE(E.find("index 8 is out of range"), std::string::npos) << E;

  // Binding the trip count (as for shape operands) makes it unrollable.
  OnnxImportOptions O;
  Tensor B(DType::I64, {});
  B.setI(0, 3);
  O.Bind["trip"] = B;
  auto R = importOnnx(M.SerializeAsString(), "m.onnx", O);
  ASSERT_TRUE(!!R);
  EXPECT_EQ(countOps(**R, OpKind::Loop), 0u);
  // Too many iterations to unroll: a loop op instead of an error.
  auto Big = importOnnx(loopModel(100000, false).SerializeAsString(), "m.onnx");
  ASSERT_TRUE(!!Big) << llvm::toString(Big.takeError());
  EXPECT_EQ(countOps(**Big, OpKind::Loop), 1u);
}

TEST(OnnxControl, LoopWithRunTimeConditionAndScanOutputs) {
  // The scan output's length is the number of iterations the run-time
  // condition allows.
  onnx::ModelProto S = loopModel(6, true);
  auto *L = S.mutable_graph()->mutable_node(0);
  L->add_output("s");
  auto *B = L->mutable_attribute(0)->mutable_g();
  addNode(*B, "Identity", {"y_out"}, {"s_out"});
  B->add_output()->set_name("s_out");
  S.mutable_graph()->add_output()->set_name("s");
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(S, Mod);
  ASSERT_TRUE(CF);
  for (float Limit : {-100.f, 3.f, 5.f, 100.f}) {
    auto Out = CF->run({floats({8}, LoopX), floats({}, {2}), floats({}, {Limit})});
    ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
    std::vector<float> Want;
    float Y = 2;
    for (int64_t I = 0; I < 6; ++I) {
      Y = Y * 0.5f + LoopX[I];
      Want.push_back(Y);
      if (!(Y < Limit))
        break;
    }
    ASSERT_EQ((*Out)[1].type().str(),
              "f32[" + std::to_string(Want.size()) + "]") << Limit;
    for (size_t I = 0; I < Want.size(); ++I)
      EXPECT_EQ((*Out)[1].as<float>()[I], Want[I]);
    EXPECT_EQ((*Out)[0].as<float>()[0], Y);
  }
}

/// Scan (opset 9+) with a state read forward and a scan input read in
/// reverse along axis 1; scan outputs stacked forward on axis 1 and in
/// reverse on axis 0.
TEST(OnnxControl, ScanDirectionsAndAxes) {
  onnx::ModelProto M = baseModel();
  auto &G = *M.mutable_graph();
  addTensorInput(G, "init", {2});
  addTensorInput(G, "x", {2, 3});
  auto *S = addNode(G, "Scan", {"init", "x"}, {"final", "fwd", "rev"});
  addIntAttr(S, "num_scan_inputs", 1);
  addIntsAttr(S, "scan_input_axes", {1});
  addIntsAttr(S, "scan_input_directions", {1});
  addIntsAttr(S, "scan_output_axes", {1, 0});
  addIntsAttr(S, "scan_output_directions", {0, 1});
  auto *B = addGraphAttr(S, "body");
  addTensorInput(*B, "acc", {2});
  addTensorInput(*B, "col", {2});
  addNode(*B, "Add", {"acc", "col"}, {"acc_out"});
  addNode(*B, "Mul", {"acc_out", "col"}, {"prod"});
  for (const char *O : {"acc_out", "acc_out", "prod"})
    B->add_output()->set_name(O);
  for (const char *O : {"final", "fwd", "rev"})
    G.add_output()->set_name(O);
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(M, Mod);
  ASSERT_TRUE(CF);
  std::vector<float> X = {1, 2, 3, 4, 5, 6}, Init = {10, 20};
  auto Out = CF->run({floats({2}, Init), floats({2, 3}, X)});
  ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
  ASSERT_EQ((*Out)[1].type().str(), "f32[2,3]");
  ASSERT_EQ((*Out)[2].type().str(), "f32[3,2]");
  float Acc[2] = {Init[0], Init[1]};
  for (int T = 0; T < 3; ++T) {
    int Col = 2 - T; // reverse direction
    for (int R = 0; R < 2; ++R) {
      float V = X[R * 3 + Col];
      Acc[R] += V;
      EXPECT_EQ((*Out)[1].as<float>()[R * 3 + T], Acc[R]);
      EXPECT_EQ((*Out)[2].as<float>()[(2 - T) * 2 + R], Acc[R] * V);
    }
  }
  EXPECT_EQ((*Out)[0].as<float>()[0], Acc[0]);
  EXPECT_EQ((*Out)[0].as<float>()[1], Acc[1]);
}

TEST(OnnxControl, ScanWithRunTimeLengthRunsAsAScanOp) {
  // y[t] = s_t = s_{t-1} - x[t]: a state and a scan output over a length
  // known only at run time.
  onnx::ModelProto M = baseModel();
  auto &G = *M.mutable_graph();
  addTensorInput(G, "s0", {});
  addTensorInput(G, "x", {}, onnx::TensorProto::FLOAT, "n");
  auto *S = addNode(G, "Scan", {"s0", "x"}, {"s", "y"});
  addIntAttr(S, "num_scan_inputs", 1);
  auto *B = addGraphAttr(S, "body");
  addTensorInput(*B, "acc", {});
  addTensorInput(*B, "e", {});
  addNode(*B, "Sub", {"acc", "e"}, {"d"});
  B->add_output()->set_name("d");
  B->add_output()->set_name("d");
  G.add_output()->set_name("s");
  G.add_output()->set_name("y");
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(M, Mod);
  ASSERT_TRUE(CF);
  EXPECT_EQ(countOps(*Mod, OpKind::Scan), 1u);
  for (int64_t N : {4, 1, 7}) {
    std::vector<float> X;
    for (int64_t I = 0; I < N; ++I)
      X.push_back(float(I * I) - 3);
    auto Out = CF->run({floats({}, {10}), floats({N}, X)});
    ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
    ASSERT_EQ((*Out)[1].type().str(), "f32[" + std::to_string(N) + "]");
    float Acc = 10;
    for (int64_t I = 0; I < N; ++I) {
      Acc -= X[I];
      EXPECT_EQ((*Out)[1].as<float>()[I], Acc) << I;
    }
    EXPECT_EQ((*Out)[0].as<float>()[0], Acc);
  }
}

TEST(OnnxControl, Opset8ScanWithRunTimeBatchAndLength) {
  // Opset 8: batch dim 0, scan along dim 1 (in reverse here); a scan over
  // the batch of scans when neither is static.
  onnx::ModelProto M = baseModel(8);
  auto &G = *M.mutable_graph();
  auto *In = G.add_input();
  In->set_name("s0");
  auto *T = In->mutable_type()->mutable_tensor_type();
  T->set_elem_type(onnx::TensorProto::FLOAT);
  T->mutable_shape()->add_dim()->set_dim_param("B");
  T->mutable_shape()->add_dim()->set_dim_value(2);
  In = G.add_input();
  In->set_name("x");
  T = In->mutable_type()->mutable_tensor_type();
  T->set_elem_type(onnx::TensorProto::FLOAT);
  T->mutable_shape()->add_dim()->set_dim_param("B");
  T->mutable_shape()->add_dim()->set_dim_param("L");
  T->mutable_shape()->add_dim()->set_dim_value(2);
  auto *S = addNode(G, "Scan", {"", "s0", "x"}, {"s", "y"});
  addIntAttr(S, "num_scan_inputs", 1);
  addIntsAttr(S, "directions", {1});
  auto *B = addGraphAttr(S, "body");
  addTensorInput(*B, "acc", {2});
  addTensorInput(*B, "e", {2});
  addNode(*B, "Add", {"acc", "e"}, {"d"});
  B->add_output()->set_name("d");
  B->add_output()->set_name("d");
  G.add_output()->set_name("s");
  G.add_output()->set_name("y");
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(M, Mod);
  ASSERT_TRUE(CF);
  EXPECT_EQ(countOps(*Mod, OpKind::Scan), 1u);
  for (int64_t Bt : {1, 3})
    for (int64_t L : {2, 5}) {
      std::vector<float> S0, X;
      for (int64_t I = 0; I < Bt * 2; ++I)
        S0.push_back(float(I) - 1);
      for (int64_t I = 0; I < Bt * L * 2; ++I)
        X.push_back(float(I % 7) * 0.5f);
      auto Out = CF->run({floats({Bt, 2}, S0), floats({Bt, L, 2}, X)});
      ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
      ASSERT_EQ((*Out)[1].type().str(), "f32[" + std::to_string(Bt) + "," +
                                            std::to_string(L) + ",2]");
      for (int64_t Bi = 0; Bi < Bt; ++Bi)
        for (int64_t C = 0; C < 2; ++C) {
          float Acc = S0[Bi * 2 + C];
          for (int64_t T2 = 0; T2 < L; ++T2) {
            int64_t Src = L - 1 - T2; // reverse direction
            Acc += X[(Bi * L + Src) * 2 + C];
            EXPECT_EQ((*Out)[1].as<float>()[(Bi * L + T2) * 2 + C], Acc);
          }
          EXPECT_EQ((*Out)[0].as<float>()[Bi * 2 + C], Acc);
        }
    }
}

/// SequenceMap over a constructed sequence and a tensor, then optionals:
/// Optional(x) has an element, Optional(type) does not.
TEST(OnnxControl, SequenceMapAndOptionals) {
  onnx::ModelProto M = baseModel();
  auto &G = *M.mutable_graph();
  addTensorInput(G, "a", {2});
  addTensorInput(G, "b", {3});
  addTensorInput(G, "k", {});
  addNode(G, "SequenceConstruct", {"a", "b"}, {"s"});
  auto *Map = addNode(G, "SequenceMap", {"s", "k"}, {"m"});
  auto *B = addGraphAttr(Map, "body");
  addTensorInput(*B, "e", {}, onnx::TensorProto::FLOAT, "n");
  addTensorInput(*B, "kk", {});
  addNode(*B, "Mul", {"e", "kk"}, {"ek"});
  B->add_output()->set_name("ek");
  addIntAttr(addNode(G, "ConcatFromSequence", {"m"}, {"cat"}), "axis", 0);
  addNode(G, "Optional", {"cat"}, {"o"});
  addNode(G, "OptionalHasElement", {"o"}, {"has"});
  addNode(G, "OptionalGetElement", {"o"}, {"got"});
  auto *E = addNode(G, "Optional", {}, {"none"});
  auto *TA = E->add_attribute();
  TA->set_name("type");
  TA->set_type(onnx::AttributeProto::TYPE_PROTO);
  TA->mutable_tp()->mutable_tensor_type()->set_elem_type(
      onnx::TensorProto::FLOAT);
  addNode(G, "OptionalHasElement", {"none"}, {"has_none"});
  for (const char *O : {"got", "has", "has_none"})
    G.add_output()->set_name(O);
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(M, Mod);
  ASSERT_TRUE(CF);
  auto Out = CF->run({floats({2}, {1, 2}), floats({3}, {3, 4, 5}),
                      floats({}, {-2})});
  ASSERT_TRUE(!!Out) << llvm::toString(Out.takeError());
  ASSERT_EQ((*Out)[0].type().str(), "f32[5]");
  for (int I = 0; I < 5; ++I)
    EXPECT_EQ((*Out)[0].as<float>()[I], -2.f * (I + 1));
  EXPECT_EQ((*Out)[1].getI(0), 1);
  EXPECT_EQ((*Out)[2].getI(0), 0);

  addNode(G, "OptionalGetElement", {"none"}, {"bad"});
  G.add_output()->set_name("bad");
  EXPECT_NE(importError(M).find("(OptionalGetElement, opset 17): error: the "
                                "optional 'none' is empty"),
            std::string::npos)
      << importError(M);
}

} // namespace

namespace {
/// Loops nested Depth deep, each running Trip times over v (f32[4]); the
/// innermost body applies Relu. Unrolled, the innermost body is imported
/// Trip^Depth times.
onnx::ModelProto nestedLoops(int Depth, int64_t Trip) {
  onnx::ModelProto M = baseModel();
  auto &G = *M.mutable_graph();
  addTensorInput(G, "x", {4});
  addInit(G, "trip", onnx::TensorProto::INT64, {}, {double(Trip)});
  addInit(G, "true", onnx::TensorProto::BOOL, {}, {1});
  onnx::GraphProto *Cur = &G;
  std::string In = "x", Out = "y";
  for (int D = 0; D < Depth; ++D) {
    std::string S = std::to_string(D);
    auto *L = addNode(*Cur, "Loop", {"trip", "true", In}, {Out}, "loop" + S);
    onnx::GraphProto *B = addGraphAttr(L, "body");
    addTensorInput(*B, "i" + S, {}, onnx::TensorProto::INT64);
    addTensorInput(*B, "c" + S, {}, onnx::TensorProto::BOOL);
    addTensorInput(*B, "v" + S, {4});
    addNode(*B, "Identity", {"c" + S}, {"co" + S});
    B->add_output()->set_name("co" + S);
    B->add_output()->set_name("vo" + S);
    In = "v" + S;
    Out = "vo" + S;
    Cur = B;
  }
  addNode(*Cur, "Relu", {In}, {Out});
  G.add_output()->set_name("y");
  return M;
}
} // namespace

TEST(OnnxControl, NestedLoopsStopAtTheGlobalBound) {
  // Each loop is far under the per-loop limit, but 2^20 innermost bodies
  // are not: the global bound on imported ops stops the import early.
  onnx::ModelProto M = nestedLoops(20, 2);
  OnnxImportOptions O;
  O.MaxOps = 20000;
  auto R = importOnnx(M.SerializeAsString(), "m.onnx", O);
  ASSERT_FALSE(bool(R));
  std::string E = llvm::toString(R.takeError());
  EXPECT_NE(E.find("node 'loop0' (Loop, opset 17): error: in subgraph "
                   "'body', node 'loop1' (Loop):"),
            std::string::npos)
      << E;
  EXPECT_NE(E.find("the imported graph grows past 20000 ops (Loop, Scan and "
                   "If bodies are unrolled at import time, so nested ones "
                   "multiply); raise the bound with the environment variable "
                   "DLC_MAX_IMPORT_OPS or OnnxImportOptions::MaxOps"),
            std::string::npos)
      << E;
  // Under the bound, nested loops import and compute: relu applied 2^3 times.
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(nestedLoops(3, 2), Mod);
  ASSERT_TRUE(CF);
  auto Out = CF->run({floats({4}, {-1, 2, -3, 4})});
  ASSERT_TRUE(bool(Out)) << llvm::toString(Out.takeError());
  EXPECT_EQ((*Out)[0].getF(0), 0);
  EXPECT_EQ((*Out)[0].getF(1), 2);
  EXPECT_EQ((*Out)[0].getF(3), 4);
}
