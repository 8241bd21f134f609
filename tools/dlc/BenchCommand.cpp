// `dlc bench`: compiles a model once and reports the median latency and the
// throughput over repeated runs after warm-up, on seeded random inputs whose
// symbolic dims all take the batch size.
#include "Commands.h"

#include "api/Model.h"
#include "ir/Random.h"
#include "runtime/PeakFlops.h"
#include "runtime/ThreadPool.h"

#include "llvm/Support/Format.h"

#include <algorithm>
#include <chrono>
#include <map>

using namespace dlc;

/// Kernel names are "k<number>_<ops>": the kind is what follows the number.
static llvm::StringRef kernelKind(llvm::StringRef Name) {
  if (Name.consume_front("k")) {
    Name = Name.drop_while([](char C) { return C >= '0' && C <= '9'; });
    Name.consume_front("_");
  }
  return Name;
}

static void printRate(double Flops, double Seconds, double Peak) {
  if (Flops <= 0 || Seconds <= 0) {
    llvm::outs() << "         -        -";
    return;
  }
  double G = Flops / Seconds / 1e9;
  llvm::outs() << llvm::format("  %8.2f  %6.1f%%", G, 100 * G / Peak);
}

/// The table of `dlc bench --profile`: the slowest kernels, then the time
/// per kind of kernel, with GFLOP/s against the measured FMA peak.
static void printKernelProfile(const RunProfile &P, unsigned Threads) {
  unsigned Width = 1;
  double Core = rt::measureFmaPeakGflops(0.2, &Width);
  double Peak = Core * Threads;
  double Sum = 0;
  for (const KernelProfile &K : P.Kernels)
    Sum += K.Seconds;
  llvm::outs() << llvm::format(
      "\nkernel profile: %u runs, %.3f ms per run, %.3f ms in %zu kernels; "
      "fp32 FMA peak %.1f GFLOP/s per core (%u-wide), x %u thread%s\n",
      P.Runs, P.Seconds * 1e3, Sum * 1e3, P.Kernels.size(), Core, Width,
      Threads, Threads == 1 ? "" : "s");
  std::vector<const KernelProfile *> Order;
  for (const KernelProfile &K : P.Kernels)
    Order.push_back(&K);
  std::stable_sort(Order.begin(), Order.end(),
                   [](auto *A, auto *B) { return A->Seconds > B->Seconds; });
  const size_t Shown = 25;
  llvm::outs() << "     ms/run   share   GFLOP/s   % peak  kernel (ops)\n";
  for (size_t I = 0; I < Order.size() && I < Shown; ++I) {
    const KernelProfile &K = *Order[I];
    llvm::outs() << llvm::format("  %9.3f  %5.1f%%", K.Seconds * 1e3,
                                 100 * K.Seconds / P.Seconds);
    printRate(K.Flops, K.Seconds, Peak);
    llvm::outs() << "  " << K.Kernel;
    if (K.Ops != kernelKind(K.Kernel))
      llvm::outs() << " (" << K.Ops << ")";
    if (!K.Shape.empty())
      llvm::outs() << " " << K.Shape;
    llvm::outs() << "\n";
  }
  if (Order.size() > Shown)
    llvm::outs() << "  ... " << Order.size() - Shown << " more kernels\n";
  struct Kind {
    unsigned Count = 0;
    double Seconds = 0, Flops = 0;
    bool Known = true;
  };
  std::map<std::string, Kind> Kinds;
  for (const KernelProfile &K : P.Kernels) {
    Kind &Ki = Kinds[K.Ops];
    ++Ki.Count;
    Ki.Seconds += K.Seconds;
    Ki.Known &= K.Flops >= 0;
    Ki.Flops += std::max(K.Flops, 0.0);
  }
  std::vector<std::pair<std::string, Kind>> ByTime(Kinds.begin(), Kinds.end());
  std::stable_sort(ByTime.begin(), ByTime.end(), [](auto &A, auto &B) {
    return A.second.Seconds > B.second.Seconds;
  });
  llvm::outs() << "\n     ms/run   share   GFLOP/s   % peak  kernels  ops\n";
  for (auto &[Ops, K] : ByTime) {
    llvm::outs() << llvm::format("  %9.3f  %5.1f%%", K.Seconds * 1e3,
                                 100 * K.Seconds / P.Seconds);
    printRate(K.Known ? K.Flops : -1, K.Seconds, Peak);
    llvm::outs() << llvm::format("  %7u  ", K.Count) << Ops << "\n";
  }
}

