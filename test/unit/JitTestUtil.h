// Helpers shared by the JIT unit tests: inputs and the comparison of the
// CPU executor against the interpreter on a one-op function.
#ifndef DLC_TEST_UNIT_JITTESTUTIL_H
#define DLC_TEST_UNIT_JITTESTUTIL_H

#include "TestUtil.h"

#include "codegen/Executor.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"
#include "ir/Random.h"

#include "gtest/gtest.h"

#include <cmath>

namespace dlc {
namespace jit_test {

/// f32 values uniform in [-1, 1), reproducible from Seed.
inline Tensor random(llvm::ArrayRef<int64_t> Shape, int64_t Seed) {
  Tensor T(DType::F32, Shape);
  for (int64_t I = 0; I < T.numElements(); ++I)
    T.setF(I, uniformAt(Seed, I) * 2 - 1);
  return T;
}

/// Builds `func @f(Args) -> (y: Out) { %y = Body; return %y }`, runs it
/// with the interpreter and through the JIT at each level in Opts, and
/// compares: exactly when Tol is 0, else within Tol relative.
inline void checkOneOp(const std::string &Args, const std::string &Body,
                       const std::string &Out, const std::vector<Tensor> &In,
                       double Tol, std::initializer_list<unsigned> Opts) {
  std::string Text = "func @f(" + Args + ") -> (y: " + Out + ") {\n  %y = " +
                     Body + "\n  return %y\n}\n";
  auto M = parseModule(Text, "<test>");
  ASSERT_TRUE(bool(M)) << errText(M.takeError()) << "\n" << Text;
  Function &F = *(*M)->Functions[0];
  auto Want = interpret(F, In);
  ASSERT_TRUE(bool(Want)) << errText(Want.takeError());
  for (unsigned Opt : Opts) {
    auto C = CompiledFunction::compile(F, Opt);
    ASSERT_TRUE(bool(C)) << errText(C.takeError());
    auto Got = (*C)->run(In);
    ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
    const Tensor &W = (*Want)[0], &G = (*Got)[0];
    ASSERT_EQ(W.type(), G.type()) << Text;
    if (Tol == 0) {
      EXPECT_TRUE(W == G) << Text << " -O" << Opt;
      continue;
    }
    for (int64_t E = 0; E < W.numElements(); ++E)
      ASSERT_NEAR(W.getF(E), G.getF(E), Tol * (1 + std::fabs(W.getF(E))))
          << Text << " -O" << Opt << " element " << E;
  }
}

} // namespace jit_test
} // namespace dlc

#endif
