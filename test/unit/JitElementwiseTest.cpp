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
#include <iterator>

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

// f32 exp, sigmoid and tanh are computed inline (codegen/FastMath.cpp), in
// vectors at -O3: against the C library at the edges of their ranges
// (overflow, subnormal results, underflow to 0, the series / formula switch
// of tanh at 1/8, infinities, NaN), within 4 ulp of float, or exact.
TEST(JitFastMath, ExpSigmoidTanhEdges) {
  const float Edges[] = {-INFINITY, -1e30f, -200.0f, -103.98f, -103.9f, -100.0f,
                         -95.5f, -87.4f, -87.3f, -20.0f, -1.0f, -0.126f, -0.125f,
                         -0.124f, -1e-3f, -1e-20f, 0.0f, 1e-20f, 1e-3f, 0.05f,
                         0.124f, 0.125f, 0.126f, 0.5f, 1.0f, 9.0f, 10.0f, 20.0f,
                         88.7f, 88.72f, 88.73f, 100.0f, 1e30f, INFINITY, NAN};
  int64_t N = int64_t(std::size(Edges));
  for (const char *Name : {"exp", "sigmoid", "tanh"}) {
    std::string Text = std::string("func @f(%x: f32[N]) -> (y: f32[N]) {\n  %y = ") +
                       Name + " %x\n  return %y\n}\n";
    auto M = parseModule(Text, "<test>");
    ASSERT_TRUE(bool(M)) << errText(M.takeError());
    const Operation &Op = *(*M)->Functions[0]->Body.front();
    auto K = lowerElementwise(Op, "k");
    ASSERT_TRUE(bool(K)) << errText(K.takeError());
    const kir::Kernel *KP = K->get();
    auto J = JitModule::compile({KP}, 3);
    ASSERT_TRUE(bool(J)) << errText(J.takeError());
    auto Fn = (*J)->lookup("k");
    ASSERT_TRUE(bool(Fn)) << errText(Fn.takeError());
    Tensor X(DType::F32, {N}), Y(DType::F32, {N});
    for (int64_t I = 0; I < N; ++I)
      X.setF(I, Edges[I]);
    BufferArg Args[] = {{X.data(), X.shape().data()}, {Y.data(), Y.shape().data()}};
    (*Fn)(Args, 0, 1);
    for (int64_t I = 0; I < N; ++I) {
      float In = Edges[I], Got = float(Y.getF(I));
      float Want = std::string(Name) == "exp"       ? std::exp(In)
                   : std::string(Name) == "tanh"    ? std::tanh(In)
                                                    : 1.0f / (1.0f + std::exp(-In));
      if (std::isnan(Want)) {
        EXPECT_TRUE(std::isnan(Got)) << Name << "(" << In << ")";
        continue;
      }
      if (Got == Want) // infinities and zeros too
        continue;
      float Ulp = std::fabs(std::nextafter(Want, INFINITY) - Want);
      EXPECT_LE(std::fabs(Got - Want), 4 * Ulp)
          << Name << "(" << In << "): want " << Want << ", got " << Got;
    }
  }
}

} // namespace
