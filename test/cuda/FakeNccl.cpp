// A fake NCCL (libdlc_fake_nccl.so) for tests without GPUs: the entry
// points dlc loads (runtime/Nccl.h), over the fake CUDA driver's device
// memory and streams (FakeCuda.h), summing across the processes of one
// `mpiexec -n N` run through files in a shared directory. See FakeNccl.h
// for what it checks and how failures are injected.
#include "FakeNccl.h"
#include "FakeCuda.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

#define FAKE_API extern "C" __attribute__((visibility("default")))

namespace {

enum : int { // ncclResult_t
  Success = 0,
  SystemError = 2,
  InvalidArgument = 4,
  InvalidUsage = 5,
  InProgress = 7,
};
constexpr int NotReady = 600; // CUDA_ERROR_NOT_READY
constexpr char Magic[] = "dlc-fake-nccl:";

struct Comm {
  std::string Token, Dir;
  int Size = 0, Rank = 0;
  uint64_t Seq = 0; // sums queued so far
  bool Aborted = false, Destroyed = false;
  int AsyncError = Success;
};

struct Sum {
  Comm *C;
  uint64_t Seq;
  uint64_t Send, Recv;
  size_t Count;
  bool Wide; // f64
  double Scale;
  bool Hang, Written = false;
};

struct State {
  std::recursive_mutex M;
  std::map<std::string, uint64_t> Calls;
  std::map<std::string, std::pair<int, int>> Fail; // fn -> (countdown, code)
  int HangAt = 0, AsyncAt = 0, AsyncCode = 0;      // 1-based ncclAllReduce
  bool HangInit = false;
  std::map<int, double> Ops; // premultiplied sums
  int NextOp = 100;
  std::string Violations;
  // Never freed before exit: queued sums may outlive their communicator.
  std::vector<std::unique_ptr<Comm>> Comms;
  std::vector<std::unique_ptr<Sum>> Sums;
};

State &st() {
  static State S;
  return S;
}

/// Counts the call and applies an injected failure.
int enter(const char *Fn) {
  State &S = st();
  ++S.Calls[Fn];
  auto It = S.Fail.find(Fn);
  if (It != S.Fail.end() && --It->second.first == 0) {
    int Code = It->second.second;
    S.Fail.erase(It);
    return Code;
  }
  return Success;
}

void violation(const std::string &What) { st().Violations += What + "\n"; }

std::string fileOf(const Comm &C, uint64_t Seq, int Rank) {
  return C.Dir + "/" + C.Token + "." + std::to_string(Seq) + "." +
         std::to_string(Rank);
}

/// The bytes of File when it holds exactly Bytes bytes.
bool readAll(const std::string &File, std::vector<uint8_t> &Out, size_t Bytes) {
  FILE *F = std::fopen(File.c_str(), "rb");
  if (!F)
    return false;
  Out.resize(Bytes);
  size_t N = Bytes ? std::fread(Out.data(), 1, Bytes, F) : 0;
  std::fclose(F);
  return N == Bytes;
}

/// A queued sum, run by the fake driver when its stream is drained:
/// writes this rank's premultiplied values once, then waits (not ready)
/// until every rank's are there and adds them in rank order.
int runSum(void *P) {
  std::lock_guard<std::recursive_mutex> Lock(st().M);
  Sum &S = *static_cast<Sum *>(P);
  Comm &C = *S.C;
  if (C.Aborted) // ncclCommAbort ends queued work
    return 0;
  if (S.Hang)
    return NotReady;
  size_t Elem = S.Wide ? 8 : 4, Bytes = S.Count * Elem;
  if (!S.Written) {
    const void *Src = dlcFakeCudaHostView(S.Send, Bytes);
    if (!Src) {
      violation("a queued ncclAllReduce's send buffer was freed before it ran");
      return 1;
    }
    std::vector<uint8_t> Mine(Bytes);
    for (size_t I = 0; I < S.Count; ++I) {
      if (S.Wide) {
        double V;
        std::memcpy(&V, static_cast<const uint8_t *>(Src) + I * 8, 8);
        V *= S.Scale;
        std::memcpy(Mine.data() + I * 8, &V, 8);
      } else {
        float V;
        std::memcpy(&V, static_cast<const uint8_t *>(Src) + I * 4, 4);
        V *= float(S.Scale);
        std::memcpy(Mine.data() + I * 4, &V, 4);
      }
    }
    std::string Final = fileOf(C, S.Seq, C.Rank), Tmp = Final + ".tmp";
    FILE *F = std::fopen(Tmp.c_str(), "wb");
    if (!F || (Bytes && std::fwrite(Mine.data(), 1, Bytes, F) != Bytes) ||
        std::fclose(F) != 0 || std::rename(Tmp.c_str(), Final.c_str()) != 0) {
      violation("fake NCCL: cannot write " + Final);
      return 1;
    }
    // Every rank has read sum Seq - 2 (it wrote Seq - 1 after finishing
    // Seq - 2, and this rank saw that before finishing Seq - 1).
    if (S.Seq >= 2)
      std::remove(fileOf(C, S.Seq - 2, C.Rank).c_str());
    S.Written = true;
  }
  std::vector<std::vector<uint8_t>> All(size_t(C.Size));
  for (int R = 0; R < C.Size; ++R)
    if (!readAll(fileOf(C, S.Seq, R), All[size_t(R)], Bytes))
      return NotReady;
  void *Dst = const_cast<void *>(dlcFakeCudaHostView(S.Recv, Bytes));
  if (!Dst) {
    violation("a queued ncclAllReduce's receive buffer was freed before it "
              "ran");
    return 1;
  }
  for (size_t I = 0; I < S.Count; ++I) {
    if (S.Wide) {
      double Acc = 0, V;
      for (int R = 0; R < C.Size; ++R) {
        std::memcpy(&V, All[size_t(R)].data() + I * 8, 8);
        Acc = R ? Acc + V : V;
      }
      std::memcpy(static_cast<uint8_t *>(Dst) + I * 8, &Acc, 8);
    } else {
      float Acc = 0, V;
      for (int R = 0; R < C.Size; ++R) {
        std::memcpy(&V, All[size_t(R)].data() + I * 4, 4);
        Acc = R ? Acc + V : V;
      }
      std::memcpy(static_cast<uint8_t *>(Dst) + I * 4, &Acc, 4);
    }
  }
  return 0;
}

} // namespace

