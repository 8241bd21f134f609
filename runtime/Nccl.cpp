// NCCL through dlopen: the library search, symbol resolution and each
// call's result turned into an llvm::Error that says what failed.
#include "runtime/Nccl.h"

#include <cstdlib>
#include <dlfcn.h>
#include <mutex>

using namespace dlc::rt;

const char *const dlc::rt::NcclInstallHint =
    "install NCCL: `pip install nvidia-nccl-cu12` and put its lib directory "
    "(site-packages/nvidia/nccl/lib) on LD_LIBRARY_PATH, or the distribution's "
    "package (libnccl2), or point DLC_NCCL_LIBRARY at libnccl.so.2; or use "
    "--comm mpi";

static llvm::Error ncclError(const llvm::Twine &Msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), Msg);
}

llvm::Expected<std::unique_ptr<Nccl>> Nccl::load(llvm::StringRef P) {
  std::string Lib = P.str(), Origin;
  if (Lib.empty()) {
    if (const char *E = std::getenv("DLC_NCCL_LIBRARY"); E && *E) {
      Lib = E;
      Origin = "DLC_NCCL_LIBRARY=";
    } else {
      Lib = "libnccl.so.2";
    }
  }
  std::unique_ptr<Nccl> N(new Nccl());
  N->Path = Lib;
  N->Handle = dlopen(Lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!N->Handle) {
    const char *Why = dlerror();
    return ncclError("NCCL not found (" + Origin + Lib + ": " +
                     (Why ? Why : "cannot be loaded") +
                     "): " + NcclInstallHint);
  }
  std::string Missing;
  auto sym = [&](auto &Slot, const char *Name) {
    void *S = dlsym(N->Handle, Name);
    if (!S)
      Missing += std::string(Missing.empty() ? "" : ", ") + Name;
    Slot = reinterpret_cast<std::remove_reference_t<decltype(Slot)>>(S);
  };
  NcclFns &F = N->Fn;
  sym(F.GetVersion, "ncclGetVersion");
  sym(F.GetUniqueId, "ncclGetUniqueId");
  sym(F.CommInitRank, "ncclCommInitRank");
  sym(F.CommDestroy, "ncclCommDestroy");
  sym(F.CommAbort, "ncclCommAbort");
  sym(F.CommGetAsyncError, "ncclCommGetAsyncError");
  sym(F.GetErrorString, "ncclGetErrorString");
  sym(F.AllReduce, "ncclAllReduce");
  sym(F.RedOpCreatePreMulSum, "ncclRedOpCreatePreMulSum");
  sym(F.RedOpDestroy, "ncclRedOpDestroy");
  if (!Missing.empty()) {
    // The handle stays open: unloading a library that may have started
    // threads is not safe.
    return ncclError("NCCL " + Origin + Lib + " lacks " + Missing +
                     ": it is too old for dlc (NCCL 2.11 or newer is needed; " +
                     NcclInstallHint + ")");
  }
  if (NcclResult R = F.GetVersion(&N->Version))
    return N->check(R, "ncclGetVersion", Origin + Lib);
  return std::move(N);
}

llvm::Expected<Nccl &> Nccl::get() {
  // Never unloaded (see the note on load's error path).
  static std::once_flag Once;
  static Nccl *Shared = nullptr;
  static std::string *Err = nullptr;
  std::call_once(Once, [] {
    auto N = load();
    if (N)
      Shared = N->release();
    else
      Err = new std::string(llvm::toString(N.takeError()));
  });
  if (!Shared)
    return ncclError(*Err);
  return *Shared;
}

std::string Nccl::version() const {
  // NCCL_VERSION_CODE: X*10000 + Y*100 + Z since 2.9, X*1000 + Y*100 + Z
  // before.
  int V = Version, Major, Minor;
  if (V >= 10000) {
    Major = V / 10000;
    Minor = V / 100 % 100;
  } else {
    Major = V / 1000;
    Minor = V / 100 % 10;
  }
  return std::to_string(Major) + "." + std::to_string(Minor) + "." +
         std::to_string(V % 100);
}

std::string Nccl::errorText(NcclResult R) const {
  static const char *const Names[] = {
      "ncclSuccess",       "ncclUnhandledCudaError", "ncclSystemError",
      "ncclInternalError", "ncclInvalidArgument",    "ncclInvalidUsage",
      "ncclRemoteError",   "ncclInProgress"};
  std::string T = R >= 0 && R < int(std::size(Names))
                      ? Names[R]
                      : "NCCL error " + std::to_string(R);
  const char *S = Fn.GetErrorString ? Fn.GetErrorString(R) : nullptr;
  if (S && *S)
    T += std::string(" (") + S + ")";
  return T;
}

llvm::Error Nccl::check(NcclResult R, llvm::StringRef Call,
                        const llvm::Twine &What) const {
  if (R == NcclSuccess)
    return llvm::Error::success();
  std::string W = What.str();
  return ncclError(Call + " failed" + (W.empty() ? "" : " (" + W + ")") + ": " +
                   errorText(R));
}
