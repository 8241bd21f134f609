// Kernel IR: building, printing and verification.
#include "kernel/KernelIR.h"

#include "gtest/gtest.h"

using namespace dlc;
using namespace dlc::kir;

namespace {

/// out[i, j] = relu(a[i, j] + b[j]) over a dynamic [?, ?] shape.
std::unique_ptr<Kernel> addRelu() {
  auto K = std::make_unique<Kernel>();
  K->Name = "add_relu";
  KBuilder B(*K);
  Shape Dyn2 = {Dim::unknown(), Dim::unknown()}, Dyn1 = {Dim::unknown()};
  KValue *A = B.arg("a", TensorType(DType::F32, Dyn2));
  KValue *Bv = B.arg("b", TensorType(DType::F32, Dyn1));
  KValue *Out = B.arg("out", TensorType(DType::F32, Dyn2));
  KValue *Zero = B.constIndex(0);
  KValue *N = B.dim(Out, 0), *M = B.dim(Out, 1);
  KValue *I = B.beginFor(Zero, N);
  KValue *J = B.beginFor(Zero, M);
  KValue *X = B.load(A, {I, J}), *Y = B.load(Bv, {J});
  KValue *S = B.scalar(OpKind::Add, {X, Y}, SType::of(DType::F32));
  KValue *R = B.scalar(OpKind::Relu, {S}, SType::of(DType::F32));
  B.store(R, Out, {I, J});
  B.endFor()->Marks.Vectorize = 16;
  B.endFor()->Marks.Parallel = true;
  return K;
}

TEST(KernelIR, PrintsLoopNestWithMarks) {
  auto K = addRelu();
  EXPECT_EQ(toString(*K), R"(kernel @add_relu(%a: f32[?,?], %b: f32[?], %out: f32[?,?]) {
  %0 = const 0 : index
  %1 = dim %out, 0
  %2 = dim %out, 1
  for %i3 = %0 to %1 parallel {
    for %i4 = %0 to %2 vectorize(16) {
      %5 = load %a[%i3, %i4] : f32
      %6 = load %b[%i4] : f32
      %7 = add %5, %6 : f32
      %8 = relu %7 : f32
      store %8, %out[%i3, %i4]
    }
  }
}
)");
  EXPECT_FALSE(bool(verifyKernel(*K)));
}

TEST(KernelIR, VerifierRejectsWrongRankAndScope) {
  auto K = addRelu();
  // Index b with two indices instead of one.
  KOp &Outer = *K->Body.back();
  KOp &Inner = *Outer.Body.back();
  KOp &LoadB = *Inner.Body[1];
  LoadB.Operands.push_back(Outer.IndVar.get());
  llvm::Error E = verifyKernel(*K);
  ASSERT_TRUE(bool(E));
  EXPECT_NE(llvm::toString(std::move(E)).find("has rank 1 but is indexed with 2"),
            std::string::npos);

  auto K2 = addRelu();
  // Use the inner induction variable outside its loop.
  KOp &Outer2 = *K2->Body.back();
  Outer2.Marks.Parallel = false; // a parallel loop allows no other effects
  KValue *J = Outer2.Body.back()->IndVar.get();
  KBuilder B(*K2);
  B.store(B.constFloat(DType::F32, 1.0), K2->Args[2].get(), {J, J});
  llvm::Error E2 = verifyKernel(*K2);
  ASSERT_TRUE(bool(E2));
  EXPECT_NE(llvm::toString(std::move(E2)).find("not in scope"), std::string::npos);
}

TEST(KernelIR, VerifierChecksTypesAndMarks) {
  auto K = addRelu();
  K->Body.back()->Marks.Parallel = false;
  KBuilder B(*K);
  // Storing an index into an f32 buffer.
  KValue *Z = B.constIndex(0);
  B.store(Z, K->Args[2].get(), {Z, Z});
  llvm::Error E = verifyKernel(*K);
  ASSERT_TRUE(bool(E));
  EXPECT_NE(llvm::toString(std::move(E)).find("expected f32"), std::string::npos);

  auto K2 = addRelu();
  K2->Body.back()->Body.back()->Marks.Vectorize = 12;
  llvm::Error E2 = verifyKernel(*K2);
  ASSERT_TRUE(bool(E2));
  EXPECT_NE(llvm::toString(std::move(E2)).find("power of two"), std::string::npos);
}

