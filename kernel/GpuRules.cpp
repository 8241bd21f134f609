// The verifier rules of GPU-mapped kernel IR: where `launch`, `threads`,
// `barrier`, `shared` and the GPU indices may appear.
//
// 1. A kernel without `launch` is a CPU kernel: none of the GPU ops.
// 2. A GPU kernel has exactly one `launch`, at the top level, preceded only
//    by index arithmetic (the host computes the grid from buffer sizes by
//    running that prefix).
// 3. After it the code is uniform: every thread of a block runs the same
//    ops with the same values. Loads, stores, scalar arithmetic and locals
//    happen inside `threads { }` only; `thread_id` is read only there.
// 4. A `barrier` is never inside `threads { }` (that would be
//    thread-divergent control), `threads` regions do not nest, and there are
//    no `parallel` loops (the grid is the parallelism).
// 5. `shared` buffers and per-thread `scratch` tiles that outlive a region
//    are declared at the top level; shared memory is at most 48 KiB.
// 6. Warp-collective ops (shfl_down, shfl_xor, mma_m16n8k8_tf32) need every
//    lane of each warp: they sit directly in a `threads` body, never in a
//    loop inside it (whose trip count may differ between threads), and the
//    block's threads fill whole warps (a multiple of 32; shuffles also
//    accept a block of fewer than 32 threads, one partial warp whose
//    offsets stay below its size).
#include "kernel/KernelIR.h"

#include "ir/Location.h"

using namespace dlc;
using namespace dlc::kir;

namespace {
class GpuRules {
public:
  explicit GpuRules(const Kernel &K) : K(K) {}

  llvm::Error run() {
    const KOp *L = nullptr;
    for (auto &Op : K.Body)
      if (Op->kind() == KOpKind::Launch) {
        if (L)
          return fail("a GPU kernel has one launch");
        L = Op.get();
      }
    if (!L)
      return cpuKernel(K.Body);
    bool Before = true;
    int64_t SharedBytes = 0;
    for (auto &Op : K.Body) {
      if (Op.get() == L) {
        Before = false;
        continue;
      }
      if (Before) {
        KOpKind Kd = Op->kind();
        if (Kd != KOpKind::ConstIndex && Kd != KOpKind::ConstFloat &&
            Kd != KOpKind::Dim && Kd != KOpKind::IndexArith)
          return fail("only index arithmetic may come before launch");
        continue;
      }
      if (Op->kind() == KOpKind::Shared)
        SharedBytes += *Op->Result->BufType.numElements() *
                       int64_t(dtypeSize(Op->Result->BufType.elem()));
    }
    if (SharedBytes > 48 * 1024)
      return fail("shared memory of " + std::to_string(SharedBytes) +
                  " bytes exceeds 48 KiB");
    NT = L->Block[0] * L->Block[1] * L->Block[2];
    return uniform(K.Body, /*Top=*/true);
  }

private:
  llvm::Error fail(const llvm::Twine &Msg) {
    return makeError("kernel @" + K.Name + ": " + Msg);
  }
  static std::string mnemonic(const KOp &Op) {
    switch (Op.kind()) {
    case KOpKind::GpuIndex: return gpuIdName(Op.GpuId).str();
    case KOpKind::Barrier: return "barrier";
    case KOpKind::Shared: return "shared";
    case KOpKind::Threads: return "threads";
    case KOpKind::Launch: return "launch";
    case KOpKind::Load: return "load";
    case KOpKind::Store: return "store";
    case KOpKind::Scalar: return getOpInfo(Op.Scalar).Mnemonic.str();
    case KOpKind::Local: return "local";
    case KOpKind::Get: return "get";
    case KOpKind::Set: return "set";
    case KOpKind::Broadcast: return "broadcast";
    case KOpKind::Scratch: return "scratch";
    case KOpKind::Shuffle: return shflName(Op.Shfl).str();
    case KOpKind::Mma:
      return Op.IntValue ? "mma_m16n8k16_bf16" : "mma_m16n8k8_tf32";
    case KOpKind::RoundTf32: return Op.IntValue ? "round_bf16" : "round_tf32";
    default: return "op";
    }
  }

