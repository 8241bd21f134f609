// The CUDA driver API, loaded at run time with dlopen("libcuda.so.1") so
// that one dlc binary builds and runs on machines without CUDA. Declares
// the few driver types it uses itself (nothing from a CUDA toolkit). Part
// of the runtime: depends on nothing else of dlc (LLVM Support only).
//
// Every call returns an llvm::Error naming the driver function, the
// driver's error name and string, and what to do about it.
#ifndef DLC_RUNTIME_CUDADRIVER_H
#define DLC_RUNTIME_CUDADRIVER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>

namespace dlc {
namespace rt {

/// Driver ABI types (as in cuda.h; handles are opaque pointers).
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
struct CUctx_st;
struct CUmod_st;
struct CUfunc_st;
struct CUstream_st;
using CUcontext = CUctx_st *;
using CUmodule = CUmod_st *;
using CUfunction = CUfunc_st *;
using CUstream = CUstream_st *;
struct CUgraph_st;
struct CUgraphExec_st;
using CUgraph = CUgraph_st *;
using CUgraphExec = CUgraphExec_st *;

/// The driver result codes dlc looks at.
enum : CUresult {
  CudaSuccess = 0,
  CudaErrorInvalidValue = 1,
  CudaErrorOutOfMemory = 2,
  CudaErrorNoDevice = 100,
  CudaErrorInvalidPtx = 218,
  CudaErrorNotFound = 500,
  CudaErrorNotReady = 600,
  CudaErrorIllegalAddress = 700,
  CudaErrorLaunchFailed = 719,
};

/// The driver entry points, resolved by dlsym (with their _v2 names where
/// the driver has them).
struct CudaDriverFns {
  CUresult (*Init)(unsigned);
  CUresult (*DriverGetVersion)(int *);
  CUresult (*DeviceGetCount)(int *);
  CUresult (*DeviceGet)(CUdevice *, int);
  CUresult (*DeviceGetName)(char *, int, CUdevice);
  CUresult (*DeviceGetAttribute)(int *, int, CUdevice);
  CUresult (*DevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*DevicePrimaryCtxRelease)(CUdevice);
  CUresult (*CtxSetCurrent)(CUcontext);
  CUresult (*MemGetInfo)(size_t *, size_t *);
  CUresult (*MemAlloc)(CUdeviceptr *, size_t);
  CUresult (*MemFree)(CUdeviceptr);
  CUresult (*MemcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream);
  CUresult (*MemcpyDtoHAsync)(void *, CUdeviceptr, size_t, CUstream);
  CUresult (*MemcpyDtoDAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
  CUresult (*ModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *,
                               void **);
  CUresult (*ModuleUnload)(CUmodule);
  CUresult (*ModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*FuncSetAttribute)(CUfunction, int, int);
  CUresult (*LaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                           unsigned, unsigned, unsigned, CUstream, void **,
                           void **);
  CUresult (*StreamCreate)(CUstream *, unsigned);
  CUresult (*StreamDestroy)(CUstream);
  CUresult (*StreamSynchronize)(CUstream);
  CUresult (*StreamQuery)(CUstream);
  CUresult (*GetErrorName)(CUresult, const char **);
  CUresult (*GetErrorString)(CUresult, const char **);
  // CUDA graphs (optional: null when the driver lacks them).
  CUresult (*StreamBeginCapture)(CUstream, int);
  CUresult (*StreamEndCapture)(CUstream, CUgraph *);
  CUresult (*GraphInstantiate)(CUgraphExec *, CUgraph, unsigned long long);
  CUresult (*GraphLaunch)(CUgraphExec, CUstream);
  CUresult (*GraphExecDestroy)(CUgraphExec);
  CUresult (*GraphDestroy)(CUgraph);
};

/// A loaded driver with the primary context of one device retained. The
/// context is made current on whichever thread calls in, so one driver
/// serves runs from several threads.
class CudaDriver {
public:
  /// Loads the driver library Path (empty: $DLC_CUDA_DRIVER when set, else
  /// libcuda.so.1), initializes it and retains device Ordinal's primary
  /// context (LocalRankOrdinal: see localRankOrdinal).
  static llvm::Expected<std::unique_ptr<CudaDriver>>
  load(llvm::StringRef Path = "", int Ordinal = 0);
  static constexpr int LocalRankOrdinal = -1;
  /// One GPU per rank: the rank's index among the ranks of its machine
  /// (OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID or SLURM_LOCALID; 0
  /// outside a launcher) modulo Count, the devices the driver sees.
  static int localRankOrdinal(int Count);
  /// The process's driver, loaded on first use on device
  /// localRankOrdinal() (device 0 in a single process); later calls return
  /// the same driver, or the same error again.
  static llvm::Expected<CudaDriver &> get();
  ~CudaDriver();
  CudaDriver(const CudaDriver &) = delete;
  CudaDriver &operator=(const CudaDriver &) = delete;

