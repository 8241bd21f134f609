// Sums of device buffers over the ranks with NCCL (runtime/Nccl.h): the
// GPU path of data-parallel training, where gradients stay in device
// memory. The NCCL communicator is set up over the host communicator (MPI):
// rank 0 makes the unique id and broadcasts it. One GPU per rank: the
// device of the run's CUDA driver, which CudaDriver::get() picks as the
// rank's local index modulo the devices it sees.
#ifndef DLC_DIST_NCCLCOMMUNICATOR_H
#define DLC_DIST_NCCLCOMMUNICATOR_H

#include "dist/Communicator.h"
#include "exec/GpuDevice.h"

#include <memory>

namespace dlc {
namespace rt {
class Nccl;
}

struct NcclOptions {
  /// A sum not finished after this many seconds (a peer died, hangs or is
  /// far behind: NCCL itself waits forever) aborts the NCCL communicator
  /// and is an error naming the collective; an ncclCommInitRank not
  /// finished by then ends the process (it cannot be interrupted) after
  /// printing why, and the launcher ends the others. 0 waits forever.
  double TimeoutSeconds = 600;
};

class NcclCommunicator {
public:
  /// Collective over Host (every rank calls it): loads NCCL (the same
  /// library everywhere: when it fails to load on any rank, every rank
  /// gets an error, its own or the one naming the rank), exchanges the
  /// unique id over Host and initializes the NCCL communicator on Dev, a
  /// CUDA device. The emulated GPU cannot use NCCL: an error.
  static llvm::Expected<std::unique_ptr<NcclCommunicator>>
  create(Communicator &Host, std::shared_ptr<GpuDevice> Dev,
         const NcclOptions &Opts = {});
  /// Destroys the NCCL communicator (aborts it after a failure).
  ~NcclCommunicator();

  /// Queues on stream() the sum over the ranks of Count f32 or f64
  /// elements at Buf (a device address), in place, each rank's elements
  /// first multiplied by its own Scale (NCCL's premultiplied sum: x *
  /// Scale rounded to the element type, then summed, as the host path
  /// computes it). Every rank must queue the same sums in the same order.
  llvm::Error allReduceScaled(DeviceAddr Buf, size_t Count, DType Elem,
                              double Scale);
  /// Waits for the queued work, polling the stream and NCCL's
  /// asynchronous error: an error or a wait past the timeout aborts the
  /// communicator (no later call works) and says what; What names the
  /// work ("the gradient sums").
  llvm::Error wait(llvm::StringRef What);

  /// The stream every sum (and the bucket copies) runs on.
  void *stream() const { return Stream; }
  GpuDevice &device() const { return *Dev; }
  /// "NCCL 2.21.5 (libnccl.so.2)".
  std::string describe() const;
  /// "rank 1 of 4", for messages.
  std::string who() const;

private:
  NcclCommunicator() = default;
  llvm::Error failed(llvm::Error E);
  rt::Nccl *Lib = nullptr;
  std::shared_ptr<GpuDevice> Dev;
  void *Comm = nullptr; // rt::NcclComm
  void *Stream = nullptr;
  int Rank = 0, Size = 1;
  double Timeout = 600;
  bool Broken = false; // aborted: only destruction is left
};

/// Sums device tensors over the ranks in place, each first multiplied by
/// Scale, in the buckets of allReduceTensors (f32 tensors packed into
/// buckets of about BucketBytes from the last tensor to the first, each
/// one NCCL sum; f64 tensors one by one), and waits for them. A bucket of
/// several tensors is gathered into a buffer from Pool and scattered back
/// on the device; a bucket of one is summed in place (tensors that share
/// a buffer get one each first). Nothing goes through the host.
llvm::Error allReduceDeviceTensors(NcclCommunicator &C,
                                   llvm::ArrayRef<DeviceTensor *> Tensors,
                                   double Scale, size_t BucketBytes,
                                   GpuMemoryPool &Pool);

} // namespace dlc

#endif
