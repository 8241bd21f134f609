// NCCL (NVIDIA's collectives on GPU memory), loaded at run time with
// dlopen("libnccl.so.2") on first use, so that dlc builds and runs without
// it and only a run that asks for NCCL needs it. Declares the few NCCL
// types and entry points it uses itself, from NCCL's public C ABI (nothing
// from nccl.h). Part of the runtime: depends on nothing else of dlc.
#ifndef DLC_RUNTIME_NCCL_H
#define DLC_RUNTIME_NCCL_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstddef>
#include <memory>
#include <string>

namespace dlc {
namespace rt {

/// NCCL's ABI types: results and enums are C ints, a communicator is an
/// opaque pointer, a unique id is 128 bytes passed by value.
using NcclResult = int;
struct NcclCommImpl;
using NcclComm = NcclCommImpl *;
struct NcclUniqueId {
  char Internal[128];
};
static_assert(sizeof(NcclUniqueId) == 128, "NCCL_UNIQUE_ID_BYTES");

/// ncclResult_t's values.
enum : NcclResult {
  NcclSuccess = 0,
  NcclUnhandledCudaError = 1,
  NcclSystemError = 2,
  NcclInternalError = 3,
  NcclInvalidArgument = 4,
  NcclInvalidUsage = 5,
  NcclRemoteError = 6,
  NcclInProgress = 7,
};

/// ncclDataType_t's values (those dlc uses).
enum NcclDataType : int { NcclFloat32 = 7, NcclFloat64 = 8 };
/// ncclRedOp_t: the built-in sum (premultiplied sums are created ops).
using NcclRedOp = int;
enum : NcclRedOp { NcclSum = 0 };
/// ncclScalarResidence_t: where a premultiplied sum's scalar lives.
enum NcclScalarResidence : int { NcclScalarDevice = 0, NcclScalarHost = 1 };

/// The entry points, resolved by dlsym.
struct NcclFns {
  NcclResult (*GetVersion)(int *);
  NcclResult (*GetUniqueId)(NcclUniqueId *);
  NcclResult (*CommInitRank)(NcclComm *, int, NcclUniqueId, int);
  NcclResult (*CommDestroy)(NcclComm);
  NcclResult (*CommAbort)(NcclComm);
  NcclResult (*CommGetAsyncError)(NcclComm, NcclResult *);
  const char *(*GetErrorString)(NcclResult);
  NcclResult (*AllReduce)(const void *, void *, size_t, NcclDataType, NcclRedOp,
                          NcclComm, void * /*cudaStream_t*/);
  NcclResult (*RedOpCreatePreMulSum)(NcclRedOp *, void *, NcclDataType,
                                     NcclScalarResidence, NcclComm);
  NcclResult (*RedOpDestroy)(NcclRedOp, NcclComm);
};

/// A loaded NCCL library.
class Nccl {
public:
  /// Loads Path (empty: $DLC_NCCL_LIBRARY when set, else libnccl.so.2).
  /// Errors say what to install.
  static llvm::Expected<std::unique_ptr<Nccl>> load(llvm::StringRef Path = "");
  /// The process's NCCL, loaded on first use; later calls return the same
  /// library, or the same error again.
  static llvm::Expected<Nccl &> get();
  Nccl(const Nccl &) = delete;
  Nccl &operator=(const Nccl &) = delete;

  /// "2.21.5" (from ncclGetVersion).
  std::string version() const;
  const std::string &libraryPath() const { return Path; }
  /// "ncclRemoteError (remote process exited or there was a network
  /// error)": the name and NCCL's own string.
  std::string errorText(NcclResult R) const;
  /// R as an llvm::Error naming Call ("ncclAllReduce") and What.
  llvm::Error check(NcclResult R, llvm::StringRef Call,
                    const llvm::Twine &What = "") const;
  const NcclFns &fns() const { return Fn; }

private:
  Nccl() = default;
  void *Handle = nullptr;
  std::string Path;
  NcclFns Fn{};
  int Version = 0;
};

/// What an error about a missing NCCL says to do.
extern const char *const NcclInstallHint;

} // namespace rt
} // namespace dlc

#endif
