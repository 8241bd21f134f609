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
