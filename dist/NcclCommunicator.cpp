// The NCCL communicator over device buffers: its setup over the host
// communicator, premultiplied sums on its stream, bounded waits that abort
// it, and the bucketed sum of device tensors.
#include "dist/NcclCommunicator.h"

#include "ir/Location.h"
#include "runtime/CudaDriver.h"
#include "runtime/Nccl.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

using namespace dlc;
using rt::NcclComm;
using rt::NcclResult;

namespace {
/// Every rank's flag (0 or 1), summed over Host: Bad[R] is rank R's.
llvm::Expected<std::vector<double>> flags(Communicator &Host, bool Mine) {
  std::vector<double> Bad(size_t(Host.size()), 0.0);
  Bad[size_t(Host.rank())] = Mine ? 1 : 0;
  if (auto E = Host.allReduceSum(Bad))
    return std::move(E);
  return Bad;
}

/// E (from the runtime: NCCL, the CUDA driver) as dlc's errors read.
llvm::Error dlcError(llvm::Error E) {
  if (!E)
    return llvm::Error::success();
  return makeError(llvm::toString(std::move(E)));
}

/// Ends the process when ncclCommInitRank (which waits for every rank
/// without a limit) runs past the timeout: it prints and exits, and the
/// launcher ends the other ranks (as MpiCommunicator's watchdog does).
class InitWatchdog {
public:
  InitWatchdog(double Seconds, std::string Who) {
    if (Seconds > 0)
      T = std::thread([this, Seconds, Who] {
        std::unique_lock<std::mutex> L(M);
        if (CV.wait_for(L, std::chrono::duration<double>(Seconds),
                        [this] { return Done; }))
          return;
        char Msg[512];
        int N = std::snprintf(
            Msg, sizeof Msg,
            "dlc: %s: error: ncclCommInitRank has not finished after %g s: "
            "another rank is stuck, far behind or gone (--comm-timeout sets "
            "the limit)\n",
            Who.c_str(), Seconds);
        if (N > 0 && ::write(2, Msg, size_t(std::min<int>(N, sizeof Msg - 1))))
          (void)0;
        ::_exit(1);
      });
  }
  ~InitWatchdog() {
    if (!T.joinable())
      return;
    {
      std::lock_guard<std::mutex> L(M);
      Done = true;
    }
    CV.notify_all();
    T.join();
  }

private:
  std::mutex M;
  std::condition_variable CV;
  bool Done = false;
  std::thread T;
};

/// The first rank whose flag is set, or -1.
int firstSet(llvm::ArrayRef<double> Bad) {
  for (size_t R = 0; R < Bad.size(); ++R)
    if (Bad[R] != 0)
      return int(R);
  return -1;
}
} // namespace

llvm::Expected<std::unique_ptr<NcclCommunicator>>
NcclCommunicator::create(Communicator &Host, std::shared_ptr<GpuDevice> Dev,
                         const NcclOptions &Opts) {
  // Every rank runs the same device option, so this refusal is everyone's.
  if (!Dev->driver())
    return makeError("NCCL needs a CUDA device (--device cuda); the CPU "
                     "emulation of a GPU sums gradients through the host "
                     "(--comm mpi)");
  std::unique_ptr<NcclCommunicator> C(new NcclCommunicator());
  C->Dev = std::move(Dev);
  C->Rank = Host.rank();
  C->Size = Host.size();
  C->Timeout = Opts.TimeoutSeconds;
  // 1. NCCL on every rank, or an error on every rank.
  auto L = rt::Nccl::get();
  std::string Own = L ? "" : llvm::toString(L.takeError());
  auto Bad = flags(Host, !Own.empty());
  if (!Bad)
    return Bad.takeError();
  if (!Own.empty())
    return makeError(Own);
  if (int R = firstSet(*Bad); R >= 0)
    return makeError("NCCL did not load on rank " + std::to_string(R) +
                     " (its error is printed there)");
  C->Lib = &*L;
  const rt::NcclFns &F = C->Lib->fns();
  // NCCL uses the CUDA runtime, which works on the current context: ours.
  rt::CudaDriver &D = *C->Dev->driver();
  if (auto E = D.makeCurrent())
    return dlcError(std::move(E));
  // 2. Rank 0's unique id everywhere (after a status byte: a failure on
  // rank 0 ends every rank).
  uint8_t Msg[1 + sizeof(rt::NcclUniqueId)] = {0};
  rt::NcclUniqueId Id;
  std::memset(&Id, 0, sizeof Id);
  std::string IdError;
  if (C->Rank == 0) {
    if (auto E = C->Lib->check(F.GetUniqueId(&Id), "ncclGetUniqueId"))
      IdError = llvm::toString(std::move(E));
    else
      IdError.clear();
    Msg[0] = IdError.empty() ? 0 : 1;
    std::memcpy(Msg + 1, &Id, sizeof Id);
  }
  if (auto E = Host.broadcast(Msg, 0))
    return std::move(E);
  if (Msg[0])
    return makeError(IdError.empty() ? "ncclGetUniqueId failed on rank 0 "
                                       "(its error is printed there)"
                                     : IdError);
  std::memcpy(&Id, Msg + 1, sizeof Id);
  // 3. The NCCL communicator on this rank's device; every rank learns
  // whether every rank has one.
  NcclComm Comm = nullptr;
  std::string InitError;
  std::optional<InitWatchdog> Dog(std::in_place, C->Timeout, C->who());
  if (auto E = C->Lib->check(
          F.CommInitRank(&Comm, C->Size, Id, C->Rank), "ncclCommInitRank",
          C->who() + " on CUDA device " + std::to_string(D.ordinal())))
    InitError = llvm::toString(std::move(E));
  Dog.reset();
  C->Comm = Comm;
  auto InitBad = flags(Host, !InitError.empty());
  if (!InitBad)
    return InitBad.takeError();
  if (!InitError.empty() || firstSet(*InitBad) >= 0) {
    C->Broken = true; // the destructor aborts what was made
    if (!InitError.empty())
      return makeError(InitError);
    return makeError("ncclCommInitRank failed on rank " +
                     std::to_string(firstSet(*InitBad)) +
                     " (its error is printed there)");
  }
  auto S = C->Dev->createStream();
  if (!S)
    return dlcError(S.takeError());
  C->Stream = *S;
  return std::move(C);
}

