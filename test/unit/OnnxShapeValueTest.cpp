// ONNX ops whose shape operands are graph inputs read at run time (Slice's
// starts and ends, Range, Tile's repeats): imported with by_value shapes, run
// through the JIT, the interpreter agreeing, against the ONNX semantics
// written out here.
#include "OnnxTestUtil.h"

#include "codegen/Executor.h"
#include "frontend/onnx/OnnxImporter.h"
#include "interp/Interpreter.h"

#include "onnx/onnx_pb.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

using namespace dlc;
using namespace onnx_test;

namespace {

struct Loaded {
  std::unique_ptr<Module> Mod;
  std::unique_ptr<CompiledFunction> CF;
};

/// Imports M and compiles it.
Loaded load(const onnx::ModelProto &M) {
  Loaded L;
  auto Mod = importOnnx(M.SerializeAsString(), "m.onnx");
  EXPECT_TRUE(!!Mod) << llvm::toString(Mod.takeError());
  if (!Mod)
    return L;
  L.Mod = std::move(*Mod);
  auto CF = CompiledFunction::compile(*L.Mod->Functions.front(), 2, 1);
  EXPECT_TRUE(!!CF) << llvm::toString(CF.takeError());
  if (CF)
    L.CF = std::move(*CF);
  return L;
}

/// Runs the compiled model and the interpreter on In: both must agree;
/// returns output 0.
Tensor run(const Loaded &L, const std::vector<Tensor> &In) {
  if (!L.CF)
    return Tensor();
  auto Got = L.CF->run(In);
  auto Want = interpret(*L.Mod->Functions.front(), In);
  EXPECT_TRUE(!!Got && !!Want);
  if (!Got || !Want) {
    if (!Got)
      ADD_FAILURE() << llvm::toString(Got.takeError());
    if (!Want)
      ADD_FAILURE() << llvm::toString(Want.takeError());
    return Tensor();
  }
  EXPECT_TRUE((*Got)[0] == (*Want)[0]);
  return std::move((*Got)[0]);
}

/// ONNX Slice on a 1-D tensor of N elements 0..N-1, written out.
std::vector<int64_t> sliceRef(int64_t N, int64_t S, int64_t E, int64_t Step) {
  S = S < 0 ? S + N : S;
  E = E < 0 ? E + N : E;
  std::vector<int64_t> R;
  if (N == 0)
    return R;
  if (Step > 0) {
    S = std::clamp<int64_t>(S, 0, N);
    E = std::clamp<int64_t>(E, 0, N);
    for (int64_t I = S; I < E; I += Step)
      R.push_back(I);
  } else {
    S = std::clamp<int64_t>(S, 0, N - 1);
    E = std::clamp<int64_t>(E, -1, N - 1);
    for (int64_t I = S; I > E; I += Step)
      R.push_back(I);
  }
  return R;
}

TEST(OnnxShapeValue, SliceWithRunTimeStartsAndEnds) {
  const int64_t Big = std::numeric_limits<int64_t>::max(),
                Small = std::numeric_limits<int64_t>::min();
  for (int64_t Step : {1, 2, -1, -3}) {
    onnx::ModelProto M = baseModel(13);
    auto &G = *M.mutable_graph();
    addTensorInput(G, "x", {}, onnx::TensorProto::INT64, "N");
    addTensorInput(G, "s", {1}, onnx::TensorProto::INT64);
    addTensorInput(G, "e", {1}, onnx::TensorProto::INT64);
    auto *St = G.add_initializer();
    St->set_name("step");
    St->set_data_type(onnx::TensorProto::INT64);
    St->add_dims(1);
    St->add_int64_data(Step);
    auto *Ax = G.add_initializer();
    Ax->set_name("axes");
    Ax->set_data_type(onnx::TensorProto::INT64);
    Ax->add_dims(1);
    Ax->add_int64_data(-1);
    addNode(G, "Slice", {"x", "s", "e", "axes", "step"}, {"y"});
    G.add_output()->set_name("y");
    Loaded L = load(M);
    for (int64_t N : {0, 1, 7})
      for (auto [S, E] : std::vector<std::pair<int64_t, int64_t>>{
               {0, Big}, {2, 5}, {-3, -1}, {5, 2}, {-100, 100}, {Big, Small},
               {-1, Small}, {3, 3}, {6, 0}}) {
        Tensor X(DType::I64, {N});
        for (int64_t I = 0; I < N; ++I)
          X.setI(I, I);
        Tensor Y = run(L, {X, i64s({S}), i64s({E})});
        std::vector<int64_t> Want = sliceRef(N, S, E, Step), Got;
        for (int64_t I = 0; I < Y.numElements(); ++I)
          Got.push_back(Y.getI(I));
        EXPECT_EQ(Got, Want) << "N " << N << " start " << S << " end " << E
                             << " step " << Step;
      }
  }
}

TEST(OnnxShapeValue, RangeFromInputs) {
  onnx::ModelProto M = baseModel(13);
  auto &G = *M.mutable_graph();
  for (const char *N : {"s", "l", "d"})
    addTensorInput(G, N, {}, onnx::TensorProto::FLOAT);
  addNode(G, "Range", {"s", "l", "d"}, {"y"});
  G.add_output()->set_name("y");
  Loaded Lo = load(M);
  auto F = [](float V) {
    Tensor T(DType::F32, {});
    T.setF(0, V);
    return T;
  };
  for (auto [S, L, D] : std::vector<std::array<float, 3>>{
           {1, 10, 3}, {10, 1, -2.5f}, {0, 0, 1}, {5, 1, 1}, {0.5f, 2, 0.25f}}) {
    Tensor Y = run(Lo, {F(S), F(L), F(D)});
    int64_t N = std::max<int64_t>(int64_t(std::ceil((L - S) / D)), 0);
    ASSERT_EQ(Y.numElements(), N) << S << " " << L << " " << D;
    for (int64_t I = 0; I < N; ++I)
      EXPECT_FLOAT_EQ(Y.getF(I), S + I * D);
  }
}

TEST(OnnxShapeValue, TileByRunTimeRepeats) {
  onnx::ModelProto M = baseModel(13);
  auto &G = *M.mutable_graph();
  addTensorInput(G, "x", {2}, onnx::TensorProto::INT64, "N");
  addTensorInput(G, "r", {2}, onnx::TensorProto::INT64);
  addNode(G, "Tile", {"x", "r"}, {"y"});
  G.add_output()->set_name("y");
  Tensor X(DType::I64, {2, 3});
  for (int64_t I = 0; I < 6; ++I)
    X.setI(I, I);
  Loaded L = load(M);
  Tensor Y = run(L, {X, i64s({2, 3})});
  ASSERT_EQ(Y.shape(), (llvm::ArrayRef<int64_t>{4, 9}));
  for (int64_t I = 0; I < 4; ++I)
    for (int64_t J = 0; J < 9; ++J)
      EXPECT_EQ(Y.getI(I * 9 + J), (I % 2) * 3 + J % 3);
  EXPECT_EQ(run(L, {X, i64s({0, 1})}).numElements(), 0);
}

} // namespace
