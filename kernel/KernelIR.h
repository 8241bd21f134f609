// Kernel IR: the loop level between the graph and LLVM. A kernel is a loop
// nest over buffers with loads, stores and scalar arithmetic; scheduling
// marks loops parallel, vectorized or unrolled. It is target-neutral: the CPU
// and NVPTX emitters both start from it.
//
//   kernel @add_relu(%a: f32[?,?], %b: f32[?], %out: f32[?,?]) {
//     %n = dim %out, 0
//     %m = dim %out, 1
//     for %i = 0 to %n parallel {
//       for %j = 0 to %m vectorize(16) {
//         %x = load %a[%i, %j] : f32
//         %y = load %b[%j] : f32
//         %s = add %x, %y : f32
//         %r = relu %s : f32
//         store %r, %out[%i, %j]
//       }
//     }
//   }
//
// Scalar arithmetic reuses the graph's elementwise ops (same mnemonics, same
// semantics), so each elementwise op is defined once for every backend.
// Reductions use `local` accumulators: a scalar variable read with `get` and
// written with `set`, which LLVM promotes to registers.
//
// GPU-mapped kernels (made by the --kir-gpu-* passes) open with pure index
// arithmetic and one `launch grid(%gx, %gy, %gz) block(256, 1, 1)`; after it
// the kernel body is uniform (the same for every thread of a block), and
// per-thread work sits in `threads { ... }` regions, the only place where
// `thread_id` may be read. A `barrier` stands between regions, so barriers
// are never under thread-divergent control by construction. `shared`
// buffers live in the block's shared memory (address space 3); a `scratch`
// at the uniform level is private to each thread and keeps its contents
// across regions (register tiles). See kernel/GpuRules.cpp.
//
// Warp-collective ops (`shfl_down`, `shfl_xor`, `mma_m16n8k8_tf32`) exchange
// values between the 32 lanes of a warp; every thread of the block must
// reach them together, so they sit directly in a `threads` body (not in a
// loop there), in blocks whose thread count is a multiple of 32 (shuffles
// also allow a block of fewer threads). `mma_m16n8k8_tf32 %a, %b, %c` is
// PTX's mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32: D[16x8] =
// A[16x8] * B[8x8] + C, with lane l (g = l / 4, t = l % 4) holding
// a = (A[g][t], A[g+8][t], A[g][t+4], A[g+8][t+4]), b = (B[t][g], B[t+4][g])
// and c, d = (C[g][2t], C[g][2t+1], C[g+8][2t], C[g+8][2t+1]); the products
// use a and b as given (round them with round_tf32 first), sums are f32.
// `mma_m16n8k16_bf16 %a, %b, %c` is mma.sync.aligned.m16n8k16.row.col.f32.
// bf16.bf16.f32: D[16x8] = A[16x16] * B[16x8] + C with a f32x8 =
// (A[g][2t], A[g][2t+1], A[g+8][2t], A[g+8][2t+1], the same at columns
// 2t+8, 2t+9), b f32x4 = (B[2t][g], B[2t+1][g], B[2t+8][g], B[2t+9][g]) and
// c, d as above; a and b must hold bf16 values (round_bf16: nearest, ties
// to even), carried as f32. The variant is the op's IntValue (0: tf32,
// 1: bf16), for round_tf32 / round_bf16 too.
#ifndef DLC_KERNEL_KERNELIR_H
#define DLC_KERNEL_KERNELIR_H

#include "ir/OpInfo.h"
#include "ir/Types.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <optional>
#include <vector>

