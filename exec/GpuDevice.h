// Where GPU kernels run: a CUDA device through the driver API, or the CPU
// emulation of one (host memory, every block of a grid run through the
// kernel's GpuEmulateFn). The GPU executor sees only this interface, so
// the emulation checks the very plan, parameter blocks and copies that the
// device gets. Also: the device memory pool and device-resident tensors.
#ifndef DLC_EXEC_GPUDEVICE_H
#define DLC_EXEC_GPUDEVICE_H

#include "exec/GpuAbi.h"
#include "ir/Tensor.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Error.h"

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace dlc {
namespace rt {
class CudaDriver;
}

/// A device address (a host address under emulation).
using DeviceAddr = uint64_t;

/// What a GPU executor hands a device: one PTX module holding every
/// kernel's .entry, and the kernels in kernel-number order.
struct GpuProgram {
  std::string Ptx;
  std::vector<GpuKernelEntry> Kernels;
  /// Keeps the host code of the kernels' functions alive (their JIT).
  std::shared_ptr<const void> Owner;
};

/// A program's kernels loaded on a device.
class GpuModule {
public:
  virtual ~GpuModule();
  /// Queues kernel K of the program on Stream with launch L and its
  /// parameter block at Block.
  virtual llvm::Error launch(void *Stream, unsigned K, const GpuLaunch &L,
                             DeviceAddr Block) = 0;
};

class GpuDevice {
public:
  /// The process's CUDA device 0 (the driver is loaded on first use):
  /// errors say when there is no driver or no GPU.
  static llvm::Expected<std::shared_ptr<GpuDevice>> cuda();
  /// A CUDA device on a given driver (tests pass a fake one).
  static std::shared_ptr<GpuDevice> cuda(std::shared_ptr<rt::CudaDriver> D);
  /// The CPU emulation of a GPU.
  static std::shared_ptr<GpuDevice> emulator();
  virtual ~GpuDevice();

  /// "NVIDIA H100 80GB HBM3 (sm_90, driver 13.0)", or "CPU emulation".
  virtual std::string describe() const = 0;
  virtual bool emulated() const = 0;

  virtual llvm::Expected<DeviceAddr> alloc(uint64_t Bytes) = 0;
  virtual void free(DeviceAddr A) = 0;

  /// Streams order the copies and launches of one run; work on a stream
  /// may still be running until sync returns.
  virtual llvm::Expected<void *> createStream() = 0;
  virtual void destroyStream(void *S) = 0;
  virtual llvm::Error copyIn(void *S, DeviceAddr Dst, const void *Src,
                             uint64_t Bytes) = 0;
  virtual llvm::Error copyOut(void *S, void *Dst, DeviceAddr Src,
                              uint64_t Bytes) = 0;
  virtual llvm::Error copyOnDevice(void *S, DeviceAddr Dst, DeviceAddr Src,
                                   uint64_t Bytes) = 0;
  /// Waits for S; a kernel fault shows here. Running names the work.
  virtual llvm::Error sync(void *S, llvm::StringRef Running) = 0;
  /// Whether S's work is done, without waiting (a fault is an error, as in
  /// sync). The emulation runs everything at once: always true.
  virtual llvm::Expected<bool> done(void *S, llvm::StringRef Running) = 0;
  /// The CUDA driver of a CUDA device (for libraries that work on its
  /// memory and streams, such as NCCL); null under emulation.
  virtual rt::CudaDriver *driver() const { return nullptr; }

  /// Loads P: the PTX on a device (rejections carry the driver's log); the
  /// emulation functions under emulation.
  virtual llvm::Expected<std::unique_ptr<GpuModule>>
  load(const GpuProgram &P) = 0;

  /// CUDA graphs: whether the launches queued on a stream can be recorded
  /// once and replayed with one call. Only a CUDA device whose driver has
  /// them, unless turned off (setCudaGraphs, DLC_CUDA_GRAPHS=0; and
  /// DLC_CUDA_SYNC=1, which waits after every launch) or after a capture
  /// failed on this device (disableGraphs).
  virtual bool graphs() const { return false; }
  /// Records the launches queued on S from here, instead of running them.
  virtual llvm::Error beginCapture(void *S);
  /// Ends the recording on S: the graph, ready to launch (destroyGraph).
  virtual llvm::Expected<void *> endCapture(void *S);
  /// Queues graph G on S; Running names the work.
  virtual llvm::Error launchGraph(void *S, void *G, llvm::StringRef Running);
  virtual void destroyGraph(void *G);
  virtual void disableGraphs() {}
};

/// Whether GPU executors replay their launches as CUDA graphs where the
/// device has them (default on; DLC_CUDA_GRAPHS=0 or off turns the default
/// off; `dlc run|bench|train --cuda-graphs=off`). Process-wide.
void setCudaGraphs(bool On);
bool cudaGraphsEnabled();

class GpuMemoryPool;

/// Device bytes from a pool, given back to it when the last owner lets go;
/// or, without a pool, a view of bytes owned elsewhere (a run's arena, read
/// by a control-flow region while the run holds it), given back to nobody.
class GpuBuffer {
public:
  GpuBuffer(std::shared_ptr<GpuMemoryPool> Pool, DeviceAddr A, uint64_t Size)
      : Pool(std::move(Pool)), Addr(A), Size(Size) {}
  ~GpuBuffer();
  GpuBuffer(const GpuBuffer &) = delete;
  GpuBuffer &operator=(const GpuBuffer &) = delete;
  DeviceAddr addr() const { return Addr; }
  uint64_t size() const { return Size; }

private:
  std::shared_ptr<GpuMemoryPool> Pool;
  DeviceAddr Addr;
  uint64_t Size;
};

/// Caches freed device allocations for reuse (device allocation is slow
/// and synchronizes). Freed blocks are handed out first in, first out per
/// size, so buffers that alternate between runs keep their addresses.
class GpuMemoryPool : public std::enable_shared_from_this<GpuMemoryPool> {
public:
  static std::shared_ptr<GpuMemoryPool> create(std::shared_ptr<GpuDevice> D);
  ~GpuMemoryPool();
  /// At least Bytes bytes; on running out, the cache is freed and the
  /// allocation tried once more.
  llvm::Expected<std::shared_ptr<GpuBuffer>> acquire(uint64_t Bytes);
  /// Frees every cached block.
  void trim();
  GpuDevice &device() const { return *Dev; }
  const std::shared_ptr<GpuDevice> &deviceRef() const { return Dev; }

private:
  friend class GpuBuffer;
  void release(DeviceAddr A, uint64_t Size);
  std::shared_ptr<GpuDevice> Dev;
  std::mutex M;
  std::map<uint64_t, std::deque<DeviceAddr>> Free; // by size
};

/// A tensor in device memory. Copies share the bytes.
struct DeviceTensor {
  DType Elem = DType::F32;
  llvm::SmallVector<int64_t, 4> Shape;
  std::shared_ptr<GpuBuffer> Buf;
  TensorType type() const { return TensorType::get(Elem, Shape); }
  uint64_t byteSize() const;
};

} // namespace dlc

#endif
