// The device memory pool, device tensors, and the CPU emulation of a GPU:
// memory is host memory (device addresses are host addresses), streams run
// their work at once, and a launch calls the kernel's emulation function
// for every block of the grid.
#include "exec/GpuDevice.h"

#include "ir/IR.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

using namespace dlc;

GpuModule::~GpuModule() = default;
GpuDevice::~GpuDevice() = default;

llvm::Error GpuDevice::beginCapture(void *) {
  return makeError("internal error: " + describe() + " has no CUDA graphs");
}
llvm::Expected<void *> GpuDevice::endCapture(void *) {
  return makeError("internal error: " + describe() + " has no CUDA graphs");
}
llvm::Error GpuDevice::launchGraph(void *, void *, llvm::StringRef) {
  return makeError("internal error: " + describe() + " has no CUDA graphs");
}
void GpuDevice::destroyGraph(void *) {}

static std::atomic<bool> &graphsSwitch() {
  static std::atomic<bool> On{[] {
    const char *E = std::getenv("DLC_CUDA_GRAPHS");
    return !E || (std::string(E) != "0" && std::string(E) != "off");
  }()};
  return On;
}
void dlc::setCudaGraphs(bool On) { graphsSwitch() = On; }
bool dlc::cudaGraphsEnabled() { return graphsSwitch(); }

uint64_t DeviceTensor::byteSize() const {
  uint64_t N = dtypeSize(Elem);
  for (int64_t D : Shape)
    N *= uint64_t(D);
  return N;
}

// --- Pool -------------------------------------------------------------------

/// Sizes are rounded to 256 bytes (the driver's alignment) so that blocks
/// of nearly equal size are interchangeable.
static uint64_t roundSize(uint64_t B) { return (std::max<uint64_t>(B, 1) + 255) / 256 * 256; }

std::shared_ptr<GpuMemoryPool>
GpuMemoryPool::create(std::shared_ptr<GpuDevice> D) {
  auto P = std::shared_ptr<GpuMemoryPool>(new GpuMemoryPool());
  P->Dev = std::move(D);
  return P;
}

GpuMemoryPool::~GpuMemoryPool() { trim(); }

void GpuMemoryPool::trim() {
  std::lock_guard<std::mutex> L(M);
  for (auto &[Size, Q] : Free)
    for (DeviceAddr A : Q)
      Dev->free(A);
  Free.clear();
}

llvm::Expected<std::shared_ptr<GpuBuffer>>
GpuMemoryPool::acquire(uint64_t Bytes) {
  uint64_t Size = roundSize(Bytes);
  {
    std::lock_guard<std::mutex> L(M);
    // The smallest cached block that fits, if it wastes at most half.
    auto It = Free.lower_bound(Size);
    if (It != Free.end() && It->first <= 2 * Size) {
      DeviceAddr A = It->second.front();
      uint64_t Got = It->first;
      It->second.pop_front();
      if (It->second.empty())
        Free.erase(It);
      return std::make_shared<GpuBuffer>(shared_from_this(), A, Got);
    }
  }
  auto A = Dev->alloc(Size);
  if (!A) {
    llvm::consumeError(A.takeError());
    trim();
    A = Dev->alloc(Size);
    if (!A)
      return A.takeError();
  }
  return std::make_shared<GpuBuffer>(shared_from_this(), *A, Size);
}

void GpuMemoryPool::release(DeviceAddr A, uint64_t Size) {
  std::lock_guard<std::mutex> L(M);
  Free[Size].push_back(A);
}

GpuBuffer::~GpuBuffer() {
  if (Pool) // a view borrows its bytes
    Pool->release(Addr, Size);
}

// --- Emulation --------------------------------------------------------------

/// Runs one block of a generated emulation function.
DLC_CALLS_GENERATED_CODE
static void emulateBlock(GpuEmulateFn Fn, const BufferArg *Args,
                         const GpuLaunch &L, uint32_t X, uint32_t Y,
                         uint32_t Z) {
  Fn(Args, &L, X, Y, Z);
}

namespace {

class EmulatedModule : public GpuModule {
public:
  explicit EmulatedModule(std::vector<GpuKernelEntry> K) : Kernels(std::move(K)) {}
  llvm::Error launch(void *, unsigned K, const GpuLaunch &L,
                     DeviceAddr Block) override {
    const auto *Args = reinterpret_cast<const BufferArg *>(Block);
    GpuEmulateFn Fn = Kernels[K].Emulate;
    for (uint32_t Z = 0; Z < L.Grid[2]; ++Z)
      for (uint32_t Y = 0; Y < L.Grid[1]; ++Y)
        for (uint32_t X = 0; X < L.Grid[0]; ++X)
          emulateBlock(Fn, Args, L, X, Y, Z);
    return llvm::Error::success();
  }

private:
  std::vector<GpuKernelEntry> Kernels;
};

class Emulator : public GpuDevice {
public:
  std::string describe() const override { return "CPU emulation"; }
  bool emulated() const override { return true; }
  llvm::Expected<DeviceAddr> alloc(uint64_t Bytes) override {
    void *P = std::aligned_alloc(256, roundSize(Bytes));
    if (!P)
      return makeError("out of host memory for the GPU emulation: asked for " +
                       std::to_string(Bytes) + " bytes");
    return reinterpret_cast<DeviceAddr>(P);
  }
  void free(DeviceAddr A) override { std::free(reinterpret_cast<void *>(A)); }
  llvm::Expected<void *> createStream() override { return this; }
  void destroyStream(void *) override {}
  llvm::Error copyIn(void *, DeviceAddr Dst, const void *Src,
                     uint64_t Bytes) override {
    if (Bytes)
      std::memcpy(reinterpret_cast<void *>(Dst), Src, Bytes);
    return llvm::Error::success();
  }
  llvm::Error copyOut(void *, void *Dst, DeviceAddr Src,
                      uint64_t Bytes) override {
    if (Bytes)
      std::memcpy(Dst, reinterpret_cast<const void *>(Src), Bytes);
    return llvm::Error::success();
  }
  llvm::Error copyOnDevice(void *, DeviceAddr Dst, DeviceAddr Src,
                           uint64_t Bytes) override {
    if (Bytes)
      std::memmove(reinterpret_cast<void *>(Dst),
                   reinterpret_cast<const void *>(Src), Bytes);
    return llvm::Error::success();
  }
  llvm::Error sync(void *, llvm::StringRef) override {
    return llvm::Error::success();
  }
  llvm::Expected<bool> done(void *, llvm::StringRef) override { return true; }
  llvm::Expected<std::unique_ptr<GpuModule>>
  load(const GpuProgram &P) override {
    std::string Missing;
    for (const GpuKernelEntry &K : P.Kernels)
      if (!K.Emulate)
        Missing += (Missing.empty() ? "'" : ", '") + K.Name + "'";
    if (!Missing.empty())
      return makeError("the GPU emulation cannot run kernel(s) " + Missing +
                       ": the code generator made no CPU emulation for them");
    return std::make_unique<EmulatedModule>(P.Kernels);
  }
};

} // namespace

std::shared_ptr<GpuDevice> GpuDevice::emulator() {
  return std::make_shared<Emulator>();
}
