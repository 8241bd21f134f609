// The MPI communicator (when dlc is built with MPI) with a watchdog that
// turns a collective stuck past its timeout into an error exit; without
// MPI, createMpiCommunicator reports that dlc was built without it.
#include "dist/MpiCommunicator.h"

#include "ir/Location.h"

#ifdef DLC_HAVE_MPI
#include <mpi.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>
#endif

using namespace dlc;

const char *const dlc::NoMpiMessage =
    "dlc was built without MPI, so it cannot train across processes: "
    "install Open MPI (libopenmpi-dev and openmpi-bin; scripts/setup.sh "
    "does it), rebuild, and launch with mpirun -np N dlc train ...";

#ifndef DLC_HAVE_MPI

bool dlc::builtWithMpi() { return false; }

llvm::Expected<std::unique_ptr<Communicator>>
dlc::createMpiCommunicator(const MpiOptions &) {
  return makeError(NoMpiMessage);
}

#else

bool dlc::builtWithMpi() { return true; }

namespace {

/// Ends the process when a collective runs past its deadline. The thread
/// never calls MPI (the library is initialized for one thread): it prints
/// and exits, and the launcher then ends the other ranks.
class Watchdog {
public:
  Watchdog(double Seconds, std::string Who) : Seconds(Seconds), Who(Who) {
    if (Seconds > 0)
      T = std::thread([this] { loop(); });
  }
  ~Watchdog() {
    if (!T.joinable())
      return;
    {
      std::lock_guard<std::mutex> L(M);
      Stop = true;
    }
    CV.notify_all();
    T.join();
  }
  void arm(const char *Op) {
    if (!T.joinable())
      return;
    std::lock_guard<std::mutex> L(M);
    What = Op;
    Deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(Seconds));
    Armed = true;
    CV.notify_all();
  }
  void disarm() {
    if (!T.joinable())
      return;
    std::lock_guard<std::mutex> L(M);
    Armed = false;
  }

private:
  using Clock = std::chrono::steady_clock;
  void loop() {
    std::unique_lock<std::mutex> L(M);
    while (!Stop) {
      if (!Armed) {
        CV.wait(L);
        continue;
      }
      Clock::time_point D = Deadline;
      if (CV.wait_until(L, D) == std::cv_status::timeout && Armed &&
          Deadline == D && !Stop) {
        char Msg[512];
        int N = std::snprintf(
            Msg, sizeof Msg,
            "dlc: %s: error: %s has not finished after %g s: another rank "
            "is stuck, far behind or gone (--comm-timeout sets the limit)\n",
            Who.c_str(), What, Seconds);
        if (N > 0 && ::write(2, Msg, size_t(std::min<int>(N, sizeof Msg - 1))))
          (void)0;
        ::_exit(1);
      }
    }
  }
  double Seconds;
  std::string Who;
  std::thread T;
  std::mutex M;
  std::condition_variable CV;
  bool Stop = false, Armed = false;
  const char *What = "";
  Clock::time_point Deadline;
};

class MpiCommunicator final : public Communicator {
public:
  MpiCommunicator(int Rank, int Size, double Timeout)
      : Rank(Rank), Size(Size), Dog(Size > 1 ? Timeout : 0, describe()) {}
  ~MpiCommunicator() override {
    int Done = 0;
    MPI_Finalized(&Done);
    if (!Done)
      MPI_Finalize();
  }
  int rank() const override { return Rank; }
  int size() const override { return Size; }

