// ONNX op modes: Attention with nonpad_kv_seqlen, softcap and a short mask;
// Resize's tf_crop_and_resize, half_pixel_symmetric and antialias; Pad's
// wrap. Through dlc::Model with every input given at run time (static and
// forced-dynamic dims, the JIT and the interpreter), at odd sizes, against
// the ONNX semantics written out here as plain loops; their gradients
// (autodiff over the imported ops) against central differences.
#include "OnnxTestUtil.h"

#include "api/Model.h"
#include "interp/Interpreter.h"
#include "passes/Autodiff.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

using namespace dlc;
using namespace onnx_test;

namespace {

/// A tensor of Shape with deterministic values in [-1, 1).
Tensor wave(std::vector<int64_t> Shape, double Phase, DType E = DType::F32) {
  Tensor T(E, Shape);
  for (int64_t I = 0; I < T.numElements(); ++I)
    T.setF(I, std::sin(0.7 * double(I) + Phase));
  return T;
}

struct Engine {
  const char *Name;
  bool Dynamic;
};
const Engine Engines[] = {
    {"jit", false}, {"jit", true}, {"interp", false}, {"interp", true}};

/// Runs the model in every engine and mode; each output must match Want
/// (the same length) within 1e-4 relative.
void expectRuns(const onnx::ModelProto &MP, const std::vector<Tensor> &In,
                const std::vector<Tensor> &Want) {
  TempModel T(MP);
  for (const Engine &E : Engines) {
    ModelOptions O;
    O.Engine = E.Name;
    O.OptLevel = 1;
    O.Threads = 1;
    O.ForceDynamic = E.Dynamic;
    std::string What =
        std::string(E.Name) + (E.Dynamic ? " dynamic" : " static");
    auto M = Model::fromFile(T.Path, O);
    ASSERT_TRUE(!!M) << What << ": " << llvm::toString(M.takeError());
    auto R = M->run(In);
    ASSERT_TRUE(!!R) << What << ": " << llvm::toString(R.takeError());
    ASSERT_EQ(R->size(), Want.size()) << What;
    for (size_t K = 0; K < Want.size(); ++K) {
      const Tensor &G = (*R)[K];
      ASSERT_EQ(G.shape(), Want[K].shape()) << What << " output " << K;
      for (int64_t I = 0; I < G.numElements(); ++I) {
        double A = G.getF(I), B = Want[K].getF(I);
        ASSERT_NEAR(A, B, 1e-5 + 1e-4 * std::fabs(B))
            << What << " output " << K << " element " << I;
      }
    }
  }
}

void addAttr(onnx::NodeProto *N, const std::string &Name, int64_t V) {
  auto *A = N->add_attribute();
  A->set_name(Name);
  A->set_type(onnx::AttributeProto::INT);
  A->set_i(V);
}

void addAttr(onnx::NodeProto *N, const std::string &Name, float V) {
  auto *A = N->add_attribute();
  A->set_name(Name);
  A->set_type(onnx::AttributeProto::FLOAT);
  A->set_f(V);
}

void addAttr(onnx::NodeProto *N, const std::string &Name, const char *V) {
  auto *A = N->add_attribute();
  A->set_name(Name);
  A->set_type(onnx::AttributeProto::STRING);
  A->set_s(V);
}

void addAttr(onnx::NodeProto *N, const std::string &Name,
             std::vector<int64_t> V) {
  auto *A = N->add_attribute();
  A->set_name(Name);
  A->set_type(onnx::AttributeProto::INTS);
  for (int64_t X : V)
    A->add_ints(X);
}

// ----- Attention -------------------------------------------------------------

constexpr int64_t B = 3, Hq = 6, Hkv = 3, Sq = 5, L = 7, D = 3, ML = 4;
constexpr double Cap = 1.5;

/// Attention (is_causal, softcap) on Q [B,Hq,Sq,D], K and V [B,Hkv,L,D], a
/// float mask [Sq, ML] (ML < L: the rest is -inf) and nonpad_kv_seqlen:
/// output 0 is Y, output 1 the softcapped scores (mode 1).
std::vector<Tensor> attentionRef(const Tensor &Q, const Tensor &K,
                                 const Tensor &V, const Tensor &Mask,
                                 const std::vector<int64_t> &NonPad) {
  Tensor Y(DType::F32, {B, Hq, Sq, D}), QK(DType::F32, {B, Hq, Sq, L});
  double Scale = 1 / std::sqrt(double(D));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h) {
      int64_t kh = h / (Hq / Hkv);
      for (int64_t i = 0; i < Sq; ++i) {
        std::vector<double> S(L), Bias(L);
        bool Any = false;
        for (int64_t j = 0; j < L; ++j) {
          double Dot = 0;
          for (int64_t d = 0; d < D; ++d)
            Dot += Q.getF(((b * Hq + h) * Sq + i) * D + d) *
                   K.getF(((b * Hkv + kh) * L + j) * D + d);
          double Capped = std::tanh(Dot * Scale / Cap) * Cap;
          QK.setF(((b * Hq + h) * Sq + i) * L + j, Capped);
          double M = j < ML ? Mask.getF(i * ML + j) : -INFINITY;
          bool Causal = j <= i + NonPad[b] - Sq;
          bool Valid = j < NonPad[b];
          Bias[j] = Causal && Valid ? M : -INFINITY;
          S[j] = Capped + Bias[j];
          Any |= Bias[j] != -INFINITY;
        }
        double Top = -INFINITY, Sum = 0;
        for (double X : S)
          Top = std::max(Top, X);
        for (double &X : S)
          Sum += (X = Any ? std::exp(X - Top) : 0);
        for (int64_t d = 0; d < D; ++d) {
          double Acc = 0;
          for (int64_t j = 0; j < L; ++j)
            if (Any)
              Acc += S[j] / Sum * V.getF(((b * Hkv + kh) * L + j) * D + d);
          Y.setF(((b * Hq + h) * Sq + i) * D + d, Acc);
        }
      }
    }
  return {Y, QK};
}

