// The fake CUDA driver's state, shared by its driver entry points
// (FakeCuda.cpp) and its control interface (FakeCudaControl.cpp).
#ifndef DLC_TEST_CUDA_FAKECUDASTATE_H
#define DLC_TEST_CUDA_FAKECUDASTATE_H

#include "FakeCuda.h"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace fakecuda {

using CUresult = int;
using CUdeviceptr = unsigned long long;

constexpr CUresult NotReady = 600; // CUDA_ERROR_NOT_READY
constexpr uint64_t RedZone = 4096;
constexpr uint8_t Poison = 0xA5, RedByte = 0x5A;
constexpr uint64_t SpaceSize = 1ull << 40; // reserved device addresses

struct Allocation {
  uint64_t Size = 0;
  std::vector<uint8_t> Host; // Size bytes, then the red zone
};

struct Module {
  std::vector<std::string> Entries;
};

struct Function {
  std::string Name;
  uint32_t MaxShared = 48 << 10;
};

struct Stream {
  std::vector<std::function<CUresult()>> Queue;
  /// Between cuStreamBeginCapture_v2 and cuStreamEndCapture: what was
  /// queued, recorded instead of run; Invalidated by a forbidden call.
  bool Capturing = false, Invalidated = false;
  std::vector<std::function<CUresult()>> Captured;
};

/// A captured graph, or an instance of one (CUgraph, CUgraphExec).
struct Graph {
  std::vector<std::function<CUresult()>> Ops;
};

struct Registered {
  unsigned NumArgs = 0;
  dlc::GpuEmulateFn Fn = nullptr;
};

struct Launch {
  std::string Name;
  dlc::GpuLaunch L;
};

struct State {
  std::recursive_mutex M;
  uint64_t Base = 0, Next = 0, Limit = 16ull << 30, Live = 0;
  int Devices = 1;
  bool Sticky = false;
  std::map<uint64_t, Allocation> Allocs; // by device address
  std::map<std::string, Registered> Kernels;
  std::map<std::string, std::pair<int, int>> Fail; // fn -> (countdown, code)
  std::map<std::string, uint64_t> Calls;
  std::string Faulty, Violations;
  uint64_t Bytes[3] = {0, 0, 0};
  std::vector<Launch> Launches;
  std::vector<std::unique_ptr<Module>> Modules;
  std::vector<std::unique_ptr<Function>> Functions;
  std::vector<std::unique_ptr<Stream>> Streams;
  std::vector<std::unique_ptr<Graph>> Graphs, Execs;
  uint64_t GraphLaunches = 0; // recorded ops run by graph launches
  int Ctx = 0; // its address is the context handle
};

/// The one state of the process (its device range reserved on first use).
State &st();
/// Records misuse (dlcFakeCudaViolations).
void violation(const std::string &What);
/// Counts the call to Fn and applies injected failures and the sticky
/// fault: nonzero is the result to return.
CUresult enter(const char *Fn);
/// Whether H is the default stream or a live one (else a violation).
bool validStream(void *H);
/// Queues Op on stream H (recorded while H captures), or runs it now on
/// the default stream.
CUresult enqueue(void *H, std::function<CUresult()> Op);
/// Whether H is capturing a graph; then the call Who, which a capturing
/// stream does not allow, invalidates the capture (and is a violation).
bool capturing(void *H, const char *Who);

#define FAKE_API extern "C" __attribute__((visibility("default")))
#define ENTER(Name)                                                            \
  std::lock_guard<std::recursive_mutex> Lock(fakecuda::st().M);                \
  if (fakecuda::CUresult Injected = fakecuda::enter(Name))                     \
    return Injected;

/// The host bytes of [Addr, Addr + Bytes), which must lie in one live
/// allocation; else nullptr and a violation naming Who.
uint8_t *translate(uint64_t Addr, uint64_t Bytes, const std::string &Who);

} // namespace fakecuda

#endif
