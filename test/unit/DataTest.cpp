// Training data: IDX reading (plain and gzip), splits, normalization,
// shuffling, batching, and every file error, on small files written here;
// the real Fashion-MNIST files when Debian's package is installed.
#include "TestUtil.h"

#include "frontend/data/Dataset.h"
#include "frontend/data/Idx.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <set>

using namespace dlc;

namespace {

class DataTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("dlc-data-test", Dir));
  }
  void TearDown() override { llvm::sys::fs::remove_directories(Dir); }

  std::string path(llvm::StringRef Name) {
    llvm::SmallString<256> P(Dir);
    llvm::sys::path::append(P, Name);
    return std::string(P);
  }
  /// N images of HxW whose pixel i of image n is (n * 7 + i) % 256, and
  /// labels n % Classes.
  void writePair(llvm::StringRef Images, llvm::StringRef Labels, int64_t N,
                 int64_t H, int64_t W, int64_t Classes, bool Gzip) {
    IdxArray Im{{N, H, W}, {}}, Lb{{N}, {}};
    for (int64_t I = 0; I < N * H * W; ++I)
      Im.Data.push_back(uint8_t(((I / (H * W)) * 7 + I % (H * W)) % 256));
    for (int64_t I = 0; I < N; ++I)
      Lb.Data.push_back(uint8_t(I % Classes));
    ASSERT_FALSE(bool(writeIdx(path(Images), Im, Gzip)));
    ASSERT_FALSE(bool(writeIdx(path(Labels), Lb, Gzip)));
  }
  void writeRaw(llvm::StringRef Name, std::vector<uint8_t> Bytes) {
    std::error_code EC;
    llvm::raw_fd_ostream OS(path(Name), EC);
    ASSERT_FALSE(EC);
    OS.write(reinterpret_cast<const char *>(Bytes.data()), Bytes.size());
  }
  std::string loadError(llvm::StringRef Images, llvm::StringRef Labels) {
    auto D = loadIdxPair(path(Images), path(Labels), 10);
    if (D)
      return "(loaded)";
    std::string E = errText(D.takeError());
    // Paths vary per run: report them as FILE.
    for (size_t P; (P = E.find(std::string(Dir))) != std::string::npos;)
      E.replace(P, Dir.size() + 1, "");
    return E;
  }

  llvm::SmallString<128> Dir;
};

TEST_F(DataTest, ReadsPlainAndGzip) {
  for (bool Gzip : {false, true}) {
    SCOPED_TRACE(Gzip);
    writePair("im", "lb", 5, 4, 3, 10, Gzip);
    auto D = loadIdxPair(path("im"), path("lb"), 10);
    ASSERT_TRUE(bool(D)) << errText(D.takeError());
    EXPECT_EQ(D->Images.type().str(), "f32[5,1,4,3]");
    EXPECT_EQ(D->Labels.type().str(), "i64[5]");
    EXPECT_EQ(D->size(), 5);
    for (int64_t I = 0; I < 60; ++I)
      EXPECT_FLOAT_EQ(D->Images.getF(I), ((I / 12) * 7 + I % 12) / 255.0f);
    for (int64_t I = 0; I < 5; ++I)
      EXPECT_EQ(D->Labels.getI(I), I);
  }
  // A gzip file really is compressed (the reader detects it by content).
  writePair("g", "gl", 3, 2, 2, 10, true);
  auto Bytes = llvm::MemoryBuffer::getFile(path("g"));
  ASSERT_TRUE(bool(Bytes));
  EXPECT_EQ((uint8_t)(*Bytes)->getBuffer()[0], 0x1f);
  EXPECT_EQ((uint8_t)(*Bytes)->getBuffer()[1], 0x8b);
}

TEST_F(DataTest, SplitsLimitAndNormalization) {
  writePair("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 9, 2,
            2, 10, true);
  writePair("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 4, 2, 2, 10,
            false);
  auto Src = parseDataSpec(("fashion-mnist:" + Dir).str());
  ASSERT_TRUE(bool(Src)) << errText(Src.takeError());
  auto Train = loadSplit(*Src, Split::Train);
  ASSERT_TRUE(bool(Train)) << errText(Train.takeError());
  EXPECT_EQ(Train->size(), 9);
  auto Test = loadSplit(*Src, Split::Test, {}, 2);
  ASSERT_TRUE(bool(Test)) << errText(Test.takeError());
  EXPECT_EQ(Test->Images.type().str(), "f32[2,1,2,2]");
  Normalization N;
  N.Mean = 0.5;
  N.Std = 0.25;
  auto Std = loadSplit(*Src, Split::Test, N);
  ASSERT_TRUE(bool(Std));
  for (int64_t I = 0; I < 16; ++I)
    EXPECT_NEAR(Std->Images.getF(I), (((I / 4) * 7 + I % 4) / 255.0 - 0.5) / 0.25,
                1e-6);
  auto Mn = parseDataSpec(("mnist:" + Dir).str());
  ASSERT_TRUE(bool(Mn));
  EXPECT_EQ(Mn->Name, "mnist");
  EXPECT_TRUE(bool(loadSplit(*Mn, Split::Train)));
}