onnx::ModelProto attentionModel(int Type = onnx::TensorProto::FLOAT) {
  onnx::ModelProto M = baseModel(24);
  auto &G = *M.mutable_graph();
  addTensorInput(G, "q", {B, Hq, Sq, D}, Type);
  addTensorInput(G, "k", {B, Hkv, L, D}, Type);
  addTensorInput(G, "v", {B, Hkv, L, D}, Type);
  addTensorInput(G, "mask", {Sq, ML}, Type);
  addTensorInput(G, "nonpad", {B}, onnx::TensorProto::INT64);
  auto *N = addNode(G, "Attention", {"q", "k", "v", "mask", "", "", "nonpad"},
                    {"y", "", "", "qk"}, "attn");
  addAttr(N, "is_causal", int64_t(1));
  addAttr(N, "softcap", float(Cap));
  addAttr(N, "qk_matmul_output_mode", int64_t(1));
  G.add_output()->set_name("y");
  G.add_output()->set_name("qk");
  return M;
}

/// The imported model's gradient (the sum of output 0's elements, with
/// respect to every float input; autodiff over the ops the converter
/// built) against central differences, in the interpreter, in f64.
void expectGradient(const onnx::ModelProto &MP, const std::vector<Tensor> &In) {
  auto Fwd = importOnnx(MP.SerializeAsString(), "m.onnx");
  auto Grad = importOnnx(MP.SerializeAsString(), "m.onnx");
  ASSERT_TRUE(Fwd && Grad);
  Function &GF = *(*Grad)->Functions.front();
  size_t First = GF.Outputs.size();
  AutodiffOptions O;
  O.WrtInputs = true;
  llvm::Error E = differentiate(GF, O);
  ASSERT_FALSE(!!E) << llvm::toString(std::move(E));
  auto Analytic = interpret(GF, In);
  ASSERT_TRUE(!!Analytic) << llvm::toString(Analytic.takeError());
  auto LossAt = [&](const std::vector<Tensor> &X) {
    auto R = interpret(*(*Fwd)->Functions.front(), X);
    EXPECT_TRUE(!!R);
    double Sum = 0;
    if (R)
      for (int64_t I = 0; I < (*R)[0].numElements(); ++I)
        Sum += (*R)[0].getF(I);
    return Sum;
  };
  size_t Slot = First;
  unsigned Checked = 0;
  for (size_t I = 0; I < In.size(); ++I) {
    if (!isFloat(In[I].elem()))
      continue;
    const Tensor &G = (*Analytic)[Slot++];
    ASSERT_EQ(G.shape(), In[I].shape());
    int64_t N = In[I].numElements(), Step = std::max<int64_t>(1, N / 40);
    for (int64_t Idx = 0; Idx < N; Idx += Step) {
      std::vector<Tensor> Plus = In, Minus = In;
      const double H = 1e-6;
      Plus[I].setF(Idx, In[I].getF(Idx) + H);
      Minus[I].setF(Idx, In[I].getF(Idx) - H);
      double Numeric = (LossAt(Plus) - LossAt(Minus)) / (2 * H);
      ASSERT_NEAR(G.getF(Idx), Numeric, 1e-6 + 1e-5 * std::fabs(Numeric))
          << "d sum(y) / d input " << I << "[" << Idx << "]";
      Checked += Numeric != 0;
    }
  }
  EXPECT_GT(Checked, 0u); // some entries have a gradient
}

} // namespace

