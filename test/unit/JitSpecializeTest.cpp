// dlc::Model on ONNX models whose graph inputs feed shape-like operands
// (TopK's k, ReduceSum's axes, Pad's pads): every input given at run time,
// one compiled variant per set of values (compile on first use, cache hits,
// LRU eviction, the thrash warning), out-of-range values as located errors.
#include "OnnxTestUtil.h"

#include "api/Model.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <thread>

using namespace dlc;
using namespace onnx_test;

namespace {

/// Y, I = TopK(X, k) on X: f32[6].
onnx::ModelProto topKModel() {
  onnx::ModelProto M = baseModel(17);
  auto &G = *M.mutable_graph();
  addTensorInput(G, "x", {6});
  addTensorInput(G, "k", {1}, onnx::TensorProto::INT64);
  addNode(G, "TopK", {"x", "k"}, {"values", "indices"}, "top");
  G.add_output()->set_name("values");
  G.add_output()->set_name("indices");
  return M;
}

std::vector<double> values(const Tensor &T) {
  std::vector<double> V;
  for (int64_t I = 0; I < T.numElements(); ++I)
    V.push_back(T.getF(I));
  return V;
}

ModelOptions jit(unsigned Cache = 8) {
  ModelOptions O;
  O.Engine = "jit";
  O.OptLevel = 1;
  O.Threads = 1;
  O.SpecializationCacheSize = Cache;
  return O;
}

const Tensor X = f32s({6}, {3, 9, -1, 7, 0, 5});

} // namespace

TEST(JitSpecialize, TopKCompilesPerValueOfK) {
  TempModel T(topKModel());
  auto M = Model::fromFile(T.Path, jit());
  ASSERT_TRUE(!!M) << llvm::toString(M.takeError());
  ASSERT_EQ(M->inputs().size(), 2u); // k stays an input
  EXPECT_EQ(M->inputs()[1].Name, "k");
  EXPECT_EQ(M->specialization().Inputs, std::vector<std::string>{"k"});
  EXPECT_EQ(M->specialization().Compiles, 0u); // nothing before a run

  auto R = M->run({X, i64s({2})});
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  EXPECT_EQ(values((*R)[0]), (std::vector<double>{9, 7}));
  EXPECT_EQ(values((*R)[1]), (std::vector<double>{1, 3}));
  R = M->run({X, i64s({2})});
  ASSERT_TRUE(!!R);
  R = M->run({X, i64s({4})});
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  EXPECT_EQ(values((*R)[0]), (std::vector<double>{9, 7, 5, 3}));
  SpecializationStats S = M->specialization();
  EXPECT_EQ(S.Compiles, 2u);
  EXPECT_EQ(S.Hits, 1u);
  EXPECT_EQ(S.Cached, 2u);
}

TEST(JitSpecialize, OutOfRangeValuesAreLocatedErrors) {
  TempModel T(topKModel());
  auto M = Model::fromFile(T.Path, jit());
  ASSERT_TRUE(!!M) << llvm::toString(M.takeError());
  for (int64_t K : {7, -1}) {
    auto R = M->run({X, i64s({K})});
    ASSERT_FALSE(!!R);
    std::string E = llvm::toString(R.takeError());
    EXPECT_NE(E.find("node 'top' (TopK"), std::string::npos) << E;
    EXPECT_NE(E.find("K = " + std::to_string(K) + " is not in [0, 6]"),
              std::string::npos) << E;
    EXPECT_NE(E.find("run-time value(s) k = [" + std::to_string(K) + "]"),
              std::string::npos) << E;
  }
  // A wrong element type is named, not misread.
  Tensor K32(DType::I32, {1});
  auto R = M->run({X, K32});
  ASSERT_FALSE(!!R);
  EXPECT_EQ(llvm::toString(R.takeError()),
            "error: input 'k' must be i64[1], got i32[1]");
  // The model still works after the errors.
  R = M->run({X, i64s({1})});
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  EXPECT_EQ(values((*R)[0]), (std::vector<double>{9}));
}

TEST(JitSpecialize, ReduceSumAxesAndPadsAtRunTime) {
  onnx::ModelProto MP = baseModel(18);
  auto &G = *MP.mutable_graph();
  addTensorInput(G, "x", {2, 3});
  addTensorInput(G, "axes", {1}, onnx::TensorProto::INT64);
  addTensorInput(G, "pads", {4}, onnx::TensorProto::INT64);
  addNode(G, "ReduceSum", {"x", "axes"}, {"s"}, "sum");
  addNode(G, "Pad", {"x", "pads"}, {"p"}, "pad");
  G.add_output()->set_name("s");
  G.add_output()->set_name("p");
  TempModel T(MP);
  for (bool Dynamic : {false, true}) {
    ModelOptions O = jit();
    O.ForceDynamic = Dynamic;
    auto M = Model::fromFile(T.Path, O);
    ASSERT_TRUE(!!M) << llvm::toString(M.takeError());
    Tensor In = f32s({2, 3}, {1, 2, 3, 4, 5, 6});
    auto R = M->run({In, i64s({1}), i64s({0, 1, 0, 0})});
    ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
    EXPECT_EQ(values((*R)[0]), (std::vector<double>{6, 15}));
    EXPECT_EQ((*R)[1].shape(), (llvm::ArrayRef<int64_t>{2, 4}));
    EXPECT_EQ(values((*R)[1]), (std::vector<double>{0, 1, 2, 3, 0, 4, 5, 6}));
    R = M->run({In, i64s({-2}), i64s({0, 0, 1, 0})});
    ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
    EXPECT_EQ(values((*R)[0]), (std::vector<double>{5, 7, 9}));
    EXPECT_EQ((*R)[1].shape(), (llvm::ArrayRef<int64_t>{3, 3}));
    R = M->run({In, i64s({2}), i64s({0, 0, 0, 0})});
    ASSERT_FALSE(!!R);
    std::string E = llvm::toString(R.takeError());
    EXPECT_NE(E.find("node 'sum' (ReduceSum"), std::string::npos) << E;
    EXPECT_NE(E.find("axes = [2]"), std::string::npos) << E;
  }
}

