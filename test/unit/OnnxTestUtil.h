// Helpers for the ONNX unit tests: models built directly with the protobuf
// classes (inputs, nodes, an empty model at an opset), the importer's
// error text, and a model imported, optimized and JIT-compiled.
#ifndef DLC_TEST_ONNXTESTUTIL_H
#define DLC_TEST_ONNXTESTUTIL_H

#include "codegen/Executor.h"
#include "frontend/onnx/OnnxImporter.h"
#include "passes/Pass.h"

#include "onnx/onnx_pb.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <memory>

#include <string>
#include <vector>

namespace onnx_test {

/// An i64 vector tensor of V.
inline dlc::Tensor i64s(std::vector<int64_t> V) {
  dlc::Tensor T(dlc::DType::I64, {int64_t(V.size())});
  for (size_t I = 0; I < V.size(); ++I)
    T.setI(I, V[I]);
  return T;
}

/// An f32 tensor of Shape holding V.
inline dlc::Tensor f32s(std::vector<int64_t> Shape, std::vector<double> V) {
  dlc::Tensor T(dlc::DType::F32, Shape);
  for (size_t I = 0; I < V.size(); ++I)
    T.setF(I, V[I]);
  return T;
}

/// M written to a temporary .onnx file (removed by the destructor).
struct TempModel {
  std::string Path;
  explicit TempModel(const onnx::ModelProto &M) {
    llvm::SmallString<128> P;
    EXPECT_FALSE(llvm::sys::fs::createTemporaryFile("onnx-test", "onnx", P));
    Path = P.str().str();
    std::error_code EC;
    llvm::raw_fd_ostream OS(Path, EC);
    OS << M.SerializeAsString();
  }
  ~TempModel() { llvm::sys::fs::remove(Path); }
};

/// Adds a tensor graph input with fixed dims Dims, then a symbolic dim
/// Param when it is not empty.
inline void addTensorInput(onnx::GraphProto &G, const std::string &Name,
                           std::vector<int64_t> Dims,
                           int Type = onnx::TensorProto::FLOAT,
                           const std::string &Param = "") {
  auto *I = G.add_input();
  I->set_name(Name);
  auto *T = I->mutable_type()->mutable_tensor_type();
  T->set_elem_type(Type);
  auto *S = T->mutable_shape();
  for (int64_t D : Dims)
    S->add_dim()->set_dim_value(D);
  if (!Param.empty())
    S->add_dim()->set_dim_param(Param);
}

/// Adds a node (named Name, or Op_<first output>).
inline onnx::NodeProto *addNode(onnx::GraphProto &G, const std::string &Op,
                                std::vector<std::string> In,
                                std::vector<std::string> Out,
                                const std::string &Name = "") {
  auto *N = G.add_node();
  N->set_op_type(Op);
  N->set_name(Name.empty() ? Op + "_" + Out[0] : Name);
  for (auto &S : In)
    N->add_input(S);
  for (auto &S : Out)
    N->add_output(S);
  return N;
}

/// An empty model importing the default domain at Opset.
inline onnx::ModelProto baseModel(int Opset = 17) {
  onnx::ModelProto M;
  M.set_ir_version(8);
  auto *O = M.add_opset_import();
  O->set_domain("");
  O->set_version(Opset);
  M.mutable_graph()->set_name("g");
  return M;
}

/// The importer's error for M, or "<no error>".
inline std::string importError(const onnx::ModelProto &M) {
  auto R = dlc::importOnnx(M.SerializeAsString(), "m.onnx");
  if (R)
    return "<no error>";
  return llvm::toString(R.takeError());
}

/// M imported (into Mod, which must outlive the result), optimized and
/// compiled by the JIT; null after a test failure.
inline std::unique_ptr<dlc::CompiledFunction>
compileModel(const onnx::ModelProto &M, std::unique_ptr<dlc::Module> &Mod) {
  auto R = dlc::importOnnx(M.SerializeAsString(), "m.onnx");
  EXPECT_TRUE(!!R) << llvm::toString(R.takeError());
  if (!R)
    return nullptr;
  Mod = std::move(*R);
  dlc::PassManager PM;
  EXPECT_FALSE(PM.addPipeline(dlc::optimizePipeline()));
  EXPECT_FALSE(PM.run(*Mod));
  auto CF = dlc::CompiledFunction::compile(*Mod->Functions.front(), 1, 1);
  EXPECT_TRUE(!!CF) << llvm::toString(CF.takeError());
  return CF ? std::move(*CF) : nullptr;
}

} // namespace onnx_test

#endif
