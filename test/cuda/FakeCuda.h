// The control interface of the fake CUDA driver (libdlc_fake_cuda.so), a
// test double that exports the driver symbols dlc loads. Tests link it and
// point DLC_CUDA_DRIVER (or CudaDriver::load) at the same file, so these
// calls and the driver calls share one state.
//
// What it models, to catch real bugs without a GPU:
//  - Device memory lives at addresses of a reserved, inaccessible range:
//    dereferencing a device pointer on the host crashes. Every copy and
//    every buffer a kernel's parameter block names must lie inside one
//    live allocation; new allocations hold a poison pattern; each has a
//    red zone checked after every kernel. A violation fails the call with
//    CUDA_ERROR_INVALID_VALUE and is recorded (dlcFakeCudaViolations).
//  - Streams are queues run at cuStreamSynchronize, cuStreamQuery (until
//    an op is not ready) or cuMemFree: reading
//    a copy's destination before synchronizing reads stale bytes. Host
//    sources are staged when the copy is queued, like pageable memory.
//  - PTX: needs .version and .target; `.entry NAME` declares a kernel; a
//    line holding `dlc_fake_invalid` makes the load fail with a ptxas-style
//    log naming that line.
//  - cuLaunchKernel checks the geometry (no zero dims, at most 1024
//    threads, shared memory within the function's limit) and one parameter;
//    a kernel registered by name runs by calling its emulation for every
//    block, on the host copies of the buffers; unregistered ones are only
//    recorded.
//  - CUDA graphs: stream capture records what is queued on the stream
//    (launches with their parameters as they were) instead of running it;
//    synchronizing or querying a capturing stream is refused and spoils
//    the capture (cuStreamEndCapture then fails); cuGraphLaunch queues the
//    recorded work as one op. Unknown or destroyed handles are violations.
//  - The device is sm_90, or what $DLC_FAKE_CUDA_CC says (75 for sm_75).
#ifndef DLC_TEST_CUDA_FAKECUDA_H
#define DLC_TEST_CUDA_FAKECUDA_H

#include "exec/GpuAbi.h"

#include <cstddef>
#include <cstdint>

extern "C" {
/// Back to the start: no allocations, modules, kernels, faults or records;
/// one device, 16 GiB.
void dlcFakeCudaReset();
void dlcFakeCudaSetDeviceCount(int N);
void dlcFakeCudaSetMemoryLimit(uint64_t Bytes);
/// Kernel Name runs Fn over a parameter block of NumArgs BufferArgs.
void dlcFakeCudaRegisterKernel(const char *Name, unsigned NumArgs,
                               dlc::GpuEmulateFn Fn);
/// The Nth call (1-based, from now) to driver function Fn (its exported
/// name, e.g. "cuMemAlloc_v2") returns Code.
void dlcFakeCudaFailCall(const char *Fn, int Nth, int Code);
/// Kernel Name faults when it runs: the sync returns
/// CUDA_ERROR_ILLEGAL_ADDRESS, and so does every later call (sticky).
void dlcFakeCudaFaultKernel(const char *Name);

/// Calls made to driver function Fn since the reset.
uint64_t dlcFakeCudaCalls(const char *Fn);
/// Bytes copied host to device (0), device to host (1), on the device (2).
uint64_t dlcFakeCudaBytes(int Dir);
size_t dlcFakeCudaLiveAllocations();
uint64_t dlcFakeCudaLiveBytes();
/// What went wrong so far, one line per violation; "" when nothing did.
const char *dlcFakeCudaViolations();
/// Launches executed, in order: name, grid and block dims, shared bytes.
size_t dlcFakeCudaLaunchCount();
const char *dlcFakeCudaLaunchName(size_t I);
void dlcFakeCudaLaunchGeometry(size_t I, dlc::GpuLaunch *Out);
/// Graphs and graph instances alive (created and not yet destroyed).
size_t dlcFakeCudaLiveGraphs();
/// Recorded ops (launches, copies) that graph launches have run.
uint64_t dlcFakeCudaGraphOps();
/// The host copy of device memory at Addr (nullptr when it is not inside
/// a live allocation of Bytes bytes): for tests that inspect parameter
/// blocks.
const void *dlcFakeCudaHostView(uint64_t Addr, uint64_t Bytes);
/// Queues Op(Ctx) on stream Stream (for fakes of libraries that work on
/// streams, such as the fake NCCL). Op returns 0 when done, an error code,
/// or 600 (CUDA_ERROR_NOT_READY) when it waits for something outside this
/// process: it stays at the head of the queue, cuStreamQuery says not
/// ready and cuStreamSynchronize polls it every millisecond.
int dlcFakeCudaEnqueue(void *Stream, int (*Op)(void *), void *Ctx);
}

#endif
