// Run-time values of shape-like inputs out of range, through dlc::Model as
// a user runs an ONNX model (every input at run time): each is a located
// error naming the node and the input, not a crash or a runaway allocation.
// One case per class onnx-range-sweep found (test/onnx/OnnxRangeSweep.cpp).
#include "OnnxTestUtil.h"

#include "api/Model.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace dlc;
using namespace onnx_test;

namespace {

ModelOptions jit() {
  ModelOptions O;
  O.Engine = "jit";
  O.OptLevel = 1;
  O.Threads = 1;
  return O;
}

/// The error of running M on In ("<ran>" when it ran).
std::string runError(const Model &M, std::vector<Tensor> In) {
  auto R = M.run(In);
  return R ? "<ran>" : llvm::toString(R.takeError());
}

/// grid = AffineGrid(theta: f32[1,2,3], size: i64[4]), node 'grid'.
onnx::ModelProto affineGridModel() {
  onnx::ModelProto M = baseModel(20);
  auto &G = *M.mutable_graph();
  addTensorInput(G, "theta", {1, 2, 3});
  addTensorInput(G, "size", {4}, onnx::TensorProto::INT64);
  addNode(G, "AffineGrid", {"theta", "size"}, {"y"}, "grid");
  G.add_output()->set_name("y");
  return M;
}

/// y = Resize(x: f32[1,1,2,2], roi "", scales or sizes), node 'up'.
onnx::ModelProto resizeModel(bool BySizes) {
  onnx::ModelProto M = baseModel(19);
  auto &G = *M.mutable_graph();
  addTensorInput(G, "x", {1, 1, 2, 2});
  if (BySizes) {
    addTensorInput(G, "sizes", {4}, onnx::TensorProto::INT64);
    addNode(G, "Resize", {"x", "", "", "sizes"}, {"y"}, "up");
  } else {
    addTensorInput(G, "scales", {4});
    addNode(G, "Resize", {"x", "", "scales"}, {"y"}, "up");
  }
  G.add_output()->set_name("y");
  return M;
}

/// y = Range(start, limit, delta), three scalar inputs of ONNX type Type,
/// node 'r'. WithResize adds z = Resize(x: f32[1,1,2,2], scales), whose
/// scales must be known at import: dlc::Model then compiles a variant per
/// value of every shape-like input, so Range's operands reach the importer
/// as constants; without it Range computes its length at run time.
onnx::ModelProto rangeModel(int Type, bool WithResize) {
  onnx::ModelProto M = baseModel(19);
  auto &G = *M.mutable_graph();
  for (const char *Name : {"start", "limit", "delta"})
    addTensorInput(G, Name, {}, Type);
  addNode(G, "Range", {"start", "limit", "delta"}, {"y"}, "r");
  G.add_output()->set_name("y");
  if (WithResize) {
    addTensorInput(G, "x", {1, 1, 2, 2});
    addTensorInput(G, "scales", {4});
    addNode(G, "Resize", {"x", "", "scales"}, {"z"}, "up");
    G.add_output()->set_name("z");
  }
  return M;
}

/// A scalar of DType E holding V.
Tensor scalar(DType E, double V) {
  Tensor T(E, {});
  T.setF(0, V);
  return T;
}

const Tensor Theta = f32s({1, 2, 3}, {1, 0, 0, 0, 1, 0});
const Tensor X = f32s({1, 1, 2, 2}, {1, 2, 3, 4});

} // namespace

// The base grid is an import-time constant: a huge size (or one whose
// product overflows) asked std::vector for it and aborted (bad_alloc,
// length_error) or wrapped around (SIGSEGV).
TEST(JitRangeError, AffineGridHugeSizeIsLocated) {
  TempModel T(affineGridModel());
  auto M = Model::fromFile(T.Path, jit());
  ASSERT_TRUE(!!M) << llvm::toString(M.takeError());
  auto R = M->run({Theta, i64s({1, 1, 2, 3})});
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  ASSERT_EQ((*R)[0].shape(), llvm::ArrayRef<int64_t>({1, 2, 3, 2}));
  // Identity theta: the grid is the base coordinates (x first).
  EXPECT_FLOAT_EQ((*R)[0].getF(0), -2.0 / 3);
  EXPECT_FLOAT_EQ((*R)[0].getF(1), -0.5);
  for (int64_t Big : {int64_t(1) << 31, int64_t(1) << 62, INT64_MAX}) {
    std::string E = runError(*M, {Theta, i64s({1, 1, Big, 3})});
    EXPECT_NE(E.find("node 'grid' (AffineGrid"), std::string::npos) << E;
    EXPECT_NE(E.find("size = [1, 1, " + std::to_string(Big)), std::string::npos)
        << E;
    EXPECT_NE(E.find("each spatial size must be in [1, "), std::string::npos)
        << E;
  }
  // Each dim fits, the product does not.
  std::string E = runError(*M, {Theta, i64s({1, 1, 1 << 20, 1 << 20})});
  EXPECT_NE(E.find("makes a grid of more than"), std::string::npos) << E;
  E = runError(*M, {Theta, i64s({1, 1, 0, 3})});
  EXPECT_NE(E.find("size[2] = 0: size entries must be positive"),
            std::string::npos)
      << E;
}

