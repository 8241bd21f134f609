// The exporter's per-op mapping: each dlc op as ONNX nodes of opset 21.
// Attribute lists left empty in dlc are left out, so ONNX's defaults (which
// match dlc's) apply; list-valued operands that ONNX takes as inputs (axes,
// shapes, pads, ...) become Constant nodes.
#include "frontend/onnx/ExportContext.h"
#include "ir/ShapeInference.h"

#include <cmath>

using namespace dlc;
using namespace dlc::onnxexp;

namespace {

using Why = std::optional<std::string>;

/// Maps one op; Out are the names of Op's results.
class OpWriter {
public:
  OpWriter(ExportContext &C, const Operation &Op) : C(C), Op(Op) {
    for (unsigned I = 0; I < Op.numResults(); ++I)
      Out.push_back(C.name(Op.result(I)));
  }

  Why write();

private:
  ExportContext &C;
  const Operation &Op;
  std::vector<std::string> Out;

  std::string in(unsigned I) { return C.name(Op.operand(I)); }
  DType elem(unsigned I) const { return Op.operand(I)->Type.elem(); }
  /// A node whose inputs are Op's operands, writing Op's results.
  onnx::NodeProto &same(llvm::StringRef OpType) {
    std::vector<std::string> Ins;
    for (unsigned I = 0; I < Op.numOperands(); ++I)
      Ins.push_back(in(I));
    return C.node(OpType, Ins, Out);
  }
  /// An op reducing over attribute axes (rank-1 "axes" input since opset 18).
  Why reduce(llvm::StringRef OpType) {
    std::vector<std::string> Ins{in(0)};
    if (!Op.getInts("axes").empty())
      Ins.push_back(C.ints(Op.getInts("axes"), Out[0] + "_axes"));
    attrInt(C.node(OpType, Ins, Out), "keepdims", Op.getBool("keepdims"));
    return std::nullopt;
  }
  Why clip();
  Why layerNorm();
  Why slice();
  Why expand();
  Why oneHot();
  Why random(bool Normal);
  Why loss();
  void resizeCoords();
  /// Applies a loss reduction ("mean", "sum" or "none") to per-element Xs.
  Why reduceLoss(const std::string &X);
};

Why OpWriter::clip() {
  // Infinite bounds are left out (no bound); integer bounds are written in
  // the operand's type.
  std::vector<std::string> Ins{in(0)};
  double Lo = Op.getFloat("min"), Hi = Op.getFloat("max");
  Ins.push_back(std::isinf(Lo) ? "" : C.scalar(elem(0), Lo, Out[0] + "_min"));
  if (!std::isinf(Hi))
    Ins.push_back(C.scalar(elem(0), Hi, Out[0] + "_max"));
  C.node("Clip", Ins, Out);
  return std::nullopt;
}

Why OpWriter::layerNorm() {
  // ONNX requires the scale: without one, write ones over the normalized
  // dims (which must then be static).
  const TensorType &T = Op.operand(0)->Type;
  int64_t Axis = Op.getInt("axis");
  if (Axis < 0)
    Axis += T.rank();
  std::string Scale;
  if (Op.numOperands() >= 2) {
    Scale = in(1);
  } else {
    llvm::SmallVector<int64_t, 4> Dims;
    for (unsigned I = unsigned(Axis); I < T.rank(); ++I) {
      if (!T.dim(I).isStatic())
        return "layer_norm without a scale needs static normalized dims to "
               "write ONNX's required scale (dim " + std::to_string(I) +
               " of " + T.str() + " is not)";
      Dims.push_back(T.dim(I).size());
    }
    Tensor Ones(T.elem(), Dims);
    for (int64_t I = 0; I < Ones.numElements(); ++I)
      Ones.setF(I, 1.0);
    Scale = C.constant(Ones, Out[0] + "_scale");
  }
  std::vector<std::string> Ins{in(0), Scale};
  if (Op.numOperands() == 3)
    Ins.push_back(in(2));
  onnx::NodeProto &N = C.node("LayerNormalization", Ins, Out);
  attrInt(N, "axis", Op.getInt("axis"));
  attrFloat(N, "epsilon", Op.getFloat("epsilon"));
  return std::nullopt;
}

Why OpWriter::slice() {
  llvm::ArrayRef<int64_t> Starts = Op.getInts("starts");
  std::vector<int64_t> Axes(Op.getInts("axes").begin(), Op.getInts("axes").end());
  llvm::ArrayRef<int64_t> Steps = Op.getInts("steps");
  if (Axes.empty() && !Steps.empty())
    for (size_t I = 0; I < Starts.size(); ++I)
      Axes.push_back(int64_t(I));
  std::vector<std::string> Ins{in(0), C.ints(Starts, Out[0] + "_starts"),
                               C.ints(Op.getInts("ends"), Out[0] + "_ends")};
  if (!Axes.empty())
    Ins.push_back(C.ints(Axes, Out[0] + "_axes"));
  if (!Steps.empty())
    Ins.push_back(C.ints(Steps, Out[0] + "_steps"));
  C.node("Slice", Ins, Out);
  return std::nullopt;
}

Why OpWriter::expand() {
  // Expand broadcasts both ways, so broadcasting to the second operand's
  // shape and then to the attribute's is broadcasting to both.
  llvm::ArrayRef<int64_t> Shape = Op.getInts("shape");
  std::string X = in(0);
  if (Op.numOperands() == 2) {
    // by_value: the operand's values are the shape; else its dims are.
    std::string S = Op.getBool("by_value")
                        ? in(1)
                        : C.tmp("Shape", {in(1)}, Out[0] + "_like");
    if (Shape.empty()) {
      C.node("Expand", {X, S}, Out);
      return std::nullopt;
    }
    X = C.tmp("Expand", {X, S}, Out[0] + "_pre");
  }
  C.node("Expand", {X, C.ints(Shape, Out[0] + "_shape")}, Out);
  return std::nullopt;
}

Why OpWriter::oneHot() {
  // ONNX counts negative indices from the end where dlc gives a zero row:
  // negative indices are first replaced by depth (out of range in both).
  std::string H = Out[0], Depth;
  DType E = elem(0);
  std::string Past; // depth as the indices' type
  if (Op.numOperands() == 2) {
    // The depth is the second operand's last dim.
    Depth = C.unique(H + "_depth");
    attrInt(C.node("Shape", {in(1)}, {Depth}), "start", -1);
    Past = C.unique(H + "_past");
    attrInt(C.node("Cast", {Depth}, {Past}), "to", onnxTypeCode(E));
  } else {
    Depth = C.ints({Op.getInt("depth")}, H + "_depth");
    Past = C.scalar(E, double(Op.getInt("depth")), H + "_past");
  }
  std::string Neg =
      C.tmp("Less", {in(0), C.scalar(E, 0, H + "_zero")}, H + "_negative");
  std::string Idx = C.tmp("Where", {Neg, Past, in(0)}, H + "_indices");
  Tensor Values(Op.getType("dtype"), {2});
  Values.setF(1, 1.0);
  std::string V = C.constant(Values, H + "_values");
  attrInt(C.node("OneHot", {Idx, Depth, V}, Out), "axis", -1);
  return std::nullopt;
}

Why OpWriter::random(bool Normal) {
  if (Op.numOperands() == 2)
    return "a run-time seed operand has no ONNX equivalent";
  DType E = Op.getType("dtype");
  if (!isFloat(E))
    return "ONNX random ops make floats only, not " + dtypeName(E).str();
  bool Like = Op.numOperands() == 1;
  std::string Type = std::string(Normal ? "RandomNormal" : "RandomUniform") +
                     (Like ? "Like" : "");
  onnx::NodeProto &N = Like ? C.node(Type, {in(0)}, Out) : C.node(Type, {}, Out);
  attrInt(N, "dtype", onnxTypeCode(E));
  attrFloat(N, "seed", double(Op.getInt("seed")));
  if (Normal) {
    attrFloat(N, "mean", Op.getFloat("mean"));
    attrFloat(N, "scale", Op.getFloat("scale"));
  } else {
    attrFloat(N, "low", Op.getFloat("low"));
    attrFloat(N, "high", Op.getFloat("high"));
  }
  if (!Like)
    attrInts(N, "shape", Op.getInts("shape"));
  return std::nullopt;
}

Why OpWriter::reduceLoss(const std::string &X) {
  llvm::StringRef R = Op.getString("reduction");
  if (R == "none") {
    C.node("Identity", {X}, Out);
    return std::nullopt;
  }
  attrInt(C.node(R == "sum" ? "ReduceSum" : "ReduceMean", {X}, Out),
          "keepdims", 0);
  return std::nullopt;
}

/// resize_coords from the input's shape: Range over the output length,
/// then the coordinate formula, in double.
void OpWriter::resizeCoords() {
  std::string H = Out[0];
  int64_t Axis = Op.getInt("axis"), Size = Op.getInt("size");
  llvm::StringRef Mode = Op.getString("mode");
  if (Axis < 0) // the verifier has checked the range
    Axis += Op.operand(0)->Type.rank();
  const Dim &D = Op.operand(0)->Type.dim(Axis);
  if (D.isStatic()) { // the coordinates as a constant
    int64_t InN = D.size(), OutN = Op.result()->Type.dim(0).size();
    double Scale = Size ? double(OutN) / double(InN) : Op.getFloat("scale");
    Tensor T(DType::F64, {OutN});
    for (int64_t I = 0; I < OutN; ++I)
      T.setF(I, resizeSourceCoord(Mode, double(I), Scale, InN, OutN,
                                  Op.getFloat("roi_start"),
                                  Op.getFloat("roi_end")));
    C.node("Identity", {C.constant(T, H + "_coords")}, Out);
    return;
  }
  onnx::NodeProto &Sh = C.node("Shape", {in(0)}, {C.unique(H + "_dim")});
  attrInt(Sh, "start", Axis);
  attrInt(Sh, "end", Axis + 1);
  auto Double = [&](const std::string &V, llvm::StringRef Hint) {
    std::string R = C.unique(H + Hint.str());
    attrInt(C.node("Cast", {V}, {R}), "to", onnx::TensorProto::DOUBLE);
    return R;
  };
  auto Num = [&](double V) { return C.scalar(DType::F64, V, H + "_c"); };
  auto Bin = [&](llvm::StringRef K, const std::string &A, const std::string &B) {
    return C.tmp(K, {A, B}, H + "_t");
  };
  std::string In = Double(Sh.output(0), "_in");
  std::string OutN, Scale;
  if (Size) {
    OutN = Num(double(Size));
    Scale = Bin("Div", OutN, In);
  } else {
    Scale = Num(Op.getFloat("scale"));
    OutN = C.tmp("Floor", {Bin("Mul", In, Scale)}, H + "_n");
  }
  std::string Count; // the i64 scalar count for Range
  if (Size) {
    Count = C.scalar(DType::I64, double(Size), H + "_count");
  } else {
    Count = C.unique(H + "_count");
    attrInt(C.node("Cast", {C.tmp("Squeeze", {OutN}, H + "_s")}, {Count}), "to",
            onnx::TensorProto::INT64);
  }
  std::string I = Double(C.tmp("Range", {C.scalar(DType::I64, 0, H + "_zero"),
                                         Count,
                                         C.scalar(DType::I64, 1, H + "_one")},
                               H + "_range"),
                         "_i");
  std::string S;
  if (Mode == "asymmetric")
    S = Bin("Div", I, Scale);
  else if (Mode == "align_corners")
    S = Bin("Div", Bin("Mul", I, Bin("Sub", In, Num(1))),
            Bin("Sub", Bin("Mul", In, Scale), Num(1)));
  else if (Mode == "tf_crop_and_resize") {
    double R0 = Op.getFloat("roi_start"), R1 = Op.getFloat("roi_end");
    std::string Last = Bin("Sub", In, Num(1));
    std::string Span = Bin("Mul", Num(R1 - R0), Last);
    std::string Width = Bin("Mul", In, Scale);
    S = C.tmp("Where",
              {Bin("Equal", Width, Num(1)), Bin("Div", Span, Num(2)),
               Bin("Div", Bin("Mul", I, Span), Bin("Sub", Width, Num(1)))},
              H + "_t");
    S = Bin("Add", S, Bin("Mul", Num(R0), Last));
  } else if (Mode == "half_pixel_symmetric") {
    std::string Width = Bin("Mul", In, Scale);
    std::string Shift = Bin("Mul", Bin("Div", In, Num(2)),
                            Bin("Sub", Num(1), Bin("Div", OutN, Width)));
    S = Bin("Add", Shift,
            Bin("Sub", Bin("Div", Bin("Add", I, Num(0.5)), Scale), Num(0.5)));
  } else
    S = Bin("Sub", Bin("Div", Bin("Add", I, Num(0.5)), Scale), Num(0.5));
  if (Mode == "align_corners" || Mode == "pytorch_half_pixel")
    C.node("Where", {Bin("Equal", OutN, Num(1)), Num(0), S}, Out);
  else
    C.node("Identity", {S}, Out);
}

Why OpWriter::loss() {
  std::string H = Out[0];
  DType E = elem(0);
  OpKind K = Op.kind();
  if (K == OpKind::SoftmaxCrossEntropy || K == OpKind::NllLoss) {
    if (isFloat(elem(1)))
      return "ONNX's loss takes integer labels, not probabilities " +
             Op.operand(1)->Type.str();
    attrString(same(K == OpKind::NllLoss ? "NegativeLogLikelihoodLoss"
                                         : "SoftmaxCrossEntropyLoss"),
               "reduction", Op.getString("reduction"));
    return std::nullopt;
  }
  if (K == OpKind::MseLoss) {
    std::string D = C.tmp("Sub", {in(0), in(1)}, H + "_diff");
    return reduceLoss(C.tmp("Mul", {D, D}, H + "_sq"));
  }
  assert(K == OpKind::BceLoss && "not a loss");
  // -(t * max(log p, -100) + (1 - t) * max(log(1 - p), -100))
  std::string One = C.scalar(E, 1.0, H + "_one");
  std::string Floor = C.scalar(E, -100.0, H + "_floor");
  std::string LogP = C.tmp("Max", {C.tmp("Log", {in(0)}, H + "_logp"), Floor},
                           H + "_logp_clamped");
  std::string Q = C.tmp("Sub", {One, in(0)}, H + "_q");
  std::string LogQ = C.tmp("Max", {C.tmp("Log", {Q}, H + "_logq"), Floor},
                           H + "_logq_clamped");
  std::string A = C.tmp("Mul", {in(1), LogP}, H + "_pos");
  std::string NT = C.tmp("Sub", {One, in(1)}, H + "_nt");
  std::string B = C.tmp("Mul", {NT, LogQ}, H + "_neg");
  std::string Sum = C.tmp("Add", {A, B}, H + "_sum");
  return reduceLoss(C.tmp("Neg", {Sum}, H + "_each"));
}

Why OpWriter::write() {
  switch (Op.kind()) {
  // Ops with one ONNX twin taking the same operands and no attributes.
  case OpKind::Neg: same("Neg"); break;
  case OpKind::Abs: same("Abs"); break;
  case OpKind::Exp: same("Exp"); break;
  case OpKind::Log: same("Log"); break;
  case OpKind::Sqrt: same("Sqrt"); break;
  case OpKind::Reciprocal: same("Reciprocal"); break;
  case OpKind::Tanh: same("Tanh"); break;
  case OpKind::Sigmoid: same("Sigmoid"); break;
  case OpKind::Relu: same("Relu"); break;
  case OpKind::Erf: same("Erf"); break;
  case OpKind::Softplus: same("Softplus"); break;
  case OpKind::Sign: same("Sign"); break;
  case OpKind::Floor: same("Floor"); break;
  case OpKind::Ceil: same("Ceil"); break;
  case OpKind::Round: same("Round"); break;
  case OpKind::Sin: same("Sin"); break;
  case OpKind::Cos: same("Cos"); break;
  case OpKind::Atan: same("Atan"); break;
  case OpKind::Not: same(elem(0) == DType::Bool ? "Not" : "BitwiseNot"); break;
  case OpKind::Identity: same("Identity"); break;
  case OpKind::Add: same("Add"); break;
  case OpKind::Sub: same("Sub"); break;
  case OpKind::Mul: same("Mul"); break;
  case OpKind::Div: same("Div"); break;
  case OpKind::Pow: same("Pow"); break;
  case OpKind::Max: same("Max"); break;
  case OpKind::Min: same("Min"); break;
  case OpKind::And: same(elem(0) == DType::Bool ? "And" : "BitwiseAnd"); break;
  case OpKind::Or: same(elem(0) == DType::Bool ? "Or" : "BitwiseOr"); break;
  case OpKind::Xor: same(elem(0) == DType::Bool ? "Xor" : "BitwiseXor"); break;
  case OpKind::Equal: same("Equal"); break;
  case OpKind::Less: same("Less"); break;
  case OpKind::LessEqual: same("LessOrEqual"); break;
  case OpKind::Greater: same("Greater"); break;
  case OpKind::GreaterEqual: same("GreaterOrEqual"); break;
  case OpKind::Where: same("Where"); break;
  case OpKind::MatMul: same("MatMul"); break;
  case OpKind::GlobalAvgPool: same("GlobalAveragePool"); break;
  case OpKind::GlobalMaxPool: same("GlobalMaxPool"); break;
  case OpKind::Gather: attrInt(same("Gather"), "axis", Op.getInt("axis")); break;
  case OpKind::ShapeOf: same("Shape"); break;

  case OpKind::Rsqrt:
    C.node("Reciprocal", {C.tmp("Sqrt", {in(0)}, Out[0] + "_sqrt")}, Out);
    break;
  case OpKind::LeakyRelu:
  case OpKind::Elu:
    attrFloat(same(Op.kind() == OpKind::Elu ? "Elu" : "LeakyRelu"), "alpha",
              Op.getFloat("alpha"));
    break;
  case OpKind::Gelu:
    attrString(same("Gelu"), "approximate", Op.getString("approximate"));
    break;
  case OpKind::Clip:
    return clip();
  case OpKind::Cast: {
    onnx::NodeProto &N = same("Cast");
    attrInt(N, "to", onnxTypeCode(Op.getType("to")));
    if (!Op.getBool("saturate"))
      attrInt(N, "saturate", 0);
    if (Op.getString("round_mode") != "up")
      attrString(N, "round_mode", Op.getString("round_mode"));
    break;
  }

  case OpKind::ReduceSum: return reduce("ReduceSum");
  case OpKind::ReduceMean: return reduce("ReduceMean");
  case OpKind::ReduceMax: return reduce("ReduceMax");
  case OpKind::ReduceMin: return reduce("ReduceMin");
  case OpKind::ReduceProd: return reduce("ReduceProd");
  case OpKind::ReduceLogSumExp: return reduce("ReduceLogSumExp");
  case OpKind::ArgMax:
  case OpKind::ArgMin: {
    onnx::NodeProto &N = same(Op.kind() == OpKind::ArgMax ? "ArgMax" : "ArgMin");
    attrInt(N, "axis", Op.getInt("axis"));
    attrInt(N, "keepdims", Op.getBool("keepdims"));
    attrInt(N, "select_last_index", Op.getBool("select_last_index"));
    break;
  }

  case OpKind::Gemm: {
    onnx::NodeProto &N = same("Gemm");
    attrFloat(N, "alpha", Op.getFloat("alpha"));
    attrFloat(N, "beta", Op.getFloat("beta"));
    attrInt(N, "transA", Op.getBool("trans_a"));
    attrInt(N, "transB", Op.getBool("trans_b"));
    break;
  }
  case OpKind::Conv:
  case OpKind::ConvTranspose: {
    bool T = Op.kind() == OpKind::ConvTranspose;
    onnx::NodeProto &N = same(T ? "ConvTranspose" : "Conv");
    attrIntsIfAny(N, "strides", Op.getInts("strides"));
    attrIntsIfAny(N, "pads", Op.getInts("pads"));
    attrIntsIfAny(N, "dilations", Op.getInts("dilations"));
    if (T)
      attrIntsIfAny(N, "output_padding", Op.getInts("output_padding"));
    attrInt(N, "group", Op.getInt("group"));
    break;
  }
  case OpKind::If: case OpKind::Loop: case OpKind::Scan:
    return exportControlFlow(C, Op);
  case OpKind::AllReduceSum:
    return std::string("all_reduce_sum (synchronized batch norm in "
                       "data-parallel training) has no ONNX equivalent");
  case OpKind::Im2Col:
    return std::string("im2col (made by the conv-to-gemm pass) has no ONNX "
                       "equivalent; export the model before optimization");
  case OpKind::MaxPoolGrad:
    return std::string("max_pool_grad (made by autodiff) has no ONNX "
                       "equivalent; export the forward model");
  case OpKind::MaxPool:
  case OpKind::AvgPool: {
    bool Max = Op.kind() == OpKind::MaxPool;
    onnx::NodeProto &N = same(Max ? "MaxPool" : "AveragePool");
    attrInts(N, "kernel_shape", Op.getInts("kernel"));
    attrIntsIfAny(N, "strides", Op.getInts("strides"));
    attrIntsIfAny(N, "pads", Op.getInts("pads"));
    if (Max)
      attrIntsIfAny(N, "dilations", Op.getInts("dilations"));
    else
      attrInt(N, "count_include_pad", Op.getBool("count_include_pad"));
    attrInt(N, "ceil_mode", Op.getBool("ceil_mode"));
    break;
  }

  case OpKind::BatchNorm: {
    onnx::NodeProto &N = same("BatchNormalization");
    attrFloat(N, "epsilon", Op.getFloat("epsilon"));
    if (const Attribute *M = Op.findAttr("momentum"))
      attrFloat(N, "momentum", M->getFloat());
    if (Op.getBool("training"))
      attrInt(N, "training_mode", 1);
    break;
  }
  case OpKind::LayerNorm:
    return layerNorm();
  case OpKind::Softmax:
  case OpKind::LogSoftmax:
    attrInt(same(Op.kind() == OpKind::Softmax ? "Softmax" : "LogSoftmax"),
            "axis", Op.getInt("axis"));
    break;
  case OpKind::Dropout: {
    // Inference form: no training_mode input, so the output is x. Switched
    // on (training = true): training_mode is a constant true. A run-time
    // seed operand has no ONNX form; the seed attribute stays.
    std::string Ratio = C.scalar(elem(0), Op.getFloat("ratio"), Out[0] + "_ratio");
    std::vector<std::string> Ins = {in(0), Ratio};
    if (Op.getBool("training"))
      Ins.push_back(C.scalar(DType::Bool, 1, Out[0] + "_training"));
    attrInt(C.node("Dropout", Ins, Out), "seed", Op.getInt("seed"));
    break;
  }

  case OpKind::Reshape: {
    std::string Shape;
    if (Op.numOperands() == 2 && Op.getBool("by_value"))
      Shape = in(1); // the shape's values
    else if (Op.numOperands() == 2) // the shape of a "like" operand
      Shape = C.tmp("Shape", {in(1)}, Out[0] + "_shape");
    else
      Shape = C.ints(Op.getInts("shape"), Out[0] + "_shape");
    onnx::NodeProto &N = C.node("Reshape", {in(0), Shape}, Out);
    if (Op.getBool("allowzero"))
      attrInt(N, "allowzero", 1);
    break;
  }
  case OpKind::ResizeCoords:
    resizeCoords();
    break;
  case OpKind::Iota: {
    const TensorType &T = Op.operand(0)->Type;
    int64_t Axis = Op.getInt("axis");
    std::string H = Out[0];
    std::string Shape = C.tmp("Shape", {in(0)}, H + "_shape");
    std::string Col;
    if (T.dim(Axis).isStatic()) { // [0, n) with every other axis of size 1
      std::vector<int64_t> Seq(T.dim(Axis).size()), Along(T.rank(), 1);
      for (size_t I = 0; I < Seq.size(); ++I)
        Seq[I] = int64_t(I);
      Along[Axis] = -1;
      Col = C.tmp("Reshape", {C.ints(Seq, H + "_seq"), C.ints(Along, H + "_along")},
                  H + "_col");
    } else { // cumulative sum of ones along the axis, minus one
      onnx::AttributeProto &V =
          *C.node("ConstantOfShape", {Shape}, {H + "_ones"}).add_attribute();
      V.set_name("value");
      V.set_type(onnx::AttributeProto::TENSOR);
      Tensor One(DType::I64, {1});
      One.setI(0, 1);
      tensorToProto(One, "", *V.mutable_t());
      std::string Sum = C.tmp("CumSum", {H + "_ones", C.ints({Axis}, H + "_axis")},
                              H + "_sum");
      Col = C.tmp("Sub", {Sum, C.scalar(DType::I64, 1, H + "_one")}, H + "_col");
    }
    C.node("Expand", {Col, Shape}, Out);
    break;
  }
  case OpKind::Transpose:
    attrIntsIfAny(same("Transpose"), "perm", Op.getInts("perm"));
    break;
  case OpKind::Flatten:
    attrInt(same("Flatten"), "axis", Op.getInt("axis"));
    break;
  case OpKind::Squeeze:
  case OpKind::Unsqueeze: {
    bool Sq = Op.kind() == OpKind::Squeeze;
    std::vector<std::string> Ins{in(0)};
    if (!Sq || !Op.getInts("axes").empty())
      Ins.push_back(C.ints(Op.getInts("axes"), Out[0] + "_axes"));
    C.node(Sq ? "Squeeze" : "Unsqueeze", Ins, Out);
    break;
  }
  case OpKind::Concat:
    attrInt(same("Concat"), "axis", Op.getInt("axis"));
    break;
  case OpKind::Split:
    if (Op.getInt("parts") > 0) { // ONNX's even split is the same rule
      onnx::NodeProto &N = C.node("Split", {in(0)}, Out);
      attrInt(N, "axis", Op.getInt("axis"));
      attrInt(N, "num_outputs", Op.getInt("parts"));
    } else
      attrInt(C.node("Split",
                     {in(0), C.ints(Op.getInts("sizes"), Out[0] + "_sizes")},
                     Out),
              "axis", Op.getInt("axis"));
    break;
  case OpKind::Slice:
    return slice();
  case OpKind::Pad: {
    llvm::StringRef Mode = Op.getString("mode");
    std::vector<std::string> Ins{in(0), C.ints(Op.getInts("pads"), Out[0] + "_pads")};
    if (Mode == "constant")
      Ins.push_back(C.scalar(elem(0), Op.getFloat("value"), Out[0] + "_value"));
    attrString(C.node("Pad", Ins, Out), "mode", Mode);
    break;
  }
  case OpKind::Expand:
    return expand();
  case OpKind::Tile:
    C.node("Tile", {in(0), C.ints(Op.getInts("repeats"), Out[0] + "_repeats")},
           Out);
    break;
  case OpKind::OneHot:
    return oneHot();

  case OpKind::Constant: {
    const TensorRef &T = Op.attr("value").getTensor();
    onnx::NodeProto &N = C.node("Constant", {}, Out);
    onnx::AttributeProto &A = *N.add_attribute();
    A.set_name("value");
    A.set_type(onnx::AttributeProto::TENSOR);
    tensorToProto(*T, "", *A.mutable_t());
    break;
  }
  case OpKind::Range: {
    DType E = Op.getType("dtype");
    C.node("Range",
           {C.scalar(E, Op.getFloat("start"), Out[0] + "_start"),
            C.scalar(E, Op.getFloat("limit"), Out[0] + "_limit"),
            C.scalar(E, Op.getFloat("delta"), Out[0] + "_delta")},
           Out);
    break;
  }
  case OpKind::RandomUniform: return random(/*Normal=*/false);
  case OpKind::RandomNormal: return random(/*Normal=*/true);

  case OpKind::SoftmaxCrossEntropy:
  case OpKind::NllLoss:
  case OpKind::MseLoss:
  case OpKind::BceLoss:
    return loss();
  case OpKind::StringNormalizer: {
    onnx::NodeProto &N = same("StringNormalizer");
    attrString(N, "case_change_action", Op.getString("case_change_action"));
    attrInt(N, "is_case_sensitive", Op.getBool("is_case_sensitive"));
    if (!Op.attr("stopwords").getStrings().empty()) {
      onnx::AttributeProto &A = *N.add_attribute();
      A.set_name("stopwords");
      A.set_type(onnx::AttributeProto::STRINGS);
      for (const std::string &W : Op.attr("stopwords").getStrings())
        A.add_strings(W);
    }
    break;
  }
  case OpKind::StringConcat: same("StringConcat"); break;
  case OpKind::StringSplit: {
    onnx::NodeProto &N = same("StringSplit");
    if (!Op.getString("delimiter").empty())
      attrString(N, "delimiter", Op.getString("delimiter"));
    if (Op.getInt("maxsplit") >= 0)
      attrInt(N, "maxsplit", Op.getInt("maxsplit"));
    break;
  }
  case OpKind::RegexFullMatch:
    attrString(same("RegexFullMatch"), "pattern", Op.getString("pattern"));
    break;
  case OpKind::BitCast:
    return std::string("bitcast has no ONNX equivalent before opset 26 (the "
                       "exporter writes opset 21)");
  case OpKind::NonZero: same("NonZero"); break;
  case OpKind::Unique: {
    onnx::NodeProto &N = same("Unique");
    attrInt(N, "sorted", Op.getBool("sorted"));
    if (const Attribute *A = Op.findAttr("axis"))
      attrInt(N, "axis", A->getInt());
    break;
  }
  case OpKind::NonMaxSuppression: {
    std::vector<std::string> Ins = {
        in(0), in(1),
        C.scalar(DType::I64, double(Op.getInt("max_output")), Out[0] + "_max"),
        C.scalar(DType::F32, Op.getFloat("iou_threshold"), Out[0] + "_iou")};
    if (const Attribute *A = Op.findAttr("score_threshold"))
      Ins.push_back(C.scalar(DType::F32, A->getFloat(), Out[0] + "_score"));
    attrInt(C.node("NonMaxSuppression", Ins, Out), "center_point_box",
            Op.getBool("center_point_box"));
    break;
  }
  case OpKind::LabelEncoder: {
    onnx::NodeProto &N = same("LabelEncoder");
    N.set_domain("ai.onnx.ml");
    for (const char *Name : {"keys", "values", "default"}) {
      onnx::AttributeProto &A = *N.add_attribute();
      A.set_name(std::string(Name) + "_tensor");
      A.set_type(onnx::AttributeProto::TENSOR);
      tensorToProto(*Op.attr(Name).getTensor(), "", *A.mutable_t());
    }
    break;
  }
  }
  return std::nullopt;
}

} // namespace

std::optional<std::string> onnxexp::exportOp(ExportContext &C,
                                             const Operation &Op) {
  return OpWriter(C, Op).write();
}
