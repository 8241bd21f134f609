// Fused kernels (--fuse) against the reference interpreter on the unfused
// graph: generated cases over odd sizes (1, 3, 7, 33), broadcast corners,
// -O0 and -O3, one and two threads, and a size large enough for the
// parallel split. Also: the memory plan (arena placement) on its own.
#include "JitTestUtil.h"

#include "passes/Pass.h"
#include "runtime/Arena.h"

#include "llvm/Support/MemoryBuffer.h"

#include <atomic>
#include <thread>

using namespace dlc;
using namespace dlc::jit_test;

namespace {

const int64_t Sizes[] = {1, 3, 7, 33};

/// Text with every `$M`, `$N`, `$K` replaced.
std::string subst(std::string T, int64_t M, int64_t N, int64_t K) {
  for (auto [Key, V] : {std::pair<const char *, int64_t>{"$M", M}, {"$N", N}, {"$K", K}}) {
    size_t P;
    while ((P = T.find(Key)) != std::string::npos)
      T.replace(P, 2, std::to_string(V));
  }
  return T;
}

/// Runs Text through the interpreter (unfused, composites as they are) and
/// through `optimize` (which fuses) + the JIT; expects MinGroups fusion
/// groups (and, when given, the op MustFuse inside one) and the same
/// outputs. Integer inputs are labels below Classes.
void checkFused(const std::string &Text, int64_t Batch, unsigned MinGroups,
                int64_t Seed, int64_t Classes = 1,
                llvm::StringRef MustFuse = "") {
  SCOPED_TRACE(Text);
  auto M = parseModule(Text, "<fuse>");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  Function &F = *(*M)->Functions[0];
  std::vector<Tensor> In;
  for (size_t I = 0; I < F.Inputs.size(); ++I) {
    llvm::SmallVector<int64_t, 4> Shape;
    for (const Dim &D : F.Inputs[I]->Type.dims())
      Shape.push_back(D.isStatic() ? D.size() : Batch);
    if (isFloat(F.Inputs[I]->Type.elem())) {
      In.push_back(random(Shape, Seed + I));
      continue;
    }
    Tensor T(F.Inputs[I]->Type.elem(), Shape);
    for (int64_t E = 0; E < T.numElements(); ++E)
      T.setI(E, (E * 7 + Seed) % Classes);
    In.push_back(std::move(T));
  }
  auto Want = interpret(F, In);
  ASSERT_TRUE(bool(Want)) << errText(Want.takeError());
  PassManager PM;
  ASSERT_FALSE(bool(PM.addPipeline("optimize")));
  ASSERT_FALSE(bool(PM.run(**M)));
  int64_t Groups = 0;
  for (auto &Op : F.Body)
    if (const Attribute *A = Op->findAttr(FusionAttr))
      Groups = std::max(Groups, A->getInt());
  EXPECT_GE(Groups, int64_t(MinGroups));
  for (auto &Op : F.Body) {
    if (Op->mnemonic() == MustFuse) {
      EXPECT_TRUE(Op->findAttr(FusionAttr)) << MustFuse.str() << " is not fused";
    }
  }
  // Both levels and both thread counts, two combinations per case.
  bool Flip = Seed % 2;
  for (auto [Opt, Threads] : {std::pair<unsigned, unsigned>{0, Flip ? 2 : 1},
                              {3, Flip ? 1 : 2}}) {
    auto C = CompiledFunction::compile(F, Opt, Threads);
    ASSERT_TRUE(bool(C)) << errText(C.takeError());
    auto Got = (*C)->run(In);
    ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
    ASSERT_EQ(Want->size(), Got->size());
    for (size_t O = 0; O < Got->size(); ++O) {
      const Tensor &W = (*Want)[O], &G = (*Got)[O];
      ASSERT_EQ(W.type(), G.type()) << "output " << O;
      for (int64_t E = 0; E < W.numElements(); ++E)
        ASSERT_NEAR(W.getF(E), G.getF(E), 1e-4 * (1 + std::fabs(W.getF(E))))
            << "-O" << Opt << ", " << Threads << " threads, output " << O
            << " element " << E;
    }
  }
}

TEST(JitFusion, ElementwiseChainsWithBroadcastCorners) {
  // The second operand covers the broadcast corners: a row, a column, a
  // scalar, a full tensor, and size-1 dims of the batch.
  const char *Shapes[] = {"f32[$N]", "f32[N,1]", "f32[]", "f32[N,$N]",
                          "f32[1,$N]", "f32[1,1]"};
  int64_t Seed = 0;
  for (int64_t N : Sizes)
    for (const char *S : Shapes) {
      std::string T = subst(
          std::string("func @f(%x: f32[N,$N], %b: ") + S +
              ") -> (y: f32[N,$N], z: f32[N,$N]) {\n"
              "  %a = add %x, %b\n  %c = mul %a, %a\n  %d = sigmoid %c\n"
              "  %e = sub %d, %b\n  %y = leaky_relu %e {alpha = 0.3}\n"
              "  %z = max %a, %y\n  return %y, %z\n}\n",
          0, N, 0);
      checkFused(T, Sizes[Seed % 4], 1, Seed + 1);
      ++Seed;
    }
}

TEST(JitFusion, MatMulBiasActivation) {
  int64_t Seed = 100;
  for (int64_t M : Sizes)
    // Widths for each register block: 1 and 16 (one vector), 33 (two and
    // an edge column), 48 (three), 70 (four and edges).
    for (int64_t N : {int64_t(1), int64_t(16), int64_t(33), int64_t(48), int64_t(70)}) {
      int64_t K = Sizes[Seed % 4];
      // Bias, relu; a residual with a broadcast row; the matmul result and
      // an intermediate also leave the group.
      checkFused(subst("func @f(%a: f32[N,$K], %w: f32[$K,$N], %b: f32[$N], "
                       "%r: f32[N,$N], %s: f32[N,1]) -> (y: f32[N,$N], m: f32[N,$N], "
                       "h: f32[N,$N]) {\n"
                       "  %m = matmul %a, %w\n  %mb = add %m, %b\n  %h = relu %mb\n"
                       "  %y0 = add %h, %r\n  %y = mul %y0, %s\n"
                       "  return %y, %m, %h\n}\n",
                       M, N, K),
                 M, 1, Seed + 1);
      ++Seed;
      // gemm (decomposed) + bias + sigmoid, symbolic batch.
      checkFused(subst("func @f(%a: f32[N,$K], %w: f32[$K,$N], %b: f32[$N]) -> "
                       "(y: f32[N,$N]) {\n"
                       "  %g = gemm %a, %w, %b\n  %y = sigmoid %g\n  return %y\n}\n",
                       M, N, K),
                 M, 1, Seed + 1);
      ++Seed;
    }
  // Large enough (k > one slice of 128, rows over several row groups) for
  // the blocked path, its edges and the parallel split.
  checkFused("func @f(%a: f32[N,300], %w: f32[300,70], %b: f32[70]) -> (y: f32[N,70]) {\n"
             "  %m = matmul %a, %w\n  %mb = add %m, %b\n  %y = relu %mb\n"
             "  return %y\n}\n",
             301, 1, 7);
  // A long epilogue (swish) runs over each stored block in a loop: full
  // panels, a panel of two vectors and a partial vector (100 columns), the
  // rows past the last full block, and an intermediate output of the
  // epilogue stored from that loop too.
  checkFused("func @f(%a: f32[N,300], %w: f32[300,100], %b: f32[100]) -> "
             "(y: f32[N,100], mb: f32[N,100]) {\n"
             "  %m = matmul %a, %w\n  %mb = add %m, %b\n  %s = sigmoid %mb\n"
             "  %y = mul %mb, %s\n  return %y, %mb\n}\n",
             301, 1, 8);
}

TEST(JitFusion, ConvBiasReluDirectAndThroughGemm) {
  int64_t Seed = 200;
  for (int64_t H : {int64_t(3), int64_t(7)}) {
    // Grouped: stays a direct convolution with an epilogue.
    checkFused(subst("func @f(%x: f32[N,4,$N,$N], %w: f32[6,2,3,3], %b: f32[6,1,1]) -> "
                     "(y: f32[N,6,$N,$N]) {\n"
                     "  %c = conv %x, %w {group = 2, pads = [1, 1, 1, 1]}\n"
                     "  %cb = add %c, %b\n  %y = relu %cb\n  return %y\n}\n",
                     0, H, 0),
               Sizes[Seed % 4], 1, Seed + 1);
    ++Seed;
    // Grouped, with a pooling that tiles the result (odd sizes drop the
    // last row and column): conv, bias, relu and pooling in one kernel.
    for (const char *Pool : {"max_pool", "avg_pool"}) {
      checkFused(subst(std::string("func @f(%x: f32[N,4,$N,$N], %w: f32[6,2,3,3], "
                                   "%b: f32[6,1,1]) -> (y: f32[N,6,$K,$K]) {\n"
                                   "  %c = conv %x, %w {group = 2, pads = [1, 1, 1, 1]}\n"
                                   "  %cb = add %c, %b\n  %r = relu %cb\n  %y = ") +
                           Pool + " %r {kernel = [2, 2], strides = [2, 2]}\n"
                                  "  return %y\n}\n",
                       0, H, H / 2),
                 Sizes[Seed % 4], 1, Seed + 1, 1, Pool);
      ++Seed;
    }
    // Group 1 with inference batch norm: its per-channel scale and shift
    // move above the layout round trip into the GEMM's store; a spatial
    // (not per-channel) operand cannot, and stays after it.
    checkFused(subst("func @f(%x: f32[N,3,$N,$N], %w: f32[5,3,3,3], %s: f32[5], "
                     "%b: f32[5], %m: f32[5], %v: f32[5], %q: f32[$K,$K]) -> "
                     "(y: f32[N,5,$K,$K]) {\n"
                     "  %c = conv %x, %w\n  %va = abs %v\n"
                     "  %n = batch_norm %c, %s, %b, %m, %va\n"
                     "  %r = relu %n\n  %y = mul %r, %q\n  return %y\n}\n",
                     0, H + 2, H),
               Sizes[Seed % 4] + 1, 2, Seed + 1, 1, "matmul");
    ++Seed;
    // Group 1: im2col + GEMM, bias and relu in the GEMM's store, pooling.
    checkFused(subst("func @f(%x: f32[N,3,$N,$N], %w: f32[5,3,3,3], %b: f32[5]) -> "
                     "(y: f32[N,5,$K,$K]) {\n"
                     "  %c = conv %x, %w, %b\n  %r = relu %c\n"
                     "  %y = max_pool %r {kernel = [2, 2], strides = [2, 2]}\n"
                     "  return %y\n}\n",
                     0, H + 2, H / 2),
               Sizes[Seed % 4] + 1, 1, Seed + 1);
    ++Seed;
  }
}

TEST(JitFusion, ReductionsWithPrologueAndEpilogue) {
  int64_t Seed = 300;
  for (int64_t N : Sizes) {
    checkFused(subst("func @f(%x: f32[N,$N]) -> (p: f32[N,$N], l: f32[N,$N]) {\n"
                     "  %p = softmax %x\n  %l = log_softmax %x\n  return %p, %l\n}\n",
                     0, N, 0),
               Sizes[Seed % 4], 1, Seed + 1);
    ++Seed;
    checkFused(subst("func @f(%x: f32[N,$N], %g: f32[$N], %b: f32[$N]) -> (y: f32[N,$N]) {\n"
                     "  %n = layer_norm %x, %g, %b {axis = -1}\n  %y = relu %n\n"
                     "  return %y\n}\n",
                     0, N, 0),
               Sizes[Seed % 4], 1, Seed + 1);
    ++Seed;
    checkFused(subst("func @f(%x: f32[N,$N], %t: i64[N]) -> (l: f32[]) {\n"
                     "  %l = softmax_cross_entropy %x, %t\n  return %l\n}\n",
                     0, N, 0),
               Sizes[Seed % 4], 1, Seed + 1, N);
    ++Seed;
    // A middle axis, per-row values with keepdims and without.
    checkFused(subst("func @f(%x: f32[N,$N,3], %c: f32[3]) -> (y: f32[N,$N,3], s: f32[N,3]) {\n"
                     "  %e = exp %x\n  %m = reduce_mean %e {axes = [1]}\n"
                     "  %y = sub %e, %m\n  %s0 = reduce_max %e {axes = [1], keepdims = false}\n"
                     "  %s = add %s0, %c\n  return %y, %s\n}\n",
                     0, N, 0),
               Sizes[Seed % 4], 1, Seed + 1);
    ++Seed;
  }
  // Rows large enough for the parallel split.
  checkFused("func @f(%x: f32[N,100]) -> (p: f32[N,100]) {\n"
             "  %p = softmax %x\n  return %p\n}\n",
             300, 1, 9);
}

TEST(JitFusion, TutorialCnnMatchesInterpreter) {
  auto Buf = llvm::MemoryBuffer::getFile(DLC_SOURCE_DIR "/examples/mnist_cnn.dlc");
  ASSERT_TRUE(bool(Buf));
  checkFused((*Buf)->getBuffer().str(), 3, 5, 11);
}

TEST(JitFusion, ConcurrentRunsShareOneCompiledModel) {
  // Four threads run the fused, arena-planned CNN at once, at two batch
  // sizes (two memory plans), each several times: every result equals the
  // one of a lone run.
  auto Buf = llvm::MemoryBuffer::getFile(DLC_SOURCE_DIR "/examples/mnist_cnn.dlc");
  ASSERT_TRUE(bool(Buf));
  auto M = parseModule((*Buf)->getBuffer(), "mnist_cnn.dlc");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  PassManager PM;
  ASSERT_FALSE(bool(PM.addPipeline("optimize")));
  ASSERT_FALSE(bool(PM.run(**M)));
  auto C = CompiledFunction::compile(*(*M)->Functions[0], 2, 2);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  std::vector<Tensor> In[2] = {{random({2, 1, 28, 28}, 1)}, {random({5, 1, 28, 28}, 2)}};
  std::vector<Tensor> Want[2];
  for (int B = 0; B < 2; ++B) {
    auto R = (*C)->run(In[B]);
    ASSERT_TRUE(bool(R)) << errText(R.takeError());
    Want[B] = std::move(*R);
  }
  std::atomic<int> Mismatches{0};
  std::vector<std::thread> Threads;
  for (int T = 0; T < 4; ++T)
    Threads.emplace_back([&, T] {
      for (int I = 0; I < 5; ++I) {
        auto R = (*C)->run(In[T % 2]);
        if (!R) {
          llvm::consumeError(R.takeError());
          ++Mismatches;
          continue;
        }
        for (size_t O = 0; O < R->size(); ++O)
          Mismatches += !((*R)[O] == Want[T % 2][O]);
      }
    });
  for (auto &T : Threads)
    T.join();
  EXPECT_EQ(Mismatches.load(), 0);
}

TEST(JitFusion, InvalidMarksAreLocatedErrors) {
  // Marks written by hand (not by --fuse) that do not form a kernel: a
  // transpose in a group; and a group {%a, %y} that runs at %y, after the
  // transpose that reads %a (and that %y needs) would have to run.
  const char *Cases[][2] = {
      {"func @f(%x: f32[4,4]) -> (y: f32[4,4]) {\n"
       "  %a = exp %x {fusion = 1}\n  %y = transpose %a {fusion = 1, perm = [1, 0]}\n"
       "  return %y\n}\n",
       "<m>:3:8: error: 'transpose' cannot join the fusion group"},
      {"func @f(%x: f32[4,4]) -> (y: f32[4,4]) {\n"
       "  %a = exp %x {fusion = 1}\n  %t = transpose %a {perm = [1, 0]}\n"
       "  %y = add %a, %t {fusion = 1}\n  return %y\n}\n",
       "<m>:3:8: error: 'transpose' reads %a, which is computed after it"}};
  for (auto &C : Cases) {
    auto M = parseModule(C[0], "<m>");
    ASSERT_TRUE(bool(M)) << errText(M.takeError());
    auto Comp = CompiledFunction::compile(*(*M)->Functions[0], 0);
    ASSERT_FALSE(bool(Comp));
    std::string E = errText(Comp.takeError());
    EXPECT_EQ(E.find(C[1]), 0u) << E;
  }
}

// A Scan unrolled by Slice + Squeeze per step: each step's element is a
// one-element slice squeezed to a scalar and combined with the carried
// scalar. Elementwise hoisting above the squeezes must end (it once swapped
// a squeeze and the reshape it made of the scalar back and forth until out
// of memory) and the result must still be right.
TEST(JitFusion, UnrolledScanOfSqueezedSlices) {
  const char *Text =
      "func @f(%x: f32[4], %s: f32[]) -> (y: f32[], z: f32[]) {\n"
      "  %x0 = slice %x {starts = [0], ends = [1]}\n"
      "  %q0 = squeeze %x0 {axes = [0]}\n  %s1 = add %s, %q0\n"
      "  %x1 = slice %x {starts = [1], ends = [2]}\n"
      "  %q1 = squeeze %x1 {axes = [0]}\n  %s2 = mul %q1, %s1\n"
      "  %x2 = slice %x {starts = [2], ends = [3]}\n"
      "  %q2 = squeeze %x2 {axes = [0]}\n  %s3 = sub %s2, %q2\n"
      "  %x3 = slice %x {starts = [3], ends = [4]}\n"
      "  %q3 = squeeze %x3 {axes = [0]}\n  %e = exp %q3\n"
      "  %s4 = add %s3, %e\n  %z = neg %s4\n  return %s4, %z\n}\n";
  checkFused(Text, 1, 1, 7);
}

// The bound on hoists turns a rewrite that would never end into a located
// internal error. Lowered below what a conv-to-gemm layout round trip needs
// (two hoists of the relu: above the transpose, then the reshape), it must
// fire at the relu; at two it must not, and the relu must then read the
// bias add directly.
TEST(JitFusion, HoistBoundIsALocatedInternalError) {
  const char *Text =
      "func @f(%a: f32[?,27], %w: f32[27,4], %b: f32[4]) -> (y: f32[?,4,16]) {\n"
      "  %m = matmul %a, %w\n  %mb = add %m, %b\n"
      "  %y3 = reshape %mb {shape = [-1, 16, 4]}\n"
      "  %t = transpose %y3 {perm = [0, 2, 1]}\n"
      "  %y = relu %t\n  return %y\n}\n";
  for (uint64_t Limit : {1, 2, 0}) {
    auto M = parseModule(Text, "<m>");
    ASSERT_TRUE(bool(M)) << errText(M.takeError());
    PassManager PM;
    PM.add(createFusePassWithHoistLimit(Limit));
    llvm::Error E = PM.run(**M);
    if (Limit == 1) {
      std::string Msg = errText(std::move(E));
      EXPECT_EQ(Msg, "<m>:6:8: error: internal error: fuse: hoisting 'relu' "
                     "above its layout views does not terminate (hoist "
                     "bound 1 exceeded)");
      continue;
    }
    ASSERT_FALSE(bool(E)) << errText(std::move(E));
    const Operation *Relu = nullptr;
    for (auto &Op : (*M)->Functions[0]->Body)
      if (Op->kind() == OpKind::Relu)
        Relu = Op.get();
    ASSERT_TRUE(Relu);
    ASSERT_TRUE(Relu->operand(0)->Def);
    EXPECT_EQ(Relu->operand(0)->Def->kind(), OpKind::Add) << "limit " << Limit;
  }
}

TEST(Arena, PlacementNeverOverlapsLiveBuffers) {
  // Random lifetimes and sizes: buffers alive at the same step are disjoint,
  // every offset is aligned, and disjoint lifetimes let the arena be smaller
  // than the sum of the buffers.
  for (int64_t Seed = 0; Seed < 20; ++Seed) {
    std::vector<rt::ArenaRequest> R;
    uint64_t Sum = 0;
    for (int64_t I = 0; I < 30; ++I) {
      uint32_t First = uint32_t(uniformAt(Seed, 3 * I) * 40);
      uint32_t Len = uint32_t(uniformAt(Seed, 3 * I + 1) * 6);
      uint64_t Bytes = uint64_t(uniformAt(Seed, 3 * I + 2) * 5000);
      R.push_back({Bytes, First, First + Len});
      Sum += Bytes;
    }
    rt::ArenaLayout L = rt::planArena(R);
    ASSERT_EQ(L.Offsets.size(), R.size());
    EXPECT_LT(L.Size, Sum);
    for (size_t I = 0; I < R.size(); ++I) {
      EXPECT_EQ(L.Offsets[I] % rt::ArenaAlign, 0u);
      EXPECT_LE(L.Offsets[I] + R[I].Bytes, L.Size);
      for (size_t J = 0; J < I; ++J) {
        bool Live = R[I].First <= R[J].Last && R[J].First <= R[I].Last;
        bool Overlap = L.Offsets[I] < L.Offsets[J] + R[J].Bytes &&
                       L.Offsets[J] < L.Offsets[I] + R[I].Bytes;
        EXPECT_FALSE(Live && Overlap && R[I].Bytes && R[J].Bytes)
            << "seed " << Seed << ": " << I << " and " << J;
      }
    }
  }
}

} // namespace

