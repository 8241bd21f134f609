// onnx-conformance: runs the ONNX backend test data (node, simple,
// pytorch-converted, pytorch-operator) through the public API (dlc::Model
// with the JIT, no interpreter fallback) exactly as a user would: every graph
// input given at run time, nothing from the test data folded into the model;
// in a static mode and a forced-dynamic mode (every input dim unknown).
//
// 1. List the test folders of each suite; read each model's op types.
// 2. Run tests in forked worker processes (--jobs at a time, so a crash or a
//    hang fails one test, not the run). A worker loads the model once per
//    mode (inputs that feed shape-like operands make it compile per value on
//    its first run), runs every test_data_set_N and compares with the
//    expected outputs (rtol 1e-3, atol 1e-7, exact shape and element type,
//    NaN equals NaN).
// 3. Print the failures, a per-op table and the totals per suite (last).
// 4. With --expected-failures, exit 1 when a test outside the list fails,
//    and list the tests that pass but are still listed.
#include "api/OnnxTestFolder.h"
#include "frontend/onnx/OnnxImporter.h"

#include "onnx/onnx_pb.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <array>
#include <chrono>
#include <cmath>
#include <map>
#include <poll.h>
#include <set>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace dlc;
namespace cl = llvm::cl;

static cl::opt<std::string> DataDir("data", cl::desc("onnx-backend-tests folder"),
                                    cl::Required);
static cl::opt<std::string> Expected("expected-failures",
                                     cl::desc("file of 'suite/test mode' lines"));
static cl::opt<std::string> Suites("suites",
                                   cl::desc("comma-separated suites"),
                                   cl::init("node,simple,pytorch-converted,pytorch-operator"));
static cl::opt<std::string> Filter("filter", cl::desc("only tests whose name contains this"));
static cl::opt<unsigned> Jobs("jobs", cl::desc("tests run at once"), cl::init(2));
static cl::opt<unsigned> OptLevel("opt", cl::desc("LLVM optimization level"), cl::init(1));
static cl::opt<unsigned> Timeout("timeout", cl::desc("seconds per test"), cl::init(120));
static cl::opt<std::string> WriteFailures("write-failures",
                                          cl::desc("write the failing tests as an expected-failures file"));
static cl::opt<std::string> WriteDoc("write-doc", cl::desc("write the supported-ops page (markdown)"));
static cl::opt<bool> Verbose("v", cl::desc("print every failure's reason"));
static cl::opt<std::string> DeviceName(
    "device", cl::desc("cpu (default), cuda or cuda-emu"), cl::init("cpu"));
static cl::opt<bool> NoSpecialize(
    "no-specialize",
    cl::desc("public path without compiling per run-time value (the "
             "baseline before it existed)"));
static cl::opt<bool> ShapeInputsOnly(
    "shape-inputs-only",
    cl::desc("only tests whose graph inputs feed shape-like operands"));

