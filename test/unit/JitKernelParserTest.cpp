// Kernel IR text: every kernel the lowerings produce for a set of models
// prints, parses and prints back identically; the scheduling passes keep
// results bit for bit (a tiled, vectorized, unrolled kernel run by the JIT
// against the original); a kernel with a scratch buffer runs; parse errors
// are located.
#include "JitTestUtil.h"

#include "codegen/Jit.h"
#include "kernel/KernelParser.h"
#include "kernel/Schedule.h"
#include "passes/Pass.h"

#include "llvm/Support/MemoryBuffer.h"

using namespace dlc;
using namespace dlc::jit_test;

namespace {

/// The kernels of a model after the standard pipeline (fused ones too).
std::vector<std::unique_ptr<kir::Kernel>> kernelsOf(const std::string &Text) {
  auto M = parseModule(Text, "<kir>");
  EXPECT_TRUE(bool(M)) << errText(M.takeError());
  PassManager PM;
  EXPECT_FALSE(bool(PM.addPipeline("optimize")));
  EXPECT_FALSE(bool(PM.run(**M)));
  auto L = lowerFunction(*(*M)->Functions[0]);
  EXPECT_TRUE(bool(L)) << errText(L.takeError());
  return std::move(L->Kernels);
}

const char *Mlp =
    "func @f(%x: f32[N,20], %w: f32[20,33], %b: f32[33], %t: i64[N]) -> "
    "(l: f32[], y: f32[N,33], a: i64[N]) {\n"
    "  %h = gemm %x, %w, %b\n  %y = layer_norm %h {axis = -1}\n"
    "  %l = softmax_cross_entropy %h, %t\n  %a = argmax %y {axis = 1, keepdims = false}\n"
    "  %c = concat %y, %y {axis = 0}\n"
    "  return %l, %y, %a\n}\n";

TEST(KernelParser, EveryLoweredKernelRoundTrips) {
  auto Buf = llvm::MemoryBuffer::getFile(DLC_SOURCE_DIR "/examples/mnist_cnn.dlc");
  ASSERT_TRUE(bool(Buf));
  std::string Text;
  for (const std::string &Model : {(*Buf)->getBuffer().str(), std::string(Mlp)})
    for (auto &K : kernelsOf(Model))
      Text += kir::toString(*K);
  auto Parsed = kir::parseKernels(Text, "<kir>");
  ASSERT_TRUE(bool(Parsed)) << errText(Parsed.takeError());
  std::string Again;
  for (auto &K : *Parsed)
    Again += kir::toString(*K);
  EXPECT_EQ(Text, Again);
  EXPECT_GT(Parsed->size(), 15u);
}

TEST(KernelParser, ErrorsAreLocated) {
  auto E = kir::parseKernels("kernel @k(%a: f32[?]) {\n  %0 = const 0 : index\n"
                             "  %1 = load %a[%9] : f32\n}\n",
                             "k.kir");
  ASSERT_FALSE(bool(E));
  EXPECT_EQ(errText(E.takeError()), "k.kir:3:16: error: use of undefined value %9");
  auto F = kir::parseKernels("kernel @k(%a: f32[?]) {\n  %0 = const 0 : index\n"
                             "  %1 = load %a[%0, %0] : f32\n}\n",
                             "k.kir");
  ASSERT_FALSE(bool(F));
  EXPECT_NE(errText(F.takeError()).find("indexed with 2 indices"), std::string::npos);
}

TEST(KernelParser, SchedulingKeepsResults) {
  // A fused elementwise + softmax kernel at 37 x 45 (not a multiple of the
  // tile): tiled by 8, vectorized by 8 and unrolled by 2 it gives the
  // original's values. Not the same bits: the row sum's loop is marked
  // reassoc, so each schedule may add in its own order.
  auto Ks = kernelsOf("func @f(%x: f32[N,45], %b: f32[45]) -> (p: f32[N,45]) {\n"
                      "  %a = add %x, %b\n  %p = softmax %a\n  return %p\n}\n");
  ASSERT_EQ(Ks.size(), 1u);
  std::string Text = kir::toString(*Ks[0]);
  auto Tiled = kir::parseKernels(Text, "<kir>");
  ASSERT_TRUE(bool(Tiled));
  kir::Kernel &T = *(*Tiled)[0];
  T.Name += "_tiled";
  ASSERT_FALSE(bool(kir::tileLoops(T, 8)));
  ASSERT_FALSE(bool(kir::vectorizeLoops(T, 8)));
  ASSERT_FALSE(bool(kir::unrollLoops(T, 2)));
  EXPECT_NE(kir::toString(T).find("step 8"), std::string::npos);
  auto J = JitModule::compile({Ks[0].get(), &T}, 3);
  ASSERT_TRUE(bool(J)) << errText(J.takeError());
  Tensor X = random({37, 45}, 5), B = random({45}, 6);
  Tensor Out[2] = {Tensor(DType::F32, {37, 45}), Tensor(DType::F32, {37, 45})};
  int64_t Sizes[] = {37, 45};
  for (int V = 0; V < 2; ++V) {
    auto Fn = (*J)->lookup(V ? T.Name : Ks[0]->Name);
    ASSERT_TRUE(bool(Fn)) << errText(Fn.takeError());
    BufferArg Args[] = {{X.data(), X.shape().data()},
                        {B.data(), B.shape().data()},
                        {Out[V].data(), Out[V].shape().data()},
                        {nullptr, Sizes}};
    (*Fn)(Args, 0, 1);
  }
  EXPECT_NE(Text.find("reassoc"), std::string::npos) << Text;
  for (int64_t I = 0; I < Out[0].numElements(); ++I)
    ASSERT_NEAR(Out[0].getF(I), Out[1].getF(I), 1e-6 * std::fabs(Out[0].getF(I)))
        << "element " << I;
  double RowSum = 0;
  for (int64_t I = 0; I < 45; ++I)
    RowSum += Out[1].getF(I);
  EXPECT_NEAR(RowSum, 1.0, 1e-5);
}

TEST(KernelParser, CollapsedLoopsKeepResults) {
  // The JIT merges the loops over the static trailing dims [5, 7] of this
  // fused kernel, in both of its nests (the sum's and the one storing z;
  // kernel/CollapseLoops.cpp): the buffer types say so, and the compiled
  // function still gives the interpreter's values at two batch sizes.
  const char *Text =
      "func @f(%x: f32[N,3,5,7], %y: f32[N,3,5,7], %s: f32[]) -> "
      "(z: f32[N,3,5,7], t: f32[3]) {\n"
      "  %a = add %x, %y\n  %g = greater %a, %s\n  %z = where %g, %x, %s\n"
      "  %t = reduce_sum %z {axes = [0, 2, 3], keepdims = false}\n"
      "  return %z, %t\n}\n";
  std::string Kernels;
  for (auto &K : kernelsOf(Text))
    Kernels += kir::toString(*K);
  EXPECT_NE(Kernels.find("%in0: f32[?,3,35], %in1: f32[?,3,35]"),
            std::string::npos) << Kernels;
  EXPECT_NE(Kernels.find("%out0: f32[?,3,35]"), std::string::npos) << Kernels;
  auto M = parseModule(Text, "<test>");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  Function &F = *(*M)->Functions[0];
  auto C = CompiledFunction::compile(F, 3);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  for (int64_t N : {1, 6}) {
    Tensor S(DType::F32, {});
    S.setF(0, 0.25);
    std::vector<Tensor> In = {random({N, 3, 5, 7}, 1), random({N, 3, 5, 7}, 2), S};
    auto Want = interpret(F, In);
    ASSERT_TRUE(bool(Want)) << errText(Want.takeError());
    auto Got = (*C)->run(In);
    ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
    EXPECT_TRUE((*Want)[0] == (*Got)[0]) << "batch " << N;
    for (int64_t I = 0; I < 3; ++I)
      EXPECT_NEAR((*Want)[1].getF(I), (*Got)[1].getF(I), 1e-5) << "batch " << N;
  }
}

TEST(KernelParser, ScratchBuffersRun) {
  // Each row goes through a thread-private scratch buffer, reversed on the
  // way in; run as two chunks of the parallel loop.
  const char *Text =
      "kernel @rev(%a: f32[?,5], %out: f32[?,5]) {\n"
      "  %0 = const 0 : index\n  %1 = const 5 : index\n  %2 = const 4 : index\n"
      "  %3 = dim %a, 0\n"
      "  for %i = %0 to %3 parallel {\n"
      "    %4 = scratch f32[5]\n"
      "    for %j = %0 to %1 {\n"
      "      %5 = load %a[%i, %j] : f32\n      %6 = isub %2, %j\n"
      "      store %5, %4[%6]\n    }\n"
      "    for %k = %0 to %1 {\n"
      "      %7 = load %4[%k] : f32\n      store %7, %out[%i, %k]\n    }\n"
      "  }\n}\n";
  auto Ks = kir::parseKernels(Text, "<kir>");
  ASSERT_TRUE(bool(Ks)) << errText(Ks.takeError());
  EXPECT_EQ(kir::toString(*(*Ks)[0]).find("scratch f32[5]") != std::string::npos, true);
  auto J = JitModule::compile({(*Ks)[0].get()}, 3);
  ASSERT_TRUE(bool(J)) << errText(J.takeError());
  auto Fn = (*J)->lookup("rev");
  ASSERT_TRUE(bool(Fn)) << errText(Fn.takeError());
  Tensor A = random({7, 5}, 9), Out(DType::F32, {7, 5});
  BufferArg Args[] = {{A.data(), A.shape().data()}, {Out.data(), Out.shape().data()}};
  for (int64_t C = 0; C < 2; ++C)
    (*Fn)(Args, C, 2);
  for (int64_t I = 0; I < 7; ++I)
    for (int64_t J2 = 0; J2 < 5; ++J2)
      EXPECT_EQ(Out.getF(I * 5 + J2), A.getF(I * 5 + 4 - J2));
}

} // namespace
