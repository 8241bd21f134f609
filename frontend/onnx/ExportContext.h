// The exporter's state while one function is written: unique ONNX value
// names, node and Constant-node building, attribute shorthands, and the
// per-op mapping (ExportOps.cpp) that the driver calls for every op.
#ifndef DLC_FRONTEND_ONNX_EXPORTCONTEXT_H
#define DLC_FRONTEND_ONNX_EXPORTCONTEXT_H

#include "ir/IR.h"

#include "onnx/onnx_pb.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringSet.h"

#include <optional>

namespace dlc {
namespace onnxexp {

/// The ONNX TensorProto.DataType code of a dlc element type.
int32_t onnxTypeCode(DType E);
/// T as a TensorProto (raw little-endian data) named Name.
void tensorToProto(const Tensor &T, llvm::StringRef Name,
                   onnx::TensorProto &P);

class ExportContext {
public:
  explicit ExportContext(onnx::GraphProto &G) : G(G) {}
  /// A subgraph's context: it writes into G and takes names unused in the
  /// whole model (ONNX names are unique across a graph and its subgraphs).
  ExportContext(onnx::GraphProto &G, ExportContext &Parent)
      : G(G), Used(Parent.Used) {}

  /// Claims Name exactly if it is free, else Name with a numeric suffix.
  std::string unique(llvm::StringRef Name);
  /// Gives V a name (used when it is first referenced).
  void bind(const Value *V, std::string Name) { Names[V] = std::move(Name); }
  /// V's ONNX name; results of ops not yet written get a fresh one.
  std::string name(const Value *V);

  /// Appends a node; its name is its first output's.
  onnx::NodeProto &node(llvm::StringRef OpType,
                        llvm::ArrayRef<std::string> Inputs,
                        llvm::ArrayRef<std::string> Outputs);
  /// Appends a node with one fresh output named after Hint; returns it.
  std::string tmp(llvm::StringRef OpType, llvm::ArrayRef<std::string> Inputs,
                  llvm::StringRef Hint);
  /// Constant nodes: a tensor, an i64 vector, and a scalar of type E.
  std::string constant(const Tensor &T, llvm::StringRef Hint);
  std::string ints(llvm::ArrayRef<int64_t> V, llvm::StringRef Hint);
  std::string scalar(DType E, double V, llvm::StringRef Hint);

private:
  onnx::GraphProto &G;
  llvm::StringSet<> OwnUsed;
  llvm::StringSet<> &Used = OwnUsed;
  llvm::DenseMap<const Value *, std::string> Names;
};

/// if, loop and scan as ONNX If, Loop and Scan with their regions as
/// subgraphs (ExportControl.cpp); why not, or none on success.
std::optional<std::string> exportControlFlow(ExportContext &C,
                                             const Operation &Op);

/// Element type and dims of T into an ONNX ValueInfoProto named Name.
void setValueInfo(onnx::ValueInfoProto &VI, llvm::StringRef Name,
                  const TensorType &T);
void attrInt(onnx::NodeProto &N, llvm::StringRef Name, int64_t V);
void attrFloat(onnx::NodeProto &N, llvm::StringRef Name, double V);
void attrString(onnx::NodeProto &N, llvm::StringRef Name, llvm::StringRef V);
void attrInts(onnx::NodeProto &N, llvm::StringRef Name,
              llvm::ArrayRef<int64_t> V);
/// attrInts only when V is not empty (ONNX's default then applies).
void attrIntsIfAny(onnx::NodeProto &N, llvm::StringRef Name,
                   llvm::ArrayRef<int64_t> V);

/// Writes Op as ONNX nodes whose outputs are C.name(Op.result(I)). Returns
/// why it cannot be written, or none on success.
std::optional<std::string> exportOp(ExportContext &C, const Operation &Op);

} // namespace onnxexp
} // namespace dlc

#endif