namespace {
const char *Modes[] = {"static", "dynamic"};

struct Case {
  std::string Suite, Name, Dir;
  std::vector<std::string> OpTypes;
  bool Pass[2] = {false, false};
  std::string Why[2];
};

std::string shortMsg(std::string S) {
  for (char &C : S)
    if (C == '\n')
      C = ' ';
  return S.size() > 400 ? S.substr(0, 400) + "..." : S;
}

/// One mode of one test, in a worker process: through the public API, as
/// `dlc test-onnx` runs it.
llvm::Error runMode(const Case &C, bool Dynamic) {
  ModelOptions MO;
  MO.Engine = "jit";
  MO.OptLevel = OptLevel;
  MO.Threads = 1;
  MO.ForceDynamic = Dynamic;
  MO.Device = DeviceName;
  if (NoSpecialize)
    MO.SpecializationCacheSize = 0;
  return runOnnxTestFolder(C.Dir, MO);
}

/// Worker: runs both modes and writes "P|F<reason>\n" per mode to Fd.
void worker(const Case &C, int Fd) {
  std::string Msg;
  for (int Mode = 0; Mode < 2; ++Mode) {
    llvm::Error E = runMode(C, Mode == 1);
    Msg += E ? "F" + shortMsg(llvm::toString(std::move(E))) + "\n" : "P\n";
    // Write as we go: a crash in the dynamic mode keeps the static result.
    (void)!write(Fd, Msg.data(), Msg.size());
    Msg.clear();
  }
}

std::vector<std::string> modelOpTypes(const std::string &Model) {
  std::set<std::string> S;
  auto Buf = llvm::MemoryBuffer::getFile(Model, false, false);
  onnx::ModelProto MP;
  if (Buf && MP.ParseFromArray((*Buf)->getBufferStart(), (*Buf)->getBufferSize()))
    for (const auto &N : MP.graph().node())
      S.insert(N.domain().empty() || N.domain() == "ai.onnx"
                   ? N.op_type()
                   : N.domain() + "." + N.op_type());
  return {S.begin(), S.end()};
}

struct Running {
  pid_t Pid;
  int Fd;
  size_t Index;
  std::string Out;
  std::chrono::steady_clock::time_point Start;
};

void collect(Case &C, Running &R, int Status) {
  size_t Pos = 0;
  for (int Mode = 0; Mode < 2; ++Mode) {
    size_t End = R.Out.find('\n', Pos);
    if (End == std::string::npos) {
      C.Why[Mode] = WIFSIGNALED(Status)
                        ? "crashed (signal " + std::to_string(WTERMSIG(Status)) + ")"
                        : "worker ended without a result";
      continue;
    }
    C.Pass[Mode] = R.Out[Pos] == 'P';
    C.Why[Mode] = R.Out.substr(Pos + 1, End - Pos - 1);
    Pos = End + 1;
  }
}

void runAll(std::vector<Case> &Cases) {
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
      pid_t Pid = fork();
      if (Pid == 0) {
        close(P[0]);
        worker(Cases[Next], P[1]);
        _exit(0);
      }
      close(P[1]);
      Live.push_back({Pid, P[0], Next++, "", std::chrono::steady_clock::now()});
    }
    std::vector<pollfd> Fds;
    for (Running &R : Live)
      Fds.push_back({R.Fd, POLLIN, 0});
    poll(Fds.data(), Fds.size(), 200);
    for (size_t I = 0; I < Live.size();) {
      Running &R = Live[I];
      char Buf[4096];
      auto Secs = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::steady_clock::now() - R.Start).count();
      bool Hung = Secs > int64_t(Timeout);
      if (Fds[I].revents & (POLLIN | POLLHUP | POLLERR)) {
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
      collect(Cases[R.Index], R, Status);
      if (Hung)
        for (int M = 0; M < 2; ++M)
          if (!Cases[R.Index].Pass[M] && Cases[R.Index].Why[M].empty())
            Cases[R.Index].Why[M] = "timed out";
      Fds.erase(Fds.begin() + I);
      Live.erase(Live.begin() + I);
    }
  }
}

std::string caseKey(const Case &C, int Mode) {
  return C.Suite + "/" + C.Name + " " + Modes[Mode];
}
} // namespace

