// The fake CUDA driver's control interface (see FakeCuda.h).
#include "FakeCudaState.h"

using namespace fakecuda;


FAKE_API void dlcFakeCudaReset() {
  std::lock_guard<std::recursive_mutex> Lock(st().M);
  State &S = st();
  S.Allocs.clear();
  S.Kernels.clear();
  S.Fail.clear();
  S.Calls.clear();
  S.Faulty.clear();
  S.Violations.clear();
  S.Launches.clear();
  S.Modules.clear();
  S.Functions.clear();
  S.Streams.clear();
  S.Graphs.clear();
  S.Execs.clear();
  S.GraphLaunches = 0;
  S.Limit = 16ull << 30;
  S.Live = 0;
  S.Devices = 1;
  S.Sticky = false;
  S.Bytes[0] = S.Bytes[1] = S.Bytes[2] = 0;
}
FAKE_API void dlcFakeCudaSetDeviceCount(int N) { st().Devices = N; }
FAKE_API void dlcFakeCudaSetMemoryLimit(uint64_t B) { st().Limit = B; }
FAKE_API void dlcFakeCudaRegisterKernel(const char *Name, unsigned NumArgs,
                                        dlc::GpuEmulateFn Fn) {
  std::lock_guard<std::recursive_mutex> Lock(st().M);
  st().Kernels[Name] = {NumArgs, Fn};
}
FAKE_API void dlcFakeCudaFailCall(const char *Fn, int Nth, int Code) {
  std::lock_guard<std::recursive_mutex> Lock(st().M);
  st().Fail[Fn] = {Nth, Code};
}
FAKE_API void dlcFakeCudaFaultKernel(const char *Name) { st().Faulty = Name; }
FAKE_API uint64_t dlcFakeCudaCalls(const char *Fn) {
  auto It = st().Calls.find(Fn);
  return It == st().Calls.end() ? 0 : It->second;
}
FAKE_API uint64_t dlcFakeCudaBytes(int Dir) { return st().Bytes[Dir]; }
FAKE_API size_t dlcFakeCudaLiveAllocations() { return st().Allocs.size(); }
FAKE_API uint64_t dlcFakeCudaLiveBytes() { return st().Live; }
FAKE_API const char *dlcFakeCudaViolations() {
  return st().Violations.c_str();
}
FAKE_API size_t dlcFakeCudaLaunchCount() { return st().Launches.size(); }
FAKE_API const char *dlcFakeCudaLaunchName(size_t I) {
  return st().Launches[I].Name.c_str();
}
FAKE_API void dlcFakeCudaLaunchGeometry(size_t I, dlc::GpuLaunch *Out) {
  *Out = st().Launches[I].L;
}
FAKE_API size_t dlcFakeCudaLiveGraphs() {
  return st().Graphs.size() + st().Execs.size();
}
FAKE_API uint64_t dlcFakeCudaGraphOps() { return st().GraphLaunches; }
FAKE_API const void *dlcFakeCudaHostView(uint64_t Addr, uint64_t Bytes) {
  std::lock_guard<std::recursive_mutex> Lock(st().M);
  std::string Saved = st().Violations;
  const void *P = translate(Addr, Bytes, "dlcFakeCudaHostView");
  st().Violations = Saved; // asking is not a violation
  return P;
}
