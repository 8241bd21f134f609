// str tensors end to end: Tensor storage, the string kernels of the
// interpreter (against hand-computed results), the JIT running them as host
// steps next to compiled kernels, the executor without a host kernel, and
// ONNX import of string models and STRING TensorProtos.
#include "OnnxTestUtil.h"
#include "TestUtil.h"

#include "codegen/Executor.h"
#include "frontend/onnx/OnnxTensor.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"
#include "passes/Pass.h"

#include "gtest/gtest.h"

using namespace dlc;
using namespace onnx_test;

namespace {

Tensor strs(std::vector<std::string> S, std::vector<int64_t> Shape = {}) {
  if (Shape.empty())
    Shape = {int64_t(S.size())};
  Tensor T(DType::Str, Shape);
  T.strings() = std::move(S);
  return T;
}

/// Runs `func @f(Args) -> (Outs) { Body }` with the interpreter and the JIT
/// (after the optimize pipeline) on In; both must agree; returns the JIT's.
std::vector<Tensor> runBoth(const std::string &Text,
                            const std::vector<Tensor> &In) {
  auto M = parseModule(Text, "<test>");
  EXPECT_TRUE(bool(M)) << errText(M.takeError());
  if (!M)
    return {};
  Function &F = *(*M)->Functions[0];
  auto Want = interpret(F, In);
  EXPECT_TRUE(bool(Want)) << errText(Want.takeError());
  PassManager PM;
  EXPECT_FALSE(bool(PM.addPipeline("optimize")));
  EXPECT_FALSE(bool(PM.run(**M)));
  auto C = CompiledFunction::compile(F, 1);
  EXPECT_TRUE(bool(C)) << errText(C.takeError());
  if (!Want || !C)
    return {};
  auto Got = (*C)->run(In);
  EXPECT_TRUE(bool(Got)) << errText(Got.takeError());
  if (!Got)
    return {};
  EXPECT_EQ(Want->size(), Got->size());
  for (size_t I = 0; I < Got->size(); ++I)
    EXPECT_TRUE((*Want)[I] == (*Got)[I]) << "output " << I;
  return std::move(*Got);
}

TEST(Strings, TensorOwnsItsStrings) {
  Tensor T(DType::Str, {2, 2});
  EXPECT_EQ(T.strings(), std::vector<std::string>(4, ""));
  EXPECT_EQ(T.byteSize(), 0u);
  T.strings()[3] = "x";
  Tensor R = T.reshaped({4});
  EXPECT_EQ(R.shape(), llvm::ArrayRef<int64_t>({4}));
  EXPECT_EQ(R.strings()[3], "x");
  EXPECT_FALSE(R == T);
  EXPECT_TRUE(R.reshaped({2, 2}) == T);
  EXPECT_EQ(dtypeName(DType::Str), "str");
  EXPECT_EQ(parseDType("str"), DType::Str);
}

TEST(Strings, NormalizerSplitConcatRegexEqual) {
  auto Out = runBoth(
      "func @f(%s: str[5], %t: str[1]) -> (n: str[?], p: str[5,?], k: i64[5], "
      "w: str[5,?], c: str[5], m: bool[5], e: bool[5]) {\n"
      "  %n = string_normalizer %s {case_change_action = \"LOWER\", stopwords = "
      "[\"MONDAY\"]}\n"
      "  %p, %k = string_split %s {delimiter = \".\", maxsplit = 1}\n"
      "  %w, %wk = string_split %s\n"
      "  %c = string_concat %s, %t\n"
      "  %m = regex_full_match %s {pattern = \"[a-z]+(\\\\.[a-z]+)*\"}\n"
      "  %e = equal %s, %t\n"
      "  return %n, %p, %k, %w, %c, %m, %e\n}\n",
      {strs({"Monday", "a.b.c", "  x  y ", "Tue", ".b"}), strs({"Tue"})});
  ASSERT_EQ(Out.size(), 7u);
  EXPECT_TRUE(Out[0] == strs({"a.b.c", "  x  y ", "tue", ".b"}));
  EXPECT_TRUE(Out[1] == strs({"Monday", "", "a", "b.c", "  x  y ", "", "Tue",
                              "", "", "b"},
                             {5, 2}));
  EXPECT_EQ(Out[2].as<int64_t>()[0], 1);
  EXPECT_EQ(Out[2].as<int64_t>()[1], 2);
  EXPECT_EQ(Out[2].as<int64_t>()[4], 2);
  // White-space splitting drops empty pieces.
  EXPECT_TRUE(Out[3] == strs({"Monday", "", "a.b.c", "", "x", "y", "Tue", "",
                              ".b", ""},
                             {5, 2}));
  EXPECT_TRUE(Out[4] == strs({"MondayTue", "a.b.cTue", "  x  y Tue", "TueTue",
                              ".bTue"}));
  std::vector<int64_t> M, E;
  for (int I = 0; I < 5; ++I) {
    M.push_back(Out[5].getI(I));
    E.push_back(Out[6].getI(I));
  }
  EXPECT_EQ(M, (std::vector<int64_t>{0, 1, 0, 0, 0}));
  EXPECT_EQ(E, (std::vector<int64_t>{0, 0, 0, 1, 0}));
}

TEST(Strings, NormalizerKeepsOneEmptyStringWhenAllAreStopwords) {
  auto Out = runBoth("func @f(%s: str[1,2]) -> (n: str[1,?]) {\n"
                     "  %n = string_normalizer %s {is_case_sensitive = true, "
                     "stopwords = [\"a\"]}\n  return %n\n}\n",
                     {strs({"a", "a"}, {1, 2})});
  ASSERT_EQ(Out.size(), 1u);
  EXPECT_TRUE(Out[0] == strs({""}, {1, 1}));
}

TEST(Strings, HostStepsMixWithCompiledKernels) {
  // i64 -> (kernel) add -> label_encoder to str -> concat -> label_encoder
  // back to i64 -> (kernel) mul.
  auto Out = runBoth(
      "func @f(%x: i64[N], %s: str[N]) -> (y: i64[N], c: str[N]) {\n"
      "  %one = constant {value = dense<i64[]>[1]}\n"
      "  %a = add %x, %one\n"
      "  %w = label_encoder %a {default = dense<str[]>[\"?\"], keys = "
      "dense<i64[3]>[1, 2, 3], values = dense<str[3]>[\"one\", \"two\", "
      "\"three\"]}\n"
      "  %c = string_concat %w, %s\n"
      "  %b = label_encoder %c {default = dense<i64[]>[-1], keys = "
      "dense<str[2]>[\"one!\", \"three!\"], values = dense<i64[2]>[10, 30]}\n"
      "  %y = mul %b, %a\n"
      "  return %y, %c\n}\n",
      {[] {
         Tensor T(DType::I64, {4});
         for (int I = 0; I < 4; ++I)
           T.setI(I, I);
         return T;
       }(),
       strs({"!", "!", "!", "?"})});
  ASSERT_EQ(Out.size(), 2u);
  EXPECT_TRUE(Out[1] == strs({"one!", "two!", "three!", "??"}));
  std::vector<int64_t> Y;
  for (int I = 0; I < 4; ++I)
    Y.push_back(Out[0].getI(I));
  EXPECT_EQ(Y, (std::vector<int64_t>{10, -2, 90, -4}));
}

TEST(Strings, ExecutorWithoutHostKernelRefusesStringOps) {
  auto M = parseModule("func @f(%s: str[2]) -> (e: bool[2]) {\n"
                       "  %e = equal %s, %s\n  return %e\n}\n",
                       "s.dlc");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  const Function &F = *(*M)->Functions[0];
  auto Steps = planSteps(F);
  ASSERT_TRUE(bool(Steps)) << errText(Steps.takeError());
  ASSERT_EQ(Steps->size(), 1u);
  EXPECT_EQ((*Steps)[0].K, LoweredStep::Kind::Host);
  auto X = Executable::create(F, std::move(*Steps), {}, 1);
  ASSERT_FALSE(bool(X));
  EXPECT_EQ(errText(X.takeError()),
            "s.dlc:2:8: error: 'equal' works on str tensors, which only the "
            "JIT runs (as a host step)");
}

TEST(Strings, DataDependentNumericShapeIsAnError) {
  // The JIT plans numeric buffers from the input shapes: a numeric op on a
  // str result of data-dependent size cannot be planned.
  auto M = parseModule(
      "func @f(%s: str[3]) -> (l: i64[?]) {\n"
      "  %n = string_normalizer %s {stopwords = [\"a\"]}\n"
      "  %l = label_encoder %n {default = dense<i64[]>[0], keys = "
      "dense<str[1]>[\"b\"], values = dense<i64[1]>[1]}\n"
      "  return %l\n}\n",
      "d.dlc");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  Function &F = *(*M)->Functions[0];
  auto C = CompiledFunction::compile(F, 1);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  auto R = (*C)->run({strs({"a", "b", "c"})});
  ASSERT_FALSE(bool(R));
  EXPECT_NE(errText(R.takeError()).find("d.dlc:3:8: error: 'label_encoder' "
                                        "result 0 is i64[?]"),
            std::string::npos);
  // The interpreter sizes it from the data.
  auto I = interpret(F, {strs({"a", "b", "c"})});
  ASSERT_TRUE(bool(I)) << errText(I.takeError());
  EXPECT_EQ((*I)[0].shape(), llvm::ArrayRef<int64_t>({2}));
}

TEST(Strings, OnnxStringTensorsRoundTrip) {
  onnx::TensorProto P;
  P.set_data_type(onnx::TensorProto::STRING);
  P.add_dims(2);
  P.add_string_data("x");
  P.add_string_data(std::string("\0y", 2));
  auto T = onnximp::tensorFromProto(P, "");
  ASSERT_TRUE(bool(T)) << errText(T.takeError());
  EXPECT_TRUE(*T == strs({"x", std::string("\0y", 2)}));
  P.add_string_data("z");
  auto Bad = onnximp::tensorFromProto(P, "");
  ASSERT_FALSE(bool(Bad));
  EXPECT_NE(errText(Bad.takeError()).find("holds 3 values"), std::string::npos);
  P.clear_string_data();
  P.set_raw_data("ab");
  auto Raw = onnximp::tensorFromProto(P, "");
  ASSERT_FALSE(bool(Raw));
  EXPECT_NE(errText(Raw.takeError()).find("string_data"), std::string::npos);
}

TEST(Strings, OnnxStringNormalizerImportsAndRuns) {
  onnx::ModelProto MP = baseModel(10);
  onnx::GraphProto &G = *MP.mutable_graph();
  addTensorInput(G, "x", {}, onnx::TensorProto::STRING, "C");
  auto *N = addNode(G, "StringNormalizer", {"x"}, {"y"});
  auto *A = N->add_attribute();
  A->set_name("stopwords");
  A->set_type(onnx::AttributeProto::STRINGS);
  A->add_strings("monday");
  A = N->add_attribute();
  A->set_name("case_change_action");
  A->set_type(onnx::AttributeProto::STRING);
  A->set_s("UPPER");
  G.add_output()->set_name("y");
  auto M = importOnnx(MP.SerializeAsString(), "m.onnx");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  Function &F = *(*M)->Functions[0];
  auto C = CompiledFunction::compile(F, 1);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  auto R = (*C)->run({strs({"Monday", "tuesday", "wednesday"})});
  ASSERT_TRUE(bool(R)) << errText(R.takeError());
  EXPECT_TRUE((*R)[0] == strs({"TUESDAY", "WEDNESDAY"}));
  // A numeric input is refused at the node.
  onnx::ModelProto Bad = MP;
  Bad.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()
      ->set_elem_type(onnx::TensorProto::FLOAT);
  EXPECT_NE(importError(Bad).find("'StringNormalizer' takes string tensors"),
            std::string::npos)
      << importError(Bad);
}

} // namespace
