// Every primitive elementwise op of the table, lowered to kernel IR and
// compiled by the LLVM JIT at -O0 and -O3, gives the interpreter's values on
// random inputs of odd sizes, including broadcasting corners.
#include "codegen/Jit.h"
#include "codegen/ScalarOps.h"
#include "interp/Interpreter.h"
#include "ir/OpExample.h"
#include "ir/Parser.h"
#include "ir/Random.h"
#include "kernel/Lowering.h"

#include "TestUtil.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace dlc;

namespace {

/// Random values; floats include negatives, zeros and large magnitudes.
Tensor randomTensor(DType E, llvm::ArrayRef<int64_t> Shape, uint64_t Seed) {
  Tensor T(E, Shape);
  for (int64_t I = 0; I < T.numElements(); ++I) {
    double U = uniformAt(int64_t(Seed), I);
    if (isFloat(E))
      T.setF(I, I % 17 == 5 ? 0.0 : (U - 0.5) * (I % 7 == 3 ? 2000 : 6));
    else if (E == DType::Bool)
      T.setI(I, U < 0.5);
    else
      T.setI(I, int64_t(U * 200) - (isSigned(E) ? 100 : 0));
  }
  return T;
}

/// Runs Op through the JIT and the interpreter on operands of the given
/// shapes and compares.
void checkOp(const Operation &Op, llvm::ArrayRef<llvm::SmallVector<int64_t, 4>> Shapes,
             unsigned OptLevel) {
  std::vector<Tensor> In;
  std::vector<const Tensor *> Ptrs;
  for (size_t K = 0; K < Shapes.size(); ++K)
    In.push_back(randomTensor(Op.operand(K)->Type.elem(), Shapes[K], 10 + K));
  for (const Tensor &T : In)
    Ptrs.push_back(&T);
  auto Want = evaluateOp(Op, Ptrs);
  ASSERT_TRUE(bool(Want)) << errText(Want.takeError());

  auto K = lowerElementwise(Op, "k");
  ASSERT_TRUE(bool(K)) << errText(K.takeError());
  const kir::Kernel *KP = K->get();
  auto J = JitModule::compile({KP}, OptLevel);
  ASSERT_TRUE(bool(J)) << errText(J.takeError()) << "\n" << kir::toString(**K);
  auto Fn = (*J)->lookup("k");
  ASSERT_TRUE(bool(Fn)) << errText(Fn.takeError());

  Tensor Got((*Want)[0].elem(), (*Want)[0].shape());
  std::vector<BufferArg> Args;
  for (Tensor &T : In)
    Args.push_back({T.data(), T.shape().data()});
  Args.push_back({Got.data(), Got.shape().data()});
  (*Fn)(Args.data(), 0, 1);

  const Tensor &W = (*Want)[0];
  for (int64_t I = 0; I < W.numElements(); ++I) {
    double A = W.getF(I), B = Got.getF(I);
    if ((std::isnan(A) && std::isnan(B)) || A == B) // same inf, or exact
      continue;
    double Tol = W.elem() == DType::F32 ? 2e-6 : W.elem() == DType::F64 ? 1e-12 : 0;
    ASSERT_LE(std::fabs(A - B), Tol * (1 + std::fabs(A)))
        << Op.mnemonic().str() << " -O" << OptLevel << " element " << I
        << ": interpreter " << A << ", JIT " << B;
  }
}

class JitElementwise : public ::testing::TestWithParam<OpKind> {};

TEST_P(JitElementwise, MatchesInterpreterOnOddSizes) {
  const OpInfo &I = getOpInfo(GetParam());
  auto M = parseModule(exampleText(I), "<example>");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  const Operation &Op = *(*M)->Functions[0]->Body.front();
  DType E = Op.operand(GetParam() == OpKind::Where ? 1 : 0)->Type.elem();
  if (!scalarOpSupported(Op.kind(), E))
    GTEST_SKIP() << "no CPU lowering yet for " << I.Mnemonic.str() << " on "
                 << dtypeName(E).str();
  for (int64_t N : {1, 7, 33, 1000}) {
    std::vector<llvm::SmallVector<int64_t, 4>> Shapes;
    for (unsigned K = 0; K < Op.numOperands(); ++K) {
      llvm::SmallVector<int64_t, 4> S;
      for (const Dim &D : Op.operand(K)->Type.dims())
        S.push_back(D.isStatic() ? D.size() : N);
      Shapes.push_back(S);
    }
    for (unsigned Opt : {0u, 3u})
      checkOp(Op, Shapes, Opt);
  }
}

std::vector<OpKind> elementwiseOps() {
  std::vector<OpKind> V;
  for (const OpInfo &I : allOps())
    if (I.has(Elementwise) && !I.has(Composite))
      V.push_back(I.Kind);
  return V;
}

INSTANTIATE_TEST_SUITE_P(
    AllElementwise, JitElementwise, ::testing::ValuesIn(elementwiseOps()),
    [](const ::testing::TestParamInfo<OpKind> &P) {
      return getOpInfo(P.param).Mnemonic.str();
    });

TEST(JitBroadcast, SymbolicAndStaticCorners) {
  // [N,1,M] + [K,1] -> [N,K,M] with dims only known at run time, and a
  // dynamic dim that happens to be 1 at run time.
  auto M = parseModule("func @f(%a: f32[N,1,M], %b: f32[K,?]) -> (c: f32[N,K,M]) {\n"
                       "  %c = mul %a, %b\n  return %c\n}\n",
                       "<test>");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  const Operation &Op = *(*M)->Functions[0]->Body.front();
  checkOp(Op, {{3, 1, 33}, {7, 1}}, 3);
  checkOp(Op, {{3, 1, 33}, {7, 33}}, 3);
  checkOp(Op, {{1, 1, 1}, {1, 1}}, 0);
}

} // namespace
