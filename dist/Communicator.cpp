// The single-process communicator, the launcher check, shards of a global
// batch and the bucketed allreduce of tensors.
#include "dist/Communicator.h"

#include "ir/Location.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace dlc;

Communicator::~Communicator() = default;

std::string Communicator::describe() const {
  return "rank " + std::to_string(rank()) + " of " + std::to_string(size());
}

llvm::Error LocalCommunicator::broadcast(llvm::MutableArrayRef<uint8_t>,
                                         int Root) {
  if (Root != 0)
    return makeError("broadcast from rank " + std::to_string(Root) +
                     " in a single process");
  return llvm::Error::success();
}
llvm::Error LocalCommunicator::allReduceSum(llvm::MutableArrayRef<float>) {
  return llvm::Error::success();
}
llvm::Error LocalCommunicator::allReduceSum(llvm::MutableArrayRef<double>) {
  return llvm::Error::success();
}
llvm::Error LocalCommunicator::barrier() { return llvm::Error::success(); }
void LocalCommunicator::abort(int Code) { std::exit(Code); }

/// The integer value of environment variable Name, or 0.
static long envInt(const char *Name) {
  const char *V = std::getenv(Name);
  return V ? std::strtol(V, nullptr, 10) : 0;
}

bool dlc::launchedAsRanks() {
  return envInt("OMPI_COMM_WORLD_SIZE") > 1 || envInt("PMI_SIZE") > 1 ||
         (std::getenv("PMIX_RANK") && envInt("SLURM_NTASKS") > 1);
}

int dlc::localRanks() {
  for (const char *Name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS",
                           "SLURM_NTASKS_PER_NODE"})
    if (long N = envInt(Name); N > 0)
      return int(N);
  return 1;
}

std::pair<int64_t, int64_t> dlc::shardRange(int64_t Begin, int64_t End,
                                            int Rank, int Size) {
  int64_t Len = std::max<int64_t>(End - Begin, 0);
  return {Begin + Len * Rank / Size, Begin + Len * (Rank + 1) / Size};
}

llvm::Error dlc::allReduceTensors(Communicator &C,
                                  llvm::ArrayRef<Tensor *> Tensors,
                                  double Scale, size_t BucketBytes) {
  for (const Tensor *T : Tensors)
    if (T->elem() != DType::F32 && T->elem() != DType::F64)
      return makeError("data-parallel training sums f32 and f64 tensors; "
                       "got " +
                       T->type().str());
  size_t BucketFloats = std::max<size_t>(BucketBytes / sizeof(float), 1);
  std::vector<float> Bucket;
  std::vector<Tensor *> InBucket;
  float S = float(Scale);
  auto Flush = [&]() -> llvm::Error {
    if (InBucket.empty())
      return llvm::Error::success();
    if (auto E = C.allReduceSum(Bucket))
      return E;
    size_t Off = 0;
    for (Tensor *T : InBucket) {
      std::memcpy(T->data(), Bucket.data() + Off, T->byteSize());
      Off += size_t(T->numElements());
    }
    Bucket.clear();
    InBucket.clear();
    return llvm::Error::success();
  };
  for (Tensor *T : llvm::reverse(Tensors)) {
    size_t N = size_t(T->numElements());
    if (T->elem() == DType::F64) {
      double *D = T->as<double>();
      for (size_t I = 0; I < N; ++I)
        D[I] *= Scale;
      if (auto E = C.allReduceSum(llvm::MutableArrayRef<double>(D, N)))
        return E;
      continue;
    }
    if (!Bucket.empty() && Bucket.size() + N > BucketFloats)
      if (auto E = Flush())
        return E;
    const float *F = T->as<float>();
    for (size_t I = 0; I < N; ++I)
      Bucket.push_back(F[I] * S);
    InBucket.push_back(T);
  }
  return Flush();
}