NcclCommunicator::~NcclCommunicator() {
  if (Comm && Lib) {
    if (Dev && Dev->driver())
      llvm::consumeError(Dev->driver()->makeCurrent());
    NcclComm H = static_cast<NcclComm>(Comm);
    (void)(Broken ? Lib->fns().CommAbort(H) : Lib->fns().CommDestroy(H));
  }
  if (Stream)
    Dev->destroyStream(Stream);
}

std::string NcclCommunicator::who() const {
  return "rank " + std::to_string(Rank) + " of " + std::to_string(Size);
}

std::string NcclCommunicator::describe() const {
  return "NCCL " + Lib->version() + " (" + Lib->libraryPath() + ")";
}

llvm::Error NcclCommunicator::failed(llvm::Error E) {
  if (!Broken && Comm) {
    Broken = true;
    Lib->fns().CommAbort(static_cast<NcclComm>(Comm));
    Comm = nullptr;
  }
  return E;
}

llvm::Error NcclCommunicator::allReduceScaled(DeviceAddr Buf, size_t Count,
                                              DType Elem, double Scale) {
  if (Broken)
    return makeError(who() + ": the NCCL communicator was aborted after an "
                             "earlier error");
  if (Elem != DType::F32 && Elem != DType::F64)
    return makeError("NCCL sums f32 and f64 tensors here; got " +
                     std::string(dtypeName(Elem)));
  if (auto E = Dev->driver()->makeCurrent())
    return failed(dlcError(std::move(E)));
  const rt::NcclFns &F = Lib->fns();
  NcclComm H = static_cast<NcclComm>(Comm);
  float S32 = float(Scale);
  double S64 = Scale;
  bool Wide = Elem == DType::F64;
  rt::NcclDataType T = Wide ? rt::NcclFloat64 : rt::NcclFloat32;
  rt::NcclRedOp Op = rt::NcclSum;
  if (auto E = Lib->check(
          F.RedOpCreatePreMulSum(
              &Op, Wide ? static_cast<void *>(&S64) : static_cast<void *>(&S32),
              T, rt::NcclScalarHost, H),
          "ncclRedOpCreatePreMulSum", who()))
    return failed(dlcError(std::move(E)));
  void *P = reinterpret_cast<void *>(uintptr_t(Buf));
  NcclResult R = F.AllReduce(P, P, Count, T, Op, H, Stream);
  NcclResult RD = F.RedOpDestroy(Op, H); // may go once the call is queued
  if (auto E = Lib->check(R, "ncclAllReduce",
                          who() + ", " + std::to_string(Count) + " elements"))
    return failed(dlcError(std::move(E)));
  if (auto E = Lib->check(RD, "ncclRedOpDestroy", who()))
    return failed(dlcError(std::move(E)));
  return llvm::Error::success();
}