TEST(OnnxAttention, NonPadKvSeqLenGradient) {
  std::vector<Tensor> In = {wave({B, Hq, Sq, D}, 0.1, DType::F64),
                            wave({B, Hkv, L, D}, 1.3, DType::F64),
                            wave({B, Hkv, L, D}, 2.9, DType::F64),
                            wave({Sq, ML}, 0.5, DType::F64), i64s({L, 4, 2})};
  expectGradient(attentionModel(onnx::TensorProto::DOUBLE), In);
}

TEST(OnnxAttention, NonPadKvSeqLenWithCausalSoftcapAndShortMask) {
  Tensor Q = wave({B, Hq, Sq, D}, 0.1), K = wave({B, Hkv, L, D}, 1.3),
         V = wave({B, Hkv, L, D}, 2.9), Mask = wave({Sq, ML}, 0.5);
  // Batch 0 sees every key; batch 1 four; batch 2 two, fewer than the
  // queries: its first three rows see no key and are 0.
  std::vector<int64_t> NonPad = {L, 4, 2};
  std::vector<Tensor> Want = attentionRef(Q, K, V, Mask, NonPad);
  // The reference itself: batch 2's first row is zero, its last is not.
  EXPECT_EQ(Want[0].getF(((2 * Hq) * Sq + 0) * D), 0.0);
  EXPECT_NE(Want[0].getF(((2 * Hq) * Sq + Sq - 1) * D), 0.0);
  expectRuns(attentionModel(), {Q, K, V, Mask, i64s(NonPad)}, Want);
}

TEST(OnnxAttention, NonPadKvSeqLenWithPastIsALocatedError) {
  onnx::ModelProto M = baseModel(24);
  auto &G = *M.mutable_graph();
  addTensorInput(G, "q", {1, 2, 3, 4});
  addTensorInput(G, "k", {1, 2, 3, 4});
  addTensorInput(G, "v", {1, 2, 3, 4});
  addTensorInput(G, "pk", {1, 2, 2, 4});
  addTensorInput(G, "pv", {1, 2, 2, 4});
  addTensorInput(G, "nonpad", {1}, onnx::TensorProto::INT64);
  addNode(G, "Attention", {"q", "k", "v", "", "pk", "pv", "nonpad"}, {"y"},
          "attn");
  G.add_output()->set_name("y");
  std::string E = importError(M);
  EXPECT_NE(E.find("node 'attn' (Attention"), std::string::npos) << E;
  EXPECT_NE(E.find("nonpad_kv_seqlen cannot be combined with past_key"),
            std::string::npos)
      << E;
}

// ----- Resize ----------------------------------------------------------------

