// onnx-range-sweep: runs the ONNX node tests whose graph inputs feed
// shape-like operands (the inputs dlc::Model specializes on by value,
// onnxShapeOperandInputs) with those values mutated: negative, zero, huge
// (2^31, 2^62, INT64_MAX/MIN), axes out of [-rank, rank), values one past
// the data's dims, element counts that are wrong (one more, one less, none),
// and NaN/inf/0/-1/huge for float inputs (Resize's scales). Every case must
// end in a result or in an error that names the node or the input, within a
// bounded time and address space.
//
// 1. List node/ test folders (--filter); keep those with shape-like inputs;
//    read test_data_set_0's inputs.
// 2. Per input and mutation, fork a child (RLIMIT_AS = --mem-gib, killed
//    after --timeout s) that loads the model through dlc::Model (JIT,
//    every input at run time, like `dlc run`) and runs it once.
// 3. Classify: ok, error (located: names a node or the input), the run's
//    out-of-memory error (names the largest value), unlocated error, crash
//    (signal), hang (timeout). Print every bad case and the
//    totals; exit 1 when a case crashed, hung or gave an unlocated error.
// Under AddressSanitizer (the sanitized suite) the address-space limit is
// on top of the sanitizer's reservation, a child's stderr is kept and shown
// when it crashed (an ASan or UBSan report is a crash), and ASan's own
// out-of-memory report counts as the out-of-memory outcome (its operator
// new cannot throw std::bad_alloc), and loops are bounded at 2^16
// iterations instead of 2^20 (DLC_MAX_LOOP_ITERATIONS).
#include "api/Model.h"
#include "frontend/onnx/OnnxImporter.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fcntl.h>
#include <limits>
#include <map>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace dlc;
namespace cl = llvm::cl;

static cl::opt<std::string> DataDir("data", cl::desc("onnx-backend-tests folder"),
                                    cl::Required);
static cl::opt<std::string> Filter("filter",
                                   cl::desc("only tests whose name contains one "
                                            "of these (comma-separated)"));
static cl::opt<unsigned> Timeout("timeout", cl::desc("seconds per case"),
                                 cl::init(30));
static cl::opt<unsigned> MemGiB("mem-gib", cl::desc("address-space limit per case"),
                                cl::init(8));
static cl::opt<unsigned> Jobs("jobs", cl::desc("cases run at once"), cl::init(2));
static cl::opt<bool> Verbose("v", cl::desc("print every case"));
static cl::opt<std::string> OnlyCase("case",
                                     cl::desc("only mutations whose description "
                                              "contains this"));

