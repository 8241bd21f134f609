// Internal interface of the reference interpreter: one entry point per op
// family and the index helpers the kernels share.
#ifndef DLC_INTERP_KERNELS_H
#define DLC_INTERP_KERNELS_H

#include "ir/IR.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"

namespace dlc {
namespace interp {

using TensorList = llvm::ArrayRef<const Tensor *>;
using ResultList = llvm::MutableArrayRef<Tensor>;
using Sizes = llvm::SmallVector<int64_t, 4>;

/// Kernel families. Each receives the op, its operand tensors (count already
/// checked against the op table) and its results, allocated zero-filled with
/// the element types and shapes given by shape inference. A kernel must not
/// read or write out of bounds even when those shapes are not what it
/// expects: it reports a mismatch as an error instead.
llvm::Error evalUnary(const Operation &Op, TensorList In, ResultList Out);
llvm::Error evalBinary(const Operation &Op, TensorList In, ResultList Out);
llvm::Error evalReduction(const Operation &Op, TensorList In, ResultList Out);
llvm::Error evalConv(const Operation &Op, TensorList In, ResultList Out);
llvm::Error evalIm2Col(const Operation &Op, TensorList In, ResultList Out);
llvm::Error evalConvTranspose(const Operation &Op, TensorList In,
                              ResultList Out);
llvm::Error evalPool(const Operation &Op, TensorList In, ResultList Out);
llvm::Error evalMaxPoolGrad(const Operation &Op, TensorList In,
                            ResultList Out);
llvm::Error evalLinear(const Operation &Op, TensorList In, ResultList Out);
llvm::Error evalNorm(const Operation &Op, TensorList In, ResultList Out);
llvm::Error evalLoss(const Operation &Op, TensorList In, ResultList Out);
llvm::Error evalReshapeLike(const Operation &Op, TensorList In, ResultList Out);
llvm::Error evalMovement(const Operation &Op, TensorList In, ResultList Out);
llvm::Error evalIndexing(const Operation &Op, TensorList In, ResultList Out);
llvm::Error evalSource(const Operation &Op, TensorList In, ResultList Out);
/// The string ops. Results whose shape depends on the data (the type from
/// shape inference has a `?`) come in as empty placeholders of the right
/// element type; the kernel gives them their shape.
llvm::Error evalString(const Operation &Op, TensorList In, ResultList Out);
/// nonzero, unique, non_max_suppression: as evalString, the results sized
/// by the data come in as empty placeholders and leave with their shape.
llvm::Error evalDataShape(const Operation &Op, TensorList In, ResultList Out);
/// all_reduce_sum: the sum over the ranks of the thread's CollectiveHook
/// (interp/Collective.h), or the operand itself without one.
llvm::Error evalCollective(const Operation &Op, TensorList In, ResultList Out);

/// An error located at Op, prefixed with its mnemonic.
llvm::Error opError(const Operation &Op, const llvm::Twine &Msg);

/// "[2, 3]" for messages.
std::string shapeStr(llvm::ArrayRef<int64_t> S);

/// Row-major strides (in elements) of a shape.
Sizes stridesOf(llvm::ArrayRef<int64_t> Shape);

/// Product of the sizes.
int64_t product(llvm::ArrayRef<int64_t> Shape);

/// Strides that read a tensor of shape In broadcast (numpy rules, aligned on
/// the right) to shape Out: 0 along broadcast dims. Error if In does not
/// broadcast to Out.
llvm::Expected<Sizes> broadcastStrides(const Operation &Op,
                                       llvm::ArrayRef<int64_t> In,
                                       llvm::ArrayRef<int64_t> Out);

/// Numpy broadcast of two shapes; error if they do not broadcast.
llvm::Expected<Sizes> broadcastPair(const Operation &Op,
                                    llvm::ArrayRef<int64_t> A,
                                    llvm::ArrayRef<int64_t> B);

/// Writes the coordinates of linear row-major index I of Shape into Idx.
void unravel(int64_t I, llvm::ArrayRef<int64_t> Shape,
             llvm::MutableArrayRef<int64_t> Idx);

/// Sum of Idx[i] * Strides[i].
int64_t dot(llvm::ArrayRef<int64_t> Idx, llvm::ArrayRef<int64_t> Strides);

/// Normalizes a possibly negative axis into [0, Rank).
llvm::Expected<unsigned> axisIn(const Operation &Op, int64_t Axis,
                                unsigned Rank);

/// Checks that a result has the shape the kernel computed itself.
llvm::Error expectShape(const Operation &Op, const Tensor &R,
                        llvm::ArrayRef<int64_t> Expected);

/// Copies one element between tensors of the same element type, bit-exact.
void copyElem(const Tensor &Src, int64_t SI, Tensor &Dst, int64_t DI);

/// Integer or bool element types go through the int64 accessors.
inline bool isIntLike(DType T) { return !isFloat(T); }

} // namespace interp
} // namespace dlc

#endif
