// The embedding API: engine choice, fallback, errors and ports.
#include "TestUtil.h"

#include "api/Model.h"

#include "gtest/gtest.h"

using namespace dlc;

namespace {

const char *Softmax = "func @main(%x: f32[N,3]) -> (p: f32[N,3]) {\n"
                      "  %p = softmax %x\n  return %p\n}\n";
// A range too large to fold to a constant has no CPU lowering yet.
const char *Noise = "func @main(%x: f32[N,3]) -> (p: f32[N,3]) {\n"
                    "  %u = range {limit = 3000000.0}\n"
                    "  %s = reduce_sum %u {keepdims = false}\n"
                    "  %p = add %x, %s\n  return %p\n}\n";

TEST(Model, EngineChoiceAndFallback) {
  auto A = Model::fromText(Softmax);
  ASSERT_TRUE(bool(A)) << errText(A.takeError());
  EXPECT_EQ(A->engine(), "jit");
  auto B = Model::fromText(Noise);
  ASSERT_TRUE(bool(B)) << errText(B.takeError());
  EXPECT_EQ(B->engine(), "interp");
  ModelOptions Jit;
  Jit.Engine = "jit";
  auto C = Model::fromText(Noise, "noise.dlc", Jit);
  ASSERT_FALSE(bool(C));
  EXPECT_NE(errText(C.takeError()).find("noise.dlc:2:8: 'range'"),
            std::string::npos);
  ModelOptions Bad;
  Bad.Engine = "gpu";
  auto D = Model::fromText(Softmax, "m.dlc", Bad);
  ASSERT_FALSE(bool(D));
  EXPECT_NE(errText(D.takeError()).find("engine must be"), std::string::npos);
}

TEST(Model, PortsAndRun) {
  auto M = Model::fromText(Softmax);
  ASSERT_TRUE(bool(M));
  ASSERT_EQ(M->inputs().size(), 1u);
  EXPECT_EQ(M->inputs()[0].Name, "x");
  EXPECT_EQ(M->inputs()[0].Type.str(), "f32[N,3]");
  EXPECT_EQ(M->outputs()[0].Name, "p");
  Tensor X(DType::F32, {2, 3});
  auto Out = M->run({X});
  ASSERT_TRUE(bool(Out)) << errText(Out.takeError());
  EXPECT_NEAR((*Out)[0].getF(0), 1.0 / 3, 1e-6);
  auto Bad = M->run({Tensor(DType::I64, {2, 3})});
  ASSERT_FALSE(bool(Bad));
  EXPECT_NE(errText(Bad.takeError()).find("input 'x' must be f32[N,3], got i64"),
            std::string::npos);
}

TEST(Model, FileErrors) {
  auto M = Model::fromFile("/nonexistent/model.dlc");
  ASSERT_FALSE(bool(M));
  EXPECT_NE(errText(M.takeError()).find("cannot read model"), std::string::npos);
  auto P = Model::fromText("func @main( -> () {\n}\n", "broken.dlc");
  ASSERT_FALSE(bool(P));
  EXPECT_NE(errText(P.takeError()).find("broken.dlc:1:13: error:"), std::string::npos);
}

} // namespace