void writeDocImpl(const std::vector<std::pair<std::vector<std::string>,
                                              std::array<bool, 2>>> &Results,
                  llvm::raw_ostream &OS);

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(argc, argv, "ONNX backend conformance runner\n");
  if (!llvm::sys::fs::is_directory(DataDir)) {
    llvm::outs() << "onnx-conformance: no test data at '" << DataDir
                 << "' (set DLC_ONNX_TEST_DATA); skipping\n";
    return 77;
  }
  auto T0 = std::chrono::steady_clock::now();
  std::vector<Case> Cases;
  llvm::SmallVector<llvm::StringRef, 4> SuiteList;
  llvm::StringRef(Suites).split(SuiteList, ',');
  for (llvm::StringRef S : SuiteList) {
    std::error_code EC;
    std::vector<std::string> Names;
    for (llvm::sys::fs::directory_iterator It(DataDir + "/" + S, EC), End;
         It != End && !EC; It.increment(EC))
      Names.push_back(llvm::sys::path::filename(It->path()).str());
    llvm::sort(Names);
    for (auto &N : Names)
      if (Filter.empty() || N.find(Filter) != std::string::npos) {
        std::string Dir = DataDir + "/" + S.str() + "/" + N;
        if (ShapeInputsOnly) {
          auto Ins = onnxShapeOperandInputs(Dir + "/model.onnx");
          bool Has = Ins && !Ins->empty();
          if (!Ins)
            llvm::consumeError(Ins.takeError());
          if (!Has)
            continue;
        }
        Case C;
        C.Suite = S.str();
        C.Name = N;
        C.Dir = DataDir + "/" + S.str() + "/" + N;
        C.OpTypes = modelOpTypes(C.Dir + "/model.onnx");
        Cases.push_back(std::move(C));
      }
  }
  runAll(Cases);

  // Expected failures.
  std::set<std::string> Listed;
  if (!Expected.empty()) {
    auto Buf = llvm::MemoryBuffer::getFile(Expected);
    if (!Buf) {
      llvm::errs() << "onnx-conformance: cannot read '" << Expected << "'\n";
      return 2;
    }
    llvm::SmallVector<llvm::StringRef, 0> Lines;
    (*Buf)->getBuffer().split(Lines, '\n');
    for (llvm::StringRef L : Lines) {
      L = L.trim();
      if (!L.empty() && !L.starts_with("#"))
        Listed.insert(L.str());
    }
  }
  unsigned Unexpected = 0, StillListed = 0;
  for (const Case &C : Cases)
    for (int M = 0; M < 2; ++M) {
      bool IsListed = Listed.count(caseKey(C, M));
      if (!C.Pass[M] && (!IsListed || Verbose))
        llvm::outs() << (IsListed ? "XFAIL " : "FAIL ") << caseKey(C, M)
                     << ": " << C.Why[M] << "\n";
      if (!C.Pass[M] && !IsListed && !Expected.empty())
        ++Unexpected;
      if (C.Pass[M] && IsListed) {
        llvm::outs() << "NOW PASSING (remove from the list): " << caseKey(C, M) << "\n";
        ++StillListed;
      }
    }

  // Per-op table.
  std::map<std::string, std::array<unsigned, 3>> PerOp;
  for (const Case &C : Cases)
    for (const std::string &Op : C.OpTypes) {
      auto &R = PerOp[Op];
      ++R[0];
      R[1] += C.Pass[0];
      R[2] += C.Pass[1];
    }
  llvm::outs() << "op                            tests   static  dynamic\n";
  for (auto &[Op, R] : PerOp)
    llvm::outs() << llvm::format("%-28s %6u %8u %8u\n", Op.c_str(), R[0], R[1], R[2]);

  if (!WriteFailures.empty()) {
    std::error_code EC;
    llvm::raw_fd_ostream OS(WriteFailures, EC);
    OS << "# ONNX conformance tests that fail today, one 'suite/test mode' per\n"
          "# line. Generated by onnx-conformance --write-failures; remove lines\n"
          "# as tests start to pass.\n";
    for (const Case &C : Cases)
      for (int M = 0; M < 2; ++M)
        if (!C.Pass[M])
          OS << caseKey(C, M) << "\n";
  }
  if (!WriteDoc.empty()) {
    std::error_code EC;
    llvm::raw_fd_ostream OS(WriteDoc, EC);
    std::vector<std::pair<std::vector<std::string>, std::array<bool, 2>>> R;
    for (const Case &C : Cases)
      R.push_back({C.OpTypes, {C.Pass[0], C.Pass[1]}});
    writeDocImpl(R, OS);
  }
  double Secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - T0).count();
  if (!Expected.empty())
    llvm::outs() << Unexpected << " unexpected failure(s), " << StillListed
                 << " listed test(s) now passing\n";
  llvm::outs() << llvm::format("wall time %.1f s with %u jobs%s\n", Secs,
                               unsigned(Jobs),
                               NoSpecialize ? ", no specialization" : "");
  llvm::outs() << "TOTAL";
  for (llvm::StringRef S : SuiteList) {
    unsigned N = 0, P[2] = {0, 0};
    for (const Case &C : Cases)
      if (C.Suite == S) {
        ++N;
        P[0] += C.Pass[0];
        P[1] += C.Pass[1];
      }
    llvm::outs() << "  " << S << ": static " << P[0] << "/" << N << ", dynamic "
                 << P[1] << "/" << N << ";";
  }
  llvm::outs() << "\n";
  return Unexpected ? 1 : 0;
}
