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

} // namespace dlc

#endif
