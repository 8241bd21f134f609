// The CUDA driver API through dlopen: symbol resolution, the primary
// context, and each call's result turned into an llvm::Error that says
// what failed and what to do.
#include "runtime/CudaDriver.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"

#include <atomic>
#include <cstdlib>
#include <dlfcn.h>
#include <mutex>

using namespace dlc::rt;

static llvm::Error driverError(const llvm::Twine &Msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), Msg);
}

/// cuda.h's values of the enums dlc passes.
enum {
  JitErrorLogBuffer = 5,          // CU_JIT_ERROR_LOG_BUFFER
  JitErrorLogBufferSizeBytes = 6, // CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES
  AttrCcMajor = 75,               // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
  AttrCcMinor = 76,               // ..._MINOR
  FuncAttrMaxDynamicShared = 8,   // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
  CaptureModeThreadLocal = 1,     // CU_STREAM_CAPTURE_MODE_THREAD_LOCAL
};

/// Which driver each thread made current last (by id: a new driver at an
/// old one's address is not mistaken for it).
static std::atomic<uint64_t> NextId{1};
static thread_local uint64_t CurrentDriverId = 0;

static std::string humanBytes(uint64_t B) {
  char Buf[64];
  if (B >= (1ull << 30))
    snprintf(Buf, sizeof(Buf), "%.2f GiB", double(B) / double(1ull << 30));
  else if (B >= (1ull << 20))
    snprintf(Buf, sizeof(Buf), "%.2f MiB", double(B) / double(1ull << 20));
  else
    snprintf(Buf, sizeof(Buf), "%llu bytes", (unsigned long long)B);
  return Buf;
}

std::string CudaDriver::errorText(CUresult R) const {
  const char *N = nullptr, *S = nullptr;
  if (!Fn.GetErrorName || Fn.GetErrorName(R, &N) != CudaSuccess || !N)
    N = nullptr;
  if (!Fn.GetErrorString || Fn.GetErrorString(R, &S) != CudaSuccess || !S)
    S = nullptr;
  std::string T = N ? N : "CUDA error " + std::to_string(R);
  if (S)
    T += std::string(" (") + S + ")";
  return T;
}

llvm::Error CudaDriver::check(CUresult R, llvm::StringRef Call,
                              const llvm::Twine &What) {
  if (R == CudaSuccess)
    return llvm::Error::success();
  std::string W = What.str();
  return driverError(Call + " failed" + (W.empty() ? "" : " (" + W + ")") +
                     ": " + errorText(R));
}