  /// No GPU op anywhere.
  llvm::Error cpuKernel(const std::vector<std::unique_ptr<KOp>> &Ops) {
    for (auto &Op : Ops) {
      switch (Op->kind()) {
      case KOpKind::GpuIndex: case KOpKind::Barrier: case KOpKind::Shared:
      case KOpKind::Threads: case KOpKind::Launch: case KOpKind::Shuffle:
      case KOpKind::Mma:
        return fail("'" + mnemonic(*Op) +
                    "' is only allowed in a GPU kernel (after a launch)");
      case KOpKind::For:
        if (auto E = cpuKernel(Op->Body))
          return E;
        break;
      default:
        break;
      }
    }
    return llvm::Error::success();
  }

  /// Uniform code after the launch (Top: the kernel body itself).
  llvm::Error uniform(const std::vector<std::unique_ptr<KOp>> &Ops, bool Top) {
    for (auto &Op : Ops) {
      switch (Op->kind()) {
      case KOpKind::Launch:
        if (!Top)
          return fail("launch must be at the top level");
        break;
      case KOpKind::ConstIndex: case KOpKind::ConstFloat: case KOpKind::Dim:
      case KOpKind::IndexArith: case KOpKind::Barrier:
        break;
      case KOpKind::GpuIndex:
        if (Op->GpuId == GpuIdKind::ThreadId)
          return fail("thread_id outside threads { }: uniform code has no "
                      "thread");
        break;
      case KOpKind::Shared: case KOpKind::Scratch:
        if (!Top)
          return fail("'" + mnemonic(*Op) +
                      "' outside threads { } must be at the top level");
        break;
      case KOpKind::Threads:
        if (auto E = inThreads(Op->Body, 0))
          return E;
        break;
      case KOpKind::For:
        if (Op->Marks.Parallel)
          return fail("a GPU kernel has no parallel loops (the grid is its "
                      "parallelism)");
        if (auto E = uniform(Op->Body, false))
          return E;
        break;
      case KOpKind::Load: case KOpKind::Store: case KOpKind::Scalar:
      case KOpKind::Local: case KOpKind::Get: case KOpKind::Set:
      case KOpKind::Broadcast: case KOpKind::Shuffle: case KOpKind::Mma:
      case KOpKind::RoundTf32:
        return fail("'" + mnemonic(*Op) +
                    "' in uniform code: per-thread work goes inside "
                    "threads { }");
      }
    }
    return llvm::Error::success();
  }

  /// A warp-collective op at loop depth Depth of a threads body.
  llvm::Error warpOp(const KOp &Op, unsigned Depth) {
    std::string Mn = "'" + mnemonic(Op) + "'";
    if (Depth)
      return fail(Mn + " inside a loop of threads { } is under "
                  "thread-divergent control");
    if (Op.kind() == KOpKind::Shuffle && NT < 32) {
      if (Op.IntValue >= NT)
        return fail(Mn + " offset " + std::to_string(Op.IntValue) +
                    " is not below the block's " + std::to_string(NT) +
                    " threads");
      return llvm::Error::success();
    }
    if (NT % 32)
      return fail(Mn + " needs whole warps: the block has " +
                  std::to_string(NT) + " threads, not a multiple of 32");
    return llvm::Error::success();
  }

  /// The body of a threads region (Depth: loops around Ops inside it).
  llvm::Error inThreads(const std::vector<std::unique_ptr<KOp>> &Ops,
                        unsigned Depth) {
    for (auto &Op : Ops) {
      switch (Op->kind()) {
      case KOpKind::Shuffle: case KOpKind::Mma:
        if (auto E = warpOp(*Op, Depth))
          return E;
        break;
      case KOpKind::Barrier:
        return fail("barrier inside threads { } is under thread-divergent "
                    "control");
      case KOpKind::Threads:
        return fail("threads regions do not nest");
      case KOpKind::Shared:
        return fail("'shared' inside threads { }: declare it at the top level");
      case KOpKind::Launch:
        return fail("launch must be at the top level");
      case KOpKind::For:
        if (Op->Marks.Parallel)
          return fail("a GPU kernel has no parallel loops (the grid is its "
                      "parallelism)");
        if (auto E = inThreads(Op->Body, Depth + 1))
          return E;
        break;
      default:
        break;
      }
    }
    return llvm::Error::success();
  }

  const Kernel &K;
  int64_t NT = 0; // threads per block
};
} // namespace

llvm::Error kir::verifyGpuRules(const Kernel &K) { return GpuRules(K).run(); }