// Resize's static index and weight tables: sizes of 2^31 and more aborted
// in std::vector; every dim at 2^20 failed one axis' gather and then
// dereferenced its null result for the next axis.
TEST(JitRangeError, ResizeHugeSizesAreLocated) {
  TempModel T(resizeModel(true));
  auto M = Model::fromFile(T.Path, jit());
  ASSERT_TRUE(!!M) << llvm::toString(M.takeError());
  auto R = M->run({X, i64s({1, 1, 4, 4})});
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  ASSERT_EQ((*R)[0].shape(), llvm::ArrayRef<int64_t>({1, 1, 4, 4}));
  EXPECT_EQ((*R)[0].getF(0), 1); // nearest
  EXPECT_EQ((*R)[0].getF(15), 4);
  for (int64_t Big : {int64_t(1) << 31, int64_t(1) << 62, INT64_MAX}) {
    std::string E = runError(*M, {X, i64s({1, 1, Big, 4})});
    EXPECT_NE(E.find("node 'up' (Resize"), std::string::npos) << E;
    EXPECT_NE(E.find("sizes[2] = " + std::to_string(Big)), std::string::npos)
        << E;
    EXPECT_NE(E.find("samples (the most a static resized dim may have)"),
              std::string::npos)
        << E;
  }
  int64_t M20 = 1 << 20;
  std::string E = runError(*M, {X, i64s({M20, M20, M20, M20})});
  EXPECT_NE(E.find("node 'up' (Resize"), std::string::npos) << E;
  EXPECT_NE(E.find("sizes = [1048576, 1048576"), std::string::npos) << E;
  // The model still runs after the bad values.
  R = M->run({X, i64s({1, 1, 2, 4})});
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  EXPECT_EQ((*R)[0].shape(), llvm::ArrayRef<int64_t>({1, 1, 2, 4}));
}

// Scales that are NaN, infinite, zero or negative: a located error naming
// the entry (NaN and 1e30 went through an out-of-range float-to-integer
// conversion).
TEST(JitRangeError, ResizeBadScalesAreLocated) {
  TempModel T(resizeModel(false));
  auto M = Model::fromFile(T.Path, jit());
  ASSERT_TRUE(!!M) << llvm::toString(M.takeError());
  auto R = M->run({X, f32s({4}, {1, 1, 2, 2})});
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  ASSERT_EQ((*R)[0].shape(), llvm::ArrayRef<int64_t>({1, 1, 4, 4}));
  for (double Bad : {double(NAN), double(INFINITY), 0.0, -1.0}) {
    std::string E = runError(*M, {X, f32s({4}, {1, 1, Bad, 2})});
    EXPECT_NE(E.find("node 'up' (Resize"), std::string::npos) << E;
    EXPECT_NE(E.find("scales[2] = "), std::string::npos) << E;
    EXPECT_NE(E.find("scales must be finite and positive"), std::string::npos)
        << E;
  }
  std::string E = runError(*M, {X, f32s({4}, {1, 1, 1e30, 2})});
  EXPECT_NE(E.find("node 'up' (Resize"), std::string::npos) << E;
  EXPECT_NE(E.find("resizes dim 2 of f32[1,1,2,2] to more than"),
            std::string::npos)
      << E;
}