llvm::Error NcclCommunicator::wait(llvm::StringRef What) {
  if (Broken)
    return makeError(who() + ": the NCCL communicator was aborted after an "
                             "earlier error");
  using Clock = std::chrono::steady_clock;
  auto Start = Clock::now();
  NcclComm H = static_cast<NcclComm>(Comm);
  for (unsigned Polls = 0;; ++Polls) {
    auto Done = Dev->done(Stream, ("ncclAllReduce (" + What + ")").str());
    if (!Done)
      return failed(dlcError(Done.takeError()));
    NcclResult Async = rt::NcclSuccess;
    if (auto E = Lib->check(Lib->fns().CommGetAsyncError(H, &Async),
                            "ncclCommGetAsyncError", who()))
      return failed(dlcError(std::move(E)));
    if (Async != rt::NcclSuccess && Async != rt::NcclInProgress)
      return failed(makeError(
          who() + ": ncclAllReduce (" + What +
          ") failed: " + Lib->errorText(Async) +
          "; the NCCL communicator was aborted (another rank failed or "
          "is gone?)"));
    if (*Done)
      return llvm::Error::success();
    double Waited = std::chrono::duration<double>(Clock::now() - Start).count();
    if (Timeout > 0 && Waited > Timeout) {
      char Secs[32];
      snprintf(Secs, sizeof Secs, "%g", Timeout);
      return failed(makeError(
          who() + ": ncclAllReduce (" + What + ") has not finished after " +
          Secs +
          " s: another rank is stuck, far behind or gone (--comm-timeout "
          "sets the limit); the NCCL communicator was aborted"));
    }
    // Spin a little (sums of small buckets finish in microseconds), then
    // poll gently.
    if (Polls > 100)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    else
      std::this_thread::yield();
  }
}

llvm::Error dlc::allReduceDeviceTensors(NcclCommunicator &C,
                                        llvm::ArrayRef<DeviceTensor *> Tensors,
                                        double Scale, size_t BucketBytes,
                                        GpuMemoryPool &Pool) {
  std::vector<TensorType> Types;
  for (const DeviceTensor *T : Tensors) {
    if (T->Elem != DType::F32 && T->Elem != DType::F64)
      return makeError("data-parallel training sums f32 and f64 tensors; "
                       "got " +
                       T->type().str());
    Types.push_back(T->type());
  }
  GpuDevice &D = C.device();
  void *S = C.stream();
  // Tensors that share bytes (a graph returning one value as two
  // gradients) are summed in place: each gets bytes of its own first, on
  // the sums' stream, so the copy reads them before any sum.
  std::set<const GpuBuffer *> Seen;
  for (DeviceTensor *T : Tensors) {
    if (!T->Buf || Seen.insert(T->Buf.get()).second)
      continue;
    auto Own = Pool.acquire(T->byteSize());
    if (!Own)
      return dlcError(Own.takeError());
    if (T->byteSize())
      if (auto E =
              D.copyOnDevice(S, (*Own)->addr(), T->Buf->addr(), T->byteSize()))
        return dlcError(std::move(E));
    T->Buf = std::move(*Own);
  }
  std::vector<std::shared_ptr<GpuBuffer>> Staging; // until the sums end
  for (const std::vector<unsigned> &B : gradientBuckets(Types, BucketBytes)) {
    uint64_t Bytes = 0;
    for (unsigned K : B)
      Bytes += Tensors[K]->byteSize();
    if (!Bytes)
      continue;
    if (B.size() == 1) { // in place
      const DeviceTensor &T = *Tensors[B[0]];
      if (auto E = C.allReduceScaled(T.Buf->addr(), Bytes / sizeof(float),
                                     DType::F32, Scale))
        return E;
      continue;
    }
    auto Buf = Pool.acquire(Bytes);
    if (!Buf)
      return dlcError(Buf.takeError());
    DeviceAddr A = (*Buf)->addr();
    uint64_t Off = 0;
    for (unsigned K : B) {
      uint64_t N = Tensors[K]->byteSize();
      if (N)
        if (auto E = D.copyOnDevice(S, A + Off, Tensors[K]->Buf->addr(), N))
          return dlcError(std::move(E));
      Off += N;
    }
    if (auto E = C.allReduceScaled(A, Bytes / sizeof(float), DType::F32, Scale))
      return E;
    Off = 0;
    for (unsigned K : B) {
      uint64_t N = Tensors[K]->byteSize();
      if (N)
        if (auto E = D.copyOnDevice(S, Tensors[K]->Buf->addr(), A + Off, N))
          return dlcError(std::move(E));
      Off += N;
    }
    Staging.push_back(std::move(*Buf));
  }
  for (size_t K = Tensors.size(); K-- > 0;) // f64 tensors one by one
    if (Tensors[K]->Elem == DType::F64 && Tensors[K]->byteSize())
      if (auto E = C.allReduceScaled(Tensors[K]->Buf->addr(),
                                     Tensors[K]->byteSize() / sizeof(double),
                                     DType::F64, Scale))
        return E;
  return C.wait("the gradient sums");
}