// A one-element float constant in a fused group is an immediate in the
// kernel, and max / min by such a constant compile to a compare and a
// select: the values must stay the interpreter's bit for bit, NaN
// propagated from either side, signed zeros and infinities included, with
// the constant as either operand, in full vectors and the masked tail.
TEST(JitFusion, MaxMinByScalarConstantsKeepInterpreterSemantics) {
  const std::string Text =
      "func @f(%x: f32[N]) -> (y: f32[N], z: f32[N]) {\n"
      "  %lo = constant {value = dense<f32[]>[0.0]}\n"
      "  %hi = constant {value = dense<f32[1]>[6.0]}\n"
      "  %a = max %x, %lo\n  %y = min %a, %hi\n"
      "  %b = max %hi, %x\n  %z = min %lo, %b\n  return %y, %z\n}\n";
  auto M = parseModule(Text, "<fuse>");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  Function &F = *(*M)->Functions[0];
  const float Edges[] = {NAN, -INFINITY, INFINITY, -0.0f, 0.0f, 6.0f, 7.0f,
                         -1.0f, 3.5f, -NAN, 5.99f, 1e30f};
  Tensor X(DType::F32, {37});
  for (int64_t I = 0; I < 37; ++I)
    X.setF(I, Edges[I % std::size(Edges)]);
  auto Want = interpret(F, {X});
  ASSERT_TRUE(bool(Want)) << errText(Want.takeError());
  PassManager PM;
  ASSERT_FALSE(bool(PM.addPipeline("optimize")));
  ASSERT_FALSE(bool(PM.run(**M)));
  auto C = CompiledFunction::compile(F, 3, 1);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  auto Got = (*C)->run({X});
  ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
  for (size_t O = 0; O < 2; ++O)
    for (int64_t E = 0; E < 37; ++E) {
      float W = float((*Want)[O].getF(E)), G = float((*Got)[O].getF(E));
      if (std::isnan(W)) {
        EXPECT_TRUE(std::isnan(G)) << "output " << O << " element " << E;
        continue;
      }
      EXPECT_EQ(W, G) << "output " << O << " element " << E << " of " << X.getF(E);
      EXPECT_EQ(std::signbit(W), std::signbit(G))
          << "output " << O << " element " << E << " of " << X.getF(E);
    }
}
