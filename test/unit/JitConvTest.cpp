// conv, max_pool, max_pool_grad and avg_pool through the CPU JIT equal the
// interpreter:
// 1-D, 2-D and 3-D, strides, asymmetric pads, dilations, groups, bias,
// ceil_mode and count_include_pad, at -O0 and -O3, plus the tutorial CNN.
#include "JitTestUtil.h"

#include "codegen/Executor.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"
#include "ir/Random.h"
#include "passes/Pass.h"

#include "llvm/Support/MemoryBuffer.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <set>

using namespace dlc;

namespace {


using jit_test::random;

void check(const std::string &Args, const std::string &Body,
           const std::string &Out, std::vector<Tensor> In) {
  jit_test::checkOneOp(Args, Body, Out, In, 1e-5, {0, 3});
}

TEST(JitConv, TwoD) {
  check("%x: f32[N,1,28,28], %w: f32[32,1,3,3], %b: f32[32]", "conv %x, %w, %b",
        "f32[N,32,26,26]", {random({2, 1, 28, 28}, 1), random({32, 1, 3, 3}, 2),
                            random({32}, 3)});
  check("%x: f32[1,3,7,9], %w: f32[4,3,3,2]",
        "conv %x, %w {dilations = [2, 1], pads = [1, 0, 2, 1], strides = [2, 3]}",
        "f32[1,4,3,3]", {random({1, 3, 7, 9}, 4), random({4, 3, 3, 2}, 5)});
  check("%x: f32[2,6,5,5], %w: f32[4,3,3,3]", "conv %x, %w {group = 2, pads = [1, 1, 1, 1]}",
        "f32[2,4,5,5]", {random({2, 6, 5, 5}, 6), random({4, 3, 3, 3}, 7)});
  // Depthwise.
  check("%x: f32[1,8,6,6], %w: f32[8,1,3,3]", "conv %x, %w {group = 8}",
        "f32[1,8,4,4]", {random({1, 8, 6, 6}, 8), random({8, 1, 3, 3}, 9)});
}

// Depthwise convs take their own vectorized schedule (LowerDepthwise.cpp):
// tap ranges computed from strides, dilations and pads, including pads wider
// than the kernel (rows and columns made only of padding), a channel
// multiplier of 2, bias and a symbolic batch.
TEST(JitConv, Depthwise) {
  check("%x: f32[N,6,9,11], %w: f32[12,1,3,3], %b: f32[12]",
        "conv %x, %w, %b {group = 6, pads = [1, 2, 0, 1], strides = [2, 1]}",
        "f32[N,12,4,12]",
        {random({3, 6, 9, 11}, 40), random({12, 1, 3, 3}, 41), random({12}, 42)});
  check("%x: f32[1,4,7,8], %w: f32[4,1,3,2]",
        "conv %x, %w {dilations = [2, 3], group = 4, pads = [4, 3, 4, 5], strides = [3, 2]}",
        "f32[1,4,4,7]", {random({1, 4, 7, 8}, 43), random({4, 1, 3, 2}, 44)});
  check("%x: f32[2,1,33,1], %w: f32[5,1,5,1]", "conv %x, %w {pads = [2, 0, 2, 0]}",
        "f32[2,5,33,1]", {random({2, 1, 33, 1}, 45), random({5, 1, 5, 1}, 46)});
  // MobileNet's shapes, rows of several vectors: stride 2 (both column
  // phases copied by one loop, edges one by one) and stride 1 (one masked
  // vector loop per row, 37 = 2 x 16 + 5).
  check("%x: f32[N,3,17,35], %w: f32[3,1,3,3], %b: f32[3]",
        "conv %x, %w, %b {group = 3, pads = [1, 1, 1, 1], strides = [2, 2]}",
        "f32[N,3,9,18]",
        {random({2, 3, 17, 35}, 47), random({3, 1, 3, 3}, 48), random({3}, 49)});
  check("%x: f32[1,2,5,37], %w: f32[2,1,3,3]",
        "conv %x, %w {group = 2, pads = [1, 1, 1, 1]}", "f32[1,2,5,37]",
        {random({1, 2, 5, 37}, 50), random({2, 1, 3, 3}, 51)});
}

TEST(JitConv, OneAndThreeD) {
  check("%x: f32[2,3,33], %w: f32[5,3,4]", "conv %x, %w {pads = [2, 1], strides = [3]}",
        "f32[2,5,11]", {random({2, 3, 33}, 10), random({5, 3, 4}, 11)});
  check("%x: f32[1,2,5,6,7], %w: f32[3,2,2,3,2]", "conv %x, %w {pads = [1, 0, 1, 0, 1, 0]}",
        "f32[1,3,5,5,7]", {random({1, 2, 5, 6, 7}, 12), random({3, 2, 2, 3, 2}, 13)});
}

TEST(JitConv, Transposed) {
  check("%x: f32[N,8,5,5], %w: f32[8,4,3,3]", "conv_transpose %x, %w {strides = [2, 2]}",
        "f32[N,4,11,11]", {random({2, 8, 5, 5}, 30), random({8, 4, 3, 3}, 31)});
  check("%x: f32[1,4,4,3], %w: f32[4,3,2,3], %b: f32[6]",
        "conv_transpose %x, %w, %b {dilations = [2, 1], group = 2, output_padding = [1, 0], pads = [1, 0, 0, 2], strides = [2, 2]}",
        "f32[1,6,9,5]",
        {random({1, 4, 4, 3}, 32), random({4, 3, 2, 3}, 33), random({6}, 34)});
  check("%x: f32[2,3,7], %w: f32[3,2,4]", "conv_transpose %x, %w {pads = [1, 2], strides = [3]}",
        "f32[2,2,19]", {random({2, 3, 7}, 35), random({3, 2, 4}, 36)});
}

TEST(JitPool, MaxAndAvg) {
  check("%x: f32[N,32,26,26]", "max_pool %x {kernel = [2, 2], strides = [2, 2]}",
        "f32[N,32,13,13]", {random({3, 32, 26, 26}, 14)});
  check("%x: f32[1,2,7,7]", "max_pool %x {ceil_mode = true, kernel = [3, 3], pads = [1, 1, 1, 1], strides = [2, 2]}",
        "f32[1,2,4,4]", {random({1, 2, 7, 7}, 15)});
  check("%x: f32[1,2,9]", "max_pool %x {dilations = [2], kernel = [3]}", "f32[1,2,5]",
        {random({1, 2, 9}, 16)});
  check("%x: f32[1,3,7,7]", "avg_pool %x {ceil_mode = true, kernel = [2, 2], strides = [2, 2]}",
        "f32[1,3,4,4]", {random({1, 3, 7, 7}, 17)});
  check("%x: f32[1,3,5,5]", "avg_pool %x {count_include_pad = true, kernel = [3, 3], pads = [1, 1, 1, 1]}",
        "f32[1,3,5,5]", {random({1, 3, 5, 5}, 18)});
  check("%x: f32[1,3,5,5]", "avg_pool %x {kernel = [3, 3], pads = [1, 1, 1, 1]}",
        "f32[1,3,5,5]", {random({1, 3, 5, 5}, 19)});
  // No padding, no ceil mode: windows never leave the input (no range checks).
  check("%x: f32[1,3,7,7]", "avg_pool %x {kernel = [2, 3], strides = [2, 1]}",
        "f32[1,3,3,5]", {random({1, 3, 7, 7}, 20)});
  check("%x: f32[2,3,7,8]", "max_pool %x {dilations = [2, 1], kernel = [2, 3], strides = [3, 2]}",
        "f32[2,3,2,3]", {random({2, 3, 7, 8}, 21)});
  // Strided interiors as vectors: rows of more than one vector, a static
  // width (the last vector has valid lanes) and a width known only at run
  // time (the rest goes through the scalar loop), padded and stride 3.
  check("%x: f32[N,2,6,75]", "max_pool %x {kernel = [2, 2], strides = [2, 2]}",
        "f32[N,2,3,37]", {random({2, 2, 6, 75}, 22)});
  check("%x: f32[1,2,H,W]", "max_pool %x {kernel = [3, 3], pads = [1, 1, 1, 1], strides = [2, 2]}",
        "f32[1,2,?,?]", {random({1, 2, 9, 70}, 23)});
  check("%x: f32[1,1,4,100]", "max_pool %x {kernel = [1, 4], pads = [0, 2, 0, 2], strides = [1, 3]}",
        "f32[1,1,4,34]", {random({1, 1, 4, 100}, 24)});
}

TEST(JitPool, MaxPoolGradMatchesInterpreter) {
  // max_pool's gradient, exactly as the interpreter gives it: tiling
  // windows (with and without uncovered rows), overlapping, padded,
  // ceil-mode, dilated, 1-D and 3-D windows. x has ties (a relu's zeros:
  // the first maximum takes dy), a NaN (it wins its windows) and -inf.
  auto withTies = [](llvm::ArrayRef<int64_t> Shape, int64_t Seed) {
    Tensor X = random(Shape, Seed);
    for (int64_t I = 0; I < X.numElements(); ++I)
      X.setF(I, std::max(X.getF(I), 0.0));
    X.setF(X.numElements() / 3, std::nan(""));
    X.setF(X.numElements() / 2, -INFINITY);
    return X;
  };
  struct Case {
    const char *X, *DY, *Attrs;
    std::vector<int64_t> XS, DS;
  };
  const Case Cases[] = {
      {"f32[N,4,26,26]", "f32[N,4,13,13]", "{kernel = [2, 2], strides = [2, 2]}",
       {3, 4, 26, 26}, {3, 4, 13, 13}},
      {"f32[N,4,11,11]", "f32[N,4,5,5]", "{kernel = [2, 2], strides = [2, 2]}",
       {2, 4, 11, 11}, {2, 4, 5, 5}},
      // Rows of 16 windows and more (strided vectors, the last partial)
      // and a 3-wide kernel: 35 = 2 x 16 + 3 windows, and 17.
      {"f32[N,2,4,71]", "f32[N,2,2,35]", "{kernel = [2, 2], strides = [2, 2]}",
       {2, 2, 4, 71}, {2, 2, 2, 35}},
      {"f32[1,2,3,51]", "f32[1,2,1,17]", "{kernel = [3, 3], strides = [3, 3]}",
       {1, 2, 3, 51}, {1, 2, 1, 17}},
      {"f32[1,2,7,7]", "f32[1,2,4,4]",
       "{ceil_mode = true, kernel = [3, 3], pads = [1, 1, 1, 1], strides = [2, 2]}",
       {1, 2, 7, 7}, {1, 2, 4, 4}},
      {"f32[2,3,9,9]", "f32[2,3,4,4]", "{kernel = [3, 3], strides = [2, 2]}",
       {2, 3, 9, 9}, {2, 3, 4, 4}},
      {"f32[2,3,7,8]", "f32[2,3,2,3]", "{dilations = [2, 1], kernel = [2, 3], strides = [3, 2]}",
       {2, 3, 7, 8}, {2, 3, 2, 3}},
      {"f32[1,2,9]", "f32[1,2,5]", "{dilations = [2], kernel = [3]}", {1, 2, 9}, {1, 2, 5}},
      {"f32[1,2,4,6,6]", "f32[1,2,2,3,3]", "{kernel = [2, 2, 2], strides = [2, 2, 2]}",
       {1, 2, 4, 6, 6}, {1, 2, 2, 3, 3}},
  };
  int64_t Seed = 60;
  for (const Case &C : Cases) {
    jit_test::checkOneOp(std::string("%x: ") + C.X + ", %dy: " + C.DY,
                         std::string("max_pool_grad %x, %dy ") + C.Attrs, C.X,
                         {withTies(C.XS, Seed), random(C.DS, Seed + 1)}, 0,
                         {0, 3});
    Seed += 2;
  }
}

/// The interpreter on the graph Text as written against the JIT on the
/// optimized graph (--conv-to-gemm, fusion of epilogues), on random inputs
/// of Shapes. Returns the optimized graph's op kinds.
std::vector<OpKind> optimizedMatchesInterpreter(
    const std::string &Text, const std::vector<llvm::SmallVector<int64_t, 5>> &Shapes) {
  std::vector<OpKind> Kinds;
  auto M = parseModule(Text, "<test>");
  EXPECT_TRUE(bool(M)) << errText(M.takeError());
  if (!M)
    return Kinds;
  std::vector<Tensor> In;
  for (size_t K = 0; K < Shapes.size(); ++K)
    In.push_back(random(Shapes[K], 50 + K));
  auto Want = interpret(*(*M)->Functions[0], In);
  EXPECT_TRUE(bool(Want)) << errText(Want.takeError());
  PassManager PM;
  EXPECT_FALSE(bool(PM.addPipeline("optimize")));
  EXPECT_FALSE(bool(PM.run(**M)));
  for (auto &Op : (*M)->Functions[0]->Body)
    Kinds.push_back(Op->kind());
  auto Comp = CompiledFunction::compile(*(*M)->Functions[0], 3);
  EXPECT_TRUE(bool(Comp)) << errText(Comp.takeError());
  if (!Want || !Comp)
    return Kinds;
  auto Got = (*Comp)->run(In);
  EXPECT_TRUE(bool(Got)) << errText(Got.takeError());
  if (!Got)
    return Kinds;
  EXPECT_EQ((*Want)[0].type(), (*Got)[0].type());
  for (int64_t E = 0; E < (*Want)[0].numElements(); ++E)
    if (std::fabs((*Want)[0].getF(E) - (*Got)[0].getF(E)) >
        1e-5 * (1 + std::fabs((*Want)[0].getF(E)))) {
      ADD_FAILURE() << Text << " element " << E << ": want "
                    << (*Want)[0].getF(E) << ", got " << (*Got)[0].getF(E);
      break;
    }
  return Kinds;
}

bool has(const std::vector<OpKind> &Kinds, OpKind K) {
  return std::find(Kinds.begin(), Kinds.end(), K) != Kinds.end();
}

TEST(JitConv, ConvToGemmMatchesDirect) {
  // Convs become a batched matmul of the weights and each image's patches
  // (im2col, channel-major), or of the image itself for a pointwise conv;
  // under 64 output positions, patches (positions first) times the
  // transposed weights, transposed back. Strides, asymmetric pads,
  // dilations, 1-D and 3-D, channel and position counts that are not
  // multiples of the vector width (so the GEMM's edge rows, narrow vector
  // and scalar columns run), a bias fused as [M, 1] or [M].
  enum Form { ChannelMajor, Pointwise, PositionsFirst };
  struct Case {
    const char *Args, *Body, *Out;
    std::vector<llvm::SmallVector<int64_t, 5>> Shapes;
    Form F;
  };
  const Case Cases[] = {
      {"%x: f32[N,3,9,9], %w: f32[8,3,3,3], %b: f32[8]",
       "conv %x, %w, %b {dilations = [2, 1], pads = [1, 2, 0, 1], strides = [2, 1]}",
       "f32[N,8,3,10]", {{3, 3, 9, 9}, {8, 3, 3, 3}, {8}}, PositionsFirst},
      {"%x: f32[N,3,9,9], %w: f32[70,3,3,3], %b: f32[70]",
       "conv %x, %w, %b {pads = [1, 1, 1, 1]}", "f32[N,70,9,9]",
       {{2, 3, 9, 9}, {70, 3, 3, 3}, {70}}, ChannelMajor},
      {"%x: f32[N,4,33], %w: f32[70,4,5]", "conv %x, %w {pads = [2, 2]}",
       "f32[N,70,33]", {{2, 4, 33}, {70, 4, 5}}, PositionsFirst},
      {"%x: f32[N,4,100], %w: f32[13,4,5]", "conv %x, %w {pads = [2, 2]}",
       "f32[N,13,100]", {{2, 4, 100}, {13, 4, 5}}, ChannelMajor},
      {"%x: f32[N,2,4,5,6], %w: f32[5,2,2,2,3]", "conv %x, %w", "f32[N,5,3,4,4]",
       {{2, 2, 4, 5, 6}, {5, 2, 2, 2, 3}}, PositionsFirst},
      {"%x: f32[N,2,5,6,8], %w: f32[5,2,2,2,3]", "conv %x, %w", "f32[N,5,4,5,6]",
       {{2, 2, 5, 6, 8}, {5, 2, 2, 2, 3}}, ChannelMajor},
      {"%x: f32[N,17,7,7], %w: f32[33,17,3,3], %b: f32[33]",
       "conv %x, %w, %b {pads = [1, 1, 1, 1]}", "f32[N,33,7,7]",
       {{2, 17, 7, 7}, {33, 17, 3, 3}, {33}}, PositionsFirst},
      {"%x: f32[N,5,20,23], %w: f32[7,5,3,3]",
       "conv %x, %w {pads = [1, 1, 1, 1], strides = [2, 2]}", "f32[N,7,10,12]",
       {{1, 5, 20, 23}, {7, 5, 3, 3}}, ChannelMajor},
      {"%x: f32[N,24,14,14], %w: f32[37,24,1,1], %b: f32[37]", "conv %x, %w, %b",
       "f32[N,37,14,14]", {{3, 24, 14, 14}, {37, 24, 1, 1}, {37}}, Pointwise},
      {"%x: f32[N,9,7,7], %w: f32[100,9,1,1]", "conv %x, %w", "f32[N,100,7,7]",
       {{1, 9, 7, 7}, {100, 9, 1, 1}}, PositionsFirst},
      {"%x: f32[N,16,32,32], %w: f32[8,16,1,1]", "conv %x, %w", "f32[N,8,32,32]",
       {{2, 16, 32, 32}, {8, 16, 1, 1}}, Pointwise},
  };
  for (const Case &C : Cases) {
    std::string Text = std::string("func @f(") + C.Args + ") -> (y: " + C.Out +
                       ") {\n  %y = " + C.Body + "\n  return %y\n}\n";
    std::vector<OpKind> Kinds = optimizedMatchesInterpreter(Text, C.Shapes);
    EXPECT_EQ(has(Kinds, OpKind::Im2Col), C.F != Pointwise) << Text;
    EXPECT_EQ(has(Kinds, OpKind::Transpose), C.F == PositionsFirst) << Text;
    EXPECT_TRUE(has(Kinds, OpKind::MatMul)) << Text;
    EXPECT_FALSE(has(Kinds, OpKind::Conv)) << Text;
  }
}

/// Whether the optimize pipeline fuses Text's im2col into its matmul's
/// group (the GEMM packs the patches from the image).
bool im2colFused(const std::string &Text) {
  auto M = parseModule(Text, "<test>");
  EXPECT_TRUE(bool(M)) << errText(M.takeError());
  if (!M)
    return false;
  PassManager PM;
  EXPECT_FALSE(bool(PM.addPipeline("optimize")));
  EXPECT_FALSE(bool(PM.run(**M)));
  bool Fused = false;
  for (auto &Op : (*M)->Functions[0]->Body)
    Fused |= Op->kind() == OpKind::Im2Col && Op->findAttr("fusion");
  return Fused;
}

// Convs whose GEMM reads the patches from the image instead of storing
// them (output rows of 10 or more): as shifted windows of a padded copy
// split into its stride phases (the window GEMM). Taps that fall
// off every edge, asymmetric pads, no pads, dilations in both dims, result
// rows that are not multiples of any register block, strides of 2 and 3
// (ResNet's 7x7 first layer; a 1x1 stride-2 one reads one phase of four),
// position counts that
// end in a partial vector, blocks that straddle output rows, images split
// into bands (C x H x W beyond the scratch), batch 1 split by weight rows;
// with a fused bias, relu and residual add. Rows of 9 positions, and
// patch rows of 27 taps in rows of 31, keep the stored patches.
TEST(JitConv, ImplicitGemmMatchesDirect) {
  struct Case {
    const char *Args, *Attrs, *Out;
    std::vector<llvm::SmallVector<int64_t, 5>> Shapes;
    bool Fused;
  };
  const Case Cases[] = {
      {"%x: f32[N,3,6,40], %w: f32[16,3,3,3], %b: f32[16], %r: f32[N,16,6,40]",
       "pads = [1, 1, 1, 1]", "f32[N,16,6,40]",
       {{2, 3, 6, 40}, {16, 3, 3, 3}, {16}, {2, 16, 6, 40}}, true},
      {"%x: f32[N,5,7,45], %w: f32[20,5,3,5], %b: f32[20], %r: f32[N,20,4,45]",
       "dilations = [2, 1], pads = [0, 2, 1, 2]", "f32[N,20,4,45]",
       {{1, 5, 7, 45}, {20, 5, 3, 5}, {20}, {1, 20, 4, 45}}, true},
      {"%x: f32[N,4,9,33], %w: f32[17,4,3,3], %b: f32[17], %r: f32[N,17,5,33]",
       "pads = [1, 1, 1, 1], strides = [2, 1]", "f32[N,17,5,33]",
       {{3, 4, 9, 33}, {17, 4, 3, 3}, {17}, {3, 17, 5, 33}}, true},
      {"%x: f32[N,2,3,50], %w: f32[16,2,1,3], %b: f32[16], %r: f32[N,16,3,50]",
       "dilations = [1, 3], pads = [0, 3, 0, 3]", "f32[N,16,3,50]",
       {{2, 2, 3, 50}, {16, 2, 1, 3}, {16}, {2, 16, 3, 50}}, true},
      {"%x: f32[N,8,5,36], %w: f32[64,8,3,5], %b: f32[64], %r: f32[N,64,3,32]",
       "", "f32[N,64,3,32]",
       {{2, 8, 5, 36}, {64, 8, 3, 5}, {64}, {2, 64, 3, 32}}, true},
      {"%x: f32[N,4,6,31], %w: f32[16,4,3,3], %b: f32[16], %r: f32[N,16,6,31]",
       "pads = [1, 1, 1, 1]", "f32[N,16,6,31]",
       {{2, 4, 6, 31}, {16, 4, 3, 3}, {16}, {2, 16, 6, 31}}, true},
      // 27 taps (3x3 over 3 channels), also with stride 2 as the first
      // layer of MobileNet; 18 taps are too few.
      {"%x: f32[N,3,6,31], %w: f32[16,3,3,3], %b: f32[16], %r: f32[N,16,6,31]",
       "pads = [1, 1, 1, 1]", "f32[N,16,6,31]",
       {{2, 3, 6, 31}, {16, 3, 3, 3}, {16}, {2, 16, 6, 31}}, true},
      {"%x: f32[N,3,15,41], %w: f32[16,3,3,3], %b: f32[16], %r: f32[N,16,8,21]",
       "pads = [1, 1, 1, 1], strides = [2, 2]", "f32[N,16,8,21]",
       {{1, 3, 15, 41}, {16, 3, 3, 3}, {16}, {1, 16, 8, 21}}, true},
      {"%x: f32[N,2,6,31], %w: f32[16,2,3,3], %b: f32[16], %r: f32[N,16,6,31]",
       "pads = [1, 1, 1, 1]", "f32[N,16,6,31]",
       {{2, 2, 6, 31}, {16, 2, 3, 3}, {16}, {2, 16, 6, 31}}, false},
      {"%x: f32[N,7,14,14], %w: f32[50,7,3,3], %b: f32[50], %r: f32[N,50,14,14]",
       "pads = [1, 1, 1, 1]", "f32[N,50,14,14]",
       {{1, 7, 14, 14}, {50, 7, 3, 3}, {50}, {1, 50, 14, 14}}, true},
      // An 11-wide output row (the Keras CNN's second layer), at batch 5.
      {"%x: f32[N,32,13,13], %w: f32[24,32,3,3], %b: f32[24], %r: f32[N,24,11,11]",
       "", "f32[N,24,11,11]",
       {{5, 32, 13, 13}, {24, 32, 3, 3}, {24}, {5, 24, 11, 11}}, true},
      // The same at batch 5: one group of weight rows per band.
      {"%x: f32[N,7,14,14], %w: f32[50,7,3,3], %b: f32[50], %r: f32[N,50,14,14]",
       "pads = [1, 1, 1, 1]", "f32[N,50,14,14]",
       {{5, 7, 14, 14}, {50, 7, 3, 3}, {50}, {5, 50, 14, 14}}, true},
      {"%x: f32[N,6,15,14], %w: f32[33,6,2,3], %b: f32[33], %r: f32[N,33,14,12]",
       "", "f32[N,33,14,12]",
       {{3, 6, 15, 14}, {33, 6, 2, 3}, {33}, {3, 33, 14, 12}}, true},
      {"%x: f32[N,24,80,72], %w: f32[20,24,3,3], %b: f32[20], %r: f32[N,20,77,72]",
       "dilations = [2, 1], pads = [0, 1, 1, 1]", "f32[N,20,77,72]",
       {{2, 24, 80, 72}, {20, 24, 3, 3}, {20}, {2, 20, 77, 72}}, true},
      {"%x: f32[N,3,27,29], %w: f32[16,3,7,7], %b: f32[16], %r: f32[N,16,14,15]",
       "pads = [3, 3, 3, 3], strides = [2, 2]", "f32[N,16,14,15]",
       {{2, 3, 27, 29}, {16, 3, 7, 7}, {16}, {2, 16, 14, 15}}, true},
      {"%x: f32[N,5,30,57], %w: f32[18,5,3,3], %b: f32[18], %r: f32[N,18,15,29]",
       "pads = [1, 1, 1, 1], strides = [2, 2]", "f32[N,18,15,29]",
       {{1, 5, 30, 57}, {18, 5, 3, 3}, {18}, {1, 18, 15, 29}}, true},
      {"%x: f32[N,6,20,50], %w: f32[16,6,3,2], %b: f32[16], %r: f32[N,16,9,17]",
       "dilations = [2, 3], pads = [1, 0, 0, 2], strides = [2, 3]", "f32[N,16,9,17]",
       {{2, 6, 20, 50}, {16, 6, 3, 2}, {16}, {2, 16, 9, 17}}, true},
      {"%x: f32[N,40,14,26], %w: f32[20,40,1,1], %b: f32[20], %r: f32[N,20,7,13]",
       "strides = [2, 2]", "f32[N,20,7,13]",
       {{2, 40, 14, 26}, {20, 40, 1, 1}, {20}, {2, 20, 7, 13}}, true},
      {"%x: f32[N,4,9,9], %w: f32[16,4,3,3], %b: f32[16], %r: f32[N,16,9,9]",
       "pads = [1, 1, 1, 1]", "f32[N,16,9,9]",
       {{2, 4, 9, 9}, {16, 4, 3, 3}, {16}, {2, 16, 9, 9}}, false},
  };
  for (const Case &C : Cases) {
    std::string Text = std::string("func @f(") + C.Args + ") -> (y: " + C.Out +
                       ") {\n  %c = conv %x, %w, %b {" + C.Attrs +
                       "}\n  %a = add %c, %r\n  %y = relu %a\n  return %y\n}\n";
    EXPECT_EQ(im2colFused(Text), C.Fused) << Text;
    std::vector<OpKind> Kinds = optimizedMatchesInterpreter(Text, C.Shapes);
    EXPECT_TRUE(has(Kinds, OpKind::Im2Col)) << Text;
  }
}

// Depthwise convs with a fused ReLU6 (max, min) through the optimized
// pipeline: rows wide enough for the vector schedule (every tap inside),
// with scalar edges on both sides, 5x5 and dilated windows, strides 2 and 3,
// a channel multiplier and rows narrower than a vector.
TEST(JitConv, DepthwiseFusedMatchesDirect) {
  struct Case {
    const char *Args, *Attrs, *Out;
    std::vector<llvm::SmallVector<int64_t, 5>> Shapes;
  };
  const Case Cases[] = {
      {"%x: f32[N,8,20,37], %w: f32[8,1,3,3], %b: f32[8]",
       "group = 8, pads = [1, 1, 1, 1]", "f32[N,8,20,37]",
       {{2, 8, 20, 37}, {8, 1, 3, 3}, {8}}},
      {"%x: f32[N,3,9,40], %w: f32[3,1,5,5], %b: f32[3]",
       "group = 3, pads = [2, 2, 2, 2]", "f32[N,3,9,40]",
       {{1, 3, 9, 40}, {3, 1, 5, 5}, {3}}},
      {"%x: f32[N,4,12,50], %w: f32[4,1,3,3], %b: f32[4]",
       "dilations = [2, 3], group = 4, pads = [2, 3, 2, 3]", "f32[N,4,12,50]",
       {{1, 4, 12, 50}, {4, 1, 3, 3}, {4}}},
      {"%x: f32[N,6,33,33], %w: f32[6,1,3,3], %b: f32[6]",
       "group = 6, pads = [1, 1, 1, 1], strides = [2, 2]", "f32[N,6,17,17]",
       {{2, 6, 33, 33}, {6, 1, 3, 3}, {6}}},
      {"%x: f32[N,5,7,7], %w: f32[10,1,3,3], %b: f32[10]",
       "group = 5, pads = [1, 1, 1, 1]", "f32[N,10,7,7]",
       {{3, 5, 7, 7}, {10, 1, 3, 3}, {10}}},
      {"%x: f32[N,2,16,16], %w: f32[2,1,3,3], %b: f32[2]", "group = 2",
       "f32[N,2,14,14]", {{1, 2, 16, 16}, {2, 1, 3, 3}, {2}}},
      // Rows wide enough for the strided vector copy of the phase planes:
      // stride 2 (two whole vectors and scalar columns past them), stride 3
      // with a 5x5 window, and stride 2 without padding, where one more
      // vector would read past the row (and, in the last row, the input).
      {"%x: f32[N,5,9,75], %w: f32[5,1,3,3], %b: f32[5]",
       "group = 5, pads = [1, 1, 1, 1], strides = [2, 2]", "f32[N,5,5,38]",
       {{2, 5, 9, 75}, {5, 1, 3, 3}, {5}}},
      {"%x: f32[N,3,10,80], %w: f32[3,1,5,5], %b: f32[3]",
       "group = 3, pads = [2, 2, 2, 2], strides = [3, 3]", "f32[N,3,4,27]",
       {{1, 3, 10, 80}, {3, 1, 5, 5}, {3}}},
      {"%x: f32[N,4,8,64], %w: f32[4,1,3,3], %b: f32[4]",
       "group = 4, strides = [2, 2]", "f32[N,4,3,31]",
       {{2, 4, 8, 64}, {4, 1, 3, 3}, {4}}},
  };
  for (const Case &C : Cases) {
    std::string Text = std::string("func @f(") + C.Args + ") -> (y: " + C.Out +
                       ") {\n  %c = conv %x, %w, %b {" + C.Attrs +
                       "}\n  %y = clip %c {max = 6.0, min = 0.0}\n  return %y\n}\n";
    std::vector<OpKind> Kinds = optimizedMatchesInterpreter(Text, C.Shapes);
    EXPECT_TRUE(has(Kinds, OpKind::Conv)) << Text;
  }
}

// --sink-reshapes keeps the elementwise ops after a conv (a batch-norm
// scale and shift [C, 1, 1], swish, a squeeze-and-excitation gate
// [N, C, 1, 1], a residual add) in the conv's matmul shape: they all fuse
// into the GEMM kernel as its epilogue, and the values match the direct
// convolution.
TEST(JitConv, ConvEpiloguesFuseThroughReshapes) {
  const std::string Text =
      "func @f(%x: f32[N,8,8,9], %w: f32[12,8,1,1], %b: f32[12], %s: f32[12,1,1], "
      "%t: f32[12,1,1], %g: f32[N,12,1,1], %r: f32[N,12,8,9]) -> (y: f32[N,12,8,9]) {\n"
      "  %c = conv %x, %w, %b\n  %m = mul %c, %s\n  %a = add %m, %t\n"
      "  %e = sigmoid %a\n  %h = mul %a, %e\n  %q = mul %h, %g\n"
      "  %y = add %q, %r\n  return %y\n}\n";
  std::vector<OpKind> Kinds = optimizedMatchesInterpreter(
      Text, {{2, 8, 8, 9}, {12, 8, 1, 1}, {12}, {12, 1, 1}, {12, 1, 1},
             {2, 12, 1, 1}, {2, 12, 8, 9}});
  EXPECT_TRUE(has(Kinds, OpKind::MatMul));
  // One kernel: every op with a fusion mark shares the matmul's.
  auto M = parseModule(Text, "<test>");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  PassManager PM;
  ASSERT_FALSE(bool(PM.addPipeline("optimize")));
  ASSERT_FALSE(bool(PM.run(**M)));
  std::set<int64_t> Groups;
  unsigned Marked = 0;
  for (auto &Op : (*M)->Functions[0]->Body)
    if (const Attribute *A = Op->findAttr("fusion")) {
      Groups.insert(A->getInt());
      ++Marked;
    }
  EXPECT_EQ(Groups.size(), 1u);
  EXPECT_EQ(Marked, 8u); // matmul, bias add, scale, shift, sigmoid, two muls, add
}

TEST(JitConv, SqueezeExcitationOnOnePosition) {
  // EfficientNet's and MobileNetV3's gate: pointwise convs of the pooled
  // [N, C, 1, 1] image. They run as plain matmuls with their activations
  // fused, without a patch gather or a transpose back to NCHW.
  const std::string Text =
      "func @f(%x: f32[N,7,5,3], %w1: f32[3,7,1,1], %b1: f32[3], "
      "%w2: f32[7,3,1,1], %b2: f32[7]) -> (y: f32[N,7,5,3]) {\n"
      "  %p = reduce_mean %x {axes = [2, 3]}\n  %c = conv %p, %w1, %b1\n"
      "  %s = sigmoid %c\n  %h = mul %c, %s\n  %e = conv %h, %w2, %b2\n"
      "  %g = sigmoid %e\n  %y = mul %x, %g\n  return %y\n}\n";
  std::vector<OpKind> Kinds = optimizedMatchesInterpreter(
      Text, {{3, 7, 5, 3}, {3, 7, 1, 1}, {3}, {7, 3, 1, 1}, {7}});
  EXPECT_EQ(std::count(Kinds.begin(), Kinds.end(), OpKind::MatMul), 2);
  EXPECT_FALSE(has(Kinds, OpKind::Im2Col));
  // Only the weights' transposes (parameters here, folded when constant).
  EXPECT_EQ(std::count(Kinds.begin(), Kinds.end(), OpKind::Transpose), 2);
}

TEST(JitConv, TutorialCnnEndToEnd) {
  // examples/mnist_cnn.dlc at batch 2: conv, relu, pools, flatten, dense,
  // softmax and argmax... except argmax, which is checked by the executor's
  // error list elsewhere, so the probabilities are the output here.
  auto Buf = llvm::MemoryBuffer::getFile(DLC_SOURCE_DIR "/examples/mnist_cnn.dlc");
  ASSERT_TRUE(bool(Buf));
  std::string Text = (*Buf)->getBuffer().str();
  size_t Pos = Text.find("  %label = argmax");
  Text.erase(Pos, Text.find('\n', Pos) - Pos + 1);
  Text.replace(Text.find("return %probs, %label"), 21, "return %probs");
  Text.replace(Text.find(", label: i64[N])"), 16, ")");
  auto M = parseModule(Text, "mnist_cnn.dlc");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  Function &F = *(*M)->Functions[0];
  std::vector<Tensor> In = {random({2, 1, 28, 28}, 20)};
  auto Want = interpret(F, In);
  ASSERT_TRUE(bool(Want)) << errText(Want.takeError());
  PassManager PM;
  ASSERT_FALSE(bool(PM.addPipeline("optimize")));
  ASSERT_FALSE(bool(PM.run(**M)));
  auto C = CompiledFunction::compile(F, 3);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  auto Got = (*C)->run(In);
  ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
  for (int64_t E = 0; E < 20; ++E)
    EXPECT_NEAR((*Want)[0].getF(E), (*Got)[0].getF(E), 1e-5) << E;
}

} // namespace
