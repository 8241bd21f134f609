// Copy-like movement ops (concat, slice, pad, expand, tile, shape) through
// the CPU JIT equal the interpreter, including negative and clamped slice
// bounds, negative steps, every pad mode and run-time (symbolic) sizes.
#include "JitTestUtil.h"

#include "codegen/Executor.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"
#include "ir/Random.h"

#include "gtest/gtest.h"

using namespace dlc;

namespace {

/// Copies are exact: compare bit for bit at -O2.
void check(const std::string &Args, const std::string &Body,
           const std::string &Out, std::vector<Tensor> In) {
  jit_test::checkOneOp(Args, Body, Out, In, 0, {2});
}

Tensor iota(llvm::ArrayRef<int64_t> Shape) {
  Tensor T(DType::F32, Shape);
  for (int64_t I = 0; I < T.numElements(); ++I)
    T.setF(I, double(I) + 0.5);
  return T;
}


TEST(JitCopy, Transpose) {
  // Tiled 16 x 16 over the result's last dim and the dim that walks the
  // input's last one: sizes that leave partial tiles on both, a symbolic
  // dim, the last dim kept (rows copied), and rank 3 and 4 permutations.
  check("%x: f32[37,21]", "transpose %x {perm = [1, 0]}", "f32[21,37]", {iota({37, 21})});
  check("%x: f32[N,40]", "transpose %x {perm = [1, 0]}", "f32[40,N]", {iota({33, 40})});
  check("%x: f32[5,17,3]", "transpose %x {perm = [1, 2, 0]}", "f32[17,3,5]",
        {iota({5, 17, 3})});
  check("%x: f32[4,18,33]", "transpose %x {perm = [0, 2, 1]}", "f32[4,33,18]",
        {iota({4, 18, 33})});
  check("%x: f32[3,4,5]", "transpose %x {perm = [1, 0, 2]}", "f32[4,3,5]",
        {iota({3, 4, 5})});
  check("%x: f32[2,3,19,20]", "transpose %x {perm = [3, 0, 2, 1]}", "f32[20,2,19,3]",
        {iota({2, 3, 19, 20})});
}

TEST(JitCopy, Concat) {
  check("%a: f32[N,3], %b: f32[N,5], %c: f32[N,1]", "concat %a, %b, %c {axis = 1}",
        "f32[N,9]", {iota({4, 3}), iota({4, 5}), iota({4, 1})});
  check("%a: f32[2,3], %b: f32[M,3]", "concat %a, %b {axis = 0}", "f32[?,3]",
        {iota({2, 3}), iota({7, 3})});
}

TEST(JitCopy, Slice) {
  check("%x: f32[N,10,10]", "slice %x {axes = [1, 2], ends = [8, -1], starts = [2, 0], steps = [2, 3]}",
        "f32[N,3,3]", {iota({2, 10, 10})});
  check("%x: f32[10]", "slice %x {ends = [-100], starts = [-1], steps = [-1]}",
        "f32[10]", {iota({10})});
  check("%x: f32[10]", "slice %x {ends = [1], starts = [8], steps = [-3]}", "f32[3]",
        {iota({10})});
  check("%x: f32[4,7]", "slice %x {axes = [-1], ends = [1000], starts = [-3]}",
        "f32[4,3]", {iota({4, 7})});
}

TEST(JitCopy, Pad) {
  for (const char *Mode : {"constant", "reflect", "edge"})
    check("%x: f32[N,3,4,4]",
          std::string("pad %x {mode = \"") + Mode +
              "\", pads = [0, 0, 1, 2, 0, 0, 2, 1], value = 7.5}",
          "f32[N,3,7,7]", {iota({2, 3, 4, 4})});
  check("%x: f32[5]", "pad %x {pads = [-1, 2]}", "f32[6]", {iota({5})});
}

TEST(JitCopy, ExpandTileShape) {
  check("%x: f32[3,1]", "expand %x {shape = [2, 3, 4]}", "f32[2,3,4]", {iota({3, 1})});
  check("%x: f32[N,3]", "tile %x {repeats = [2, 3]}", "f32[?,9]", {iota({5, 3})});
  check("%x: f32[N,3]", "shape %x", "i64[2]", {iota({6, 3})});
}

TEST(JitCopy, SplitAndGather) {
  auto M = parseModule("func @f(%x: f32[N,8]) -> (a: f32[N,3], b: f32[N,5]) {\n"
                       "  %a, %b = split %x {axis = 1, sizes = [3, 5]}\n"
                       "  return %a, %b\n}\n",
                       "<test>");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  auto C = CompiledFunction::compile(*(*M)->Functions[0], 2);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  Tensor X = iota({4, 8});
  auto Want = interpret(*(*M)->Functions[0], {X});
  auto Got = (*C)->run({X});
  ASSERT_TRUE(bool(Want) && bool(Got));
  EXPECT_TRUE((*Want)[0] == (*Got)[0]);
  EXPECT_TRUE((*Want)[1] == (*Got)[1]);

  Tensor Idx(DType::I64, {2, 3});
  const int64_t Vals[] = {0, -1, 3, -4, 2, 1};
  for (int I = 0; I < 6; ++I)
    Idx.setI(I, Vals[I]);
  check("%d: f32[4,5], %i: i64[2,3]", "gather %d, %i", "f32[2,3,5]", {iota({4, 5}), Idx});
  check("%d: f32[N,4,2], %i: i64[2,3]", "gather %d, %i {axis = 1}", "f32[N,2,3,2]",
        {iota({3, 4, 2}), Idx});
  Tensor I32(DType::I32, {3});
  I32.setI(0, -2);
  I32.setI(1, 0);
  I32.setI(2, 1);
  check("%d: f32[4,5], %i: i32[3]", "gather %d, %i {axis = -1}", "f32[4,3]",
        {iota({4, 5}), I32});
}

TEST(JitCopy, GatherIndexOutOfRangeIsAnError) {
  auto M = parseModule("func @f(%d: f32[4], %i: i64[1]) -> (y: f32[1]) {\n"
                       "  %y = gather %d, %i\n  return %y\n}\n",
                       "g.dlc");
  ASSERT_TRUE(bool(M));
  auto C = CompiledFunction::compile(*(*M)->Functions[0], 0);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  Tensor I(DType::I64, {1});
  I.setI(0, 4);
  auto R = (*C)->run({iota({4}), I});
  ASSERT_FALSE(bool(R));
  EXPECT_NE(errText(R.takeError()).find("g.dlc:2:8: error: 'gather': index 4 is out of range"),
            std::string::npos);
}

} // namespace