namespace {

/// One resized axis, written out from the ONNX definition: the source
/// coordinate of output sample O, and the weights of the virtual source
/// indices (clamped to the input when read).
struct AxisRef {
  std::function<double(int64_t)> Coord;
  std::function<double(double)> Kernel; // of the distance in scaled units
  double Support = 1;                   // where Kernel becomes 0
  double KernelScale = 1;               // antialias: min(scale, 1)
  bool Crop = false;
  double Extrapolation = 0;
};

/// X [Rows, In] resized along its last dim to Out samples.
Tensor resizeLast(const Tensor &X, int64_t Out, const AxisRef &A) {
  int64_t Rows = X.shape()[0], In = X.shape()[1];
  Tensor Y(DType::F32, {Rows, Out});
  for (int64_t O = 0; O < Out; ++O) {
    double S = A.Coord(O);
    // Every virtual index within the filter's reach, normalized weights.
    int64_t Reach = int64_t(std::ceil(A.Support / A.KernelScale)) + 1;
    std::vector<std::pair<int64_t, double>> Taps;
    double Sum = 0;
    for (int64_t V = int64_t(std::floor(S)) - Reach;
         V <= int64_t(std::floor(S)) + Reach; ++V) {
      double W = A.Kernel((double(V) - S) * A.KernelScale);
      Taps.push_back({std::clamp<int64_t>(V, 0, In - 1), W});
      Sum += W;
    }
    for (int64_t R = 0; R < Rows; ++R) {
      double Acc = 0;
      for (auto [I, W] : Taps)
        Acc += W / Sum * X.getF(R * In + I);
      if (A.Crop && (S < 0 || S > double(In - 1)))
        Acc = A.Extrapolation;
      Y.setF(R * Out + O, Acc);
    }
  }
  return Y;
}

/// X [Rows, Cols] transposed.
Tensor transpose(const Tensor &X) {
  int64_t R = X.shape()[0], C = X.shape()[1];
  Tensor Y(DType::F32, {C, R});
  for (int64_t I = 0; I < R; ++I)
    for (int64_t J = 0; J < C; ++J)
      Y.setF(J * R + I, X.getF(I * C + J));
  return Y;
}

double linearKernel(double D) { return std::max(0.0, 1 - std::fabs(D)); }

double cubicKernel(double D) { // A = -0.75
  const double A = -0.75;
  D = std::fabs(D);
  if (D <= 1)
    return (A + 2) * D * D * D - (A + 3) * D * D + 1;
  if (D < 2)
    return A * D * D * D - 5 * A * D * D + 8 * A * D - 4 * A;
  return 0;
}

/// Resize of X [1, 1, H, W] to [1, 1, OH, OW] (rows then columns).
Tensor resize2d(const Tensor &X, int64_t OH, int64_t OW, const AxisRef &Rows,
                const AxisRef &Cols) {
  int64_t H = X.shape()[2], W = X.shape()[3];
  Tensor Flat(DType::F32, {H, W});
  for (int64_t I = 0; I < H * W; ++I)
    Flat.setF(I, X.getF(I));
  Tensor T = resizeLast(transpose(Flat), OH, Rows); // [W, OH]
  Tensor Y = resizeLast(transpose(T), OW, Cols);    // [OH, OW]
  Tensor Out(DType::F32, {1, 1, OH, OW});
  for (int64_t I = 0; I < OH * OW; ++I)
    Out.setF(I, Y.getF(I));
  return Out;
}

onnx::ModelProto resizeModel(int64_t H, int64_t W, bool Roi, bool Sizes,
                             std::vector<int64_t> Axes = {}) {
  onnx::ModelProto M = baseModel(19);
  auto &G = *M.mutable_graph();
  int64_t N = Axes.empty() ? 4 : int64_t(Axes.size());
  addTensorInput(G, "x", {1, 1, H, W});
  if (Roi)
    addTensorInput(G, "roi", {2 * N});
  if (Sizes)
    addTensorInput(G, "sizes", {N}, onnx::TensorProto::INT64);
  else
    addTensorInput(G, "scales", {N});
  auto *Node = addNode(
      G, "Resize",
      {"x", Roi ? "roi" : "", Sizes ? "" : "scales", Sizes ? "sizes" : ""},
      {"y"}, "resize");
  if (!Axes.empty())
    addAttr(Node, "axes", Axes);
  G.add_output()->set_name("y");
  return M;
}

onnx::NodeProto *resizeNode(onnx::ModelProto &M) {
  return M.mutable_graph()->mutable_node(0);
}

} // namespace

