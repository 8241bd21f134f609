// Reductions lowered to kernel IR and JIT-compiled equal the interpreter for
// every reduction kind, several axis sets, keepdims on and off, f32, f64 and
// i32, at -O0 and -O3, on odd sizes.
#include "TestUtil.h"

#include "codegen/Jit.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"
#include "ir/Random.h"
#include "kernel/Lowering.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace dlc;

namespace {

struct Case {
  const char *Op;
  const char *Type;
  const char *Attrs;
};

class JitReduction : public ::testing::TestWithParam<Case> {};

TEST_P(JitReduction, MatchesInterpreter) {
  const Case &C = GetParam();
  // The function returns its input so that the op's inferred type need not
  // be spelled out; only the op itself is lowered.
  std::string Text = std::string("func @f(%x: ") + C.Type + "[A,B,C]) -> (x: " +
                     C.Type + "[A,B,C]) {\n  %y = " + C.Op + " %x " + C.Attrs +
                     "\n  return %x\n}\n";
  auto M = parseModule(Text, "<test>");
  ASSERT_TRUE(bool(M)) << errText(M.takeError()) << "\n" << Text;
  const Operation &Op = *(*M)->Functions[0]->Body.front();
  auto K = lowerReduction(Op, "r");
  ASSERT_TRUE(bool(K)) << errText(K.takeError());
  for (unsigned Opt : {0u, 3u}) {
    const kir::Kernel *KP = K->get();
    auto J = JitModule::compile({KP}, Opt);
    ASSERT_TRUE(bool(J)) << errText(J.takeError());
    auto Fn = (*J)->lookup("r");
    ASSERT_TRUE(bool(Fn)) << errText(Fn.takeError());
    for (auto Sizes : {std::vector<int64_t>{1, 1, 1}, {3, 7, 5}, {2, 33, 17},
                       {1, 1000, 3}}) {
      DType E = Op.operand(0)->Type.elem();
      Tensor X(E, Sizes);
      for (int64_t I = 0; I < X.numElements(); ++I) {
        double U = uniformAt(7, I);
        if (isFloat(E))
          X.setF(I, Op.kind() == OpKind::ReduceProd ? 0.9 + 0.2 * U : U - 0.3);
        else
          X.setI(I, Op.kind() == OpKind::ReduceProd ? 1 + (I % 3 == 0)
                                                    : int64_t(U * 100) - 50);
      }
      auto Want = evaluateOp(Op, {&X});
      ASSERT_TRUE(bool(Want)) << errText(Want.takeError());
      const Tensor &W = (*Want)[0];
      Tensor Got(W.elem(), W.shape());
      BufferArg Args[] = {{X.data(), X.shape().data()},
                          {Got.data(), Got.shape().data()}};
      (*Fn)(Args, 0, 1);
      for (int64_t I = 0; I < W.numElements(); ++I) {
        double A = W.getF(I), Bv = Got.getF(I);
        double Tol = E == DType::F32 ? 1e-5 : E == DType::F64 ? 1e-12 : 0;
        ASSERT_LE(std::fabs(A - Bv), Tol * (1 + std::fabs(A)))
            << C.Op << " " << C.Attrs << " -O" << Opt << " sizes " << Sizes[0]
            << "x" << Sizes[1] << "x" << Sizes[2] << " element " << I;
      }
    }
  }
}

std::vector<Case> cases() {
  std::vector<Case> V;
  for (const char *Op : {"reduce_sum", "reduce_mean", "reduce_max", "reduce_min",
                         "reduce_prod"})
    for (const char *Ty : {"f32", "f64", "i32"})
      for (const char *A : {"{axes = [1], keepdims = false}", "{axes = [0, 2]}",
                            "{axes = [-1], keepdims = false}",
                            "{keepdims = false}", "{}"}) {
        if (std::string(Op) == "reduce_mean" && std::string(Ty) == "i32")
          continue;
        V.push_back({Op, Ty, A});
      }
  return V;
}

INSTANTIATE_TEST_SUITE_P(
    All, JitReduction, ::testing::ValuesIn(cases()),
    [](const ::testing::TestParamInfo<Case> &P) {
      return std::string(P.param.Op) + "_" + P.param.Type + "_" +
             std::to_string(P.index);
    });

} // namespace