TEST(JitSpecialize, LeastRecentlyUsedAndThrashWarning) {
  TempModel T(topKModel());
  ModelOptions O = jit(2);
  std::vector<std::string> Warnings;
  O.OnWarning = [&](const std::string &W) { Warnings.push_back(W); };
  auto M = Model::fromFile(T.Path, O);
  ASSERT_TRUE(!!M) << llvm::toString(M.takeError());
  // 1, 2 fill the cache; 1 is a hit and becomes most recent; 3 evicts 2.
  for (int64_t K : {1, 2, 1, 3, 1})
    ASSERT_TRUE(!!M->run({X, i64s({K})}));
  SpecializationStats S = M->specialization();
  EXPECT_EQ(S.Compiles, 3u);
  EXPECT_EQ(S.Hits, 2u);
  EXPECT_EQ(S.Evictions, 1u);
  EXPECT_EQ(S.Cached, 2u);
  EXPECT_TRUE(Warnings.empty());
  // Cycling through 4 values with room for 2 recompiles every time.
  for (int Round = 0; Round < 3; ++Round)
    for (int64_t K : {1, 2, 3, 4}) {
      auto R = M->run({X, i64s({K})});
      ASSERT_TRUE(!!R);
      EXPECT_EQ((*R)[0].numElements(), K);
    }
  ASSERT_EQ(Warnings.size(), 1u); // once
  EXPECT_NE(Warnings[0].find("thrashes"), std::string::npos) << Warnings[0];
  EXPECT_NE(Warnings[0].find("input(s) 'k'"), std::string::npos);
  EXPECT_NE(Warnings[0].find("SpecializationCacheSize"), std::string::npos);
}

TEST(JitSpecialize, RunsFromSeveralThreads) {
  TempModel T(topKModel());
  auto M = Model::fromFile(T.Path, jit(2));
  ASSERT_TRUE(!!M) << llvm::toString(M.takeError());
  std::vector<int> Bad(4, 0);
  std::vector<std::thread> Th;
  for (int I = 0; I < 4; ++I)
    Th.emplace_back([&, I] {
      for (int N = 0; N < 6; ++N) {
        int64_t K = 1 + (I + N) % 5;
        auto R = M->run({X, i64s({K})});
        if (!R) {
          llvm::consumeError(R.takeError());
          ++Bad[I];
        } else if ((*R)[0].numElements() != K || (*R)[0].getF(0) != 9) {
          ++Bad[I];
        }
      }
    });
  for (auto &Tr : Th)
    Tr.join();
  EXPECT_EQ(Bad, std::vector<int>(4, 0));
}

TEST(JitSpecialize, NoSpecializationKeepsTheImportError) {
  TempModel T(topKModel());
  auto M = Model::fromFile(T.Path, jit(0));
  ASSERT_FALSE(!!M);
  std::string E = llvm::toString(M.takeError());
  EXPECT_NE(E.find("must be known at import time"), std::string::npos) << E;
}

TEST(JitSpecialize, InputsFeedingAShapeThroughAComputationAreBound) {
  // y = Pad(x, Max(s, (Shape(x) ++ Shape(x)) - [6, 6])): the pads come from
  // s through Max; x reaches them only through Shape, so x stays a plain
  // run-time input.
  onnx::ModelProto MP = baseModel(17);
  auto &G = *MP.mutable_graph();
  addTensorInput(G, "x", {6});
  addTensorInput(G, "s", {2}, onnx::TensorProto::INT64);
  auto *C = G.add_initializer();
  C->set_name("six");
  C->set_data_type(onnx::TensorProto::INT64);
  C->add_dims(2);
  C->add_int64_data(6);
  C->add_int64_data(6);
  addNode(G, "Shape", {"x"}, {"xs"});
  auto *Cat = addNode(G, "Concat", {"xs", "xs"}, {"xs2"});
  auto *A = Cat->add_attribute();
  A->set_name("axis");
  A->set_type(onnx::AttributeProto::INT);
  A->set_i(0);
  addNode(G, "Sub", {"xs2", "six"}, {"zeros"});
  addNode(G, "Max", {"s", "zeros"}, {"pads"});
  addNode(G, "Pad", {"x", "pads"}, {"y"});
  G.add_output()->set_name("y");
  TempModel T(MP);
  auto M = Model::fromFile(T.Path, jit());
  ASSERT_TRUE(!!M) << llvm::toString(M.takeError());
  EXPECT_EQ(M->specialization().Inputs, std::vector<std::string>{"s"});
  auto R = M->run({X, i64s({1, 2})});
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  EXPECT_EQ(values((*R)[0]), (std::vector<double>{0, 3, 9, -1, 7, 0, 5, 0, 0}));
  // Negative entries of s are clamped to 0 by the Max.
  R = M->run({X, i64s({-1, 0})});
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  EXPECT_EQ(values((*R)[0]), values(X));
  EXPECT_EQ(M->specialization().Compiles, 2u);
}