TEST_F(DataTest, SpecErrors) {
  auto Default = parseDataSpec("fashion-mnist");
  ASSERT_TRUE(bool(Default));
  EXPECT_EQ(Default->Dir, DefaultFashionMnistDir);
  auto errOf = [](llvm::StringRef Spec) {
    auto S = parseDataSpec(Spec);
    return S ? std::string("(parsed)") : errText(S.takeError());
  };
  EXPECT_EQ(errOf("cifar10"), "error: unknown data set 'cifar10' (expected "
                              "fashion-mnist, fashion-mnist:DIR or mnist:DIR)");
  EXPECT_EQ(errOf("mnist"),
            "error: data set 'mnist' needs its directory: mnist:DIR (DIR "
            "holding train-images-idx3-ubyte and the other three files)");
  EXPECT_EQ(errOf("fashion-mnist:"),
            "error: data set 'fashion-mnist:': the directory after ':' is empty");
  auto Src = parseDataSpec(("fashion-mnist:" + Dir).str());
  auto Missing = loadSplit(*Src, Split::Train);
  ASSERT_FALSE(bool(Missing));
  EXPECT_EQ(errText(Missing.takeError()),
            "error: fashion-mnist: neither 'train-images-idx3-ubyte' nor "
            "'train-images-idx3-ubyte.gz' is in '" + std::string(Dir) + "'");
  auto NoDir = loadSplit(*parseDataSpec("mnist:/nonexistent/dir"), Split::Test);
  ASSERT_FALSE(bool(NoDir));
  EXPECT_EQ(errText(NoDir.takeError()),
            "error: mnist: directory '/nonexistent/dir' does not exist");
}

TEST_F(DataTest, FileErrors) {
  writePair("im", "lb", 5, 4, 3, 10, false);
  EXPECT_EQ(loadError("none", "lb"), "error: 'none': no such file");
  // Header announces 5 images of 4x3, the body has 59 bytes.
  std::vector<uint8_t> Short = {0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 4, 0, 0, 0, 3};
  Short.resize(Short.size() + 59);
  writeRaw("short", Short);
  EXPECT_EQ(loadError("short", "lb"),
            "error: 'short': truncated: the header announces 60 bytes of data, "
            "the file has 59");
  writeRaw("header", {0, 0, 8, 3, 0, 0, 0, 5, 0});
  EXPECT_EQ(loadError("header", "lb"),
            "error: 'header': truncated: the header needs 16 bytes, the file "
            "has 9");
  writeRaw("tiny", {0, 0});
  EXPECT_EQ(loadError("tiny", "lb"),
            "error: 'tiny': truncated: 2 bytes, shorter than an IDX header");
  writeRaw("magic", {'P', 'K', 3, 4, 0, 0, 0, 0});
  EXPECT_EQ(loadError("magic", "lb"),
            "error: 'magic': not an IDX file (magic 504b0304)");
  writeRaw("float", {0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0});
  EXPECT_EQ(loadError("float", "lb"),
            "error: 'float': IDX element type 0d is not supported (only "
            "unsigned bytes, 08)");
  writeRaw("trailing", {0, 0, 8, 1, 0, 0, 0, 1, 7, 7, 7});
  EXPECT_EQ(loadError("im", "trailing"),
            "error: 'trailing': 2 unexpected bytes after the data");
  // Wrong ranks and counts.
  EXPECT_EQ(loadError("lb", "lb"),
            "error: 'lb': expected images [count, rows, columns], found 1 dims");
  writePair("im6", "lb6", 6, 4, 3, 10, false);
  EXPECT_EQ(loadError("im", "lb6"),
            "error: 'im' holds 5 images but 'lb6' holds 6 labels");
  writePair("im12", "lb12", 12, 1, 1, 12, false);
  EXPECT_EQ(loadError("im12", "lb12"),
            "error: 'lb12': label 10 of example 10 is out of range [0, 10)");
  // A gzip stream cut in the middle.
  writePair("big", "bigl", 50, 28, 28, 10, true);
  auto Gz = llvm::MemoryBuffer::getFile(path("big"));
  ASSERT_TRUE(bool(Gz));
  llvm::StringRef B = (*Gz)->getBuffer();
  writeRaw("cut", std::vector<uint8_t>(B.begin(), B.begin() + B.size() / 2));
  EXPECT_EQ(loadError("cut", "bigl"),
            "error: 'cut': truncated or corrupt gzip data (unexpected end of "
            "file)");
}