struct FakeNcclUniqueId {
  char Internal[128];
};

FAKE_API int ncclGetVersion(int *V) {
  std::lock_guard<std::recursive_mutex> Lock(st().M);
  if (int E = enter("ncclGetVersion"))
    return E;
  *V = 29900; // "2.99.0": no real NCCL has it
  return Success;
}

FAKE_API int ncclGetUniqueId(FakeNcclUniqueId *Id) {
  std::lock_guard<std::recursive_mutex> Lock(st().M);
  if (int E = enter("ncclGetUniqueId"))
    return E;
  static std::atomic<unsigned> Counter{0};
  std::memset(Id, 0, sizeof *Id);
  auto Now = std::chrono::steady_clock::now().time_since_epoch().count();
  std::snprintf(Id->Internal, sizeof Id->Internal, "%s%d-%llx-%u", Magic,
                int(getpid()), (unsigned long long)Now, Counter++);
  return Success;
}

FAKE_API int ncclCommInitRank(Comm **Out, int N, FakeNcclUniqueId Id,
                              int Rank) {
  std::lock_guard<std::recursive_mutex> Lock(st().M);
  if (int E = enter("ncclCommInitRank"))
    return E;
  if (std::strncmp(Id.Internal, Magic, sizeof Magic - 1) != 0) {
    violation("ncclCommInitRank: the unique id is not one of "
              "ncclGetUniqueId's (not broadcast from rank 0?)");
    return InvalidArgument;
  }
  if (N < 1 || Rank < 0 || Rank >= N) {
    violation("ncclCommInitRank: rank " + std::to_string(Rank) + " of " +
              std::to_string(N));
    return InvalidArgument;
  }
  const char *Dir = std::getenv("DLC_FAKE_NCCL_DIR");
  if (!Dir || !*Dir) {
    violation("ncclCommInitRank: DLC_FAKE_NCCL_DIR is not set");
    return SystemError;
  }
  st().Comms.push_back(std::make_unique<Comm>());
  Comm *C = st().Comms.back().get();
  C->Token = Id.Internal + (sizeof Magic - 1);
  C->Dir = Dir;
  C->Size = N;
  C->Rank = Rank;
  // Like NCCL, the call returns once every rank has joined: each writes a
  // file and waits for the others' (a rank that never comes hangs it).
  while (st().HangInit)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::string Mine = C->Dir + "/" + C->Token + ".init." + std::to_string(Rank);
  if (FILE *F = std::fopen(Mine.c_str(), "wb"))
    std::fclose(F);
  for (int R = 0; R < N; ++R) {
    std::string Theirs = C->Dir + "/" + C->Token + ".init." + std::to_string(R);
    struct stat SB;
    while (stat(Theirs.c_str(), &SB) != 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  *Out = C;
  return Success;
}

FAKE_API int ncclCommDestroy(Comm *C) {
  std::lock_guard<std::recursive_mutex> Lock(st().M);
  if (int E = enter("ncclCommDestroy"))
    return E;
  if (!C || C->Destroyed)
    return InvalidArgument;
  C->Destroyed = true;
  return Success;
}

FAKE_API int ncclCommAbort(Comm *C) {
  std::lock_guard<std::recursive_mutex> Lock(st().M);
  if (int E = enter("ncclCommAbort"))
    return E;
  if (!C || C->Destroyed)
    return InvalidArgument;
  C->Aborted = C->Destroyed = true;
  return Success;
}

FAKE_API int ncclCommGetAsyncError(Comm *C, int *Err) {
  std::lock_guard<std::recursive_mutex> Lock(st().M);
  if (int E = enter("ncclCommGetAsyncError"))
    return E;
  if (!C || C->Destroyed)
    return InvalidArgument;
  *Err = C->AsyncError;
  return Success;
}

FAKE_API const char *ncclGetErrorString(int R) {
  switch (R) {
  case 0:
    return "no error";
  case 1:
    return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
  case 2:
    return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
  case 3:
    return "internal error - please report this issue to the NCCL developers";
  case 4:
    return "invalid argument (run with NCCL_DEBUG=WARN for details)";
  case 5:
    return "invalid usage (run with NCCL_DEBUG=WARN for details)";
  case 6:
    return "remote process exited or there was a network error";
  case 7:
    return "NCCL operation in progress";
  }
  return "unknown result code";
}

FAKE_API int ncclRedOpCreatePreMulSum(int *Op, void *Scalar, int Type,
                                      int Residence, Comm *C) {
  std::lock_guard<std::recursive_mutex> Lock(st().M);
  if (int E = enter("ncclRedOpCreatePreMulSum"))
    return E;
  if (!C || C->Destroyed || (Type != 7 && Type != 8) || Residence != 1) {
    violation("ncclRedOpCreatePreMulSum: bad arguments");
    return InvalidArgument;
  }
  double S;
  if (Type == 7) {
    float F;
    std::memcpy(&F, Scalar, 4);
    S = F;
  } else {
    std::memcpy(&S, Scalar, 8);
  }
  *Op = st().NextOp++;
  st().Ops[*Op] = S;
  return Success;
}

FAKE_API int ncclRedOpDestroy(int Op, Comm *C) {
  std::lock_guard<std::recursive_mutex> Lock(st().M);
  if (int E = enter("ncclRedOpDestroy"))
    return E;
  if (!C || !st().Ops.erase(Op)) {
    violation("ncclRedOpDestroy: unknown op " + std::to_string(Op));
    return InvalidArgument;
  }
  return Success;
}

FAKE_API int ncclAllReduce(const void *Send, void *Recv, size_t Count, int Type,
                           int Op, Comm *C, void *Stream) {
  std::lock_guard<std::recursive_mutex> Lock(st().M);
  State &St = st();
  if (int E = enter("ncclAllReduce"))
    return E;
  if (!C || C->Destroyed) {
    violation("ncclAllReduce on a destroyed or null communicator");
    return InvalidArgument;
  }
  if (Type != 7 && Type != 8) {
    violation("ncclAllReduce: type " + std::to_string(Type));
    return InvalidArgument;
  }
  double Scale = 1;
  if (Op != 0) {
    auto It = St.Ops.find(Op);
    if (It == St.Ops.end()) {
      violation("ncclAllReduce: unknown op " + std::to_string(Op));
      return InvalidArgument;
    }
    Scale = It->second;
  }
  size_t Bytes = Count * (Type == 8 ? 8 : 4);
  uint64_t S = reinterpret_cast<uint64_t>(Send),
           R = reinterpret_cast<uint64_t>(Recv);
  if (!dlcFakeCudaHostView(S, Bytes) || !dlcFakeCudaHostView(R, Bytes)) {
    violation("ncclAllReduce: a buffer is not device memory of the fake "
              "driver (" +
              std::to_string(Bytes) + " bytes)");
    return InvalidArgument;
  }
  uint64_t N = St.Calls["ncclAllReduce"];
  if (St.AsyncAt && N == uint64_t(St.AsyncAt))
    C->AsyncError = St.AsyncCode;
  St.Sums.push_back(
      std::make_unique<Sum>(Sum{C, C->Seq++, S, R, Count, Type == 8, Scale,
                                St.HangAt && N == uint64_t(St.HangAt)}));
  Sum *Q = St.Sums.back().get();
  if (dlcFakeCudaEnqueue(Stream, runSum, Q) != 0) {
    violation("ncclAllReduce: an unknown stream");
    return InvalidArgument;
  }
  return Success;
}

// The control interface (FakeNccl.h).
FAKE_API void dlcFakeNcclReset() {
  std::lock_guard<std::recursive_mutex> Lock(st().M);
  State &S = st();
  S.Fail.clear();
  S.HangAt = S.AsyncAt = S.AsyncCode = 0;
  S.HangInit = false;
  S.Violations.clear();
}
FAKE_API uint64_t dlcFakeNcclCalls(const char *Fn) {
  std::lock_guard<std::recursive_mutex> Lock(st().M);
  auto It = st().Calls.find(Fn);
  return It == st().Calls.end() ? 0 : It->second;
}
FAKE_API void dlcFakeNcclFailCall(const char *Fn, int Nth, int Code) {
  std::lock_guard<std::recursive_mutex> Lock(st().M);
  st().Fail[Fn] = {Nth, Code};
}
FAKE_API void dlcFakeNcclHangCall(int Nth) {
  std::lock_guard<std::recursive_mutex> Lock(st().M);
  st().HangAt = Nth;
}
FAKE_API void dlcFakeNcclHangInit() {
  std::lock_guard<std::recursive_mutex> Lock(st().M);
  st().HangInit = true;
}
FAKE_API void dlcFakeNcclAsyncErrorAt(int Nth, int Code) {
  std::lock_guard<std::recursive_mutex> Lock(st().M);
  st().AsyncAt = Nth;
  st().AsyncCode = Code;
}
FAKE_API const char *dlcFakeNcclViolations() { return st().Violations.c_str(); }