TEST(OnnxResize, TfCropAndResizeWithExtrapolation) {
  const int64_t H = 5, W = 7, OH = 4, OW = 9;
  const double R0h = 0.2, R1h = 0.9, R0w = -0.1, R1w = 1.3;
  onnx::ModelProto M = resizeModel(H, W, true, true, {2, 3});
  addAttr(resizeNode(M), "mode", "linear");
  addAttr(resizeNode(M), "coordinate_transformation_mode",
          "tf_crop_and_resize");
  addAttr(resizeNode(M), "extrapolation_value", 10.0f);
  Tensor X = wave({1, 1, H, W}, 0.3);
  auto crop = [](double R0, double R1, int64_t In, int64_t Out) {
    AxisRef A;
    A.Coord = [=](int64_t O) {
      return R0 * double(In - 1) +
             double(O) * (R1 - R0) * double(In - 1) / double(Out - 1);
    };
    A.Kernel = linearKernel;
    A.Crop = true;
    A.Extrapolation = 10;
    return A;
  };
  Tensor Want =
      resize2d(X, OH, OW, crop(R0h, R1h, H, OH), crop(R0w, R1w, W, OW));
  // Columns left of 0 and right of W - 1 take the extrapolation value.
  EXPECT_EQ(Want.getF(0), 10.0);
  EXPECT_EQ(Want.getF(OW - 1), 10.0);
  EXPECT_NE(Want.getF(OW / 2), 10.0);
  expectRuns(M, {X, f32s({4}, {R0h, R0w, R1h, R1w}), i64s({OH, OW})}, {Want});
}

TEST(OnnxResize, HalfPixelSymmetric) {
  const int64_t H = 3, W = 5;
  const double Sh = 2.3, Sw = 0.7;
  const int64_t OH = int64_t(H * Sh), OW = int64_t(W * Sw); // 6, 3
  onnx::ModelProto M = resizeModel(H, W, false, false);
  addAttr(resizeNode(M), "mode", "linear");
  addAttr(resizeNode(M), "coordinate_transformation_mode",
          "half_pixel_symmetric");
  Tensor X = wave({1, 1, H, W}, 1.1);
  auto sym = [](double S, int64_t In, int64_t Out) {
    AxisRef A;
    A.Coord = [=](int64_t O) {
      double Width = S * double(In);
      double Offset = double(In) / 2 * (1 - double(Out) / Width);
      return Offset + (double(O) + 0.5) / S - 0.5;
    };
    A.Kernel = linearKernel;
    return A;
  };
  Tensor Want = resize2d(X, OH, OW, sym(Sh, H, OH), sym(Sw, W, OW));
  expectRuns(M, {X, f32s({4}, {1, 1, Sh, Sw})}, {Want});
}

TEST(OnnxResize, AntialiasLinearAndCubicDownsampling) {
  const int64_t H = 9, W = 11;
  for (const char *Mode : {"linear", "cubic"}) {
    // By scales (0.45, 0.3) and by sizes (the same output, scale Out / In).
    for (bool Sizes : {false, true}) {
      const double Sh = Sizes ? 4.0 / 9 : 0.45, Sw = Sizes ? 3.0 / 11 : 0.3;
      const int64_t OH = 4, OW = 3;
      onnx::ModelProto M = resizeModel(H, W, false, Sizes);
      addAttr(resizeNode(M), "mode", Mode);
      addAttr(resizeNode(M), "antialias", int64_t(1));
      Tensor X = wave({1, 1, H, W}, 2.2);
      bool Cubic = std::string(Mode) == "cubic";
      auto aa = [&](double S) {
        AxisRef A;
        A.Coord = [=](int64_t O) { return (double(O) + 0.5) / S - 0.5; };
        A.Kernel = Cubic ? cubicKernel : linearKernel;
        A.Support = Cubic ? 2 : 1;
        A.KernelScale = S;
        return A;
      };
      Tensor Want = resize2d(X, OH, OW, aa(Sh), aa(Sw));
      SCOPED_TRACE(std::string(Mode) + (Sizes ? " sizes" : " scales"));
      expectRuns(M,
                 {X, Sizes ? i64s({1, 1, OH, OW}) : f32s({4}, {1, 1, Sh, Sw})},
                 {Want});
    }
  }
}

