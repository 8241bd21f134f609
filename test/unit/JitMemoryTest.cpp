// Memory bounds of compiled runs: the --max-memory limit, intermediates whose
// byte counts overflow, and an arena the system cannot give. Each is an
// error that names the largest tensor and the bytes, never an abort.
#include "JitTestUtil.h"

#include <fstream>

using namespace dlc;
using namespace dlc::jit_test;

namespace {

/// r = sum(x[A,1] @ y[1,B]): the [A,B] product lives in the arena.
std::unique_ptr<Module> outerModel() {
  auto M = parseModule("func @f(%x: f32[A,1], %y: f32[1,B]) -> (r: f32[]) {\n"
                       "  %outer = matmul %x, %y : f32[A,B]\n"
                       "  %r = reduce_sum %outer {keepdims = false} : f32[]\n"
                       "  return %r\n"
                       "}\n",
                       "<test>");
  EXPECT_TRUE(bool(M)) << errText(M.takeError());
  return M ? std::move(*M) : nullptr;
}

std::unique_ptr<CompiledFunction> compileIt(Module &M) {
  auto C = CompiledFunction::compile(*M.Functions[0], 1, 1);
  EXPECT_TRUE(bool(C)) << errText(C.takeError());
  return C ? std::move(*C) : nullptr;
}

TEST(JitMemory, MemoryLimitRefusesTheRunAndNamesTheTensor) {
  auto M = outerModel();
  ASSERT_TRUE(M);
  auto C = compileIt(*M);
  ASSERT_TRUE(C);
  std::vector<Tensor> In = {random({1000, 1}, 1), random({1, 1000}, 2)};
  auto R = C->run(In); // 4 MB: fine without a limit
  ASSERT_TRUE(bool(R)) << errText(R.takeError());
  C->setMemoryLimit(1 << 20);
  auto E = C->run(In);
  ASSERT_FALSE(bool(E));
  std::string Msg = errText(E.takeError());
  EXPECT_NE(Msg.find("more than the memory limit of 1048576 bytes "
                     "(--max-memory)"),
            std::string::npos)
      << Msg;
  EXPECT_NE(Msg.find("'%outer' (f32[1000,1000]) of 4000000 bytes"),
            std::string::npos)
      << Msg;
  // Small inputs still run under the limit.
  auto S = C->run({random({10, 1}, 1), random({1, 10}, 2)});
  EXPECT_TRUE(bool(S)) << errText(S.takeError());
}

TEST(JitMemory, HugeRunTimeShapeIsRefused) {
  // [2^20, 2^20, 2^20] f32 elements: 2^62 bytes, from 12 MB of inputs.
  auto M = parseModule(
      "func @f(%x: f32[A,1,1], %y: f32[1,B,1], %z: f32[1,1,C]) -> (r: f32[]) "
      "{\n"
      "  %xy = mul %x, %y : f32[A,B,1]\n"
      "  %big = matmul %xy, %z : f32[A,B,C]\n"
      "  %r = reduce_sum %big {keepdims = false} : f32[]\n"
      "  return %r\n"
      "}\n",
      "<test>");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  auto C = compileIt(**M);
  ASSERT_TRUE(C);
  int64_t N = int64_t(1) << 20;
  Tensor X(DType::F32, {N, 1, 1}), Y(DType::F32, {1, N, 1}),
      Z(DType::F32, {1, 1, N});
  auto E = C->run({X, Y, Z});
  ASSERT_FALSE(bool(E));
  std::string Msg = errText(E.takeError());
  // Refused while the run-time shapes are computed, before any byte count.
  EXPECT_NE(Msg.find("'matmul': result f32[1048576,1048576,1048576] has more "
                     "than 2^40 elements"),
            std::string::npos)
      << Msg;
}

#if defined(__SANITIZE_ADDRESS__)
#define DLC_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DLC_UNDER_ASAN 1
#endif
#endif

TEST(JitMemory, ArenaTheSystemRefusesIsAnError) {
#ifdef DLC_UNDER_ASAN
  GTEST_SKIP() << "ASan's allocator reserves without committing";
#else
  // 2^17 x 2^17 f32: a 64 GiB arena. With heuristic overcommit (mode 0) or
  // none (mode 2) the allocation fails up front on a machine with less
  // memory; with mode 1 it would succeed and be touched, so skip.
  std::ifstream OC("/proc/sys/vm/overcommit_memory");
  int Mode = 1;
  OC >> Mode;
  if (Mode == 1)
    GTEST_SKIP() << "overcommit_memory is 1";
  auto M = outerModel();
  ASSERT_TRUE(M);
  auto C = compileIt(*M);
  ASSERT_TRUE(C);
  int64_t N = int64_t(1) << 17;
  auto E = C->run({Tensor(DType::F32, {N, 1}), Tensor(DType::F32, {1, N})});
  if (E)
    GTEST_SKIP() << "this machine gave 64 GiB";
  std::string Msg = errText(E.takeError());
  EXPECT_NE(Msg.find("out of memory: '@f' could not allocate"),
            std::string::npos)
      << Msg;
  EXPECT_NE(Msg.find("'%outer' (f32[131072,131072]) of 68719476736 bytes"),
            std::string::npos)
      << Msg;
#endif
}

} // namespace
