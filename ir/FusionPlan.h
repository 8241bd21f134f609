// The fusion-group model shared by the `--fuse` pass and the kernel
// lowering: which sets of ops may run as one kernel, and in which iteration
// space each op of such a group computes.
#ifndef DLC_IR_FUSIONPLAN_H
#define DLC_IR_FUSIONPLAN_H

#include "ir/IR.h"

#include "llvm/ADT/DenseMap.h"

#include <array>
#include <optional>

namespace dlc {

/// What a group is built around (its first op decides).
enum class GroupKind : uint8_t {
  Elementwise, // only elementwise ops: one loop nest
  Reduction,   // reductions over the same axes with elementwise prologues and
               // epilogues (softmax, layer norm, losses): one loop per kept
               // position, one inner nest per reduction
  MatMul,      // a 2-D f32/f64 matmul with an elementwise epilogue applied
               // where the result is stored; its b may be the patches of an
               // image that the kernel gathers while it packs b (Im2Col)
  Conv,        // a direct convolution with an elementwise epilogue, and
               // optionally a pooling with non-overlapping windows after it
               // (every conv value computed once, where its window needs it)
};

/// Where a value of a group lives in the group's iteration space.
enum class Space : uint8_t {
  Full,         // one element per point of the space
  OuterKeep,    // one per kept position, reduced axes as size-1 dims
  OuterSqueeze, // one per kept position, reduced axes removed
  Pooled,       // the result of a conv group's final pooling
};

struct FusionPlan {
  GroupKind Kind = GroupKind::Elementwise;
  std::vector<const Operation *> Ops; // in body order, the anchor first
  /// A matmul group's im2col prologue (see isPackableIm2Col): the op whose
  /// result is the anchor's b and nothing else's. It is not in Ops and its
  /// result is no value of the group: the kernel reads the image (an input
  /// of the group) while it packs b, and b is never stored (implicit GEMM).
  const Operation *Im2Col = nullptr;
  /// The value whose run-time shape is the iteration space, and its type.
  const Value *SpaceValue = nullptr;
  TensorType Full;
  /// Per axis of Full: whether the group's reductions reduce it.
  llvm::SmallVector<bool, 4> Reduced;
  llvm::DenseMap<const Value *, Space> SpaceOf; // per result of Ops
  /// Values the group reads (produced outside it), in order of first use.
  std::vector<const Value *> Inputs;
  /// Results the kernel stores: used outside the group or returned.
  std::vector<const Value *> Outputs;

  bool contains(const Value *V) const { return SpaceOf.count(V); }
};

/// The ops that read each value of a function.
using ValueUsers =
    llvm::DenseMap<const Value *, llvm::SmallVector<const Operation *, 2>>;
ValueUsers usersOf(const Function &F);

/// Plans Ops (in body order, all from F, whose users are Users) as one
/// group, or says why they cannot form one. Ordering between groups is the
/// caller's business.
llvm::Expected<FusionPlan> planFusionGroup(llvm::ArrayRef<const Operation *> Ops,
                                           const Function &F,
                                           const ValueUsers &Users);

/// Checks only the legality of Ops as one group (no outputs): the cheap test
/// the pass runs each time it tries to grow a group.
llvm::Error checkFusionGroup(llvm::ArrayRef<const Operation *> Ops);

/// Whether Op can be part of a group at all (as an anchor or elementwise).
bool isFusible(const Operation &Op);

/// An im2col that a matmul group may take as its prologue: channel major,
/// a float image [batch, C, H, W] of static C, H and W, and either unit
/// strides with output rows at least 10 wide (windowIm2Col), or stride 1
/// along W with rows at least 32 wide. Each row of such patches is a run
/// of an image row per output row.
bool isPackableIm2Col(const Operation &Op);

/// The static geometry of a channel-major im2col; per spatial dim (H, W).
struct Im2ColGeometry {
  int64_t C = 1;
  std::array<int64_t, 2> In{}, Out{}, Kernel{}, Stride{}, Dilation{},
      PadBegin{}, PadEnd{};
};

/// The geometry of Op if it is a packable im2col whose matmul reads b as
/// shifted windows of the padded image, split into stride phases (the
/// CPU's window GEMM, kernel/WindowGemm.cpp): output rows at least 10 wide
/// and a scratch for one output row within windowScratchBudget.
std::optional<Im2ColGeometry> windowIm2Col(const Operation &Op);

/// The window GEMM's stride phases that some tap reads, as rh * sw + rw
/// (one of the four for a 1x1 stride-2 conv), in increasing order.
llvm::SmallVector<int64_t, 4> windowPhases(const Im2ColGeometry &G);
/// The window GEMM's scratch for a band of BR output rows, in elements,
/// with vectors of L lanes: each channel's phases, BR rows plus the rows
/// its taps reach below them, then four vectors of slack.
int64_t windowScratchElems(const Im2ColGeometry &G, int64_t BR, int64_t L);
/// The most bytes of that scratch (it stays in L2).
constexpr int64_t windowScratchBudget = 384 << 10;

/// A matmul the blocked GEMM kernels take (and fusion anchors epilogues
/// on): f32 or f64, a 2-D, b 2-D or a batch of matrices [batch, k, n] that
/// share a (a convolution's weights times its images).
bool isBlockedMatMul(const Operation &Op);

} // namespace dlc

#endif
