// Shapes read by value at run time (by_value reshape and expand): the JIT's
// run-time plan evaluates the shape computation per input shape and per
// value of the inputs it reads, and equals the interpreter; bad values are
// errors with the op's location.
#include "JitTestUtil.h"

#include "codegen/Executor.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"

#include "gtest/gtest.h"

using namespace dlc;

namespace {

Tensor iota(llvm::ArrayRef<int64_t> Shape) {
  Tensor T(DType::F32, Shape);
  for (int64_t I = 0; I < T.numElements(); ++I)
    T.setF(I, double(I) + 0.5);
  return T;
}

Tensor ints(llvm::ArrayRef<int64_t> V) {
  Tensor T(DType::I64, {int64_t(V.size())});
  for (size_t I = 0; I < V.size(); ++I)
    T.setI(I, V[I]);
  return T;
}

struct Compiled {
  std::unique_ptr<Module> M;
  std::unique_ptr<CompiledFunction> C;
};

Compiled compile(const std::string &Text, unsigned Opt) {
  Compiled R;
  auto M = parseModule(Text, "s.dlc");
  EXPECT_TRUE(bool(M)) << errText(M.takeError());
  if (!M)
    return R;
  R.M = std::move(*M);
  auto C = CompiledFunction::compile(*R.M->Functions[0], Opt);
  EXPECT_TRUE(bool(C)) << errText(C.takeError());
  if (C)
    R.C = std::move(*C);
  return R;
}

/// Runs the compiled function and the interpreter on In; both must succeed,
/// agree exactly, and give output 0 the shape Want.
void expectRun(const Compiled &X, const std::vector<Tensor> &In,
               llvm::ArrayRef<int64_t> Want) {
  ASSERT_TRUE(X.C);
  auto Ref = interpret(*X.M->Functions[0], In);
  ASSERT_TRUE(bool(Ref)) << errText(Ref.takeError());
  auto Got = X.C->run(In);
  ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
  EXPECT_EQ((*Got)[0].shape(), Want);
  EXPECT_TRUE((*Ref)[0] == (*Got)[0]);
}

const char *ReshapeText =
    "func @f(%x: f32[?,?,?]) -> (y: f32[?,?]) {\n"
    "  %s = shape %x\n"
    "  %a = slice %s {ends = [2], starts = [0]}\n"
    "  %p = reduce_prod %a {axes = [0]}\n"
    "  %m = constant {value = dense<i64[1]>[-1]}\n"
    "  %t = concat %p, %m {axis = 0}\n"
    "  %y = reshape %x, %t {by_value = true, shape = []}\n"
    "  return %y\n}\n";

TEST(JitShapeValue, ReshapeWithComputedShapeAndMinusOne) {
  for (unsigned Opt : {0u, 2u}) {
    Compiled X = compile(ReshapeText, Opt);
    // A new plan per input shape, and the first one again from the cache.
    expectRun(X, {iota({2, 3, 4})}, {6, 4});
    expectRun(X, {iota({5, 1, 7})}, {5, 7});
    expectRun(X, {iota({2, 3, 4})}, {6, 4});
  }
}

TEST(JitShapeValue, ExpandReadsInputDataPerRun) {
  Compiled X = compile("func @f(%x: f32[?,1], %s: i64[2]) -> (y: f32[?,?]) {\n"
                       "  %y = expand %x, %s {by_value = true}\n"
                       "  return %y\n}\n",
                       2);
  // Same input shapes, different shape values: the plan key has the values.
  expectRun(X, {iota({3, 1}), ints({3, 4})}, {3, 4});
  expectRun(X, {iota({3, 1}), ints({3, 6})}, {3, 6});
  expectRun(X, {iota({1, 1}), ints({2, 0})}, {2, 0});
}

TEST(JitShapeValue, TileComposedFromShapeValues) {
  // tile by run-time repeats as the ONNX importer builds it: expand of an
  // interleaved view, then reshape to the products.
  Compiled X = compile(
      "func @f(%x: f32[?,?], %r: i64[2]) -> (y: f32[?,?]) {\n"
      "  %s = shape %x\n"
      "  %rc = reshape %r {shape = [2, 1]}\n"
      "  %sc = reshape %s {shape = [2, 1]}\n"
      "  %p = concat %rc, %sc {axis = 1}\n"
      "  %w = reshape %p {shape = [4]}\n"
      "  %u = unsqueeze %x {axes = [0, 2]}\n"
      "  %e = expand %u, %w {by_value = true}\n"
      "  %o = mul %r, %s\n"
      "  %y = reshape %e, %o {by_value = true, shape = []}\n"
      "  return %y\n}\n",
      2);
  expectRun(X, {iota({2, 3}), ints({2, 3})}, {4, 9});
  // Against tile itself.
  auto Got = X.C->run({iota({2, 3}), ints({3, 1})});
  ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
  auto T = parseModule("func @t(%x: f32[2,3]) -> (y: f32[6,3]) {\n"
                       "  %y = tile %x {repeats = [3, 1]}\n  return %y\n}\n",
                       "t.dlc");
  ASSERT_TRUE(bool(T));
  auto Want = interpret(*(*T)->Functions[0], {iota({2, 3})});
  ASSERT_TRUE(bool(Want));
  EXPECT_TRUE((*Want)[0] == (*Got)[0]);
}

TEST(JitShapeValue, BadValuesAreErrorsWithALocation) {
  Compiled X = compile("func @f(%x: f32[?,?], %s: i64[2]) -> (y: f32[?,?]) {\n"
                       "  %y = reshape %x, %s {by_value = true, shape = []}\n"
                       "  return %y\n}\n",
                       2);
  ASSERT_TRUE(X.C);
  auto R = X.C->run({iota({2, 3}), ints({4, -1})});
  ASSERT_FALSE(bool(R));
  EXPECT_NE(errText(R.takeError()).find("s.dlc:2:8: error: 'reshape'"), std::string::npos);
  R = X.C->run({iota({2, 3}), ints({-3, 2})});
  ASSERT_FALSE(bool(R));
  EXPECT_NE(errText(R.takeError()).find("s.dlc:2:8: error: 'reshape': invalid shape entry -3"),
            std::string::npos);
  // The interpreter reports the same values as errors.
  auto I = interpret(*X.M->Functions[0], {iota({2, 3}), ints({4, -1})});
  EXPECT_FALSE(bool(I));
  if (!I)
    llvm::consumeError(I.takeError());
  // And a good value still works after the failures.
  expectRun(X, {iota({2, 3}), ints({3, -1})}, {3, 2});

  Compiled E = compile("func @f(%x: f32[?], %s: i64[1]) -> (y: f32[?]) {\n"
                       "  %y = expand %x, %s {by_value = true}\n"
                       "  return %y\n}\n",
                       2);
  ASSERT_TRUE(E.C);
  auto RE = E.C->run({iota({3}), ints({-2})});
  ASSERT_FALSE(bool(RE));
  EXPECT_NE(errText(RE.takeError()).find("s.dlc:2:8: error: 'expand': invalid shape entry -2"),
            std::string::npos);
  RE = E.C->run({iota({3}), ints({4})});
  ASSERT_FALSE(bool(RE));
  EXPECT_NE(errText(RE.takeError()).find("s.dlc:2:8: error: 'expand'"), std::string::npos);
}

} // namespace