llvm::Expected<std::unique_ptr<CudaDriver>> CudaDriver::load(llvm::StringRef P,
                                                             int Ordinal) {
  std::string Lib = P.str(), Origin;
  if (Lib.empty()) {
    if (const char *E = std::getenv("DLC_CUDA_DRIVER"); E && *E) {
      Lib = E;
      Origin = "DLC_CUDA_DRIVER=";
    } else {
      Lib = "libcuda.so.1";
    }
  }
  std::unique_ptr<CudaDriver> D(new CudaDriver());
  D->Path = Lib;
  D->Id = NextId++;
  D->Handle = dlopen(Lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!D->Handle) {
    const char *Why = dlerror();
    return driverError("no NVIDIA driver found (" + Origin + Lib + ": " +
                       (Why ? Why : "cannot be loaded") +
                       "): install the NVIDIA driver or use --device cpu");
  }
  std::string Missing;
  auto sym = [&](auto &Slot, const char *Name) {
    void *S = dlsym(D->Handle, Name);
    if (!S)
      Missing += std::string(Missing.empty() ? "" : ", ") + Name;
    Slot = reinterpret_cast<std::remove_reference_t<decltype(Slot)>>(S);
  };
  CudaDriverFns &F = D->Fn;
  sym(F.Init, "cuInit");
  sym(F.DriverGetVersion, "cuDriverGetVersion");
  sym(F.DeviceGetCount, "cuDeviceGetCount");
  sym(F.DeviceGet, "cuDeviceGet");
  sym(F.DeviceGetName, "cuDeviceGetName");
  sym(F.DeviceGetAttribute, "cuDeviceGetAttribute");
  sym(F.DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  sym(F.DevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2");
  sym(F.CtxSetCurrent, "cuCtxSetCurrent");
  sym(F.MemGetInfo, "cuMemGetInfo_v2");
  sym(F.MemAlloc, "cuMemAlloc_v2");
  sym(F.MemFree, "cuMemFree_v2");
  sym(F.MemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2");
  sym(F.MemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2");
  sym(F.MemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2");
  sym(F.ModuleLoadDataEx, "cuModuleLoadDataEx");
  sym(F.ModuleUnload, "cuModuleUnload");
  sym(F.ModuleGetFunction, "cuModuleGetFunction");
  sym(F.FuncSetAttribute, "cuFuncSetAttribute");
  sym(F.LaunchKernel, "cuLaunchKernel");
  sym(F.StreamCreate, "cuStreamCreate");
  sym(F.StreamDestroy, "cuStreamDestroy_v2");
  sym(F.StreamSynchronize, "cuStreamSynchronize");
  sym(F.StreamQuery, "cuStreamQuery");
  sym(F.GetErrorName, "cuGetErrorName");
  sym(F.GetErrorString, "cuGetErrorString");
  // CUDA graphs are optional: without all of them, runs launch directly.
  std::string Required = Missing;
  sym(F.StreamBeginCapture, "cuStreamBeginCapture_v2");
  sym(F.StreamEndCapture, "cuStreamEndCapture");
  sym(F.GraphInstantiate, "cuGraphInstantiateWithFlags");
  sym(F.GraphLaunch, "cuGraphLaunch");
  sym(F.GraphExecDestroy, "cuGraphExecDestroy");
  sym(F.GraphDestroy, "cuGraphDestroy");
  if (Missing != Required) {
    F.StreamBeginCapture = nullptr;
    Missing = Required;
  }
  if (!Missing.empty())
    return driverError(
        "the NVIDIA driver " + Origin + Lib + " lacks " + Missing +
        ": it is too old for dlc (update the driver to CUDA 11 or "
        "newer, or use --device cpu)");
  if (CUresult R = F.Init(0))
    return driverError("the NVIDIA driver " + Origin + Lib +
                       " did not initialize (cuInit: " + D->errorText(R) +
                       "): check that a GPU is visible (nvidia-smi) or use "
                       "--device cpu");
  int Count = 0;
  if (auto E = D->check(F.DeviceGetCount(&Count), "cuDeviceGetCount", ""))
    return std::move(E);
  if (Ordinal == LocalRankOrdinal)
    Ordinal = localRankOrdinal(Count);
  D->Ordinal = Ordinal;
  if (Ordinal < 0 || Ordinal >= Count)
    return driverError("no CUDA device " + llvm::Twine(Ordinal) +
                       " (the driver sees " + llvm::Twine(Count) +
                       "): use --device cpu");
  if (auto E = D->check(F.DeviceGet(&D->Dev, Ordinal), "cuDeviceGet", ""))
    return std::move(E);
  char Name[256] = {0};
  if (auto E = D->check(F.DeviceGetName(Name, sizeof(Name) - 1, D->Dev),
                        "cuDeviceGetName", ""))
    return std::move(E);
  D->Name = Name;
  if (auto E = D->check(F.DeviceGetAttribute(&D->CcMajor, AttrCcMajor, D->Dev),
                        "cuDeviceGetAttribute", "compute capability"))
    return std::move(E);
  if (auto E = D->check(F.DeviceGetAttribute(&D->CcMinor, AttrCcMinor, D->Dev),
                        "cuDeviceGetAttribute", "compute capability"))
    return std::move(E);
  if (F.DriverGetVersion(&D->Version) != CudaSuccess)
    D->Version = 0;
  if (auto E = D->check(F.DevicePrimaryCtxRetain(&D->Ctx, D->Dev),
                        "cuDevicePrimaryCtxRetain",
                        "the primary context of " + D->Name))
    return std::move(E);
  return std::move(D);
}

llvm::Expected<CudaDriver &> CudaDriver::get() {
  // Never destroyed: models that outlive main (statics) may still free
  // device memory through it at exit.
  static std::once_flag Once;
  static CudaDriver *Shared = nullptr;
  static std::string *Err = nullptr;
  std::call_once(Once, [] {
    auto D = load("", LocalRankOrdinal);
    if (D)
      Shared = D->release();
    else
      Err = new std::string(llvm::toString(D.takeError()));
  });
  if (!Shared)
    return driverError(*Err);
  return *Shared;
}

int CudaDriver::localRankOrdinal(int Count) {
  for (const char *Name :
       {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"})
    if (const char *V = std::getenv(Name); V && *V) {
      long R = std::strtol(V, nullptr, 10);
      return Count > 0 && R >= 0 ? int(R % Count) : 0;
    }
  return 0;
}

CudaDriver::~CudaDriver() {
  if (Ctx && Fn.DevicePrimaryCtxRelease)
    Fn.DevicePrimaryCtxRelease(Dev);
  // The driver library stays loaded: unloading libcuda while the process
  // runs is not supported by NVIDIA, and a fake's state must outlive us.
}

std::string CudaDriver::describe() const {
  std::string S = Name + " (sm_" + std::to_string(computeCapability());
  if (Version)
    S += ", driver " + std::to_string(Version / 1000) + "." +
         std::to_string(Version % 1000 / 10);
  return S + ")";
}

llvm::Error CudaDriver::makeCurrent() {
  if (CurrentDriverId == Id)
    return llvm::Error::success();
  if (auto E = check(Fn.CtxSetCurrent(Ctx), "cuCtxSetCurrent",
                     "making the context of " + Name + " current"))
    return E;
  CurrentDriverId = Id;
  return llvm::Error::success();
}

llvm::Error CudaDriver::memInfo(uint64_t &Free, uint64_t &Total) {
  if (auto E = makeCurrent())
    return E;
  size_t F = 0, T = 0;
  if (auto E = check(Fn.MemGetInfo(&F, &T), "cuMemGetInfo_v2", ""))
    return E;
  Free = F;
  Total = T;
  return llvm::Error::success();
}

llvm::Expected<CUdeviceptr> CudaDriver::alloc(uint64_t Bytes) {
  if (auto E = makeCurrent())
    return std::move(E);
  CUdeviceptr P = 0;
  CUresult R = Fn.MemAlloc(&P, Bytes ? Bytes : 1);
  if (R == CudaErrorOutOfMemory) {
    size_t F = 0, T = 0;
    std::string Have = Fn.MemGetInfo(&F, &T) == CudaSuccess
                           ? humanBytes(F) + " free of " + humanBytes(T)
                           : "free memory unknown";
    return driverError("out of device memory on " + Name + ": asked for " +
                       humanBytes(Bytes) + ", " + Have + " (cuMemAlloc_v2: " +
                       errorText(R) + "); try a smaller batch");
  }
  if (auto E = check(R, "cuMemAlloc_v2",
                     "allocating " + humanBytes(Bytes) + " on " + Name))
    return std::move(E);
  return P;
}

llvm::Error CudaDriver::free(CUdeviceptr P) {
  if (auto E = makeCurrent())
    return E;
  return check(Fn.MemFree(P), "cuMemFree_v2", "");
}

llvm::Error CudaDriver::copyToDevice(CUdeviceptr Dst, const void *Src,
                                     uint64_t Bytes, CUstream S) {
  if (!Bytes)
    return llvm::Error::success();
  if (auto E = makeCurrent())
    return E;
  return check(Fn.MemcpyHtoDAsync(Dst, Src, Bytes, S), "cuMemcpyHtoDAsync_v2",
               "copying " + humanBytes(Bytes) + " to the device");
}

llvm::Error CudaDriver::copyToHost(void *Dst, CUdeviceptr Src, uint64_t Bytes,
                                   CUstream S) {
  if (!Bytes)
    return llvm::Error::success();
  if (auto E = makeCurrent())
    return E;
  return check(Fn.MemcpyDtoHAsync(Dst, Src, Bytes, S), "cuMemcpyDtoHAsync_v2",
               "copying " + humanBytes(Bytes) + " from the device");
}

llvm::Error CudaDriver::copyOnDevice(CUdeviceptr Dst, CUdeviceptr Src,
                                     uint64_t Bytes, CUstream S) {
  if (!Bytes)
    return llvm::Error::success();
  if (auto E = makeCurrent())
    return E;
  return check(Fn.MemcpyDtoDAsync(Dst, Src, Bytes, S), "cuMemcpyDtoDAsync_v2",
               "copying " + humanBytes(Bytes) + " on the device");
}

llvm::Expected<CUstream> CudaDriver::createStream() {
  if (auto E = makeCurrent())
    return std::move(E);
  CUstream S = nullptr;
  if (auto E = check(Fn.StreamCreate(&S, 0), "cuStreamCreate", ""))
    return std::move(E);
  return S;
}

llvm::Error CudaDriver::destroyStream(CUstream S) {
  if (auto E = makeCurrent())
    return E;
  return check(Fn.StreamDestroy(S), "cuStreamDestroy_v2", "");
}

llvm::Error CudaDriver::sync(CUstream S, llvm::StringRef Running) {
  if (auto E = makeCurrent())
    return E;
  return syncResult(Fn.StreamSynchronize(S), "cuStreamSynchronize", Running);
}

llvm::Expected<bool> CudaDriver::done(CUstream S, llvm::StringRef Running) {
  if (auto E = makeCurrent())
    return std::move(E);
  CUresult R = Fn.StreamQuery(S);
  if (R == CudaErrorNotReady)
    return false;
  if (auto E = syncResult(R, "cuStreamQuery", Running))
    return std::move(E);
  return true;
}

llvm::Error CudaDriver::syncResult(CUresult R, llvm::StringRef Call,
                                   llvm::StringRef Running) {
  if (R == CudaSuccess)
    return llvm::Error::success();
  if (R == CudaErrorIllegalAddress || R == CudaErrorLaunchFailed ||
      (R >= 700 && R < 800))
    return driverError(
        "a kernel failed on " + Name +
        (Running.empty() ? "" : " while running " + Running) + ": " +
        errorText(R) +
        "; the CUDA context cannot be used again in this process "
        "(set DLC_CUDA_SYNC=1 to name the kernel)");
  return check(R, Call, Running);
}

llvm::Error CudaDriver::beginCapture(CUstream S) {
  if (!hasGraphs())
    return driverError("the NVIDIA driver " + Path + " has no CUDA graphs");
  if (auto E = makeCurrent())
    return E;
  return check(Fn.StreamBeginCapture(S, CaptureModeThreadLocal),
               "cuStreamBeginCapture_v2", "");
}

llvm::Expected<CUgraphExec> CudaDriver::endCapture(CUstream S) {
  if (auto E = makeCurrent())
    return std::move(E);
  CUgraph G = nullptr;
  CUresult End = Fn.StreamEndCapture(S, &G);
  if (End != CudaSuccess && G)
    Fn.GraphDestroy(G);
  if (auto E = check(End, "cuStreamEndCapture", ""))
    return std::move(E);
  CUgraphExec X = nullptr;
  CUresult R = Fn.GraphInstantiate(&X, G, 0);
  Fn.GraphDestroy(G); // the instance does not need it
  if (auto E = check(R, "cuGraphInstantiateWithFlags", ""))
    return std::move(E);
  return X;
}

llvm::Error CudaDriver::launchGraph(CUgraphExec G, CUstream S,
                                    llvm::StringRef Name) {
  if (auto E = makeCurrent())
    return E;
  return check(Fn.GraphLaunch(G, S), "cuGraphLaunch", Name);
}

void CudaDriver::destroyGraph(CUgraphExec G) {
  if (!G)
    return;
  if (auto E = makeCurrent()) {
    llvm::consumeError(std::move(E));
    return;
  }
  Fn.GraphExecDestroy(G);
}

std::string dlc::rt::ptxEntryAtLine(llvm::StringRef Ptx, unsigned Line) {
  std::string Entry;
  llvm::SmallVector<llvm::StringRef, 0> Lines;
  Ptx.split(Lines, '\n');
  for (unsigned I = 0; I < Lines.size() && I < Line; ++I) {
    llvm::StringRef L = Lines[I].trim();
    size_t Pos = L.find(".entry");
    if (Pos == llvm::StringRef::npos)
      continue;
    llvm::StringRef Rest = L.substr(Pos + 6).ltrim();
    Entry = Rest.take_while([](char C) {
                  return std::isalnum((unsigned char)C) || C == '_' ||
                         C == '$' || C == '.';
                })
                .str();
  }
  return Entry;
}

/// The first "line N" in a ptxas log, or 0.
static unsigned firstLogLine(llvm::StringRef Log) {
  size_t Pos = Log.find("line ");
  while (Pos != llvm::StringRef::npos) {
    llvm::StringRef Num =
        Log.substr(Pos + 5).take_while([](char C) { return std::isdigit(C); });
    unsigned N = 0;
    if (!Num.getAsInteger(10, N))
      return N;
    Pos = Log.find("line ", Pos + 5);
  }
  return 0;
}

llvm::Expected<CUmodule> CudaDriver::loadModule(llvm::StringRef Ptx) {
  if (auto E = makeCurrent())
    return std::move(E);
  std::string Text = Ptx.str(); // NUL-terminated, as the driver reads it
  std::vector<char> Log(16 << 10, 0);
  int Opts[] = {JitErrorLogBuffer, JitErrorLogBufferSizeBytes};
  void *Vals[] = {Log.data(), reinterpret_cast<void *>(uintptr_t(Log.size() - 1))};
  CUmodule M = nullptr;
  CUresult R = Fn.ModuleLoadDataEx(&M, Text.c_str(), 2, Opts, Vals);
  if (R == CudaSuccess)
    return M;
  llvm::StringRef L(Log.data());
  L = L.trim();
  std::string Entry = ptxEntryAtLine(Ptx, firstLogLine(L));
  return driverError("the CUDA driver on " + Name + " rejected the PTX" +
                     (Entry.empty() ? "" : " of kernel '" + Entry + "'") +
                     ": " + errorText(R) +
                     (L.empty() ? llvm::Twine("; the driver wrote no log")
                                : "; driver log:\n" + L));
}

llvm::Error CudaDriver::unloadModule(CUmodule M) {
  if (auto E = makeCurrent())
    return E;
  return check(Fn.ModuleUnload(M), "cuModuleUnload", "");
}

llvm::Expected<CUfunction> CudaDriver::function(CUmodule M,
                                                llvm::StringRef N) {
  if (auto E = makeCurrent())
    return std::move(E);
  CUfunction F = nullptr;
  std::string S = N.str();
  CUresult R = Fn.ModuleGetFunction(&F, M, S.c_str());
  if (R == CudaErrorNotFound)
    return driverError("the PTX has no kernel '" + N +
                       "' (cuModuleGetFunction: " + errorText(R) + ")");
  if (auto E = check(R, "cuModuleGetFunction", "kernel '" + N + "'"))
    return std::move(E);
  return F;
}

llvm::Error CudaDriver::setMaxDynamicShared(CUfunction F, llvm::StringRef N,
                                            uint32_t Bytes) {
  if (auto E = makeCurrent())
    return E;
  return check(Fn.FuncSetAttribute(F, FuncAttrMaxDynamicShared, int(Bytes)),
               "cuFuncSetAttribute",
               "kernel '" + N + "' asks for " + humanBytes(Bytes) +
                   " of shared memory");
}

llvm::Error CudaDriver::launch(CUfunction F, llvm::StringRef N,
                               const uint32_t G[3], const uint32_t B[3],
                               uint32_t Shared, CUstream S, void **Params) {
  if (auto E = makeCurrent())
    return E;
  CUresult R = Fn.LaunchKernel(F, G[0], G[1], G[2], B[0], B[1], B[2], Shared,
                               S, Params, nullptr);
  if (R == CudaSuccess)
    return llvm::Error::success();
  return driverError("launching kernel '" + N + "' (grid " + llvm::Twine(G[0]) +
                     "x" + llvm::Twine(G[1]) + "x" + llvm::Twine(G[2]) +
                     ", block " + llvm::Twine(B[0]) + "x" + llvm::Twine(B[1]) +
                     "x" + llvm::Twine(B[2]) + ", " + llvm::Twine(Shared) +
                     " bytes of shared memory) failed: " + errorText(R));
}
