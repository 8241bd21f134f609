// A fake CUDA driver for tests: device memory in a reserved address range
// backed by host buffers, streams as queues run at synchronization, PTX
// "loaded" by finding its .entry names, and launches that run registered
// emulation functions. See FakeCuda.h for what it checks.
#include "FakeCudaState.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <sys/mman.h>
#include <vector>

using namespace fakecuda;

State &fakecuda::st() {
  static State S;
  if (!S.Base) { // a range no host allocation can take; touching it faults
    void *P = mmap(nullptr, SpaceSize, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    S.Base = S.Next = reinterpret_cast<uint64_t>(P) + (1 << 20);
  }
  return S;
}

void fakecuda::violation(const std::string &What) {
  st().Violations += What + "\n";
}

uint8_t *fakecuda::translate(uint64_t Addr, uint64_t Bytes,
                              const std::string &Who) {
  State &S = st();
  auto It = S.Allocs.upper_bound(Addr);
  if (It != S.Allocs.begin()) {
    --It;
    uint64_t Off = Addr - It->first;
    if (Off <= It->second.Size && Bytes <= It->second.Size - Off)
      return It->second.Host.data() + Off;
  }
  char Buf[160];
  snprintf(Buf, sizeof(Buf), "%s: [0x%llx, +%llu) is not inside one live "
           "device allocation", Who.c_str(), (unsigned long long)Addr,
           (unsigned long long)Bytes);
  violation(Buf);
  return nullptr;
}

/// Counts the call and applies injected failures and the sticky fault.
CUresult fakecuda::enter(const char *Fn) {
  State &S = st();
  ++S.Calls[Fn];
  if (S.Sticky)
    return 700;
  auto It = S.Fail.find(Fn);
  if (It != S.Fail.end() && --It->second.first == 0) {
    CUresult Code = It->second.second;
    S.Fail.erase(It);
    return Code;
  }
  return 0;
}

bool fakecuda::validStream(void *H) {
  if (!H)
    return true; // the legacy default stream
  for (auto &P : st().Streams)
    if (P.get() == H)
      return true;
  violation("an unknown stream handle was used");
  return false;
}

/// Queues Op on stream H (records it while H captures a graph), or runs
/// it now on the default stream.
CUresult fakecuda::enqueue(void *H, std::function<CUresult()> Op) {
  if (!H)
    return Op();
  Stream &Q = *static_cast<Stream *>(H);
  (Q.Capturing ? Q.Captured : Q.Queue).push_back(std::move(Op));
  return 0;
}

namespace {

/// Runs Q's work in order until an op is not ready (CUDA_ERROR_NOT_READY:
/// it and what follows stay queued) or fails (what follows is dropped).
CUresult drain(Stream &Q) {
  CUresult R = 0;
  size_t I = 0;
  for (; I < Q.Queue.size(); ++I) {
    if (R)
      continue;
    CUresult E = Q.Queue[I]();
    if (E == NotReady)
      break;
    R = E;
  }
  if (I < Q.Queue.size()) {
    Q.Queue.erase(Q.Queue.begin(), Q.Queue.begin() + long(I));
    return NotReady;
  }
  Q.Queue.clear();
  return R;
}

/// drain until Q's work is all done (an op waiting for another process,
/// such as the fake NCCL's sums, finishes without this process's help).
CUresult drainWaiting(Stream &Q) {
  for (;;) {
    CUresult R = drain(Q);
    if (R != NotReady)
      return R;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

CUresult drainAll() {
  CUresult R = 0;
  for (auto &Q : st().Streams)
    if (CUresult E = drainWaiting(*Q); E && !R)
      R = E;
  return R;
}

/// Runs a launch: checks the parameter block and every buffer it names,
/// calls the emulation for each block, then checks the red zones.
CUresult runKernel(const std::string &Name, uint64_t Block, dlc::GpuLaunch L) {
  State &S = st();
  S.Launches.push_back({Name, L});
  if (Name == S.Faulty) {
    S.Sticky = true;
    return 700;
  }
  auto K = S.Kernels.find(Name);
  if (K == S.Kernels.end())
    return 0;
  unsigned N = K->second.NumArgs;
  auto *Args = reinterpret_cast<const dlc::BufferArg *>(
      translate(Block, N * sizeof(dlc::BufferArg), Name + " parameter block"));
  if (!Args)
    return 1;
  std::vector<dlc::BufferArg> Host(N);
  for (unsigned I = 0; I < N; ++I) {
    std::string Who = Name + " argument " + std::to_string(I);
    auto Sizes = reinterpret_cast<uint64_t>(Args[I].Sizes);
    Host[I].Sizes =
        reinterpret_cast<const int64_t *>(translate(Sizes, 0, Who + " sizes"));
    auto Data = reinterpret_cast<uint64_t>(Args[I].Data);
    Host[I].Data = Data ? translate(Data, 0, Who + " data") : nullptr;
    if (!Host[I].Sizes || (Data && !Host[I].Data))
      return 1;
  }
  for (uint32_t Z = 0; Z < L.Grid[2]; ++Z)
    for (uint32_t Y = 0; Y < L.Grid[1]; ++Y)
      for (uint32_t X = 0; X < L.Grid[0]; ++X)
        K->second.Fn(Host.data(), &L, X, Y, Z);
  for (auto &[Addr, A] : S.Allocs)
    for (uint64_t I = 0; I < RedZone; ++I)
      if (A.Host[A.Size + I] != RedByte) {
        violation(Name + " wrote past the end of a " + std::to_string(A.Size) +
                  "-byte allocation");
        std::memset(A.Host.data() + A.Size, RedByte, RedZone);
        return 1;
      }
  return 0;
}

const std::map<int, std::pair<const char *, const char *>> &errorTable() {
  static const std::map<int, std::pair<const char *, const char *>> T = {
      {0, {"CUDA_SUCCESS", "no error"}},
      {1, {"CUDA_ERROR_INVALID_VALUE", "invalid argument"}},
      {2, {"CUDA_ERROR_OUT_OF_MEMORY", "out of memory"}},
      {100, {"CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"}},
      {218, {"CUDA_ERROR_INVALID_PTX",
             "a PTX JIT compilation failed"}},
      {400, {"CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"}},
      {801, {"CUDA_ERROR_NOT_SUPPORTED", "operation not supported"}},
      {900, {"CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED",
             "operation not permitted when stream is capturing"}},
      {901, {"CUDA_ERROR_STREAM_CAPTURE_INVALIDATED",
             "operation failed due to a previous error during capture"}},
      {500, {"CUDA_ERROR_NOT_FOUND", "named symbol not found"}},
      {700, {"CUDA_ERROR_ILLEGAL_ADDRESS",
             "an illegal memory access was encountered"}},
      {719, {"CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"}}};
  return T;
}

} // namespace


// --- Driver API -------------------------------------------------------------

FAKE_API CUresult cuInit(unsigned) {
  ENTER("cuInit");
  return st().Devices ? 0 : 100;
}
FAKE_API CUresult cuDriverGetVersion(int *V) {
  ENTER("cuDriverGetVersion");
  *V = 13000;
  return 0;
}
FAKE_API CUresult cuDeviceGetCount(int *N) {
  ENTER("cuDeviceGetCount");
  *N = st().Devices;
  return 0;
}
FAKE_API CUresult cuDeviceGet(int *D, int Ordinal) {
  ENTER("cuDeviceGet");
  if (Ordinal < 0 || Ordinal >= st().Devices)
    return 101; // CUDA_ERROR_INVALID_DEVICE
  *D = Ordinal;
  return 0;
}
FAKE_API CUresult cuDeviceGetName(char *Name, int Len, int) {
  ENTER("cuDeviceGetName");
  snprintf(Name, Len, "Fake GPU");
  return 0;
}
FAKE_API CUresult cuDeviceGetAttribute(int *V, int Attr, int) {
  ENTER("cuDeviceGetAttribute");
  // sm_90, or what $DLC_FAKE_CUDA_CC says ("75": an older GPU).
  int Cc = 90;
  if (const char *E = std::getenv("DLC_FAKE_CUDA_CC"))
    Cc = std::atoi(E);
  *V = Attr == 75 ? Cc / 10 : Attr == 76 ? Cc % 10 : 0;
  return 0;
}
FAKE_API CUresult cuDevicePrimaryCtxRetain(void **Ctx, int) {
  ENTER("cuDevicePrimaryCtxRetain");
  *Ctx = &st().Ctx;
  return 0;
}
FAKE_API CUresult cuDevicePrimaryCtxRelease_v2(int) {
  ENTER("cuDevicePrimaryCtxRelease_v2");
  return 0;
}
FAKE_API CUresult cuCtxSetCurrent(void *Ctx) {
  ENTER("cuCtxSetCurrent");
  return Ctx == &st().Ctx ? 0 : 201; // CUDA_ERROR_INVALID_CONTEXT
}
FAKE_API CUresult cuMemGetInfo_v2(size_t *Free, size_t *Total) {
  ENTER("cuMemGetInfo_v2");
  *Free = st().Limit - st().Live;
  *Total = st().Limit;
  return 0;
}
FAKE_API CUresult cuMemAlloc_v2(CUdeviceptr *P, size_t Bytes) {
  ENTER("cuMemAlloc_v2");
  State &S = st();
  if (!Bytes)
    return 1;
  if (Bytes > S.Limit - S.Live)
    return 2;
  uint64_t Addr = (S.Next + 255) / 256 * 256;
  S.Next = Addr + Bytes + RedZone; // never reused: use after free shows
  Allocation &A = S.Allocs[Addr];
  A.Size = Bytes;
  A.Host.assign(Bytes + RedZone, RedByte);
  std::memset(A.Host.data(), Poison, Bytes);
  S.Live += Bytes;
  *P = Addr;
  return 0;
}
FAKE_API CUresult cuMemFree_v2(CUdeviceptr P) {
  ENTER("cuMemFree_v2");
  CUresult R = drainAll(); // freeing waits for the device, as CUDA does
  auto It = st().Allocs.find(P);
  if (It == st().Allocs.end()) {
    violation("cuMemFree_v2 of an address that is not a live allocation");
    return 1;
  }
  st().Live -= It->second.Size;
  st().Allocs.erase(It);
  return R;
}
FAKE_API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr Dst, const void *Src,
                                       size_t N, void *H) {
  ENTER("cuMemcpyHtoDAsync_v2");
  if (!validStream(H) || !translate(Dst, N, "cuMemcpyHtoDAsync_v2"))
    return 1;
  st().Bytes[0] += N;
  auto Staged = std::make_shared<std::vector<uint8_t>>(
      static_cast<const uint8_t *>(Src), static_cast<const uint8_t *>(Src) + N);
  return enqueue(H, [Dst, Staged] {
    uint8_t *D = translate(Dst, Staged->size(), "cuMemcpyHtoDAsync_v2 (run)");
    if (!D)
      return 1;
    std::memcpy(D, Staged->data(), Staged->size());
    return 0;
  });
}
FAKE_API CUresult cuMemcpyDtoHAsync_v2(void *Dst, CUdeviceptr Src, size_t N,
                                       void *H) {
  ENTER("cuMemcpyDtoHAsync_v2");
  if (!validStream(H) || !translate(Src, N, "cuMemcpyDtoHAsync_v2"))
    return 1;
  st().Bytes[1] += N;
  return enqueue(H, [Dst, Src, N] {
    uint8_t *S = translate(Src, N, "cuMemcpyDtoHAsync_v2 (run)");
    if (!S)
      return 1;
    std::memcpy(Dst, S, N);
    return 0;
  });
}
FAKE_API CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr Dst, CUdeviceptr Src,
                                       size_t N, void *H) {
  ENTER("cuMemcpyDtoDAsync_v2");
  if (!validStream(H) || !translate(Src, N, "cuMemcpyDtoDAsync_v2 source") ||
      !translate(Dst, N, "cuMemcpyDtoDAsync_v2 destination"))
    return 1;
  st().Bytes[2] += N;
  return enqueue(H, [Dst, Src, N] {
    uint8_t *S = translate(Src, N, "cuMemcpyDtoDAsync_v2 (run)");
    uint8_t *D = translate(Dst, N, "cuMemcpyDtoDAsync_v2 (run)");
    if (!S || !D)
      return 1;
    std::memmove(D, S, N);
    return 0;
  });
}
FAKE_API CUresult cuModuleLoadDataEx(void **Mod, const void *Image,
                                     unsigned NumOpts, int *Opts, void **Vals) {
  ENTER("cuModuleLoadDataEx");
  char *Log = nullptr;
  size_t LogSize = 0;
  for (unsigned I = 0; I < NumOpts; ++I) {
    if (Opts[I] == 5)
      Log = static_cast<char *>(Vals[I]);
    if (Opts[I] == 6)
      LogSize = reinterpret_cast<uintptr_t>(Vals[I]);
  }
  std::string Text = static_cast<const char *>(Image);
  auto M = std::make_unique<Module>();
  std::string Error;
  size_t LineNo = 0, Pos = 0;
  while (Pos <= Text.size() && Error.empty()) {
    size_t End = Text.find('\n', Pos);
    std::string Line = Text.substr(Pos, End == std::string::npos ? End : End - Pos);
    ++LineNo;
    if (Line.find("dlc_fake_invalid") != std::string::npos)
      Error = "ptxas application ptx input, line " + std::to_string(LineNo) +
              "; error   : Unknown symbol 'dlc_fake_invalid'";
    size_t E = Line.find(".entry ");
    if (E != std::string::npos) {
      size_t B = E + 7, Q = B;
      while (Q < Line.size() && (isalnum((unsigned char)Line[Q]) || Line[Q] == '_'))
        ++Q;
      M->Entries.push_back(Line.substr(B, Q - B));
    }
    if (End == std::string::npos)
      break;
    Pos = End + 1;
  }
  if (Error.empty() && (Text.find(".version") == std::string::npos ||
                        Text.find(".target") == std::string::npos))
    Error = "ptxas fatal   : PTX input lacks .version or .target";
  if (!Error.empty()) {
    if (Log && LogSize)
      snprintf(Log, LogSize, "%s", Error.c_str());
    return 218;
  }
  *Mod = M.get();
  st().Modules.push_back(std::move(M));
  return 0;
}
FAKE_API CUresult cuModuleUnload(void *Mod) {
  ENTER("cuModuleUnload");
  for (auto It = st().Modules.begin(); It != st().Modules.end(); ++It)
    if (It->get() == Mod) {
      st().Modules.erase(It);
      return 0;
    }
  return 400;
}
FAKE_API CUresult cuModuleGetFunction(void **F, void *Mod, const char *Name) {
  ENTER("cuModuleGetFunction");
  for (auto &M : st().Modules)
    if (M.get() == Mod) {
      for (auto &E : M->Entries)
        if (E == Name) {
          auto Fn = std::make_unique<Function>();
          Fn->Name = Name;
          *F = Fn.get();
          st().Functions.push_back(std::move(Fn));
          return 0;
        }
      return 500;
    }
  return 400;
}
static Function *findFunction(void *F) {
  for (auto &P : st().Functions)
    if (P.get() == F)
      return P.get();
  return nullptr;
}
FAKE_API CUresult cuFuncSetAttribute(void *F, int Attr, int Value) {
  ENTER("cuFuncSetAttribute");
  Function *Fn = findFunction(F);
  if (!Fn)
    return 400;
  if (Attr != 8 || Value < 0 || Value > (227 << 10))
    return 1;
  Fn->MaxShared = Value;
  return 0;
}
FAKE_API CUresult cuLaunchKernel(void *F, unsigned GX, unsigned GY, unsigned GZ,
                                 unsigned BX, unsigned BY, unsigned BZ,
                                 unsigned Shared, void *H, void **Params,
                                 void **Extra) {
  ENTER("cuLaunchKernel");
  Function *Fn = findFunction(F);
  if (!Fn)
    return 400;
  if (!validStream(H))
    return 400;
  bool Bad = !GX || !GY || !GZ || !BX || !BY || !BZ || GY > 65535 ||
             GZ > 65535 || BX > 1024 || BY > 1024 || BZ > 64 ||
             uint64_t(BX) * BY * BZ > 1024 || Shared > Fn->MaxShared ||
             !Params || Extra;
  if (Bad) {
    violation("cuLaunchKernel of " + Fn->Name + " with a bad geometry or "
              "parameters");
    return 1;
  }
  uint64_t Block = *static_cast<const uint64_t *>(Params[0]); // read now
  dlc::GpuLaunch L;
  L.Grid[0] = GX, L.Grid[1] = GY, L.Grid[2] = GZ;
  L.Block[0] = BX, L.Block[1] = BY, L.Block[2] = BZ;
  L.SharedBytes = Shared;
  std::string Name = Fn->Name;
  return enqueue(H, [Name, Block, L] { return runKernel(Name, Block, L); });
}
FAKE_API CUresult cuStreamCreate(void **H, unsigned) {
  ENTER("cuStreamCreate");
  st().Streams.push_back(std::make_unique<Stream>());
  *H = st().Streams.back().get();
  return 0;
}
FAKE_API CUresult cuStreamDestroy_v2(void *H) {
  ENTER("cuStreamDestroy_v2");
  auto &V = st().Streams;
  for (auto It = V.begin(); It != V.end(); ++It)
    if (It->get() == H) {
      CUresult R = drainWaiting(**It); // queued work still completes
      V.erase(It);
      return R;
    }
  return 400;
}
FAKE_API CUresult cuStreamSynchronize(void *H) {
  ENTER("cuStreamSynchronize");
  if (!validStream(H))
    return 400;
  if (capturing(H, "cuStreamSynchronize"))
    return 900;
  return H ? drainWaiting(*static_cast<Stream *>(H)) : 0;
}
FAKE_API CUresult cuStreamQuery(void *H) {
  ENTER("cuStreamQuery");
  if (!validStream(H))
    return 400;
  if (capturing(H, "cuStreamQuery"))
    return 900;
  return H ? drain(*static_cast<Stream *>(H)) : 0;
}
FAKE_API CUresult dlcFakeCudaEnqueue(void *H, int (*Op)(void *), void *Ctx) {
  std::lock_guard<std::recursive_mutex> Lock(st().M);
  if (!validStream(H))
    return 400;
  return enqueue(H, [Op, Ctx] { return Op(Ctx); });
}
FAKE_API CUresult cuGetErrorName(CUresult R, const char **S) {
  auto It = errorTable().find(R);
  if (It == errorTable().end())
    return 1;
  *S = It->second.first;
  return 0;
}
FAKE_API CUresult cuGetErrorString(CUresult R, const char **S) {
  auto It = errorTable().find(R);
  if (It == errorTable().end())
    return 1;
  *S = It->second.second;
  return 0;
}