  /// "NVIDIA H100 80GB HBM3 (sm_90, driver 13.0)".
  std::string describe() const;
  const std::string &deviceName() const { return Name; }
  /// Compute capability, e.g. 90 for sm_90.
  int computeCapability() const { return CcMajor * 10 + CcMinor; }
  const std::string &libraryPath() const { return Path; }
  /// The device's ordinal among those the driver sees.
  int ordinal() const { return Ordinal; }
  /// Makes the device's primary context current on this thread (libraries
  /// that use the CUDA runtime, such as NCCL, then use this device).
  llvm::Error makeCurrent();

  /// Device memory. An allocation that does not fit says how many bytes it
  /// asked for and how many are free.
  llvm::Expected<CUdeviceptr> alloc(uint64_t Bytes);
  llvm::Error free(CUdeviceptr P);
  /// Free and total bytes of device memory.
  llvm::Error memInfo(uint64_t &Free, uint64_t &Total);

  llvm::Error copyToDevice(CUdeviceptr Dst, const void *Src, uint64_t Bytes,
                           CUstream S);
  llvm::Error copyToHost(void *Dst, CUdeviceptr Src, uint64_t Bytes,
                         CUstream S);
  llvm::Error copyOnDevice(CUdeviceptr Dst, CUdeviceptr Src, uint64_t Bytes,
                           CUstream S);

  llvm::Expected<CUstream> createStream();
  llvm::Error destroyStream(CUstream S);
  /// Waits for the stream's work. A kernel fault shows here; Running names
  /// what was running (the kernels of the run).
  llvm::Error sync(CUstream S, llvm::StringRef Running = "");
  /// Whether the stream's work is done, without waiting (cuStreamQuery);
  /// a fault is an error as in sync.
  llvm::Expected<bool> done(CUstream S, llvm::StringRef Running = "");

  /// Loads a module from PTX text. When the driver rejects it, the error
  /// holds the driver's JIT log and the .entry that the log's first line
  /// number falls in.
  llvm::Expected<CUmodule> loadModule(llvm::StringRef Ptx);
  llvm::Error unloadModule(CUmodule M);
  llvm::Expected<CUfunction> function(CUmodule M, llvm::StringRef Name);
  /// Lets F use up to Bytes of dynamic shared memory (needed above 48 KiB).
  llvm::Error setMaxDynamicShared(CUfunction F, llvm::StringRef Name,
                                  uint32_t Bytes);
  /// Launches F with one parameter per element of Params (each a pointer to
  /// the parameter's value). Name is for the error message.
  llvm::Error launch(CUfunction F, llvm::StringRef Name, const uint32_t Grid[3],
                     const uint32_t Block[3], uint32_t SharedBytes,
                     CUstream S, void **Params);

  /// CUDA graphs: whether the driver has the entry points (stream capture,
  /// cuGraphInstantiateWithFlags, cuGraphLaunch; CUDA 11.4 or newer).
  bool hasGraphs() const { return Fn.StreamBeginCapture != nullptr; }
  /// Starts recording S's work into a graph instead of running it (in the
  /// calling thread's capture mode: other threads are not restricted).
  llvm::Error beginCapture(CUstream S);
  /// Ends the recording on S and instantiates what it recorded. A failure
  /// still ends the capture: S runs work again.
  llvm::Expected<CUgraphExec> endCapture(CUstream S);
  /// Queues G on S; Name is for the error message.
  llvm::Error launchGraph(CUgraphExec G, CUstream S, llvm::StringRef Name);
  void destroyGraph(CUgraphExec G);

  /// "CUDA_ERROR_OUT_OF_MEMORY (out of memory)".
  std::string errorText(CUresult R) const;
  /// The entry points, for what the methods above do not cover.
  const CudaDriverFns &fns() const { return Fn; }

private:
  CudaDriver() = default;
  llvm::Error syncResult(CUresult R, llvm::StringRef Call,
                         llvm::StringRef Running);
  llvm::Error check(CUresult R, llvm::StringRef Call, const llvm::Twine &What);

  void *Handle = nullptr;
  uint64_t Id = 0; // unique per driver object
  std::string Path;
  CudaDriverFns Fn{};
  CUdevice Dev = 0;
  int Ordinal = 0;
  CUcontext Ctx = nullptr;
  std::string Name;
  int CcMajor = 0, CcMinor = 0, Version = 0;
};

/// The .entry of Ptx that contains line Line (1-based), or "".
std::string ptxEntryAtLine(llvm::StringRef Ptx, unsigned Line);

} // namespace rt
} // namespace dlc

#endif