namespace dlc {
namespace kir {

/// A value type: an element type, a vector of Lanes elements (`f32x16`),
/// or `index` (a 64-bit loop counter or size).
struct SType {
  bool IsIndex = false;
  DType Elem = DType::F32;
  unsigned Lanes = 1;
  static SType index() { return {true, DType::I64, 1}; }
  static SType of(DType E) { return {false, E, 1}; }
  static SType vec(DType E, unsigned Lanes) { return {false, E, Lanes}; }
  bool isVector() const { return Lanes > 1; }
  SType scalar() const { return {IsIndex, Elem, 1}; }
  bool operator==(const SType &O) const {
    return IsIndex == O.IsIndex && (IsIndex || Elem == O.Elem) &&
           Lanes == O.Lanes;
  }
  bool operator!=(const SType &O) const { return !(*this == O); }
  std::string str() const;
};

enum class KOpKind : uint8_t {
  ConstIndex, // %c = const 4 : index
  ConstFloat, // %c = const 0.5 : f32 (any element type)
  Dim,        // %n = dim %buf, 1
  IndexArith, // %k = imul %i, %n   (iadd isub imul idiv irem imin imax)
  Scalar,     // %s = add %x, %y : f32   (an elementwise graph op)
  Load,       // %x = load %buf[%i, %j] : f32 (f32x16: 16 lanes from [%i, %j])
  Store,      // store %x, %buf[%i, %j]   (a vector fills lanes along the last dim)
  Broadcast,  // %v = broadcast %x : f32x16
  Local,      // %acc = local f32
  Get,        // %v = get %acc : f32
  Set,        // set %acc, %v
  For,        // for %i = %lo to %hi step S [parallel] [vectorize(W)] [unroll(U)] { ... }
  Scratch,    // %p = scratch f32[128, 64]   (a thread-private buffer, static shape)
  GpuIndex,   // %t = thread_id x   (block_id, block_dim, grid_dim; x, y or z)
  Barrier,    // barrier   (every thread of the block waits; uniform code only)
  Shared,     // %s = shared f32[64, 16]   (one buffer per block, static shape)
  Threads,    // threads { ... }   (the body runs once per thread of the block)
  Launch,     // launch grid(%gx, %gy, %gz) block(256, 1, 1)
  Shuffle,    // %r = shfl_xor %v, 16 : f32   (shfl_down; a warp exchange)
  Mma,        // %d = mma_m16n8k8_tf32 %a, %b, %c : f32x4   (a warp's tensor-core
              //      product of fragments, see below)
  RoundTf32,  // %r = round_tf32 %x : f32   (to tf32: 10 mantissa bits, nearest,
              //      ties away from zero)
};

/// Warp shuffles: lane l of a warp (32 consecutive linear thread ids; the
/// whole block when it has fewer threads, W of them) reads the value of
/// lane l + offset (down) or l ^ offset (xor) of its warp; a lane whose
/// source lane is W or beyond keeps its own value.
enum class ShflMode : uint8_t { Down, Xor };
llvm::StringRef shflName(ShflMode M);

enum class GpuIdKind : uint8_t { ThreadId, BlockId, BlockDim, GridDim };
llvm::StringRef gpuIdName(GpuIdKind K);

enum class IndexOp : uint8_t { Add, Sub, Mul, Div, Rem, Min, Max };
llvm::StringRef indexOpName(IndexOp Op);

class KOp;

/// A value: a kernel argument (buffer), a loop variable, or an op result.
struct KValue {
  std::string Name;
  SType Type;        // for scalars and loop variables
  bool IsBuffer = false;
  TensorType BufType; // for buffers: element type and rank ('?' dims)
  KOp *Def = nullptr;
};

/// Loop schedule marks, set by scheduling passes and read by the emitters.
struct LoopMarks {
  bool Parallel = false;  // iterations may run on different threads
  unsigned Vectorize = 0; // vector width in lanes, 0: none
  unsigned Unroll = 0;    // unroll factor, 0: none
  bool Reassociate = false; // float adds and multiplies in it may be
                            // reordered (a vectorized sum or product)
  bool MaskedTail = false;  // vectorize with masked lanes covering the last
                            // partial vector instead of a scalar remainder
                            // (short loops: a 13-wide row is one vector)
};

class KOp {
public:
  explicit KOp(KOpKind K) : Kind(K) {}
  KOpKind kind() const { return Kind; }

  std::vector<KValue *> Operands;     // for Load/Store: buffer first, then indices
  std::unique_ptr<KValue> Result;     // null for Store, Set, For
  // Payloads (used by the kinds noted).
  int64_t IntValue = 0;               // ConstIndex value, Dim axis
  double FloatValue = 0;              // ConstFloat value
  IndexOp IOp = IndexOp::Add;         // IndexArith
  OpKind Scalar = OpKind::Add;        // Scalar: the elementwise op
  std::vector<std::pair<std::string, double>> ScalarAttrs; // e.g. alpha
  // Vector Load/Store: only the first Valid lanes are read (the others are
  // zero) or written; 0: all of them (a partial vector at a row's end).
  unsigned Valid = 0;
  // Vector Load/Store: its lanes lie Stride elements apart along the last
  // dim (`stride(S)`): lane i is element index + i * Stride; the elements
  // between them are neither read nor written. 1: consecutive.
  unsigned Stride = 1;
  // For: Operands = {lo, hi}, Step, induction variable and body.
  int64_t Step = 1;
  std::unique_ptr<KValue> IndVar;
  std::vector<std::unique_ptr<KOp>> Body;
  LoopMarks Marks;
  // GpuIndex: which index (axis in IntValue); Launch: threads per block.
  GpuIdKind GpuId = GpuIdKind::ThreadId;
  int64_t Block[3] = {1, 1, 1};
  // Shuffle: down or xor (the offset in IntValue).
  ShflMode Shfl = ShflMode::Down;

private:
  KOpKind Kind;
};

class Kernel {
public:
  std::string Name;
  std::vector<std::unique_ptr<KValue>> Args; // buffers
  std::vector<std::unique_ptr<KOp>> Body;
  /// Pairs of argument indices that may share storage (an elementwise
  /// result written over an operand); all others never overlap.
  std::vector<std::pair<unsigned, unsigned>> MayAlias;

