// Reference interpreter, part 2: convolution, pooling, movement, sources,
// losses, edge cases and whole functions against values computed by hand.
#include "InterpreterTestUtil.h"

#include "ir/OpExample.h"
#include "ir/Parser.h"

using namespace dlc;
using namespace dlc::interp_test;

namespace {

TEST(InterpConv, Conv3x3With2x2Kernel) {
  Tensor X = f32({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor W = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  expectF32(run(OpKind::Conv, {X, W}), {1, 1, 2, 2}, {37, 47, 67, 77});
  expectF32(run(OpKind::Conv, {X, W, f32({1}, {1})}), {1, 1, 2, 2},
            {38, 48, 68, 78});
}

TEST(InterpConv, PadsAndStrides) {
  Tensor X = f32({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor W = f32({1, 1, 2, 2}, {1, 1, 1, 1});
  expectF32(run(OpKind::Conv, {X, W},
                {ints("pads", {1, 1, 1, 1}), ints("strides", {2, 2})}),
            {1, 1, 2, 2}, {1, 5, 11, 28});
  // Asymmetric pads: only the left column is padded.
  expectF32(run(OpKind::Conv, {X, W}, {ints("pads", {0, 1, 0, 0})}),
            {1, 1, 2, 3}, {5, 12, 16, 11, 24, 28});
}

TEST(InterpConv, GroupsAndDilations) {
  Tensor X = f32({1, 2, 1, 2}, {1, 2, 3, 4});
  Tensor W = f32({2, 1, 1, 1}, {2, 3});
  expectF32(run(OpKind::Conv, {X, W}, {integer("group", 2)}), {1, 2, 1, 2},
            {2, 4, 9, 12});
  Tensor X1 = f32({1, 1, 5}, {1, 2, 3, 4, 5});
  Tensor W1 = f32({1, 1, 2}, {1, 1});
  expectF32(run(OpKind::Conv, {X1, W1}, {ints("dilations", {2})}), {1, 1, 3},
            {4, 6, 8});
  // Two output channels summing two input channels each.
  Tensor W2 = f32({2, 2, 1, 1}, {1, 1, 1, -1});
  expectF32(run(OpKind::Conv, {X, W2}), {1, 2, 1, 2}, {4, 6, -2, -2});
}

TEST(InterpConv, ConvTranspose) {
  Tensor X = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor W = f32({1, 1, 2, 2}, {1, 1, 1, 1});
  expectF32(run(OpKind::ConvTranspose, {X, W}), {1, 1, 3, 3},
            {1, 3, 2, 4, 10, 6, 3, 7, 4});
  expectF32(run(OpKind::ConvTranspose, {X, W}, {ints("strides", {2, 2})}),
            {1, 1, 4, 4}, {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  expectF32(run(OpKind::ConvTranspose, {X, W, f32({1}, {10})},
                {ints("strides", {2, 2}), ints("output_padding", {1, 1})}),
            {1, 1, 5, 5}, {11, 11, 12, 12, 10, 11, 11, 12, 12, 10, 13, 13, 14,
                           14, 10, 13, 13, 14, 14, 10, 10, 10, 10, 10, 10});
  expectF32(run(OpKind::ConvTranspose, {X, W}, {ints("pads", {1, 1, 1, 1})}),
            {1, 1, 1, 1}, {10});
  Tensor Xg = f32({1, 2, 1, 1}, {1, 2});
  Tensor Wg = f32({2, 1, 1, 1}, {3, 4});
  expectF32(run(OpKind::ConvTranspose, {Xg, Wg}, {integer("group", 2)}),
            {1, 2, 1, 1}, {3, 8});
}

TEST(InterpPool, MaxPoolWithPads) {
  Tensor X = f32({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  expectF32(run(OpKind::MaxPool, {X},
                {ints("kernel", {2, 2}), ints("pads", {1, 1, 1, 1})}),
            {1, 1, 4, 4}, {1, 2, 3, 3, 4, 5, 6, 6, 7, 8, 9, 9, 7, 8, 9, 9});
  expectF32(run(OpKind::MaxPool, {f32({1, 1, 4}, {-1, -2, -3, -4})},
                {ints("kernel", {2}), ints("strides", {2})}),
            {1, 1, 2}, {-1, -3});
}

TEST(InterpPool, AvgPoolCountIncludePad) {
  Tensor X = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  std::vector<NamedAttr> A = {ints("kernel", {2, 2}),
                              ints("pads", {1, 1, 1, 1})};
  expectF32(run(OpKind::AvgPool, {X}, A), {1, 1, 3, 3},
            {1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4});
  A.push_back(boolean("count_include_pad", true));
  expectF32(run(OpKind::AvgPool, {X}, A), {1, 1, 3, 3},
            {0.25, 0.75, 0.5, 1, 2.5, 1.5, 0.75, 1.75, 1});
}

TEST(InterpPool, CeilMode) {
  Tensor X = f32({1, 1, 1, 5}, {1, 2, 3, 4, 5});
  std::vector<NamedAttr> A = {ints("kernel", {1, 2}), ints("strides", {1, 2}),
                              boolean("ceil_mode", true)};
  expectF32(run(OpKind::AvgPool, {X}, A), {1, 1, 1, 3}, {1.5, 3.5, 5});
  expectF32(run(OpKind::MaxPool, {X}, A), {1, 1, 1, 3}, {2, 4, 5});
  A.push_back(boolean("count_include_pad", true));
  expectF32(run(OpKind::AvgPool, {X}, A), {1, 1, 1, 3}, {1.5, 3.5, 5});
  expectF32(run(OpKind::AvgPool, {X},
                {ints("kernel", {1, 2}), ints("strides", {1, 2})}),
            {1, 1, 1, 2}, {1.5, 3.5});
}

TEST(InterpPool, GlobalPools) {
  Tensor X = f32({1, 2, 2, 2}, {1, 2, 3, 4, -1, -2, -3, -4});
  expectF32(run(OpKind::GlobalAvgPool, {X}), {1, 2, 1, 1}, {2.5, -2.5});
  expectF32(run(OpKind::GlobalMaxPool, {X}), {1, 2, 1, 1}, {4, -1});
}

//===----------------------------------------------------------------------===//
// Movement
//===----------------------------------------------------------------------===//

TEST(InterpMovement, ReshapeFlattenSqueezeUnsqueeze) {
  Tensor X = iota({2, 3, 4});
  Tensor R = run(OpKind::Reshape, {X}, {ints("shape", {-1, 6})});
  EXPECT_EQ(shapeOf(R), (std::vector<int64_t>{4, 6}));
  EXPECT_EQ(R.bytes(), X.bytes());
  EXPECT_EQ(shapeOf(run(OpKind::Flatten, {X})), (std::vector<int64_t>{2, 12}));
  EXPECT_EQ(shapeOf(run(OpKind::Flatten, {X}, {integer("axis", 0)})),
            (std::vector<int64_t>{1, 24}));
  Tensor Y = iota({1, 3, 1});
  EXPECT_EQ(shapeOf(run(OpKind::Squeeze, {Y})), (std::vector<int64_t>{3}));
  EXPECT_EQ(shapeOf(run(OpKind::Squeeze, {Y}, {ints("axes", {-1})})),
            (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(
      shapeOf(run(OpKind::Unsqueeze, {iota({3})}, {ints("axes", {0, -1})})),
      (std::vector<int64_t>{1, 3, 1}));
  std::string E = runErr(OpKind::Reshape, {X}, {ints("shape", {5, -1})});
  EXPECT_NE(E.find("test_op: error:"), std::string::npos) << E;
}

TEST(InterpMovement, Transpose) {
  Tensor X = iota({2, 3});
  expectF32(run(OpKind::Transpose, {X}), {3, 2}, {0, 3, 1, 4, 2, 5});
  Tensor Y = iota({2, 1, 3});
  expectF32(run(OpKind::Transpose, {Y}, {ints("perm", {2, 0, 1})}), {3, 2, 1},
            {0, 3, 1, 4, 2, 5});
}

TEST(InterpMovement, ConcatAndSplit) {
  Tensor A = iota({2, 1}), B = f32({2, 2}, {10, 11, 12, 13});
  expectF32(run(OpKind::Concat, {A, B}, {integer("axis", 1)}), {2, 3},
            {0, 10, 11, 1, 12, 13});
  expectF32(run(OpKind::Concat, {A, f32({0, 1}, {}), A}, {integer("axis", 0)}),
            {4, 1}, {0, 1, 0, 1});
  auto R = eval(OpKind::Split, {iota({2, 3})},
                {integer("axis", 1), ints("sizes", {1, 2})});
  ASSERT_TRUE(bool(R)) << llvm::toString(R.takeError());
  ASSERT_EQ(R->size(), 2u);
  expectF32((*R)[0], {2, 1}, {0, 3});
  expectF32((*R)[1], {2, 2}, {1, 2, 4, 5});
}

TEST(InterpMovement, SliceNegativeStepsAndClamping) {
  Tensor X = iota({10});
  expectF32(run(OpKind::Slice, {X},
                {ints("starts", {8}), ints("ends", {1}), ints("steps", {-3})}),
            {3}, {8, 5, 2});
  expectF32(
      run(OpKind::Slice, {X},
          {ints("starts", {-1}), ints("ends", {-100}), ints("steps", {-4})}),
      {3}, {9, 5, 1});
  expectF32(run(OpKind::Slice, {X},
                {ints("starts", {std::numeric_limits<int64_t>::max()}),
                 ints("ends", {std::numeric_limits<int64_t>::min()}),
                 ints("steps", {-1})}),
            {10}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
  expectF32(
      run(OpKind::Slice, {X}, {ints("starts", {-3}), ints("ends", {100})}), {3},
      {7, 8, 9});
  expectF32(run(OpKind::Slice, {X}, {ints("starts", {5}), ints("ends", {2})}),
            {0}, {});
  Tensor Y = iota({3, 4});
  expectF32(run(OpKind::Slice, {Y},
                {ints("starts", {1}), ints("ends", {100}), ints("axes", {-1}),
                 ints("steps", {2})}),
            {3, 2}, {1, 3, 5, 7, 9, 11});
}

TEST(InterpMovement, PadModes) {
  Tensor X = f32({3}, {1, 2, 3});
  expectF32(
      run(OpKind::Pad, {X}, {ints("pads", {2, 2}), str("mode", "reflect")}),
      {7}, {3, 2, 1, 2, 3, 2, 1});
  expectF32(run(OpKind::Pad, {X}, {ints("pads", {2, 2}), str("mode", "edge")}),
            {7}, {1, 1, 1, 2, 3, 3, 3});
  expectF32(run(OpKind::Pad, {X}, {ints("pads", {2, 2}), flt("value", 9)}), {7},
            {9, 9, 1, 2, 3, 9, 9});
  expectF32(run(OpKind::Pad, {X}, {ints("pads", {-1, 1})}), {3}, {2, 3, 0});
  Tensor Y = iota({2, 2});
  expectF32(run(OpKind::Pad, {Y},
                {ints("pads", {0, 1, 1, 0}), str("mode", "reflect")}),
            {3, 3}, {1, 0, 1, 3, 2, 3, 1, 0, 1});
}

TEST(InterpMovement, GatherNegativeIndices) {
  Tensor X = f32({3, 2}, {1, 2, 3, 4, 5, 6});
  expectF32(run(OpKind::Gather, {X, i64({2}, {-1, 0})}), {2, 2}, {5, 6, 1, 2});
  expectF32(run(OpKind::Gather, {X, i64({1, 1}, {1})}, {integer("axis", 1)}),
            {3, 1, 1}, {2, 4, 6});
  expectF32(run(OpKind::Gather, {X, i64({}, {-2})}), {2}, {3, 4});
  std::string E = runErr(OpKind::Gather, {X, i64({2}, {0, 3})});
  EXPECT_NE(E.find("test_op: error: gather: index 3 is out of range"),
            std::string::npos)
      << E;
  E = runErr(OpKind::Gather, {X, i64({1}, {-4})});
  EXPECT_NE(E.find("out of range"), std::string::npos) << E;
}

TEST(InterpMovement, ExpandTileOneHot) {
  Tensor X = f32({3, 1}, {1, 2, 3});
  expectF32(run(OpKind::Expand, {X}, {ints("shape", {2, 1, 2})}), {2, 3, 2},
            {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
  expectF32(run(OpKind::Tile, {f32({2}, {1, 2})}, {ints("repeats", {3})}), {6},
            {1, 2, 1, 2, 1, 2});
  expectF32(run(OpKind::Tile, {X}, {ints("repeats", {1, 2})}), {3, 2},
            {1, 1, 2, 2, 3, 3});
  expectF32(run(OpKind::OneHot, {i64({3}, {2, 0, 5})}, {integer("depth", 3)}),
            {3, 3}, {0, 0, 1, 1, 0, 0, 0, 0, 0});
  expectTensor(run(OpKind::OneHot, {i64({1}, {1})},
                   {integer("depth", 2), type("dtype", DType::I64)}),
               DType::I64, {1, 2}, {0, 1});
}

//===----------------------------------------------------------------------===//
// Sources
//===----------------------------------------------------------------------===//

TEST(InterpSource, ShapeConstantRange) {
  expectI64(run(OpKind::ShapeOf, {iota({2, 0, 5})}), {3}, {2, 0, 5});
  Tensor C = f32({2}, {1.5, -2});
  auto Ref = std::make_shared<const Tensor>(C);
  EXPECT_TRUE(
      run(OpKind::Constant, {}, {{"value", Attribute::getTensor(Ref)}}) == C);
  expectF32(run(OpKind::Range, {},
                {flt("start", 1), flt("limit", 9), flt("delta", 2)}),
            {4}, {1, 3, 5, 7});
  expectI64(
      run(OpKind::Range, {},
          {flt("limit", -3), flt("delta", -1), type("dtype", DType::I64)}),
      {3}, {0, -1, -2});
}

TEST(InterpSource, RandomIsReproducible) {
  Tensor U = run(OpKind::RandomUniform, {},
                 {ints("shape", {100}), flt("low", 2), flt("high", 4),
                  integer("seed", 3)});
  ASSERT_EQ(U.numElements(), 100);
  for (int64_t I = 0; I < 100; ++I) {
    EXPECT_NEAR(U.getF(I), 2 + 2 * uniformAt(3, I), 1e-6);
    EXPECT_GE(U.getF(I), 2.0);
    EXPECT_LT(U.getF(I), 4.0);
  }
  Tensor N = run(OpKind::RandomNormal, {iota({4, 5})},
                 {flt("mean", 1), flt("scale", 2), integer("seed", 9)});
  ASSERT_EQ(shapeOf(N), (std::vector<int64_t>{4, 5}));
  for (int64_t I = 0; I < 20; ++I)
    EXPECT_NEAR(N.getF(I), 1 + 2 * normalAt(9, I), 1e-5);
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

TEST(InterpLoss, SoftmaxCrossEntropy) {
  Tensor X = f32({2, 3}, {1, 2, 3, 1, 2, 3});
  expectF32(run(OpKind::SoftmaxCrossEntropy, {X, i64({2}, {2, 0})},
                {str("reduction", "none")}),
            {2}, {0.40760596, 2.40760596});
  expectF32(run(OpKind::SoftmaxCrossEntropy, {X, i64({2}, {2, 0})}), {},
            {1.40760596});
  expectF32(run(OpKind::SoftmaxCrossEntropy, {X, i64({2}, {2, 0})},
                {str("reduction", "sum")}),
            {}, {2.81521192});
  // Probability labels: half on class 0, half on class 2.
  Tensor P = f32({2, 3}, {0.5, 0, 0.5, 0, 0, 1});
  expectF32(
      run(OpKind::SoftmaxCrossEntropy, {X, P}, {str("reduction", "none")}), {2},
      {1.40760596, 0.40760596});
  std::string E = runErr(OpKind::SoftmaxCrossEntropy, {X, i64({2}, {3, 0})});
  EXPECT_NE(E.find("out of range"), std::string::npos) << E;
}

TEST(InterpLoss, NllMseBce) {
  Tensor LP = f32({2, 2}, {-1, -2, -3, -4});
  Tensor L = i64({2}, {1, 0});
  expectF32(run(OpKind::NllLoss, {LP, L}, {str("reduction", "none")}), {2},
            {2, 3});
  expectF32(run(OpKind::NllLoss, {LP, L}), {}, {2.5});
  expectF32(run(OpKind::NllLoss, {LP, L}, {str("reduction", "sum")}), {}, {5});
  expectF32(run(OpKind::MseLoss, {f32({2}, {1, 2}), f32({2}, {3, 5})}), {},
            {6.5});
  expectF32(run(OpKind::MseLoss, {f32({2}, {1, 2}), f32({2}, {3, 5})},
                {str("reduction", "none")}),
            {2}, {4, 9});
  expectF32(run(OpKind::BceLoss, {f32({3}, {0.5, 0, 1}), f32({3}, {1, 1, 1})},
                {str("reduction", "none")}),
            {3}, {std::log(2.0), 100, 0});
  expectF32(run(OpKind::BceLoss, {f32({2}, {0.25, 0.5}), f32({2}, {0, 1})},
                {str("reduction", "sum")}),
            {}, {-std::log(0.75) + std::log(2.0)});
}

//===----------------------------------------------------------------------===//
// Zero-element tensors, op coverage
//===----------------------------------------------------------------------===//

TEST(InterpEdge, ZeroElementTensors) {
  Tensor E(DType::F32, {0, 3});
  expectF32(run(OpKind::Add, {E, f32({3}, {1, 2, 3})}), {0, 3}, {});
  expectF32(run(OpKind::MatMul, {E, iota({3, 2})}), {0, 2}, {});
  expectF32(run(OpKind::MatMul, {iota({2, 0}), Tensor(DType::F32, {0, 2})}),
            {2, 2}, {0, 0, 0, 0});
  expectF32(run(OpKind::Softmax, {E}), {0, 3}, {});
  expectF32(run(OpKind::ReduceSum, {E}, {ints("axes", {0})}), {1, 3},
            {0, 0, 0});
  expectF32(run(OpKind::Transpose, {E}), {3, 0}, {});
  expectF32(run(OpKind::Gather, {iota({3}), Tensor(DType::I64, {0})}), {0}, {});
  expectF32(run(OpKind::Conv, {Tensor(DType::F32, {0, 1, 3, 3}),
                               f32({1, 1, 2, 2}, {1, 1, 1, 1})}),
            {0, 1, 2, 2}, {});
  expectF32(run(OpKind::MaxPool, {Tensor(DType::F32, {0, 2, 4, 4})},
                {ints("kernel", {2, 2})}),
            {0, 2, 3, 3}, {});
}

TEST(InterpEdge, EveryOpIsSupported) {
  for (const OpInfo &I : allOps())
    EXPECT_TRUE(interpreterSupports(I.Kind)) << I.Mnemonic.str();
}

/// Splits "{a = 1, b = [1, 2]}" into named attributes of the op's kinds.
std::vector<NamedAttr> parseExampleAttrs(const OpInfo &I) {
  std::vector<NamedAttr> Attrs;
  llvm::StringRef Text = I.ExampleAttrs.trim();
  if (Text.empty())
    return Attrs;
  Text = Text.drop_front().drop_back(); // braces
  std::vector<std::string> Items(1);
  int Depth = 0;
  bool Quoted = false;
  for (char C : Text) {
    if (C == '"')
      Quoted = !Quoted;
    if (!Quoted && (C == '[' || C == '<'))
      ++Depth;
    if (!Quoted && (C == ']' || C == '>'))
      --Depth;
    if (C == ',' && Depth == 0 && !Quoted)
      Items.emplace_back();
    else
      Items.back() += C;
  }
  for (const std::string &Item : Items) {
    auto [Name, Val] = llvm::StringRef(Item).split('=');
    const AttrSpec *S = I.findAttr(Name.trim());
    EXPECT_TRUE(S) << I.Mnemonic.str() << ": " << Name.str();
    if (!S)
      continue;
    auto A = parseAttributeText(Val.trim(), S->Kind);
    EXPECT_TRUE(bool(A)) << llvm::toString(A.takeError());
    if (A)
      Attrs.push_back({S->Name.str(), *A});
  }
  return Attrs;
}

/// A concrete tensor for a type, symbolic dims set to 2: floats in (0, 1),
/// integers 0 (valid labels and indices), bools alternating.
Tensor exampleTensor(const TensorType &Ty) {
  std::vector<int64_t> Shape;
  for (const Dim &D : Ty.dims())
    Shape.push_back(D.isStatic() ? D.size() : 2);
  Tensor T(Ty.elem(), Shape);
  for (int64_t I = 0; I < T.numElements(); ++I) {
    if (isFloat(Ty.elem()))
      T.setF(I, 0.05 + 0.1 * double(I % 9));
    else if (Ty.elem() == DType::Bool)
      T.setI(I, I % 2);
    else if (Ty.elem() == DType::Str)
      T.strings()[I] = I % 2 ? "a" : "b.c d";
  }
  return T;
}

TEST(InterpEdge, EveryTableExampleEvaluates) {
  for (const OpInfo &I : allOps()) {
    SCOPED_TRACE(I.Mnemonic.str());
    std::vector<Tensor> Ins;
    llvm::SmallVector<llvm::StringRef, 4> Parts;
    if (!I.ExampleOperands.empty())
      I.ExampleOperands.split(Parts, ';');
    for (llvm::StringRef P : Parts) {
      auto Ty = parseTensorType(P.trim());
      ASSERT_TRUE(bool(Ty)) << llvm::toString(Ty.takeError());
      Ins.push_back(exampleTensor(*Ty));
    }
    // Control-flow ops need their regions: interpret the parsed example.
    std::unique_ptr<Module> Parsed;
    if (I.has(ControlFlow)) {
      auto M = parseModule(exampleText(I), "<example>");
      ASSERT_TRUE(bool(M)) << llvm::toString(M.takeError());
      Parsed = std::move(*M);
    }
    auto R = Parsed ? interpret(*Parsed->Functions[0], Ins)
                    : eval(I.Kind, Ins, parseExampleAttrs(I));
    ASSERT_TRUE(bool(R)) << llvm::toString(R.takeError());
    Parts.clear();
    I.ExampleResults.split(Parts, ';');
    ASSERT_EQ(R->size(), Parts.size());
    for (size_t J = 0; J < Parts.size(); ++J) {
      auto Ty = parseTensorType(Parts[J].trim());
      ASSERT_TRUE(bool(Ty)) << llvm::toString(Ty.takeError());
      // Symbols are 2 as in the operands; a `?` dim is sized by the data.
      Shape WantDims;
      for (const Dim &D : Ty->dims())
        WantDims.push_back(D.isUnknown() ? D
                                         : Dim::fixed(D.isStatic() ? D.size() : 2));
      EXPECT_TRUE(compatible((*R)[J].type(), TensorType(Ty->elem(), WantDims)))
          << (*R)[J].type().str() << " vs " << Parts[J].str();
      for (int64_t K = 0; K < (*R)[J].numElements(); ++K)
        if (isFloat((*R)[J].elem())) {
          ASSERT_TRUE(std::isfinite((*R)[J].getF(K))) << K;
        }
    }
  }
}

TEST(InterpEdge, OperandCountMismatchIsAnError) {
  Operation Op(OpKind::Add, Loc::named("x"));
  auto R = evaluateOp(Op, {});
  ASSERT_FALSE(bool(R));
  EXPECT_NE(llvm::toString(R.takeError()).find("error"), std::string::npos);
}

//===----------------------------------------------------------------------===//
// Function level
//===----------------------------------------------------------------------===//

/// f(x: f32[N,3], y: f32[N,3], w: param f32[3]) = (x + y) * w.
std::unique_ptr<Function> makeFunction(bool WithInit) {
  auto F = std::make_unique<Function>();
  F->Name = "f";
  Shape S = {Dim::symbol("N"), Dim::fixed(3)};
  Value *X = F->addInput("x", TensorType(DType::F32, S));
  Value *Y = F->addInput("y", TensorType(DType::F32, S));
  std::optional<Attribute> Init;
  if (WithInit)
    Init = Attribute::getTensor(
        std::make_shared<const Tensor>(f32({3}, {1, 2, 3})));
  Value *W = F->addParam("w", TensorType::get(DType::F32, {3}), Init);
  OpBuilder B(*F, F->Body.end());
  Value *Sum = B.create(OpKind::Add, {X, Y});
  F->addOutput("out", B.create(OpKind::Mul, {Sum, W}));
  return F;
}

TEST(InterpFunction, RunsWithParamInits) {
  auto F = makeFunction(true);
  auto R = interpret(*F, {f32({2, 3}, {1, 1, 1, 2, 2, 2}), iota({2, 3})});
  ASSERT_TRUE(bool(R)) << llvm::toString(R.takeError());
  ASSERT_EQ(R->size(), 1u);
  expectF32((*R)[0], {2, 3}, {1, 4, 9, 5, 12, 21});
  // Explicit parameter values override the initial ones.
  R = interpret(*F, {iota({1, 3}), iota({1, 3})}, {f32({3}, {1, 1, 1})});
  ASSERT_TRUE(bool(R)) << llvm::toString(R.takeError());
  expectF32((*R)[0], {1, 3}, {0, 2, 4});
}

TEST(InterpFunction, SymbolBoundTwiceIsAnError) {
  auto F = makeFunction(true);
  auto R = interpret(*F, {iota({5, 3}), iota({3, 3})});
  ASSERT_FALSE(bool(R));
  EXPECT_EQ(llvm::toString(R.takeError()),
            "error: input 'y' dim 0 (N) is 3 but N was bound to 5 by input "
            "'x'");
}

TEST(InterpFunction, InputChecks) {
  auto F = makeFunction(true);
  auto Msg = [&](std::vector<Tensor> In) {
    auto R = interpret(*F, In);
    return R ? std::string("ok") : llvm::toString(R.takeError());
  };
  EXPECT_NE(Msg({iota({2, 3})}).find("expects 2 inputs, got 1"),
            std::string::npos);
  EXPECT_NE(Msg({iota({2, 3}), iota({2, 3}, DType::F64)})
                .find("input 'y' has element type f64"),
            std::string::npos);
  EXPECT_NE(Msg({iota({2, 3}), iota({6})}).find("input 'y' has rank 1"),
            std::string::npos);
  EXPECT_NE(Msg({iota({2, 3}), iota({2, 4})}).find("input 'y' dim 1 is 4"),
            std::string::npos);
  EXPECT_EQ(Msg({Tensor(DType::F32, {0, 3}), Tensor(DType::F32, {0, 3})}),
            "ok");
}

TEST(InterpFunction, ParamWithoutValue) {
  auto F = makeFunction(false);
  auto R = interpret(*F, {iota({1, 3}), iota({1, 3})});
  ASSERT_FALSE(bool(R));
  EXPECT_NE(llvm::toString(R.takeError()).find("parameter 'w' has no value"),
            std::string::npos);
  R = interpret(*F, {iota({1, 3}), iota({1, 3})}, {iota({4})});
  ASSERT_FALSE(bool(R));
  EXPECT_NE(llvm::toString(R.takeError()).find("parameter 'w' dim 0 is 4"),
            std::string::npos);
}

TEST(InterpFunction, RuntimeErrorCarriesOpLocation) {
  Function F;
  F.Name = "g";
  Value *D = F.addInput("d", TensorType::get(DType::F32, {3}));
  Value *I = F.addInput("i", TensorType::get(DType::I64, {1}));
  OpBuilder B(F, F.Body.end(), Loc::at("g.dlc", 4, 7));
  F.addOutput("out", B.create(OpKind::Gather, {D, I}));
  auto R = interpret(F, {iota({3}), i64({1}, {7})});
  ASSERT_FALSE(bool(R));
  EXPECT_EQ(llvm::toString(R.takeError()),
            "g.dlc:4:7: error: gather: index 7 is out of range for dim 0 of "
            "size 3");
}

} // namespace
