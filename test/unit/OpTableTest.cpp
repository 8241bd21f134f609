// Table-driven tests over every op in Ops.def: the example of each op
// round-trips through the printer, shape inference gives the documented
// types, the interpreter runs it, and the optimization pipeline (which
// decomposes composites) computes the same values as the original op.
#include "interp/Interpreter.h"
#include "ir/OpExample.h"
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Random.h"
#include "ir/ShapeInference.h"
#include "ir/Verifier.h"
#include "passes/Pass.h"

#include "TestUtil.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace dlc;

namespace {

class OpTable : public ::testing::TestWithParam<OpKind> {
protected:
  const OpInfo &info() const { return getOpInfo(GetParam()); }
};

std::unique_ptr<Module> parseOrFail(llvm::StringRef Text) {
  auto M = parseModule(Text, "<test>");
  if (!M) {
    ADD_FAILURE() << errText(M.takeError()) << "\nin:\n" << Text.str();
    return nullptr;
  }
  return std::move(*M);
}

/// Random inputs for F where every symbolic dim is 3.
std::vector<Tensor> randomInputs(const Function &F, int64_t Seed) {
  return functionInputs(F, 3, Seed * 131);
}

void expectClose(const Tensor &Want, const Tensor &Got, double Tol,
                 llvm::StringRef What) {
  ASSERT_EQ(Want.elem(), Got.elem()) << What.str();
  ASSERT_EQ(Want.shape(), Got.shape()) << What.str();
  if (Want.elem() == DType::Str) {
    EXPECT_EQ(Want.strings(), Got.strings()) << What.str();
    return;
  }
  for (int64_t I = 0; I < Want.numElements(); ++I) {
    double A = Want.getF(I), B = Got.getF(I);
    if (std::isnan(A) && std::isnan(B))
      continue;
    ASSERT_LE(std::fabs(A - B), Tol * (1 + std::fabs(A)))
        << What.str() << " element " << I << ": " << A << " vs " << B;
  }
}

TEST_P(OpTable, ExampleRoundTripsByteForByte) {
  std::string Text = exampleText(info());
  auto M = parseOrFail(Text);
  ASSERT_TRUE(M);
  std::string Printed = toString(*M);
  EXPECT_EQ(Text, Printed);
  auto M2 = parseOrFail(Printed);
  ASSERT_TRUE(M2);
  EXPECT_EQ(Printed, toString(*M2));
}

TEST_P(OpTable, ShapeInferenceGivesDocumentedTypes) {
  if (auto E = checkExample(info()))
    FAIL() << errText(std::move(E));
}

TEST_P(OpTable, OperandCountIsChecked) {
  const OpInfo &I = info();
  Operation Op(I.Kind);
  auto M = parseOrFail("func @f(%a: f32[2]) -> () {\n  return\n}\n");
  ASSERT_TRUE(M);
  Value *A = M->Functions[0]->Inputs[0].get();
  int Too = I.MaxOperands >= 0 ? I.MaxOperands + 1 : -1;
  if (Too < 0 && I.MinOperands == 0)
    GTEST_SKIP() << "any operand count is valid";
  Op.Operands.assign(Too >= 0 ? Too : I.MinOperands - 1, A);
  llvm::Error E = verifyOpStructure(Op);
  ASSERT_TRUE(bool(E)) << "no error for a wrong operand count";
  EXPECT_NE(errText(std::move(E)).find("operand"), std::string::npos);
}

TEST_P(OpTable, RequiredAttributesAreChecked) {
  const OpInfo &I = info();
  for (const AttrSpec &S : I.Attrs) {
    if (S.Default)
      continue;
    Operation Op(I.Kind);
    for (const AttrSpec &O : I.Attrs)
      if (!O.Default && O.Name != S.Name)
        Op.setAttr(O.Name, Attribute::getInt(0));
    llvm::Error E = verifyOpStructure(Op);
    ASSERT_TRUE(bool(E));
    std::string Msg = errText(std::move(E));
    // Either the operand count or the missing attribute is reported first.
    EXPECT_TRUE(Msg.find(S.Name.str()) != std::string::npos ||
                Msg.find("operand") != std::string::npos)
        << Msg;
  }
}

// Shape rules read attributes unchecked: inference itself must report a
// missing required one (the importer infers before anything verifies).
TEST_P(OpTable, ShapeInferenceReportsMissingRequiredAttributes) {
  const OpInfo &I = info();
  auto M = parseOrFail(exampleText(I));
  ASSERT_TRUE(M);
  const Operation *Example = nullptr;
  for (const auto &Op : M->Functions[0]->Body)
    if (Op->kind() == I.Kind)
      Example = Op.get();
  ASSERT_TRUE(Example);
  for (const AttrSpec &S : I.Attrs) {
    if (S.Default)
      continue;
    Operation Op(I.Kind);
    Op.Operands = Example->Operands;
    for (const NamedAttr &A : Example->attrs())
      if (A.Name != S.Name)
        Op.setAttr(A.Name, A.Value);
    auto R = inferResultTypes(Op);
    ASSERT_FALSE(bool(R)) << "no error without '" << S.Name.str() << "'";
    std::string Msg = errText(R.takeError());
    EXPECT_NE(Msg.find(S.Name.str()), std::string::npos) << Msg;
  }
}

TEST_P(OpTable, InterpreterRunsExample) {
  auto M = parseOrFail(exampleText(info()));
  ASSERT_TRUE(M);
  const Function &F = *M->Functions[0];
  auto Out = interpret(F, randomInputs(F, 1));
  ASSERT_TRUE(bool(Out)) << errText(Out.takeError());
  ASSERT_EQ(Out->size(), F.Outputs.size());
  for (size_t K = 0; K < Out->size(); ++K) {
    const TensorType &T = F.Outputs[K]->Type;
    EXPECT_EQ((*Out)[K].elem(), T.elem());
    ASSERT_EQ((*Out)[K].rank(), T.rank());
    for (unsigned D = 0; D < T.rank(); ++D) {
      if (!T.dim(D).isUnknown()) { // `?`: sized by the data (string ops)
        EXPECT_EQ((*Out)[K].shape()[D],
                  T.dim(D).isStatic() ? T.dim(D).size() : 3);
      }
    }
  }
}

TEST_P(OpTable, OptimizedGraphComputesTheSameValues) {
  auto M = parseOrFail(exampleText(info()));
  ASSERT_TRUE(M);
  auto In = randomInputs(*M->Functions[0], 2);
  auto Want = interpret(*M->Functions[0], In);
  ASSERT_TRUE(bool(Want)) << errText(Want.takeError());
  PassManager PM(PassManagerOptions{/*VerifyEach=*/true, {}, false, nullptr});
  ASSERT_FALSE(bool(PM.addPipeline("optimize")));
  if (auto E = PM.run(*M))
    FAIL() << errText(std::move(E));
  for (auto &Op : M->Functions[0]->Body)
    EXPECT_FALSE(Op->info().has(Composite))
        << "composite '" << Op->mnemonic().str() << "' survived --decompose";
  auto Got = interpret(*M->Functions[0], In);
  ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
  ASSERT_EQ(Want->size(), Got->size());
  for (size_t K = 0; K < Want->size(); ++K)
    expectClose((*Want)[K], (*Got)[K], 1e-5, info().Mnemonic);
}

std::string opName(const ::testing::TestParamInfo<OpKind> &P) {
  return getOpInfo(P.param).Mnemonic.str();
}

std::vector<OpKind> everyOp() {
  std::vector<OpKind> V;
  for (const OpInfo &I : allOps())
    V.push_back(I.Kind);
  return V;
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpTable, ::testing::ValuesIn(everyOp()),
                         opName);

TEST(OpTableMeta, MnemonicsAreUniqueAndLookupWorks) {
  for (const OpInfo &I : allOps()) {
    auto K = lookupOp(I.Mnemonic);
    ASSERT_TRUE(K.has_value()) << I.Mnemonic.str();
    EXPECT_EQ(*K, I.Kind);
    EXPECT_FALSE(I.Summary.empty()) << I.Mnemonic.str();
  }
  EXPECT_FALSE(lookupOp("no_such_op").has_value());
}

TEST(OpTableMeta, DefaultsParseAsTheirKind) {
  for (const OpInfo &I : allOps())
    for (const AttrSpec &S : I.Attrs) {
      if (!S.hasDefault())
        continue;
      auto A = parseAttributeText(S.Default, S.Kind);
      ASSERT_TRUE(bool(A)) << I.Mnemonic.str() << "." << S.Name.str() << ": "
                           << errText(A.takeError());
      EXPECT_EQ(A->kind(), S.Kind);
    }
}

} // namespace