TEST(KernelIR, ParallelLoopRules) {
  // Another top-level op with effects next to a parallel loop would run
  // once per thread.
  auto K = addRelu();
  EXPECT_TRUE(K->isParallel());
  KBuilder B(*K);
  KValue *Z = B.constIndex(0);
  B.store(B.constFloat(DType::F32, 1.0), K->Args[2].get(), {Z, Z});
  llvm::Error E = verifyKernel(*K);
  ASSERT_TRUE(bool(E));
  EXPECT_NE(llvm::toString(std::move(E)).find("only top-level op with effects"),
            std::string::npos);
  // Parallel loops must be at the top level.
  auto K2 = addRelu();
  K2->Body.back()->Marks.Parallel = false;
  K2->Body.back()->Body.back()->Marks.Parallel = true;
  EXPECT_FALSE(K2->isParallel());
  llvm::Error E2 = verifyKernel(*K2);
  ASSERT_TRUE(bool(E2));
  EXPECT_NE(llvm::toString(std::move(E2)).find("at the top level"), std::string::npos);
}

TEST(KernelIR, ReductionThroughLocal) {
  Kernel K;
  K.Name = "sum";
  KBuilder B(K);
  KValue *X = B.arg("x", TensorType(DType::F32, {Dim::unknown()}));
  KValue *Out = B.arg("out", TensorType(DType::F32, {}));
  KValue *Acc = B.local(DType::F32);
  B.set(Acc, B.constFloat(DType::F32, 0.0));
  KValue *I = B.beginFor(B.constIndex(0), B.dim(X, 0));
  B.set(Acc, B.scalar(OpKind::Add, {B.get(Acc), B.load(X, {I})},
                      SType::of(DType::F32)));
  B.endFor();
  B.store(B.get(Acc), Out, {});
  EXPECT_FALSE(bool(verifyKernel(K)));
  EXPECT_NE(toString(K).find("set %0, %"), std::string::npos) << toString(K);
}

TEST(KernelIR, VectorOps) {
  Kernel K;
  K.Name = "axpy16";
  KBuilder B(K);
  KValue *X = B.arg("x", TensorType(DType::F32, {Dim::unknown()}));
  KValue *Y = B.arg("y", TensorType(DType::F32, {Dim::unknown()}));
  KValue *A = B.arg("a", TensorType(DType::F32, {}));
  KValue *Lo = B.constIndex(0);
  KValue *Hi = B.dim(X, 0);
  KValue *I = B.beginFor(Lo, Hi, 16);
  KValue *AV = B.broadcast(B.load(A, {}), 16);
  KValue *XV = B.load(X, {I}, 16), *YV = B.load(Y, {I}, 16);
  SType VT = SType::vec(DType::F32, 16);
  B.store(B.scalar(OpKind::Add, {YV, B.scalar(OpKind::Mul, {AV, XV}, VT)}, VT), Y, {I});
  B.endFor();
  EXPECT_FALSE(bool(verifyKernel(K)));
  std::string S = toString(K);
  EXPECT_NE(S.find("for %i2 = %0 to %1 step 16 {"), std::string::npos) << S;
  EXPECT_NE(S.find("= broadcast %3 : f32x16"), std::string::npos) << S;
  EXPECT_NE(S.find("= load %x[%i2] : f32x16"), std::string::npos) << S;

  // A vector stored into a buffer of another element type is rejected.
  KBuilder B2(K);
  KValue *I64 = B2.arg("n", TensorType(DType::I64, {Dim::unknown()}));
  B2.store(B2.load(X, {B2.constIndex(0)}, 16), I64, {B2.constIndex(0)});
  llvm::Error E = verifyKernel(K);
  ASSERT_TRUE(bool(E));
  EXPECT_NE(llvm::toString(std::move(E)).find("expected i64x16"), std::string::npos);
}

} // namespace
