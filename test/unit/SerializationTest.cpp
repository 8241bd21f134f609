// .npy files, weights side files and half-precision conversions.
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Weights.h"
#include "runtime/Npy.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

#include <cmath>
#include <fstream>

using namespace dlc;

namespace {

std::string tempPath(llvm::StringRef Name) {
  llvm::SmallString<128> P;
  llvm::sys::path::system_temp_directory(true, P);
  llvm::sys::path::append(P, "dlc-test-" + std::to_string(::getpid()) + "-" + Name.str());
  return std::string(P.str());
}

TEST(Npy, RoundTripKeepsShapeTypeAndBytes) {
  rt::NpyArray A{"<f4", {2, 3}, {}};
  for (int I = 0; I < 6; ++I) {
    float F = I * 1.5f;
    auto *P = reinterpret_cast<uint8_t *>(&F);
    A.Data.insert(A.Data.end(), P, P + 4);
  }
  rt::NpyArray B;
  std::string Err;
  ASSERT_TRUE(rt::parseNpy(rt::serializeNpy(A), B, Err)) << Err;
  EXPECT_EQ(B.Descr, "<f4");
  EXPECT_EQ(B.Shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(B.Data, A.Data);
}

TEST(Npy, HeaderIsAlignedAndOneDimShapeHasComma) {
  rt::NpyArray A{"<i8", {5}, std::vector<uint8_t>(40, 0)};
  auto Bytes = rt::serializeNpy(A);
  size_t HeaderLen = Bytes[8] | (Bytes[9] << 8);
  EXPECT_EQ((10 + HeaderLen) % 64, 0u);
  std::string H(Bytes.begin() + 10, Bytes.begin() + 10 + HeaderLen);
  EXPECT_NE(H.find("'shape': (5, )"), std::string::npos) << H;
}

TEST(Npy, ScalarRoundTrip) {
  rt::NpyArray A{"<f8", {}, std::vector<uint8_t>(8, 0)}, B;
  std::string Err;
  ASSERT_TRUE(rt::parseNpy(rt::serializeNpy(A), B, Err)) << Err;
  EXPECT_TRUE(B.Shape.empty());
}

TEST(Npy, MalformedFilesGiveClearErrors) {
  rt::NpyArray Out;
  std::string Err;
  EXPECT_FALSE(rt::parseNpy({'n', 'o', 'p', 'e'}, Out, Err));
  EXPECT_NE(Err.find("not a .npy file"), std::string::npos) << Err;
  rt::NpyArray A{"<f4", {4}, std::vector<uint8_t>(16, 0)};
  auto Bytes = rt::serializeNpy(A);
  Bytes.resize(Bytes.size() - 3);
  EXPECT_FALSE(rt::parseNpy(Bytes, Out, Err));
  EXPECT_NE(Err.find("truncated .npy data"), std::string::npos) << Err;
  rt::NpyArray F{"<f4", {2, 2}, std::vector<uint8_t>(16, 0)};
  auto FB = rt::serializeNpy(F);
  std::string S(FB.begin(), FB.end());
  S.replace(S.find("False"), 5, "True ");
  EXPECT_FALSE(rt::parseNpy(std::vector<uint8_t>(S.begin(), S.end()), Out, Err));
  EXPECT_NE(Err.find("Fortran"), std::string::npos) << Err;
  EXPECT_FALSE(rt::readNpy("/nonexistent/x.npy", Out, Err));
  EXPECT_NE(Err.find("cannot open"), std::string::npos) << Err;
}

/// An .npy image with header text H (padded as the writer does) and Data.
static std::vector<uint8_t> npyWithHeader(std::string H, size_t Data = 0) {
  H.append((64 - (10 + H.size() + 1) % 64) % 64, ' ');
  H += '\n';
  const uint8_t Head[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                            uint8_t(H.size() & 0xff), uint8_t(H.size() >> 8)};
  std::vector<uint8_t> B(10 + H.size() + Data, 0);
  std::copy(Head, Head + 10, B.begin());
  std::copy(H.begin(), H.end(), B.begin() + 10);
  return B;
}

TEST(Npy, ShapeProductOverflowIsRefused) {
  rt::NpyArray Out;
  std::string Err;
  // 2^32 x 2^32 elements wrap to 0 in 64 bits: no data is then "enough".
  EXPECT_FALSE(rt::parseNpy(
      npyWithHeader("{'descr': '<f4', 'fortran_order': False, "
                    "'shape': (4294967296, 4294967296), }"),
      Out, Err));
  EXPECT_NE(Err.find("too large"), std::string::npos) << Err;
  EXPECT_FALSE(rt::parseNpy(
      npyWithHeader("{'descr': '<f4', 'fortran_order': False, "
                    "'shape': (1099511627776, 1099511627776, 0), }"),
      Out, Err));
  EXPECT_NE(Err.find("too large"), std::string::npos) << Err;
  // A zero-size array of a big shape is fine.
  EXPECT_TRUE(rt::parseNpy(
      npyWithHeader("{'descr': '<f4', 'fortran_order': False, "
                    "'shape': (0, 1099511627776), }"),
      Out, Err))
      << Err;
}

TEST(Npy, MalformedDescrIsRefusedAndNeverWritten) {
  for (const char *D : {"<f4x", "<fx", "<", "f4", "<q4", "<f0", "<f99",
                        ">f4", "<f4'", "<f 4"}) {
    rt::NpyArray Out;
    std::string Err;
    // (The reader takes "<f4'" as "<f4" followed by junk: only the writer
    // must refuse that one.)
    EXPECT_EQ(rt::parseNpy(
        npyWithHeader(std::string("{'descr': '") + D +
                          "', 'fortran_order': False, 'shape': (1,), }",
                      16),
        Out, Err),
              std::string(D) == "<f4'")
        << D;
    rt::NpyArray A{D, {1}, std::vector<uint8_t>(4, 0)};
    EXPECT_FALSE(rt::writeNpy(tempPath("bad-descr.npy"), A, Err)) << D;
    EXPECT_NE(Err.find("unsupported dtype"), std::string::npos) << Err;
  }
  rt::NpyArray Short{"<f4", {3}, std::vector<uint8_t>(4, 0)};
  std::string Err;
  EXPECT_FALSE(rt::writeNpy(tempPath("short.npy"), Short, Err));
  EXPECT_NE(Err.find("does not match"), std::string::npos) << Err;
}

TEST(Half, ConversionsRoundToNearestEven) {
  EXPECT_EQ(floatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(1e6f), 0x7c00);          // overflow to inf
  EXPECT_EQ(floatToHalf(5.9604645e-8f), 0x0001); // smallest subnormal
  EXPECT_EQ(floatToHalf(1.0f + 1.0f / 2048), 0x3c00); // tie to even
  EXPECT_TRUE(std::isnan(halfToFloat(floatToHalf(NAN))));
  for (uint32_t H = 0; H < 0x7c00; ++H)
    ASSERT_EQ(floatToHalf(halfToFloat(uint16_t(H))), H) << H;
  EXPECT_EQ(floatToBF16(1.0f), 0x3f80);
  EXPECT_EQ(bf16ToFloat(0x4049), 3.140625f);
}

TEST(Weights, ExternalizeWriteParseRoundTrip) {
  const char *Text =
      "func @f(%x: f32[2,20]) params(%w: f32[20,3] = dense<f32[20,3]>[0.25]) "
      "-> (y: f32[2,3]) {\n"
      "  %y = matmul %x, %w : f32[2,3]\n"
      "  return %y\n"
      "}\n";
  auto M = parseModule(Text, "<test>");
  ASSERT_TRUE(bool(M)) << llvm::toString(M.takeError());
  std::string WPath = tempPath("w.weights");
  ASSERT_FALSE(bool(externalizeWeights(**M, WPath, 16)));
  std::string Printed = toString(**M);
  EXPECT_NE(Printed.find("resource<f32[20,3]>\"w\""), std::string::npos)
      << Printed;
  EXPECT_EQ(Printed.find("0.25"), std::string::npos) << Printed;
  auto M2 = parseModule(Printed, "<test>");
  ASSERT_TRUE(bool(M2)) << llvm::toString(M2.takeError());
  EXPECT_EQ(Printed, toString(**M2));
  const Tensor &W = *(*M2)->Functions[0]->ParamInits[0]->getTensor();
  ASSERT_EQ(W.numElements(), 60);
  EXPECT_EQ(W.getF(59), 0.25);
  llvm::sys::fs::remove(WPath);
}

TEST(Weights, CorruptFilesAreReportedNotCrashed) {
  std::string P = tempPath("bad.weights");
  {
    std::ofstream OS(P, std::ios::binary);
    OS << "DLCW";
    uint32_t V = 1;
    uint64_t N = 5; // claims 5 tensors, has none
    OS.write(reinterpret_cast<char *>(&V), 4);
    OS.write(reinterpret_cast<char *>(&N), 8);
  }
  auto W = readWeights(P);
  ASSERT_FALSE(bool(W));
  EXPECT_NE(llvm::toString(W.takeError()).find("malformed"), std::string::npos);
  auto M = parseModule("weights \"" + P + "\"\n", "<test>");
  ASSERT_FALSE(bool(M));
  EXPECT_NE(llvm::toString(M.takeError()).find("<test>:1:1: error:"),
            std::string::npos);
  llvm::sys::fs::remove(P);
  auto Missing = parseModule(
      "func @f() -> (c: f32[2]) {\n  %c = constant {value = "
      "resource<f32[2]>\"c\"}\n  return %c\n}\n",
      "<test>");
  ASSERT_FALSE(bool(Missing));
  EXPECT_NE(llvm::toString(Missing.takeError()).find("needs a weights file"),
            std::string::npos);
}

} // namespace
