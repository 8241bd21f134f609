// Image classification data for training: MNIST-format splits (Fashion-MNIST
// from Debian's dataset-fashion-mnist, or the original MNIST files) as
// tensors, normalization, seeded shuffling and batching.
//
//   auto Src = Check(dlc::parseDataSpec("fashion-mnist"));
//   dlc::Dataset Train = Check(dlc::loadSplit(Src, dlc::Split::Train));
//   std::vector<int64_t> Order = dlc::epochOrder(Train.size(), Seed, Epoch);
//   for (int64_t K = 0; K < dlc::numBatches(Train.size(), 64); ++K) {
//     dlc::Batch B = dlc::makeBatch(Train, Order, K, 64);  // last one partial
//     ...
//   }
#ifndef DLC_FRONTEND_DATA_DATASET_H
#define DLC_FRONTEND_DATA_DATASET_H

#include "ir/Tensor.h"

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace dlc {

/// Images f32[N,1,H,W] and labels i64[N] in [0, NumClasses).
struct Dataset {
  Tensor Images;
  Tensor Labels;
  int64_t NumClasses = 10;
  int64_t size() const { return Labels.numElements(); }
};

/// Pixel bytes become X / 255 in [0, 1], then (X - Mean) / Std (by default
/// Mean 0 and Std 1: nothing more).
struct Normalization {
  double Mean = 0, Std = 1;
};

/// Where a data set lives: "fashion-mnist" (Debian's package directory),
/// "fashion-mnist:DIR" or "mnist:DIR" (the four MNIST-format files, plain
/// or .gz, in DIR).
struct DataSource {
  std::string Name; // "fashion-mnist" or "mnist"
  std::string Dir;
};

/// Where Debian's dataset-fashion-mnist installs its files.
constexpr const char *DefaultFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// Errors: an unknown data set name, mnist without a directory.
llvm::Expected<DataSource> parseDataSpec(llvm::StringRef Spec);

enum class Split { Train, Test };

/// Loads a split: train-{images-idx3,labels-idx1}-ubyte[.gz] or t10k-...
/// At most Limit examples (the first ones) when Limit >= 0. Errors name the
/// file: missing (with what to install or pass), truncated, bad magic, an
/// image/label count mismatch, labels out of range.
llvm::Expected<Dataset> loadSplit(const DataSource &Src, Split S,
                                  const Normalization &Norm = {},
                                  int64_t Limit = -1);

/// An images file (IDX [N,H,W]) and a labels file (IDX [N]) as a Dataset
/// with labels checked against NumClasses.
llvm::Expected<Dataset> loadIdxPair(llvm::StringRef ImagesPath,
                                    llvm::StringRef LabelsPath,
                                    int64_t NumClasses,
                                    const Normalization &Norm = {},
                                    int64_t Limit = -1);

/// The order of an epoch's examples: 0..N-1 shuffled (Fisher-Yates over the
/// counter-based generator of ir/Random.h, so the same on every machine)
/// from (Seed, Epoch), or in order when Shuffle is false.
std::vector<int64_t> epochOrder(int64_t N, int64_t Seed, int64_t Epoch,
                                bool Shuffle = true);

/// Batches of BatchSize covering N examples (the last may be partial).
inline int64_t numBatches(int64_t N, int64_t BatchSize) {
  return (N + BatchSize - 1) / BatchSize;
}

struct Batch {
  Tensor Images; // f32[B,1,H,W]
  Tensor Labels; // i64[B]
};

/// Batch K of an epoch: the examples Order[K*BatchSize ..] (fewer for the
/// last batch).
Batch makeBatch(const Dataset &D, llvm::ArrayRef<int64_t> Order, int64_t K,
                int64_t BatchSize);

} // namespace dlc

#endif
