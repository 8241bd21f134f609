// A CUDA device behind the GpuDevice interface: memory, streams and copies
// through runtime/CudaDriver, the program's PTX loaded as one module, and a
// launch passing the parameter block's address as the kernel's only
// parameter. DLC_CUDA_SYNC=1 waits after every launch, so that a faulting
// kernel is named. CUDA graphs through the driver when it has them.
#include "exec/GpuDevice.h"

#include "ir/IR.h"
#include "runtime/CudaDriver.h"

#include <atomic>
#include <cstdlib>

using namespace dlc;
using rt::CudaDriver;

namespace {

bool syncEachLaunch() {
  static const bool On = [] {
    const char *E = std::getenv("DLC_CUDA_SYNC");
    return E && *E && std::string(E) != "0";
  }();
  return On;
}

class CudaModule : public GpuModule {
public:
  CudaModule(std::shared_ptr<CudaDriver> D, rt::CUmodule M)
      : Driver(std::move(D)), Mod(M) {}
  ~CudaModule() override {
    llvm::consumeError(Driver->unloadModule(Mod));
  }

  llvm::Error launch(void *Stream, unsigned K, const GpuLaunch &L,
                     DeviceAddr Block) override {
    Kernel &F = Fns[K];
    if (L.SharedBytes > (48u << 10)) {
      std::lock_guard<std::mutex> Lock(M);
      if (L.SharedBytes > F.SharedSet) {
        if (auto E = Driver->setMaxDynamicShared(F.Fn, F.Name, L.SharedBytes))
          return E;
        F.SharedSet = L.SharedBytes;
      }
    }
    rt::CUdeviceptr Arg = Block;
    void *Params[] = {&Arg};
    auto *S = static_cast<rt::CUstream>(Stream);
    if (auto E = Driver->launch(F.Fn, F.Name, L.Grid, L.Block, L.SharedBytes,
                                S, Params))
      return E;
    if (syncEachLaunch())
      return Driver->sync(S, "kernel '" + F.Name + "'");
    return llvm::Error::success();
  }

  struct Kernel {
    std::string Name;
    rt::CUfunction Fn = nullptr;
    uint32_t SharedSet = 48u << 10;
  };
  std::vector<Kernel> Fns;

private:
  std::shared_ptr<CudaDriver> Driver;
  rt::CUmodule Mod;
  std::mutex M;
};

class CudaDevice : public GpuDevice {
public:
  explicit CudaDevice(std::shared_ptr<CudaDriver> D) : Driver(std::move(D)) {}
  std::string describe() const override { return Driver->describe(); }
  bool emulated() const override { return false; }
  llvm::Expected<DeviceAddr> alloc(uint64_t Bytes) override {
    return Driver->alloc(Bytes);
  }
  void free(DeviceAddr A) override { llvm::consumeError(Driver->free(A)); }
  llvm::Expected<void *> createStream() override {
    auto S = Driver->createStream();
    if (!S)
      return S.takeError();
    return static_cast<void *>(*S);
  }
  void destroyStream(void *S) override {
    llvm::consumeError(Driver->destroyStream(static_cast<rt::CUstream>(S)));
  }
  llvm::Error copyIn(void *S, DeviceAddr Dst, const void *Src,
                     uint64_t Bytes) override {
    return Driver->copyToDevice(Dst, Src, Bytes, static_cast<rt::CUstream>(S));
  }
  llvm::Error copyOut(void *S, void *Dst, DeviceAddr Src,
                      uint64_t Bytes) override {
    return Driver->copyToHost(Dst, Src, Bytes, static_cast<rt::CUstream>(S));
  }
  llvm::Error copyOnDevice(void *S, DeviceAddr Dst, DeviceAddr Src,
                           uint64_t Bytes) override {
    return Driver->copyOnDevice(Dst, Src, Bytes, static_cast<rt::CUstream>(S));
  }
  llvm::Error sync(void *S, llvm::StringRef Running) override {
    return Driver->sync(static_cast<rt::CUstream>(S), Running);
  }
  llvm::Expected<bool> done(void *S, llvm::StringRef Running) override {
    return Driver->done(static_cast<rt::CUstream>(S), Running);
  }
  CudaDriver *driver() const override { return Driver.get(); }
  bool graphs() const override {
    return cudaGraphsEnabled() && Driver->hasGraphs() && !syncEachLaunch() &&
           !GraphsFailed;
  }
  llvm::Error beginCapture(void *S) override {
    return Driver->beginCapture(static_cast<rt::CUstream>(S));
  }
  llvm::Expected<void *> endCapture(void *S) override {
    auto G = Driver->endCapture(static_cast<rt::CUstream>(S));
    if (!G)
      return G.takeError();
    return static_cast<void *>(*G);
  }
  llvm::Error launchGraph(void *S, void *G, llvm::StringRef Running) override {
    if (auto E = Driver->launchGraph(static_cast<rt::CUgraphExec>(G),
                                     static_cast<rt::CUstream>(S), Running))
      return E;
    if (syncEachLaunch())
      return Driver->sync(static_cast<rt::CUstream>(S), Running);
    return llvm::Error::success();
  }
  void destroyGraph(void *G) override {
    Driver->destroyGraph(static_cast<rt::CUgraphExec>(G));
  }
  void disableGraphs() override { GraphsFailed = true; }
  llvm::Expected<std::unique_ptr<GpuModule>>
  load(const GpuProgram &P) override {
    auto M = Driver->loadModule(P.Ptx);
    if (!M)
      return M.takeError();
    auto Mod = std::make_unique<CudaModule>(Driver, *M);
    for (const GpuKernelEntry &K : P.Kernels) {
      auto F = Driver->function(*M, K.Name);
      if (!F)
        return F.takeError();
      Mod->Fns.push_back({K.Name, *F});
    }
    return std::move(Mod);
  }

private:
  std::shared_ptr<CudaDriver> Driver;
  std::atomic<bool> GraphsFailed{false};
};

} // namespace

std::shared_ptr<GpuDevice> GpuDevice::cuda(std::shared_ptr<CudaDriver> D) {
  return std::make_shared<CudaDevice>(std::move(D));
}

llvm::Expected<std::shared_ptr<GpuDevice>> GpuDevice::cuda() {
  auto D = CudaDriver::get();
  if (!D)
    return D.takeError();
  // The process's driver lives until exit: the device only refers to it.
  return cuda(std::shared_ptr<CudaDriver>(&*D, [](CudaDriver *) {}));
}