  /// Whether the kernel has a (top-level) parallel loop: its iterations can
  /// be split into chunks run on different threads.
  bool isParallel() const {
    for (auto &Op : Body)
      if (Op->kind() == KOpKind::For && Op->Marks.Parallel)
        return true;
    return false;
  }

  /// The top-level `launch` of a GPU-mapped kernel, or null.
  const KOp *launch() const {
    for (auto &Op : Body)
      if (Op->kind() == KOpKind::Launch)
        return Op.get();
    return nullptr;
  }
  bool isGpu() const { return launch() != nullptr; }
};

void printKernel(const Kernel &K, llvm::raw_ostream &OS);
std::string toString(const Kernel &K);
/// Checks types, that values are defined before use and in scope, buffer
/// ranks against index counts, and that loop marks are sane.
llvm::Error verifyKernel(const Kernel &K);
/// The GPU rules (kernel/GpuRules.cpp): where launch, threads, barrier,
/// shared and the GPU indices may appear. verifyKernel checks them too.
llvm::Error verifyGpuRules(const Kernel &K);

/// Builds kernel IR at the end of a body (a kernel's or a loop's).
class KBuilder {
public:
  KBuilder(Kernel &K) : K(K), Ops(&K.Body) {}
  /// Builds at the end of Into (a body inside K) naming results Prefix + N:
  /// for passes that add ops to an existing kernel.
  KBuilder(Kernel &K, std::vector<std::unique_ptr<KOp>> &Into,
           std::string Prefix)
      : K(K), Ops(&Into), Prefix(std::move(Prefix)) {}
  KValue *arg(llvm::StringRef Name, TensorType T);
  KValue *constIndex(int64_t V);
  KValue *constFloat(DType E, double V, unsigned Lanes = 1);
  KValue *dim(KValue *Buf, unsigned Axis);
  KValue *index(IndexOp Op, KValue *A, KValue *B);
  KValue *scalar(OpKind Op, llvm::ArrayRef<KValue *> Args, SType T,
                 std::vector<std::pair<std::string, double>> Attrs = {});
  /// Loads one element, or Lanes elements along the last dim, Stride apart
  /// (consecutive by default; a window's taps in a strided pooling).
  KValue *load(KValue *Buf, llvm::ArrayRef<KValue *> Idx, unsigned Lanes = 1,
               unsigned Stride = 1);
  /// While N > 0, vector loads and stores built touch only their first N
  /// lanes (`valid(N)`): the columns a row has left, fewer than a vector.
  void setValidLanes(unsigned N) { ValidLanes = N; }
  KValue *broadcast(KValue *V, unsigned Lanes);
  /// Stores a value, or a vector's lanes Stride apart along the last dim.
  void store(KValue *V, KValue *Buf, llvm::ArrayRef<KValue *> Idx,
             unsigned Stride = 1);
  KValue *local(DType E, unsigned Lanes = 1);
  /// A buffer of static shape T private to the thread running the kernel
  /// (packed operands, for example); its contents are undefined wherever
  /// the op is reached. At most 1 MiB.
  KValue *scratch(TensorType T);
  KValue *get(KValue *Local);
  void set(KValue *Local, KValue *V);
  /// Opens a loop; ops built until endFor() go into its body. Returns the
  /// induction variable.
  KValue *beginFor(KValue *Lo, KValue *Hi, int64_t Step = 1);
  KOp *endFor();
  /// GPU-mapped kernels (see the file comment).
  KValue *gpuIndex(GpuIdKind Id, unsigned Axis);
  void barrier();
  KValue *shared(TensorType T);
  void launch(KValue *GX, KValue *GY, KValue *GZ, int64_t BX, int64_t BY = 1,
              int64_t BZ = 1);
  /// A warp shuffle of scalar V (see ShflMode).
  KValue *shuffle(ShflMode M, KValue *V, unsigned Offset);
  /// A warp's m16n8k8 tf32 tensor-core product: A f32x4, B f32x2, C f32x4.
  KValue *mma(KValue *A, KValue *Bf, KValue *C);
  /// A warp's m16n8k16 bf16 product: A f32x8, B f32x4, C f32x4 (bf16
  /// values carried as f32).
  KValue *mmaBf16(KValue *A, KValue *Bf, KValue *C);
  /// X (f32) rounded to tf32.
  KValue *roundTf32(KValue *X);
  /// X (f32) rounded to bf16 (nearest, ties to even), as an f32.
  KValue *roundBf16(KValue *X);
  /// Opens a `threads` region; ops built until endThreads() go into it.
  void beginThreads();
  KOp *endThreads() { return endFor(); }

private:
  KOp *add(std::unique_ptr<KOp> Op);
  KValue *result(KOp *Op, SType T);
  Kernel &K;
  std::vector<std::unique_ptr<KOp>> *Ops;
  std::vector<std::pair<KOp *, std::vector<std::unique_ptr<KOp>> *>> Open;
  unsigned NextId = 0;
  std::string Prefix;
  unsigned ValidLanes = 0;
};

} // namespace kir
} // namespace dlc

#endif
