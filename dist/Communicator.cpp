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

std::vector<std::vector<unsigned>>
dlc::gradientBuckets(llvm::ArrayRef<TensorType> Types, size_t BucketBytes) {
  size_t BucketFloats = std::max<size_t>(BucketBytes / sizeof(float), 1);
  std::vector<std::vector<unsigned>> Members;
  size_t Fill = 0;
  for (size_t K = Types.size(); K-- > 0;) {
    if (Types[K].elem() != DType::F32)
      continue;
    size_t N = size_t(Types[K].numElements().value_or(0));
    if (Members.empty() || (Fill && Fill + N > BucketFloats)) {
      Members.emplace_back();
      Fill = 0;
    }
    Members.back().push_back(unsigned(K));
    Fill += N;
  }
  return Members;
}

llvm::Error Communicator::startAllReduceSum(llvm::MutableArrayRef<float> Data) {
  return allReduceSum(Data);
}
llvm::Error Communicator::progress() { return llvm::Error::success(); }
llvm::Error Communicator::waitAll() { return llvm::Error::success(); }

OverlappedSum::OverlappedSum(Communicator &C, llvm::ArrayRef<TensorType> Types,
                             double Scale, size_t BucketBytes)
    : C(C), Types(Types.begin(), Types.end()), Scale(Scale),
      Where(Types.size(), {-1, 0}), Seen(Types.size(), false),
      Doubles(Types.size()) {
  Members = gradientBuckets(Types, BucketBytes);
  for (size_t B = 0; B < Members.size(); ++B) {
    size_t Fill = 0;
    for (unsigned K : Members[B]) {
      Where[K] = {int(B), Fill};
      Fill += size_t(Types[K].numElements().value_or(0));
    }
    Data.emplace_back(Fill);
  }
  for (auto &M : Members)
    Missing.push_back(M.size());
}

OverlappedSum::~OverlappedSum() {
  if (NextToStart && !Finished)
    new std::vector<std::vector<float>>(std::move(Data)); // see the header
}

llvm::Error OverlappedSum::startReady() {
  while (NextToStart < Members.size() && !Missing[NextToStart]) {
    if (auto E = C.startAllReduceSum(Data[NextToStart]))
      return E;
    ++NextToStart;
  }
  return C.progress();
}

llvm::Error OverlappedSum::ready(unsigned K, const uint8_t *Bytes,
                                 size_t Size) {
  if (K >= Types.size() || Seen[K])
    return makeError("data-parallel sum: tensor " + std::to_string(K) +
                     " reported twice or out of range");
  const TensorType &T = Types[K];
  DType E = T.elem();
  size_t N = size_t(T.numElements().value_or(0));
  if ((E != DType::F32 && E != DType::F64) || Size != N * dtypeSize(E))
    return makeError("data-parallel training sums f32 and f64 tensors; got " +
                     std::to_string(Size) + " bytes for " + T.str());
  Seen[K] = true;
  if (E == DType::F64) {
    Doubles[K].resize(N);
    if (N)
      std::memcpy(Doubles[K].data(), Bytes, Size);
    return llvm::Error::success();
  }
  auto [B, Off] = Where[K];
  float *Dst = Data[B].data() + Off;
  float S = float(Scale);
  for (size_t I = 0; I < N; ++I) {
    float V;
    std::memcpy(&V, Bytes + I * sizeof V, sizeof V);
    Dst[I] = V * S;
  }
  if (--Missing[B] == 0)
    return startReady();
  // Started sums move on in MPI calls only (no progress thread): give them
  // one whenever the backward pass hands over a gradient.
  return NextToStart ? C.progress() : llvm::Error::success();
}

llvm::Error OverlappedSum::finish(llvm::ArrayRef<Tensor *> Tensors) {
  if (Tensors.size() != Types.size())
    return makeError("data-parallel sum: " + std::to_string(Tensors.size()) +
                     " tensors for " + std::to_string(Types.size()) + " slots");
  for (size_t K = 0; K < Types.size(); ++K) {
    if (Tensors[K]->type() != Types[K])
      return makeError("data-parallel sum: slot " + std::to_string(K) +
                       " is " + Tensors[K]->type().str() + ", expected " +
                       Types[K].str());
    if (!Seen[K])
      if (auto E = ready(unsigned(K), Tensors[K]->data(),
                         Tensors[K]->byteSize()))
        return E;
  }
  if (auto E = C.waitAll())
    return E;
  Finished = true;
  for (size_t K = Types.size(); K-- > 0;) {
    if (Types[K].elem() == DType::F64) {
      std::vector<double> &D = Doubles[K];
      for (double &V : D)
        V *= Scale;
      if (auto E = C.allReduceSum(D))
        return E;
      if (!D.empty())
        std::memcpy(Tensors[K]->data(), D.data(), D.size() * sizeof(double));
      continue;
    }
    auto [B, Off] = Where[K];
    if (Tensors[K]->byteSize())
      std::memcpy(Tensors[K]->data(), Data[B].data() + Off,
                  Tensors[K]->byteSize());
  }
  return llvm::Error::success();
}
