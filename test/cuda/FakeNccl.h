// The control interface of the fake NCCL (libdlc_fake_nccl.so), a test
// double that exports the NCCL entry points dlc loads (runtime/Nccl.h).
// Tests link it and point DLC_NCCL_LIBRARY at the same file, so these
// calls and the NCCL calls share one state. It links the fake CUDA driver
// (FakeCuda.h) and works on its memory and streams.
//
// What it models, to catch real bugs without GPUs:
//  - ncclAllReduce takes only buffers inside live allocations of the fake
//    driver (a host pointer, or bytes past an allocation, fail with
//    ncclInvalidArgument and a violation), f32 or f64, the built-in sum or
//    a premultiplied sum made by ncclRedOpCreatePreMulSum (the scalar on
//    the host; ops must be destroyed with the communicator that made
//    them).
//  - The sum is queued on the stream (dlcFakeCudaEnqueue): nothing moves
//    until the stream is queried or synchronized. Then each rank writes
//    its values times its scalar (rounded to the element type) to a file
//    in $DLC_FAKE_NCCL_DIR and waits (not ready) until every rank's file
//    of the same sum is there; the sum adds them in rank order. Ranks of
//    one `mpiexec` run share the directory; the unique id names the run.
//  - ncclCommInitRank returns when every rank has called it (files too).
//  - ncclCommAbort ends queued sums (they change nothing);
//    ncclCommGetAsyncError reports an injected error.
#ifndef DLC_TEST_CUDA_FAKENCCL_H
#define DLC_TEST_CUDA_FAKENCCL_H

#include <cstdint>

extern "C" {
/// No injected failures, hangs or violations (call counts go on).
void dlcFakeNcclReset();
/// Calls made to entry point Fn ("ncclAllReduce") in this process.
uint64_t dlcFakeNcclCalls(const char *Fn);
/// The Nth call (1-based, from now) to Fn returns Code.
void dlcFakeNcclFailCall(const char *Fn, int Nth, int Code);
/// The Nth ncclAllReduce of the process (1-based, counting from the
/// start) never finishes: this rank never sends its values (a hung peer).
void dlcFakeNcclHangCall(int Nth);
/// ncclCommInitRank never returns on this rank (nor, waiting for it, on
/// the others).
void dlcFakeNcclHangInit();
/// From the Nth ncclAllReduce on, ncclCommGetAsyncError reports Code.
void dlcFakeNcclAsyncErrorAt(int Nth, int Code);
/// What went wrong so far, one line per violation; "" when nothing did.
const char *dlcFakeNcclViolations();
}

#endif
