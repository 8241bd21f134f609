// Embedding dlc today: parse a model, optimize it, run it with the reference
// interpreter. The README's C++ example; built and run by the test suite.
#include "interp/Interpreter.h"
#include "ir/Parser.h"
#include "passes/Pass.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

static const char *Model = R"(
func @main(%x: f32[N,3]) params(%w: f32[3,2] = dense<f32[3,2]>[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]) -> (probs: f32[N,2]) {
  %h = matmul %x, %w
  %probs = softmax %h
  return %probs
}
)";

int main() {
  llvm::ExitOnError Check("embed_interpreter: ");
  auto M = Check(dlc::parseModule(Model, "model.dlc"));
  dlc::PassManager PM;
  Check(PM.addPipeline("optimize"));
  Check(PM.run(*M));
  dlc::Tensor X(dlc::DType::F32, {2, 3}); // two rows: [1,2,3] and zeros
  for (int I = 0; I < 3; ++I)
    X.setF(I, I + 1);
  auto Outputs = Check(dlc::interpret(*M->lookup("main"), {X}));
  const dlc::Tensor &P = Outputs[0];
  for (int64_t I = 0; I < P.numElements(); ++I)
    llvm::outs() << llvm::format("%.6f ", P.getF(I));
  llvm::outs() << "\n";
  return 0;
}
