// What the collective op all_reduce_sum sums over. The graph op does not
// know the other ranks of data-parallel training: whoever runs a graph that
// has collectives installs the run's communicator for the running thread
// (CollectiveScope) around the run. The executor runs host steps on the
// thread that called run(), so the kernel finds it there. Without one,
// all_reduce_sum is the identity: one process is all the ranks there are.
// The GPU executor calls the same hook: allReduceSumOnDevice when the
// hook can sum device memory in place (NCCL), else allReduceSum on a copy
// it brings to the host and back.
#ifndef DLC_INTERP_COLLECTIVE_H
#define DLC_INTERP_COLLECTIVE_H

#include "ir/Types.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

namespace dlc {

class CollectiveHook {
public:
  virtual ~CollectiveHook();
  /// Elementwise sums over the ranks, in place; every rank gets the same
  /// bits. Every rank must make the same calls in the same order.
  virtual llvm::Error allReduceSum(llvm::MutableArrayRef<float> Data) = 0;
  virtual llvm::Error allReduceSum(llvm::MutableArrayRef<double> Data) = 0;
  /// The same sum of Count elements of type Elem at device address Addr
  /// of a CUDA device, in place; the device's earlier work on it is done
  /// (the GPU executor waited) and the sum must be done when this returns.
  /// False: this hook cannot work on device memory (the default), and the
  /// caller sums a host copy with allReduceSum instead.
  virtual llvm::Expected<bool> allReduceSumOnDevice(uint64_t Addr,
                                                    size_t Count, DType Elem);
};

/// Installs Hook (not owned; null: none) for the current thread while the
/// scope lives; scopes nest.
class CollectiveScope {
public:
  explicit CollectiveScope(CollectiveHook *Hook);
  ~CollectiveScope();
  CollectiveScope(const CollectiveScope &) = delete;
  CollectiveScope &operator=(const CollectiveScope &) = delete;

private:
  CollectiveHook *Prev;
};

/// The current thread's hook, or null.
CollectiveHook *currentCollective();

} // namespace dlc

#endif