namespace {
struct Case {
  std::string Test, Dir, What;
  std::vector<RunValue> Inputs; // sequences and optionals as given
  std::string Input; // the mutated input
  std::string Result; // "ok", "error: ...", "crash ...", "hang"
  char Kind = '?';    // o, e (located), u (unlocated), c, h
};

std::string oneLine(std::string S) {
  for (char &C : S)
    if (C == '\n')
      C = ' ';
  return S.size() > 300 ? S.substr(0, 300) + "..." : S;
}

/// The mutations of one integer input of shape Shape (values V): per
/// element position (the first three) a set of bad values, then whole
/// tensors of the wrong length.
void intMutations(const Tensor &T, int64_t MaxDim, unsigned Rank,
                  std::vector<std::pair<std::string, Tensor>> &Out) {
  const int64_t Bad[] = {-1,
                         0,
                         int64_t(Rank),
                         -int64_t(Rank) - 1,
                         MaxDim + 1,
                         int64_t(1) << 31,
                         -(int64_t(1) << 31),
                         int64_t(1) << 40,
                         int64_t(1) << 62,
                         std::numeric_limits<int64_t>::max(),
                         std::numeric_limits<int64_t>::min()};
  int64_t N = T.numElements();
  for (int64_t I = 0; I < std::min<int64_t>(N, 3); ++I)
    for (int64_t B : Bad) {
      if (T.getI(I) == B)
        continue;
      Tensor M = T;
      M.setI(I, B);
      Out.push_back({"[" + std::to_string(I) + "] = " + std::to_string(B), M});
    }
  if (N > 1) {
    Tensor M = T;
    for (int64_t I = 0; I < N; ++I)
      M.setI(I, int64_t(1) << 20);
    Out.push_back({"every element 2^20", M});
  }
  if (T.rank() == 1) {
    for (int64_t Len : {N + 1, N - 1, int64_t(0)}) {
      if (Len < 0 || Len == N || (Len == 0 && N == 1))
        continue;
      Tensor M(T.elem(), {Len});
      for (int64_t I = 0; I < Len; ++I)
        M.setI(I, I < N ? T.getI(I) : 1);
      Out.push_back({std::to_string(Len) + " elements instead of " +
                         std::to_string(N),
                     M});
    }
  }
}

void floatMutations(const Tensor &T,
                    std::vector<std::pair<std::string, Tensor>> &Out) {
  const std::pair<const char *, double> Bad[] = {
      {"nan", NAN}, {"inf", INFINITY}, {"-inf", -INFINITY}, {"0", 0},
      {"-1", -1},   {"1e30", 1e30},   {"1e-30", 1e-30},    {"1e6", 1e6}};
  for (int64_t I = 0; I < std::min<int64_t>(T.numElements(), 4); ++I)
    for (auto [Name, V] : Bad) {
      Tensor M = T;
      M.setF(I, V);
      Out.push_back({"[" + std::to_string(I) + "] = " + Name, M});
    }
  if (T.rank() == 1 && T.numElements() > 0) {
    Tensor M(T.elem(), {T.numElements() + 1});
    for (int64_t I = 0; I <= T.numElements(); ++I)
      M.setF(I, I < T.numElements() ? T.getF(I) : 1.0);
    Out.push_back({"one element too many", M});
  }
}

#if defined(__SANITIZE_ADDRESS__)
#define DLC_SWEEP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DLC_SWEEP_ASAN 1
#endif
#endif

#ifdef DLC_SWEEP_ASAN
/// The address space this process has mapped already, in bytes (0 when
/// /proc does not say).
rlim_t mappedBytes() {
  // /proc files have no size: read them as a stream.
  auto Status = llvm::MemoryBuffer::getFileAsStream("/proc/self/status");
  if (!Status)
    return 0;
  llvm::StringRef S = (*Status)->getBuffer();
  size_t At = S.find("VmSize:");
  if (At == llvm::StringRef::npos)
    return 0;
  llvm::StringRef Value = S.substr(At + 7).ltrim();
  unsigned long long KiB = 0;
  if (Value.consumeInteger(10, KiB))
    return 0;
  return rlim_t(KiB) << 10;
}

/// Whether a child's stderr holds AddressSanitizer's out-of-memory report.
/// ASan's operator new cannot throw std::bad_alloc: where the normal build
/// refuses the run with an out-of-memory error, a sanitized child dies with
/// this report, which is the same bounded outcome.
bool sanitizerOutOfMemory(llvm::StringRef Err) {
  return Err.contains("AddressSanitizer: out of memory") ||
         Err.contains("AddressSanitizer: requested allocation size") ||
         Err.contains("AddressSanitizer: allocation-size-too-big");
}
#endif

/// In a child: load and run; write "o" or "e<message>" to Fd.
void runCase(const Case &C, int Fd) {
  rlim_t Limit = rlim_t(MemGiB) << 30;
#ifdef DLC_SWEEP_ASAN
  // AddressSanitizer reserves terabytes of shadow address space at start:
  // the bound is what the case may map on top of that.
  Limit += mappedBytes();
#endif
  rlimit L{Limit, Limit};
  setrlimit(RLIMIT_AS, &L);
  ModelOptions MO;
  MO.Engine = "jit";
  MO.OptLevel = 0;
  MO.Threads = 1;
  MO.Cache = false;
  std::string Msg;
  auto M = Model::fromFile(C.Dir + "/model.onnx", MO);
  if (!M) {
    Msg = "e" + oneLine(llvm::toString(M.takeError()));
  } else {
    auto R = M->runValues(C.Inputs);
    Msg = R ? "o" : "e" + oneLine(llvm::toString(R.takeError()));
  }
  (void)!write(Fd, Msg.data(), Msg.size());
}

void classify(Case &C) {
  if (C.Result.empty() || C.Result[0] != 'e')
    return;
  std::string M = C.Result.substr(1);
  // Located: names a node ("node 'x' (Op...)", "node #3 (Op...)") or the
  // mutated input.
  bool Located = M.find("node '") != std::string::npos ||
                 M.find("node #") != std::string::npos ||
                 M.find("'" + C.Input + "'") != std::string::npos;
  // A run that asks for more memory than there is stops with the plan's
  // "out of memory" error, which names the largest value: bounded, not a
  // crash.
  bool Memory = M.find("error: out of memory") != std::string::npos;
  C.Kind = Located ? 'e' : Memory ? 'm' : 'u';
  C.Result = M;
}

void runAll(std::vector<Case> &Cases) {
  struct Running {
    pid_t Pid;
    int Fd;
    size_t Index;
    std::string Out;
    std::chrono::steady_clock::time_point Start;
    std::string ErrPath; // the child's stderr (sanitized builds)
  };
  std::vector<Running> Live;
  size_t Next = 0;
  while (Next < Cases.size() || !Live.empty()) {
    while (Next < Cases.size() && Live.size() < std::max(1u, unsigned(Jobs))) {
      int P[2];
      if (pipe(P) != 0) {
        perror("pipe");
        exit(2);
      }
      llvm::outs().flush();
      llvm::SmallString<128> ErrPath;
#ifdef DLC_SWEEP_ASAN
      if (llvm::sys::fs::createTemporaryFile("range-sweep", "err", ErrPath))
        ErrPath.clear();
#endif
      pid_t Pid = fork();
      if (Pid == 0) {
        close(P[0]);
        int Err = ErrPath.empty() ? -1 : open(ErrPath.c_str(), O_WRONLY);
        if (Err >= 0)
          dup2(Err, 2);
        runCase(Cases[Next], P[1]);
        _exit(0);
      }
      close(P[1]);
      Live.push_back({Pid, P[0], Next++, "", std::chrono::steady_clock::now(),
                      ErrPath.str().str()});
    }
    std::vector<pollfd> Fds;
    for (Running &R : Live)
      Fds.push_back({R.Fd, POLLIN, 0});
    poll(Fds.data(), Fds.size(), 100);
    for (size_t I = 0; I < Live.size();) {
      Running &R = Live[I];
      bool Hung = std::chrono::steady_clock::now() - R.Start >
                  std::chrono::seconds(Timeout);
      if (Fds[I].revents & (POLLIN | POLLHUP | POLLERR)) {
        char Buf[4096];
        ssize_t N = read(R.Fd, Buf, sizeof(Buf));
        if (N > 0) {
          R.Out.append(Buf, N);
          ++I;
          continue;
        }
      } else if (!Hung) {
        ++I;
        continue;
      }
      if (Hung)
        kill(R.Pid, SIGKILL);
      int Status = 0;
      waitpid(R.Pid, &Status, 0);
      close(R.Fd);
      Case &C = Cases[R.Index];
      if (Hung) {
        C.Kind = 'h';
        C.Result = "hang (killed after " + std::to_string(Timeout) + " s)";
      } else if (WIFSIGNALED(Status)) {
        C.Kind = 'c';
        C.Result = "crash (signal " + std::to_string(WTERMSIG(Status)) + ")";
      } else if (R.Out == "o") {
        C.Kind = 'o';
        C.Result = "ok";
      } else if (!R.Out.empty()) {
        C.Result = R.Out;
        classify(C);
      } else {
        C.Kind = 'c';
        C.Result = "exited " + std::to_string(WEXITSTATUS(Status)) +
                   " without a result";
      }
      if (!R.ErrPath.empty()) {
#ifdef DLC_SWEEP_ASAN
        auto Err = llvm::MemoryBuffer::getFile(R.ErrPath);
        llvm::StringRef Text = Err ? (*Err)->getBuffer() : "";
        if (C.Kind == 'c' && sanitizerOutOfMemory(Text)) {
          C.Kind = 'm';
          C.Result = "the sanitizer's out-of-memory report";
        } else if (C.Kind == 'c') {
          llvm::errs() << Text; // the sanitizer's report, if any
        }
#endif
        llvm::sys::fs::remove(R.ErrPath);
      }
      bool Good = C.Kind == 'o' || C.Kind == 'e' || C.Kind == 'm';
      if (Verbose || !Good)
        llvm::outs() << (Good ? "  " : "BAD ")
                     << C.Test << " " << C.Input << " " << C.What << ": "
                     << C.Result << "\n";
      Fds.erase(Fds.begin() + I);
      Live.erase(Live.begin() + I);
    }
  }
}
} // namespace

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(argc, argv, "ONNX run-time value range sweep\n");
#ifdef DLC_SWEEP_ASAN
  // A mutated trip count runs a loop to its bound (2^20 iterations, 1-2 s
  // in a normal build); under the sanitizers each iteration is about 20x
  // slower and the case passes --timeout. A lower bound still ends the loop
  // through the same located error.
  setenv("DLC_MAX_LOOP_ITERATIONS", "65536", /*overwrite=*/0);