TEST(Data, ShuffleAndBatches) {
  std::vector<int64_t> A = epochOrder(1000, 3, 0), B = epochOrder(1000, 3, 0),
                       C = epochOrder(1000, 3, 1), D = epochOrder(1000, 4, 0);
  EXPECT_EQ(A, B);
  EXPECT_NE(A, C);
  EXPECT_NE(A, D);
  EXPECT_EQ(std::set<int64_t>(A.begin(), A.end()).size(), 1000u);
  EXPECT_EQ(*std::min_element(A.begin(), A.end()), 0);
  EXPECT_EQ(*std::max_element(A.begin(), A.end()), 999);
  // Shuffled: few elements stay in place (about 1 expected).
  int Fixed = 0;
  for (int64_t I = 0; I < 1000; ++I)
    Fixed += A[I] == I;
  EXPECT_LT(Fixed, 8);
  std::vector<int64_t> Plain = epochOrder(5, 3, 0, false);
  EXPECT_EQ(Plain, (std::vector<int64_t>{0, 1, 2, 3, 4}));

  Dataset Ds;
  Ds.Images = Tensor(DType::F32, {7, 1, 2, 2});
  Ds.Labels = Tensor(DType::I64, {7});
  for (int64_t I = 0; I < 28; ++I)
    Ds.Images.setF(I, double(I));
  for (int64_t I = 0; I < 7; ++I)
    Ds.Labels.setI(I, I % 3);
  std::vector<int64_t> Order = epochOrder(7, 1, 0);
  EXPECT_EQ(numBatches(7, 3), 3);
  EXPECT_EQ(numBatches(6, 3), 2);
  int64_t Seen = 0;
  for (int64_t K = 0; K < numBatches(7, 3); ++K) {
    Batch Bt = makeBatch(Ds, Order, K, 3);
    int64_t N = K == 2 ? 1 : 3;
    ASSERT_EQ(Bt.Images.type().str(),
              "f32[" + std::to_string(N) + ",1,2,2]");
    ASSERT_EQ(Bt.Labels.numElements(), N);
    for (int64_t I = 0; I < N; ++I, ++Seen) {
      int64_t Src = Order[K * 3 + I];
      EXPECT_EQ(Bt.Labels.getI(I), Src % 3);
      for (int64_t P = 0; P < 4; ++P)
        EXPECT_EQ(Bt.Images.getF(I * 4 + P), double(Src * 4 + P));
    }
  }
  EXPECT_EQ(Seen, 7);
}

// The real data set, when Debian's dataset-fashion-mnist is installed.
TEST(Data, DebianFashionMnist) {
  if (!llvm::sys::fs::exists(std::string(DefaultFashionMnistDir) +
                             "/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  auto Src = parseDataSpec("fashion-mnist");
  ASSERT_TRUE(bool(Src));
  for (auto [S, N] : {std::pair{Split::Train, 60000}, {Split::Test, 10000}}) {
    auto D = loadSplit(*Src, S);
    ASSERT_TRUE(bool(D)) << errText(D.takeError());
    EXPECT_EQ(D->Images.type().str(),
              "f32[" + std::to_string(N) + ",1,28,28]");
    std::vector<int64_t> PerClass(10);
    for (int64_t I = 0; I < N; ++I)
      ++PerClass[D->Labels.getI(I)]; // in range: loadSplit checked it
    // Fashion-MNIST is balanced: N / 10 examples per class.
    for (int64_t C : PerClass)
      EXPECT_EQ(C, N / 10);
    double Min = 1, Max = 0, Sum = 0;
    for (int64_t I = 0; I < D->Images.numElements(); ++I) {
      double V = D->Images.getF(I);
      Min = std::min(Min, V);
      Max = std::max(Max, V);
      Sum += V;
    }
    EXPECT_EQ(Min, 0.0);
    EXPECT_EQ(Max, 1.0);
    // The published mean pixel of Fashion-MNIST is about 0.286.
    EXPECT_NEAR(Sum / D->Images.numElements(), 0.286, 0.01);
  }
}

} // namespace
