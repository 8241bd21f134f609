// ONNX exporter units: every op of the table exported and read back with
// dlc's own importer gives the interpreter's results; the tutorial models
// round-trip with their weights; ops without an ONNX form are all reported.
#include "TestUtil.h"

#include "frontend/builder/TutorialModels.h"
#include "frontend/onnx/OnnxExporter.h"
#include "frontend/onnx/OnnxImporter.h"
#include "interp/Interpreter.h"
#include "ir/OpExample.h"
#include "ir/Parser.h"

#include "onnx/onnx_pb.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace dlc;

namespace {

std::unique_ptr<Module> parse(llvm::StringRef Text) {
  auto M = parseModule(Text, "<test>");
  EXPECT_TRUE(bool(M)) << errText(M.takeError());
  return M ? std::move(*M) : nullptr;
}

/// Exports F, imports the bytes again (float initializers as parameters
/// when AsParams) and returns the imported function's module.
std::unique_ptr<Module> roundTrip(const Function &F, bool AsParams = false) {
  auto Bytes = exportOnnx(F);
  if (!Bytes) {
    ADD_FAILURE() << errText(Bytes.takeError());
    return nullptr;
  }
  OnnxImportOptions O;
  O.InitializersAsParams = AsParams;
  auto M = importOnnx(*Bytes, "exported.onnx", O);
  if (!M) {
    ADD_FAILURE() << errText(M.takeError());
    return nullptr;
  }
  return std::move(*M);
}

void expectClose(const Tensor &A, const Tensor &B, const std::string &What) {
  ASSERT_EQ(A.elem(), B.elem()) << What;
  ASSERT_EQ(A.shape(), B.shape()) << What;
  if (A.elem() == DType::Str) {
    EXPECT_EQ(A.strings(), B.strings()) << What;
    return;
  }
  for (int64_t I = 0; I < A.numElements(); ++I) {
    double X = A.getF(I), Y = B.getF(I);
    if (std::isnan(X) && std::isnan(Y))
      continue;
    ASSERT_NEAR(X, Y, 1e-5 + 1e-4 * std::fabs(X)) << What << " element " << I;
  }
}

/// Runs both functions on the same inputs (symbolic dims of size 3) and
/// compares every output.
void expectSameResults(const Function &A, const Function &B,
                       const std::string &What) {
  std::vector<Tensor> In = functionInputs(A, 3, 11);
  auto RA = interpret(A, In);
  ASSERT_TRUE(bool(RA)) << What << ": " << errText(RA.takeError());
  auto RB = interpret(B, In);
  ASSERT_TRUE(bool(RB)) << What << ": " << errText(RB.takeError());
  ASSERT_EQ(RA->size(), RB->size()) << What;
  for (size_t I = 0; I < RA->size(); ++I)
    expectClose((*RA)[I], (*RB)[I], What + " output " + std::to_string(I));
}

class ExportEveryOp : public ::testing::TestWithParam<OpKind> {};

TEST_P(ExportEveryOp, ReimportsWithTheSameResults) {
  const OpInfo &I = getOpInfo(GetParam());
  auto M = parse(exampleText(I));
  ASSERT_TRUE(M);
  const Function &F = *M->Functions[0];
  if (GetParam() == OpKind::Im2Col || GetParam() == OpKind::MaxPoolGrad ||
      GetParam() == OpKind::AllReduceSum || GetParam() == OpKind::BitCast) {
    // Ops the compiler makes (conv-to-gemm, autodiff, data-parallel
    // training): no ONNX form; bitcast has one only from opset 26, past
    // the opset the exporter writes.
    auto Bytes = exportOnnx(F);
    ASSERT_FALSE(bool(Bytes)) << I.Mnemonic.str() << " has no ONNX form";
    EXPECT_NE(errText(Bytes.takeError()).find("has no ONNX equivalent"),
              std::string::npos);
    return;
  }
  auto Bytes = exportOnnx(F);
  ASSERT_TRUE(bool(Bytes)) << errText(Bytes.takeError());
  onnx::ModelProto MP;
  ASSERT_TRUE(MP.ParseFromString(*Bytes));
  EXPECT_EQ(MP.opset_import(0).version(), OnnxExportOpset);
  ASSERT_EQ(MP.graph().input_size(), int(F.Inputs.size()));
  for (size_t K = 0; K < F.Inputs.size(); ++K)
    EXPECT_EQ(MP.graph().input(K).name(), F.Inputs[K]->Name);
  ASSERT_EQ(MP.graph().output_size(), int(F.Outputs.size()));
  for (size_t K = 0; K < F.Outputs.size(); ++K)
    EXPECT_EQ(MP.graph().output(K).name(), F.OutputNames[K]);
  // dlc's importer has no random ops, and their samples are the
  // generator's own anyway: onnxruntime checks them (test/reference).
  if (I.Traits & Random)
    return;
  auto Back = roundTrip(F);
  ASSERT_TRUE(Back);
  const Function &G = *Back->Functions[0];
  for (size_t K = 0; K < F.Outputs.size(); ++K)
    EXPECT_TRUE(compatible(F.Outputs[K]->Type, G.Outputs[K]->Type))
        << F.Outputs[K]->Type.str() << " vs " << G.Outputs[K]->Type.str();
  // Dropout switched on is written with training_mode true and the same
  // seed, so both draw the same mask.
  expectSameResults(F, G, I.Mnemonic.str());
}

std::vector<OpKind> allOps() {
  std::vector<OpKind> Ks;
  for (unsigned K = 0; K < NumOpKinds; ++K)
    Ks.push_back(OpKind(K));
  return Ks;
}

INSTANTIATE_TEST_SUITE_P(OpTable, ExportEveryOp, ::testing::ValuesIn(allOps()),
                         [](const auto &Info) {
                           return getOpInfo(Info.param).Mnemonic.str();
                         });

TEST(OnnxExport, TutorialModelsRoundTripWithTheirWeights) {
  for (const std::string &Name : tutorialModelNames()) {
    auto M = makeTutorialModel(Name, 3);
    ASSERT_TRUE(bool(M)) << errText(M.takeError());
    const Function &F = *(*M)->Functions[0];
    auto Back = roundTrip(F, /*AsParams=*/true);
    ASSERT_TRUE(Back) << Name;
    const Function &G = *Back->Functions[0];
    // Every weight comes back as a parameter with its value.
    ASSERT_EQ(F.Params.size(), G.Params.size()) << Name;
    for (size_t I = 0; I < F.Params.size(); ++I) {
      EXPECT_EQ(F.Params[I]->Name, G.Params[I]->Name) << Name;
      EXPECT_TRUE(*F.ParamInits[I]->getTensor() == *G.ParamInits[I]->getTensor())
          << Name << " " << F.Params[I]->Name;
    }
    EXPECT_EQ(F.Inputs[0]->Type.str(), G.Inputs[0]->Type.str()) << Name;
    EXPECT_EQ(F.OutputNames, G.OutputNames) << Name;
    expectSameResults(F, G, Name);
  }
}

TEST(OnnxExport, SymbolicDimsBecomeDimParams) {
  auto M = parse("func @main(%x: f32[N,?,4]) -> (y: f32[N,?,4]) {\n"
                 "  %y = relu %x : f32[N,?,4]\n  return %y\n}\n");
  ASSERT_TRUE(M);
  auto Bytes = exportOnnx(*M->Functions[0]);
  ASSERT_TRUE(bool(Bytes)) << errText(Bytes.takeError());
  onnx::ModelProto MP;
  ASSERT_TRUE(MP.ParseFromString(*Bytes));
  const auto &S = MP.graph().input(0).type().tensor_type().shape();
  ASSERT_EQ(S.dim_size(), 3);
  EXPECT_EQ(S.dim(0).dim_param(), "N");
  EXPECT_FALSE(S.dim(1).has_dim_param());
  EXPECT_FALSE(S.dim(1).has_dim_value());
  EXPECT_EQ(S.dim(2).dim_value(), 4);
  // Read back, the symbol is a symbol again.
  auto Back = importOnnx(*Bytes, "m.onnx");
  ASSERT_TRUE(bool(Back)) << errText(Back.takeError());
  EXPECT_EQ((*Back)->Functions[0]->Inputs[0]->Type.str(), "f32[N,?,4]");
}

TEST(OnnxExport, OutputsThatAreInputsOrRepeatedGetIdentities) {
  auto M = parse("func @main(%x: f32[2]) -> (a: f32[2], b: f32[2], c: f32[2]) "
                 "{\n  %y = neg %x : f32[2]\n  return %x, %y, %y\n}\n");
  ASSERT_TRUE(M);
  auto Back = roundTrip(*M->Functions[0]);
  ASSERT_TRUE(Back);
  const Function &G = *Back->Functions[0];
  EXPECT_EQ(G.OutputNames, (std::vector<std::string>{"a", "b", "c"}));
  expectSameResults(*M->Functions[0], G, "identities");
}

TEST(OnnxExport, EveryOpWithoutOnnxFormIsReported) {
  auto M = parse(
      "func @main(%x: f32[1,2,5,5], %v: f32[3], %s: i64[]) -> "
      "(a: f32[1,25,18], b: f32[1,9,8], r: f32[3]) {\n"
      "  %a = im2col %x {kernel = [3, 3], pads = [1, 1, 1, 1]} : f32[1,25,18]\n"
      "  %b = im2col %x {kernel = [2, 2], strides = [2, 2], pads = [1, 1, 1, 1]} "
      ": f32[1,9,8]\n"
      "  %r = random_uniform %v, %s : f32[3]\n"
      "  return %a, %b, %r\n}\n");
  ASSERT_TRUE(M);
  auto R = exportOnnx(*M->Functions[0]);
  ASSERT_FALSE(bool(R));
  std::string E = errText(R.takeError());
  EXPECT_NE(E.find("<test>:2:8 ('im2col'): error: im2col"), std::string::npos) << E;
  EXPECT_NE(E.find("<test>:3:8 ('im2col')"), std::string::npos) << E;
  EXPECT_NE(E.find("('random_uniform'): error: a run-time seed operand has no "
                   "ONNX equivalent"),
            std::string::npos)
      << E;
}

TEST(OnnxExport, OneHotRowsOfOutOfRangeIndicesStayZero) {
  // ONNX would count -1 from the end; the export keeps dlc's zero row.
  auto M = parse("func @main(%i: i64[4]) -> (y: f32[4,3]) {\n"
                 "  %y = one_hot %i {depth = 3} : f32[4,3]\n  return %y\n}\n");
  ASSERT_TRUE(M);
  auto Back = roundTrip(*M->Functions[0]);
  ASSERT_TRUE(Back);
  Tensor I(DType::I64, {4});
  int64_t Idx[] = {-1, 0, 2, 5};
  for (int K = 0; K < 4; ++K)
    I.setI(K, Idx[K]);
  auto A = interpret(*M->Functions[0], {I});
  ASSERT_TRUE(bool(A)) << errText(A.takeError());
  auto B = interpret(*Back->Functions[0], {I});
  ASSERT_TRUE(bool(B)) << errText(B.takeError());
  expectClose((*A)[0], (*B)[0], "one_hot");
  const float Want[] = {0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0};
  for (int K = 0; K < 12; ++K)
    EXPECT_EQ((*B)[0].getF(K), Want[K]) << K;
}

TEST(OnnxExport, ParameterWithoutValueIsAnError) {
  auto M = parse("func @main(%x: f32[2]) params(%w: f32[2]) -> (y: f32[2]) {\n"
                 "  %y = add %x, %w : f32[2]\n  return %y\n}\n");
  ASSERT_TRUE(M);
  auto R = exportOnnx(*M->Functions[0]);
  ASSERT_FALSE(bool(R));
  EXPECT_NE(errText(R.takeError()).find("parameter 'w' has no value to export"),
            std::string::npos);
}

TEST(OnnxExport, InitializersAsParamsKeepsOtherInitializersConstant) {
  // A weight (f32) and a shape (i64) initializer: only the weight becomes
  // a parameter.
  auto M = parse("func @main(%x: f32[N,4]) params(%w: f32[4,2] = dense<f32[4,2]>"
                 "[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]) -> (y: f32[N,2]) {\n"
                 "  %m = matmul %x, %w : f32[N,2]\n"
                 "  %y = reshape %m {shape = [-1, 2]} : f32[N,2]\n"
                 "  return %y\n}\n");
  ASSERT_TRUE(M);
  auto Back = roundTrip(*M->Functions[0], /*AsParams=*/true);
  ASSERT_TRUE(Back);
  const Function &G = *Back->Functions[0];
  ASSERT_EQ(G.Params.size(), 1u);
  EXPECT_EQ(G.Params[0]->Name, "w");
  expectSameResults(*M->Functions[0], G, "params");
}

} // namespace
