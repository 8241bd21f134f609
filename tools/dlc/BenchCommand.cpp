// `dlc bench`: compiles a model once and reports the median latency and the
// throughput over repeated runs after warm-up, on seeded random inputs whose
// symbolic dims all take the batch size.
#include "Commands.h"

#include "api/Model.h"
#include "ir/Random.h"
#include "runtime/ThreadPool.h"

#include "llvm/Support/Format.h"

#include <algorithm>
#include <chrono>

using namespace dlc;

static llvm::Error bench(const BenchOptions &Opts) {
  ModelOptions MO;
  MO.Engine = Opts.Engine;
  MO.Threads = Opts.Threads;
  MO.Device = Opts.Device;
  MO.Precision = Opts.Precision;
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
