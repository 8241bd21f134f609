// MNIST-format splits as tensors, shuffling and batching.
#include "frontend/data/Dataset.h"

#include "frontend/data/Idx.h"

#include "ir/Location.h"
#include "ir/Random.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <cstring>

using namespace dlc;

llvm::Expected<DataSource> dlc::parseDataSpec(llvm::StringRef Spec) {
  auto [Name, Dir] = Spec.split(':');
  if (Name != "fashion-mnist" && Name != "mnist")
    return makeError("unknown data set '" + Name +
                     "' (expected fashion-mnist, fashion-mnist:DIR or "
                     "mnist:DIR)");
  if (Spec.contains(':') && Dir.empty())
    return makeError("data set '" + Spec + "': the directory after ':' is "
                     "empty");
  if (Name == "mnist" && Dir.empty())
    return makeError("data set 'mnist' needs its directory: mnist:DIR (DIR "
                     "holding train-images-idx3-ubyte and the other three "
                     "files)");
  DataSource S;
  S.Name = Name.str();
  S.Dir = Dir.empty() ? std::string(DefaultFashionMnistDir) : Dir.str();
  return S;
}

/// DIR/BASE or DIR/BASE.gz, whichever exists.
static llvm::Expected<std::string> findFile(const DataSource &Src,
                                            llvm::StringRef Base) {
  llvm::SmallString<256> P(Src.Dir);
  llvm::sys::path::append(P, Base);
  if (llvm::sys::fs::exists(P))
    return std::string(P);
  std::string Gz = (P + ".gz").str();
  if (llvm::sys::fs::exists(Gz))
    return Gz;
  std::string Hint =
      Src.Dir == DefaultFashionMnistDir
          ? " (install Debian's dataset-fashion-mnist, or give the files' "
            "directory as " + Src.Name + ":DIR)"
          : "";
  if (!llvm::sys::fs::is_directory(Src.Dir))
    return makeError(Src.Name + ": directory '" + Src.Dir + "' does not exist" +
                     Hint);
  return makeError(Src.Name + ": neither '" + Base + "' nor '" + Base +
                   ".gz' is in '" + Src.Dir + "'" + Hint);
}

llvm::Expected<Dataset> dlc::loadSplit(const DataSource &Src, Split S,
                                       const Normalization &Norm,
                                       int64_t Limit) {
  const char *Prefix = S == Split::Train ? "train" : "t10k";
  auto Images = findFile(Src, std::string(Prefix) + "-images-idx3-ubyte");
  if (!Images)
    return Images.takeError();
  auto Labels = findFile(Src, std::string(Prefix) + "-labels-idx1-ubyte");
  if (!Labels)
    return Labels.takeError();
  return loadIdxPair(*Images, *Labels, 10, Norm, Limit);
}

llvm::Expected<Dataset> dlc::loadIdxPair(llvm::StringRef ImagesPath,
                                         llvm::StringRef LabelsPath,
                                         int64_t NumClasses,
                                         const Normalization &Norm,
                                         int64_t Limit) {
  if (!(Norm.Std > 0))
    return makeError("normalization: the standard deviation must be positive");
  auto Im = readIdx(ImagesPath);
  if (!Im)
    return Im.takeError();
  auto Lb = readIdx(LabelsPath);
  if (!Lb)
    return Lb.takeError();
  if (Im->Dims.size() != 3)
    return makeError("'" + ImagesPath + "': expected images [count, rows, "
                     "columns], found " + llvm::Twine(Im->Dims.size()) +
                     " dims");
  if (Lb->Dims.size() != 1)
    return makeError("'" + LabelsPath + "': expected labels [count], found " +
                     llvm::Twine(Lb->Dims.size()) + " dims");
  int64_t N = Im->Dims[0], H = Im->Dims[1], W = Im->Dims[2];
  if (Lb->Dims[0] != N)
    return makeError("'" + ImagesPath + "' holds " + llvm::Twine(N) +
                     " images but '" + LabelsPath + "' holds " +
                     llvm::Twine(Lb->Dims[0]) + " labels");
  if (Limit >= 0)
    N = std::min(N, Limit);
  Dataset D;
  D.NumClasses = NumClasses;
  D.Labels = Tensor(DType::I64, {N});
  for (int64_t I = 0; I < N; ++I) {
    int64_t L = Lb->Data[I];
    if (L >= NumClasses)
      return makeError("'" + LabelsPath + "': label " + llvm::Twine(L) +
                       " of example " + llvm::Twine(I) +
                       " is out of range [0, " + llvm::Twine(NumClasses) + ")");
    D.Labels.as<int64_t>()[I] = L;
  }
  D.Images = Tensor(DType::F32, {N, 1, H, W});
  float *Px = D.Images.as<float>();
  double Scale = 1.0 / (255.0 * Norm.Std), Shift = Norm.Mean / Norm.Std;
  for (int64_t I = 0, E = N * H * W; I < E; ++I)
    Px[I] = float(Im->Data[I] * Scale - Shift);
  return D;
}

std::vector<int64_t> dlc::epochOrder(int64_t N, int64_t Seed, int64_t Epoch,
                                     bool Shuffle) {
  std::vector<int64_t> Order(N);
  for (int64_t I = 0; I < N; ++I)
    Order[I] = I;
  if (!Shuffle)
    return Order;
  uint64_t Stream = splitMix64(splitMix64(uint64_t(Seed)) ^ uint64_t(Epoch));
  for (int64_t I = N - 1; I > 0; --I) {
    // 64 random bits: the modulo's bias is below 2^-40 for any data set.
    uint64_t R = splitMix64(Stream ^ splitMix64(uint64_t(I)));
    std::swap(Order[I], Order[R % uint64_t(I + 1)]);
  }
  return Order;
}

Batch dlc::makeBatch(const Dataset &D, llvm::ArrayRef<int64_t> Order,
                     int64_t K, int64_t BatchSize) {
  int64_t Begin = K * BatchSize;
  int64_t End = std::min<int64_t>(Begin + BatchSize, Order.size());
  assert(Begin < End && "batch index out of range");
  int64_t B = End - Begin;
  llvm::SmallVector<int64_t, 4> Shape(D.Images.shape());
  int64_t Per = D.Images.numElements() / std::max<int64_t>(D.size(), 1);
  Shape[0] = B;
  Batch R{Tensor(DType::F32, Shape), Tensor(DType::I64, {B})};
  for (int64_t I = 0; I < B; ++I) {
    int64_t Src = Order[Begin + I];
    std::memcpy(R.Images.as<float>() + I * Per,
                D.Images.as<float>() + Src * Per, Per * sizeof(float));
    R.Labels.as<int64_t>()[I] = D.Labels.as<int64_t>()[Src];
  }
  return R;
}