TEST(OnnxResize, BadRoiIsALocatedError) {
  onnx::ModelProto M = resizeModel(4, 4, true, true);
  addAttr(resizeNode(M), "mode", "linear");
  addAttr(resizeNode(M), "coordinate_transformation_mode",
          "tf_crop_and_resize");
  TempModel T(M);
  ModelOptions O;
  O.Engine = "jit";
  auto Mod = Model::fromFile(T.Path, O);
  ASSERT_TRUE(!!Mod) << llvm::toString(Mod.takeError());
  // Six values for a rank-4 input.
  auto R = Mod->run({wave({1, 1, 4, 4}, 0), f32s({6}, {0, 0, 0, 1, 1, 1}),
                     i64s({1, 1, 3, 3})});
  ASSERT_FALSE(!!R);
  std::string E = llvm::toString(R.takeError());
  EXPECT_NE(E.find("node 'resize' (Resize"), std::string::npos) << E;
  EXPECT_NE(E.find("roi must have 8 values"), std::string::npos) << E;
}

// ----- Pad -------------------------------------------------------------------

TEST(OnnxPad, WrapRepeatsAndCrops) {
  // X [3, 5]: rows padded 4 before (more than the dim: it repeats) and 1
  // after; columns cropped by 2 before and padded 6 after.
  const int64_t H = 3, W = 5;
  const std::vector<int64_t> Pads = {4, -2, 1, 6};
  onnx::ModelProto M = baseModel(19);
  auto &G = *M.mutable_graph();
  addTensorInput(G, "x", {H, W});
  addTensorInput(G, "pads", {4}, onnx::TensorProto::INT64);
  auto *N = addNode(G, "Pad", {"x", "pads"}, {"y"}, "pad");
  addAttr(N, "mode", "wrap");
  G.add_output()->set_name("y");
  Tensor X = wave({H, W}, 0.4);
  int64_t OH = H + Pads[0] + Pads[2], OW = W + Pads[1] + Pads[3];
  Tensor Want(DType::F32, {OH, OW});
  auto wrap = [](int64_t I, int64_t N) { return ((I % N) + N) % N; };
  for (int64_t I = 0; I < OH; ++I)
    for (int64_t J = 0; J < OW; ++J)
      Want.setF(I * OW + J,
                X.getF(wrap(I - Pads[0], H) * W + wrap(J - Pads[1], W)));
  expectRuns(M, {X, i64s(Pads)}, {Want});
}

TEST(OnnxResize, AntialiasAndCropGradients) {
  // Cubic antialias by scales, and linear tf_crop_and_resize by sizes and
  // roi, their operands as initializers; f64 data.
  for (bool Crop : {false, true}) {
    onnx::ModelProto M = resizeModel(9, 11, Crop, Crop);
    auto &G = *M.mutable_graph();
    auto *X = G.mutable_input(0)->mutable_type()->mutable_tensor_type();
    X->set_elem_type(onnx::TensorProto::DOUBLE);
    // The operands become initializers (graph inputs 1.. are dropped).
    while (G.input_size() > 1)
      G.mutable_input()->RemoveLast();
    auto init = [&](const char *Name, int Type, std::vector<double> V) {
      auto *T = G.add_initializer();
      T->set_name(Name);
      T->set_data_type(Type);
      T->add_dims(int64_t(V.size()));
      for (double D : V) {
        if (Type == onnx::TensorProto::INT64)
          T->add_int64_data(int64_t(D));
        else
          T->add_float_data(float(D));
      }
    };
    if (Crop) {
      init("roi", onnx::TensorProto::FLOAT, {0, 0, 0.2, -0.1, 1, 1, 0.9, 1.3});
      init("sizes", onnx::TensorProto::INT64, {1, 1, 4, 9});
      addAttr(resizeNode(M), "mode", "linear");
      addAttr(resizeNode(M), "coordinate_transformation_mode",
              "tf_crop_and_resize");
    } else {
      init("scales", onnx::TensorProto::FLOAT, {1, 1, 0.45, 0.3});
      addAttr(resizeNode(M), "mode", "cubic");
      addAttr(resizeNode(M), "antialias", int64_t(1));
    }
    SCOPED_TRACE(Crop ? "crop" : "antialias");
    expectGradient(M, {wave({1, 1, 9, 11}, 0.7, DType::F64)});
  }
}
