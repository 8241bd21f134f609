// The communicator of data-parallel training: a rank among Size processes
// and the few collectives the trainer needs (broadcast, sum-allreduce of
// float buffers and scalars, barrier, abort). LocalCommunicator is the
// single-process one; dist/MpiCommunicator.h makes one over MPI. Also the
// two pieces of data parallelism that need no MPI: the shard of a global
// batch a rank takes, and the bucketed allreduce of a list of tensors.
#ifndef DLC_DIST_COMMUNICATOR_H
#define DLC_DIST_COMMUNICATOR_H

#include "ir/Tensor.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dlc {

class Communicator {
public:
  virtual ~Communicator();
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Every rank ends with Root's bytes (the same length on every rank).
  virtual llvm::Error broadcast(llvm::MutableArrayRef<uint8_t> Bytes,
                                int Root = 0) = 0;
  /// Elementwise sums over the ranks, in place (the same length on every
  /// rank); every rank gets the same bits.
  virtual llvm::Error allReduceSum(llvm::MutableArrayRef<float> Data) = 0;
  virtual llvm::Error allReduceSum(llvm::MutableArrayRef<double> Data) = 0;
  virtual llvm::Error barrier() = 0;
  /// Starts summing Data over the ranks in place and returns at once
  /// (MPI_Iallreduce); Data must stay alive and untouched until waitAll().
  /// Every rank must start the same sums in the same order. The default
  /// sums at once (blocking).
  virtual llvm::Error startAllReduceSum(llvm::MutableArrayRef<float> Data);
  /// Lets started sums move on without waiting for them (MPI_Testall): MPI
  /// libraries without a progress thread move data only inside MPI calls.
  virtual llvm::Error progress();
  /// Waits for every started sum.
  virtual llvm::Error waitAll();
  /// Ends the processes of every rank with exit status Code; the caller has
  /// printed why. Never returns.
  [[noreturn]] virtual void abort(int Code) = 0;

  /// "rank 1 of 4", for messages.
  std::string describe() const;
};

/// One process: rank 0 of 1. The collectives change nothing; abort exits.
class LocalCommunicator final : public Communicator {
public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  llvm::Error broadcast(llvm::MutableArrayRef<uint8_t>, int Root) override;
  llvm::Error allReduceSum(llvm::MutableArrayRef<float>) override;
  llvm::Error allReduceSum(llvm::MutableArrayRef<double>) override;
  llvm::Error barrier() override;
  [[noreturn]] void abort(int Code) override;
};

/// Whether a launcher started this process as one rank of several: Open
/// MPI's mpirun (OMPI_COMM_WORLD_SIZE > 1), MPICH's Hydra or Slurm's PMI
/// (PMI_SIZE > 1), or Slurm with PMIx (PMIX_RANK and SLURM_NTASKS > 1).
bool launchedAsRanks();
/// How many ranks share this machine, from the launcher (1 if unknown).
int localRanks();

/// The examples [Begin', End') of the global batch [Begin, End) that Rank
/// of Size takes: contiguous and as even as possible (sizes differ by at
/// most one; a rank may get none when the batch is smaller than Size).
std::pair<int64_t, int64_t> shardRange(int64_t Begin, int64_t End, int Rank,
                                       int Size);

/// Sums the tensors over the ranks in place, each first multiplied by
/// Scale: f32 tensors packed into fused buckets of about BucketBytes (a
/// larger tensor is a bucket of its own), filled from the last tensor to
/// the first (the order backpropagation finishes gradients in); f64
/// tensors one by one. Other element types are an error. Every rank must
/// pass tensors of the same types in the same order.
llvm::Error allReduceTensors(Communicator &C, llvm::ArrayRef<Tensor *> Tensors,
                             double Scale, size_t BucketBytes);

/// The buckets of allReduceTensors for tensors of Types: each a list of
/// indices of f32 tensors, filled from the last tensor to the first, a new
/// bucket when the next tensor would take a non-empty one past
/// BucketBytes. Other element types are in none.
std::vector<std::vector<unsigned>>
gradientBuckets(llvm::ArrayRef<TensorType> Types, size_t BucketBytes);

/// The same sums started bucket by bucket as the tensors become final (as
/// the backward pass finishes the gradients), so that communication
/// overlaps the rest of the computation. The buckets are those of
/// allReduceTensors (f32 tensors from the last to the first, about
/// BucketBytes each); bucket B's sum starts once its tensors are all ready
/// and buckets 0..B-1 have started (every rank starts them in the same
/// order, whatever order its tensors become ready in). f64 tensors are
/// summed one by one in finish().
class OverlappedSum {
public:
  OverlappedSum(Communicator &C, llvm::ArrayRef<TensorType> Types,
                double Scale, size_t BucketBytes);
  /// Without finish() after a sum started (an error ended the step), the
  /// buckets are leaked on purpose: MPI may still write into them.
  ~OverlappedSum();
  /// Tensor K's bytes are final: they are copied (times Scale) into its
  /// bucket, which starts when complete. Each tensor once. Errors: the
  /// communicator's, or bytes of the wrong size.
  llvm::Error ready(unsigned K, const uint8_t *Data, size_t Bytes);
  /// Reports every tensor not reported yet (as Tensors[K]'s bytes), waits
  /// for all the sums and writes them into Tensors (shaped like Types).
  llvm::Error finish(llvm::ArrayRef<Tensor *> Tensors);
  /// The buckets, each a list of tensor indices (for tests).
  const std::vector<std::vector<unsigned>> &buckets() const { return Members; }

private:
  llvm::Error startReady();
  Communicator &C;
  std::vector<TensorType> Types;
  double Scale;
  std::vector<std::vector<unsigned>> Members;
  std::vector<std::vector<float>> Data;
  std::vector<size_t> Missing;             // per bucket: tensors not ready
  std::vector<std::pair<int, size_t>> Where; // per tensor: bucket, offset
  std::vector<bool> Seen;
  std::vector<std::vector<double>> Doubles; // f64 tensors (bucket -1)
  size_t NextToStart = 0;
  bool Finished = false;
};

} // namespace dlc

#endif
