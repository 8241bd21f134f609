// The kernel table of `dlc bench --profile` and `dlc train --profile`: the
// slowest kernels of a profiled run, then the time per kind of kernel, with
// GFLOP/s against the fp32 FMA peak measured on the spot.
#include "Commands.h"

#include "api/Model.h"
#include "runtime/PeakFlops.h"

#include "llvm/Support/Format.h"

#include <algorithm>
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
void dlc::printKernelProfile(const RunProfile &P, unsigned Threads) {
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