// Range's operands known only at run time: a NaN count cast to 0 and gave
// an empty range; now the length's Expand refuses it, located at the node.
TEST(JitRangeError, RangeNaNOperandsAtRunTimeAreLocated) {
  TempModel T(rangeModel(onnx::TensorProto::FLOAT, false));
  auto M = Model::fromFile(T.Path, jit());
  ASSERT_TRUE(!!M) << llvm::toString(M.takeError());
  auto F = [](double V) { return scalar(DType::F32, V); };
  auto R = M->run({F(1), F(2.5), F(0.5)});
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  ASSERT_EQ((*R)[0].shape(), llvm::ArrayRef<int64_t>({3}));
  EXPECT_EQ((*R)[0].getF(2), 2);
  R = M->run({F(4), F(0), F(1)}); // reversed: empty, not an error
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  EXPECT_EQ((*R)[0].numElements(), 0);
  struct Bad {
    double S, L, D;
    const char *Message;
  } Cases[] = {{0, NAN, 1, "invalid shape entry -1"},
               {NAN, 4, 1, "invalid shape entry -1"},
               {0, 4, NAN, "invalid shape entry -1"},
               {0, INFINITY, INFINITY, "invalid shape entry -1"},
               {0, INFINITY, 1, "invalid shape entry 9223372036854775807"}};
  for (const Bad &B : Cases) {
    std::string E = runError(*M, {F(B.S), F(B.L), F(B.D)});
    EXPECT_NE(E.find("node 'r' (Range"), std::string::npos) << E;
    EXPECT_NE(E.find(B.Message), std::string::npos) << E;
  }
}

// Range's operands bound as constants (the model is specialized on them): a
// NaN or infinite operand reached an undefined float-to-integer conversion
// of the element count, and an integer range whose limit - start overflows
// int64 wrapped.
TEST(JitRangeError, RangeNonFiniteConstantOperandsAreLocated) {
  TempModel T(rangeModel(onnx::TensorProto::FLOAT, true));
  auto M = Model::fromFile(T.Path, jit());
  ASSERT_TRUE(!!M) << llvm::toString(M.takeError());
  auto F = [](double V) { return scalar(DType::F32, V); };
  const Tensor Scales = f32s({4}, {1, 1, 1, 1});
  auto R = M->run({F(1), F(2.5), F(0.5), X, Scales});
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  ASSERT_EQ((*R)[0].shape(), llvm::ArrayRef<int64_t>({3}));
  EXPECT_EQ((*R)[0].getF(0), 1);
  EXPECT_EQ((*R)[0].getF(2), 2);
  struct Bad {
    double S, L, D;
    const char *Message;
  } Cases[] = {
      {0, NAN, 1, "limit = nan: start, limit and delta must be finite"},
      {0, INFINITY, 1, "limit = inf: "},
      {0, -INFINITY, 1, "limit = -inf: "},
      {0, 4, NAN, "delta = nan: "},
      {NAN, 4, 1, "start = nan: "},
      {0, 4, 0, "delta must not be 0"},
      {0, 3e38, 1e-38, "the range has too many elements"}};
  for (const Bad &B : Cases) {
    std::string E = runError(*M, {F(B.S), F(B.L), F(B.D), X, Scales});
    EXPECT_NE(E.find("node 'r' (Range"), std::string::npos) << E;
    EXPECT_NE(E.find(B.Message), std::string::npos) << E;
  }
  R = M->run({F(4), F(0), F(1), X, Scales}); // reversed: empty
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  EXPECT_EQ((*R)[0].numElements(), 0);

  TempModel TI(rangeModel(onnx::TensorProto::INT64, true));
  auto MI = Model::fromFile(TI.Path, jit());
  ASSERT_TRUE(!!MI) << llvm::toString(MI.takeError());
  auto I = [](int64_t V) { return i64s({V}).reshaped({}); };
  R = MI->run({I(INT64_MAX - 2), I(INT64_MAX), I(1), X, Scales});
  ASSERT_TRUE(!!R) << llvm::toString(R.takeError());
  ASSERT_EQ((*R)[0].numElements(), 2);
  EXPECT_EQ((*R)[0].getI(1), INT64_MAX - 1);
  for (auto [S, L, D] :
       {std::tuple<int64_t, int64_t, int64_t>{INT64_MIN, INT64_MAX, 1},
        {INT64_MAX, INT64_MIN, -3}}) {
    std::string E = runError(*MI, {I(S), I(L), I(D), X, Scales});
    EXPECT_NE(E.find("node 'r' (Range"), std::string::npos) << E;
    EXPECT_NE(E.find("the range has too many elements"), std::string::npos)
        << E;
  }
}