  llvm::Error broadcast(llvm::MutableArrayRef<uint8_t> Bytes,
                        int Root) override {
    return chunked(Bytes.data(), Bytes.size(), "MPI_Bcast",
                   [&](void *P, int N) {
                     return MPI_Bcast(P, N, MPI_BYTE, Root, MPI_COMM_WORLD);
                   });
  }
  llvm::Error allReduceSum(llvm::MutableArrayRef<float> Data) override {
    return chunked(Data.data(), Data.size(), "MPI_Allreduce",
                   [&](void *P, int N) {
                     return MPI_Allreduce(MPI_IN_PLACE, P, N, MPI_FLOAT,
                                          MPI_SUM, MPI_COMM_WORLD);
                   });
  }
  llvm::Error allReduceSum(llvm::MutableArrayRef<double> Data) override {
    return chunked(Data.data(), Data.size(), "MPI_Allreduce",
                   [&](void *P, int N) {
                     return MPI_Allreduce(MPI_IN_PLACE, P, N, MPI_DOUBLE,
                                          MPI_SUM, MPI_COMM_WORLD);
                   });
  }
  llvm::Error barrier() override {
    Dog.arm("MPI_Barrier");
    int RC = MPI_Barrier(MPI_COMM_WORLD);
    Dog.disarm();
    return check(RC, "MPI_Barrier");
  }
  llvm::Error startAllReduceSum(llvm::MutableArrayRef<float> Data) override {
    const size_t MaxChunk = size_t(INT_MAX) / 8;
    size_t Off = 0;
    do { // once for an empty buffer, like the blocking sums
      int N = int(std::min(Data.size() - Off, MaxChunk));
      Pending.emplace_back();
      int RC = MPI_Iallreduce(MPI_IN_PLACE, Data.data() + Off, N, MPI_FLOAT,
                              MPI_SUM, MPI_COMM_WORLD, &Pending.back());
      if (RC != MPI_SUCCESS) {
        Pending.pop_back();
        return check(RC, "MPI_Iallreduce");
      }
      Off += size_t(N);
    } while (Off < Data.size());
    return llvm::Error::success();
  }
  llvm::Error progress() override {
    if (Pending.empty())
      return llvm::Error::success();
    int Done = 0;
    return check(MPI_Testall(int(Pending.size()), Pending.data(), &Done,
                             MPI_STATUSES_IGNORE),
                 "MPI_Iallreduce");
  }
  llvm::Error waitAll() override {
    if (Pending.empty())
      return llvm::Error::success();
    Dog.arm("MPI_Iallreduce");
    int RC = MPI_Waitall(int(Pending.size()), Pending.data(),
                         MPI_STATUSES_IGNORE);
    Dog.disarm();
    Pending.clear();
    return check(RC, "MPI_Iallreduce");
  }
  void abort(int Code) override {
    MPI_Abort(MPI_COMM_WORLD, Code);
    std::_Exit(Code); // MPI_Abort does not return; in case it does
  }

private:
  /// Runs Call over Data in pieces that fit MPI's int counts.
  template <typename T, typename CallT>
  llvm::Error chunked(T *Data, size_t Count, const char *Op, CallT Call) {
    const size_t MaxChunk = size_t(INT_MAX) / 8;
    Dog.arm(Op);
    int RC = MPI_SUCCESS;
    size_t Off = 0;
    do { // once for an empty buffer: every rank makes the same calls
      int N = int(std::min(Count - Off, MaxChunk));
      RC = Call(Data + Off, N);
      Off += size_t(N);
    } while (RC == MPI_SUCCESS && Off < Count);
    Dog.disarm();
    return check(RC, Op);
  }
  llvm::Error check(int RC, const char *Op) {
    if (RC == MPI_SUCCESS)
      return llvm::Error::success();
    char Text[MPI_MAX_ERROR_STRING];
    int Len = 0;
    MPI_Error_string(RC, Text, &Len);
    return makeError(describe() + ": " + Op +
                     " failed: " + std::string(Text, size_t(Len)));
  }
  int Rank, Size;
  Watchdog Dog;
  std::vector<MPI_Request> Pending; // started sums, until waitAll
};

} // namespace

llvm::Expected<std::unique_ptr<Communicator>>
dlc::createMpiCommunicator(const MpiOptions &Opts) {
  int Init = 0;
  MPI_Initialized(&Init);
  if (Init)
    return makeError("MPI is already initialized: dlc makes one MPI "
                     "communicator per process");
  int Provided = 0;
  if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &Provided) !=
      MPI_SUCCESS)
    return makeError("MPI_Init failed");
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int Rank = 0, Size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &Rank);
  MPI_Comm_size(MPI_COMM_WORLD, &Size);
  return std::make_unique<MpiCommunicator>(Rank, Size, Opts.TimeoutSeconds);
}

#endif