#endif
  std::string Node = DataDir + "/node";
  if (!llvm::sys::fs::is_directory(Node)) {
    llvm::outs() << "onnx-range-sweep: no test data at '" << Node
                 << "'; skipping\n";
    return 77;
  }
  llvm::SmallVector<llvm::StringRef, 8> Filters;
  llvm::StringRef(Filter).split(Filters, ',', -1, false);
  std::vector<std::string> Names;
  std::error_code EC;
  for (llvm::sys::fs::directory_iterator It(Node, EC), End; It != End && !EC;
       It.increment(EC))
    Names.push_back(llvm::sys::path::filename(It->path()).str());
  llvm::sort(Names);
  std::vector<Case> Cases;
  unsigned Models = 0;
  for (const std::string &N : Names) {
    if (!Filters.empty() && llvm::none_of(Filters, [&](llvm::StringRef F) {
          return llvm::StringRef(N).contains(F);
        }))
      continue;
    std::string Dir = Node + "/" + N;
    auto Spec = onnxShapeOperandInputs(Dir + "/model.onnx");
    if (!Spec || Spec->empty()) {
      if (!Spec)
        llvm::consumeError(Spec.takeError());
      continue;
    }
    auto Sig = onnxSignature(Dir + "/model.onnx");
    if (!Sig) {
      llvm::consumeError(Sig.takeError());
      continue;
    }
    std::vector<RunValue> Ins;
    for (size_t K = 0; K < Sig->Inputs.size(); ++K) {
      auto T = readOnnxValueFile(Dir + "/test_data_set_0/input_" +
                                     std::to_string(K) + ".pb",
                                 Sig->InputForms[K]);
      if (!T) {
        llvm::consumeError(T.takeError());
        break;
      }
      Ins.push_back(std::move(*T));
    }
    if (Ins.size() != Sig->Inputs.size())
      continue;
    ++Models;
    unsigned Rank = 0;
    int64_t MaxDim = 1;
    for (const RunValue &V : Ins)
      for (int64_t D : V.T.shape()) {
        Rank = std::max(Rank, V.T.rank());
        MaxDim = std::max(MaxDim, D);
      }
    for (size_t K = 0; K < Ins.size(); ++K) {
      const std::string &Name = Sig->Inputs[K].first;
      if (!llvm::is_contained(*Spec, Name) || !Ins[K].isTensor())
        continue;
      const Tensor &In = Ins[K].T;
      std::vector<std::pair<std::string, Tensor>> Muts;
      if (isFloat(In.elem()))
        floatMutations(In, Muts);
      else if (In.elem() != DType::Str && In.elem() != DType::Bool)
        intMutations(In, MaxDim, Rank, Muts);
      for (auto &[What, T] : Muts) {
        if (!OnlyCase.empty() && What.find(OnlyCase) == std::string::npos)
          continue;
        Case C;
        C.Test = N;
        C.Dir = Dir;
        C.What = What;
        C.Input = Name;
        C.Inputs = Ins;
        C.Inputs[K] = RunValue(std::move(T));
        Cases.push_back(std::move(C));
      }
    }
  }
  auto T0 = std::chrono::steady_clock::now();
  runAll(Cases);
  std::map<char, unsigned> Count;
  for (const Case &C : Cases)
    ++Count[C.Kind];
  double Secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - T0).count();
  llvm::outs() << llvm::format(
      "onnx-range-sweep: %u models, %zu cases in %.1f s: %u ok, %u located "
      "errors, %u out-of-memory errors, %u unlocated errors, %u crashes, %u "
      "hangs\n",
      Models, Cases.size(), Secs, Count['o'], Count['e'], Count['m'], Count['u'],
      Count['c'], Count['h']);
  return Count['u'] + Count['c'] + Count['h'] ? 1 : 0;
}