static llvm::Error bench(const BenchOptions &Opts) {
  ModelOptions MO;
  MO.Engine = Opts.Engine;
  MO.Threads = Opts.Threads;
  MO.Device = Opts.Device;
  MO.Cache = Opts.Cache;
  MO.CacheDir = Opts.CacheDir;
  auto M = Model::fromFile(Opts.Model, MO);
  if (!M)
    return M.takeError();
  std::vector<Tensor> Inputs;
  for (size_t K = 0; K < M->inputs().size(); ++K) {
    const Port &P = M->inputs()[K];
    llvm::SmallVector<int64_t, 4> Sizes;
    for (const Dim &D : P.Type.dims())
      Sizes.push_back(D.isStatic() ? D.size() : Opts.Batch);
    Tensor T(P.Type.elem(), Sizes);
    for (int64_t I = 0; I < T.numElements(); ++I) {
      double U = uniformAt(int64_t(K) + 1, I);
      if (isFloat(T.elem()))
        T.setF(I, 2 * U - 1);
      else
        T.setI(I, int64_t(U * 2)); // small valid labels and indices
    }
    Inputs.push_back(std::move(T));
  }
  using Clock = std::chrono::steady_clock;
  for (unsigned I = 0; I < Opts.Warmup; ++I)
    if (auto R = M->run(Inputs); !R)
      return R.takeError();
  std::vector<double> Ms;
  uint64_t Peak = 0;
  for (unsigned I = 0; I < Opts.Runs; ++I) {
    auto T0 = Clock::now();
    auto R = M->run(Inputs, &Peak);
    Ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - T0).count());
    if (!R)
      return R.takeError();
  }
  std::sort(Ms.begin(), Ms.end());
  double Median = Ms[Ms.size() / 2];
  unsigned Threads = M->engine() == "jit" && M->device() == "cpu"
                         ? (Opts.Threads ? Opts.Threads : rt::ThreadPool::hardwareThreads())
                         : 1;
  llvm::outs() << "model " << Opts.Model << ", engine " << M->engine();
  if (M->device() != "cpu")
    llvm::outs() << ", device " << M->device();
  llvm::outs() << ", batch " << Opts.Batch << ", " << Threads
               << (Threads == 1 ? " thread, " : " threads, ") << Opts.Runs
               << " runs after " << Opts.Warmup << " warm-up\n";
  llvm::outs() << llvm::format("median latency: %.3f ms (min %.3f, max %.3f)\n",
                               Median, Ms.front(), Ms.back());
  llvm::outs() << llvm::format("throughput: %.1f items/s\n",
                               Opts.Batch * 1000.0 / Median);
  if (M->engine() == "jit") {
    llvm::outs() << llvm::format("peak intermediate memory: %.2f MiB\n",
                                 Peak / 1048576.0);
    M->compileStats().print(llvm::outs(), Opts.Profile);
    if (Opts.Profile && M->device() == "cpu" && M->specialization().Inputs.empty()) {
      auto P = M->profile(Inputs, Opts.Runs);
      if (!P)
        return P.takeError();
      printKernelProfile(*P, Threads);
    }
  }
  return llvm::Error::success();
}

int dlc::benchCommand(const BenchOptions &Opts) {
  if (auto E = bench(Opts)) {
    llvm::errs() << llvm::toString(std::move(E)) << "\n";
    return 1;
  }
  return 0;
}
