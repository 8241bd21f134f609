// The JIT's kernel deduplication and the on-disk kernel cache: hits give the
// same results as compiling, corrupt or truncated entries are rebuilt, two
// processes share a cache, keys depend on the target, the size is bounded.
// Every cache lives in a fresh temporary directory.
#include "TestUtil.h"

#include "api/Model.h"
#include "codegen/Executor.h"
#include "codegen/Jit.h"
#include "codegen/KernelCache.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"
#include "kernel/KernelParser.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstdlib>
#include <optional>
#include <sys/wait.h>
#include <unistd.h>

using namespace dlc;
namespace fs = llvm::sys::fs;

namespace {

// Three identical conv + relu layers (one distinct conv kernel), a pool
// and a dense layer.
const char *Net =
    "func @main(%x: f32[N,4,8,8]) -> (y: f32[N,3]) {\n"
    "  %w = random_normal {scale = 0.3, seed = 1, shape = [4, 4, 3, 3]}\n"
    "  %b = random_normal {scale = 0.1, seed = 2, shape = [4]}\n"
    "  %c1 = conv %x, %w, %b {pads = [1, 1, 1, 1]}\n"
    "  %r1 = relu %c1\n"
    "  %c2 = conv %r1, %w, %b {pads = [1, 1, 1, 1]}\n"
    "  %r2 = relu %c2\n"
    "  %c3 = conv %r2, %w, %b {pads = [1, 1, 1, 1]}\n"
    "  %r3 = relu %c3\n"
    "  %p = max_pool %r3 {kernel = [2, 2], strides = [2, 2]}\n"
    "  %f = flatten %p\n"
    "  %v = random_normal {scale = 0.2, seed = 3, shape = [64, 3]}\n"
    "  %y = matmul %f, %v\n"
    "  return %y\n}\n";

/// A fresh directory under the system's temporary directory, removed at
/// the end of the test.
struct TempDir {
  llvm::SmallString<128> Path;
  TempDir() {
    if (fs::createUniqueDirectory("dlc-kernel-cache-test", Path))
      ADD_FAILURE() << "cannot create a temporary directory";
  }
  ~TempDir() { fs::remove_directories(Path); }
};

Tensor input(int64_t N) {
  Tensor X(DType::F32, {N, 4, 8, 8});
  for (int64_t I = 0; I < X.numElements(); ++I)
    X.setF(I, uniformAt(7, I) * 2 - 1);
  return X;
}

/// The model compiled with its cache in Dir, and its compile report.
llvm::Expected<Model> compile(llvm::StringRef Dir, bool Cache = true) {
  ModelOptions O;
  O.Engine = "jit";
  O.Cache = Cache;
  O.CacheDir = Dir.str();
  O.Threads = 2;
  return Model::fromText(Net, "net.dlc", O);
}

/// The interpreter's output for the same input.
Tensor reference(const Tensor &X) {
  auto M = parseModule(Net, "net.dlc");
  EXPECT_TRUE(bool(M));
  auto R = interpret(*(*M)->Functions[0], {X});
  EXPECT_TRUE(bool(R)) << errText(R.takeError());
  return (*R)[0];
}

void expectClose(const Tensor &Want, const Tensor &Got) {
  ASSERT_EQ(Want.type(), Got.type());
  for (int64_t I = 0; I < Want.numElements(); ++I)
    ASSERT_NEAR(Want.getF(I), Got.getF(I), 1e-5 * (1 + std::fabs(Want.getF(I))))
        << "element " << I;
}

/// Every entry file of the cache in Dir.
std::vector<std::string> entries(llvm::StringRef Dir) {
  std::vector<std::string> R;
  std::error_code EC;
  for (fs::recursive_directory_iterator I(Dir, EC), E; !EC && I != E;
       I.increment(EC))
    if (llvm::StringRef(I->path()).ends_with(".o"))
      R.push_back(I->path());
  llvm::sort(R);
  return R;
}

TEST(KernelCache, IdenticalKernelsCompiledOnce) {
  TempDir D;
  auto M = compile(D.Path, /*Cache=*/false);
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  const CompileStats &S = M->compileStats();
  EXPECT_FALSE(S.CacheEnabled);
  // conv + relu three times over the same shapes: one kernel for three.
  EXPECT_LE(S.Distinct + 2, S.Kernels);
  EXPECT_TRUE(entries(D.Path).empty()); // --no-cache writes nothing
  Tensor X = input(3);
  auto Out = M->run({X});
  ASSERT_TRUE(bool(Out)) << errText(Out.takeError());
  expectClose(reference(X), (*Out)[0]);
}

TEST(KernelCache, HitGivesIdenticalResults) {
  TempDir D;
  Tensor X = input(5);
  auto Cold = compile(D.Path);
  ASSERT_TRUE(bool(Cold)) << errText(Cold.takeError());
  const CompileStats &C = Cold->compileStats();
  EXPECT_TRUE(C.CacheEnabled);
  EXPECT_EQ(C.CacheHits, 0u);
  EXPECT_EQ(C.CacheMisses, C.Distinct);
  EXPECT_EQ(entries(D.Path).size(), C.Distinct);

  auto Warm = compile(D.Path);
  ASSERT_TRUE(bool(Warm)) << errText(Warm.takeError());
  const CompileStats &W = Warm->compileStats();
  EXPECT_EQ(W.CacheHits, W.Distinct);
  EXPECT_EQ(W.CacheMisses, 0u);
  EXPECT_EQ(W.Codegen, 0.0); // nothing compiled

  auto A = Cold->run({X}), B = Warm->run({X});
  ASSERT_TRUE(bool(A) && bool(B));
  EXPECT_TRUE((*A)[0] == (*B)[0]); // the same machine code, bit for bit
  expectClose(reference(X), (*B)[0]);
}

TEST(KernelCache, CorruptAndTruncatedEntriesAreRebuilt) {
  TempDir D;
  auto Cold = compile(D.Path);
  ASSERT_TRUE(bool(Cold)) << errText(Cold.takeError());
  std::vector<std::string> Files = entries(D.Path);
  ASSERT_GE(Files.size(), 3u);
  auto Bytes = [](const std::string &P) {
    auto B = llvm::MemoryBuffer::getFile(P);
    EXPECT_TRUE(bool(B));
    return B ? (*B)->getBuffer().str() : std::string();
  };
  std::vector<std::string> Good;
  for (auto &F : Files)
    Good.push_back(Bytes(F));
  auto Write = [](const std::string &P, llvm::StringRef Data) {
    std::error_code EC;
    llvm::raw_fd_ostream OS(P, EC);
    ASSERT_FALSE(EC);
    OS << Data;
  };
  // One bit of machine code flipped; half an entry; a header only.
  std::string Flipped = Good[0];
  Flipped[Flipped.size() / 2] ^= 0x10;
  Write(Files[0], Flipped);
  Write(Files[1], llvm::StringRef(Good[1]).take_front(Good[1].size() / 2));
  Write(Files[2], llvm::StringRef(Good[2]).take_front(40));

  auto Warm = compile(D.Path);
  ASSERT_TRUE(bool(Warm)) << errText(Warm.takeError());
  EXPECT_EQ(Warm->compileStats().CacheMisses, 3u);
  EXPECT_EQ(Warm->compileStats().CacheHits, Files.size() - 3);
  Tensor X = input(2);
  auto Out = Warm->run({X});
  ASSERT_TRUE(bool(Out)) << errText(Out.takeError());
  expectClose(reference(X), (*Out)[0]);
  // The broken entries were written again, whole.
  for (size_t I = 0; I < 3; ++I)
    EXPECT_EQ(Bytes(Files[I]), Good[I]) << Files[I];
  auto Again = compile(D.Path);
  ASSERT_TRUE(bool(Again));
  EXPECT_EQ(Again->compileStats().CacheMisses, 0u);
}

/// A kernel for the key and store tests.
std::unique_ptr<kir::Kernel> kernel() {
  auto Ks = kir::parseKernels(
      "kernel @k(%a: f32[?], %out: f32[?]) {\n"
      "  %0 = const 0 : index\n  %1 = dim %a, 0\n"
      "  for %i = %0 to %1 {\n"
      "    %2 = load %a[%i] : f32\n    %3 = relu %2 : f32\n"
      "    store %3, %out[%i]\n  }\n}\n",
      "<kir>");
  EXPECT_TRUE(bool(Ks)) << errText(Ks.takeError());
  return Ks ? std::move((*Ks)[0]) : nullptr;
}

TEST(KernelCache, KeysDependOnTargetAndCodeNotName) {
  auto K = kernel();
  ASSERT_TRUE(K);
  TargetId T{"znver4", "+avx512f,+fma", 3};
  KernelKey Key = kernelKey(*K, T);
  K->Name = "other_name";
  EXPECT_EQ(kernelKey(*K, T), Key); // the name is not part of the key
  TargetId NoAvx512 = T, OtherCpu = T, O2 = T;
  NoAvx512.Features = "-avx512f,+fma";
  OtherCpu.CPU = "skylake-avx512";
  O2.OptLevel = 2;
  EXPECT_NE(kernelKey(*K, NoAvx512), Key);
  EXPECT_NE(kernelKey(*K, OtherCpu), Key);
  EXPECT_NE(kernelKey(*K, O2), Key);
  K->Body.back()->Marks.Unroll = 2; // different code, different key
  EXPECT_NE(kernelKey(*K, T), Key);
  EXPECT_FALSE(codegenBuildId().empty());

  // An entry stored for one CPU's features is a miss for another's.
  TempDir D;
  auto C = KernelCache::open(D.Path);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  ASSERT_FALSE(bool((*C)->store(Key, "object bytes")));
  auto Hit = (*C)->load(Key);
  ASSERT_TRUE(Hit);
  EXPECT_EQ(Hit->getBuffer(), "object bytes");
  EXPECT_FALSE((*C)->load(kernelKey(*K, NoAvx512)));
  // An entry copied under another key's name is refused (the header holds
  // the whole key).
  KernelKey Other = kernelKey(*K, OtherCpu);
  fs::create_directories(llvm::sys::path::parent_path((*C)->entryPath(Other)));
  ASSERT_FALSE(fs::copy_file((*C)->entryPath(Key), (*C)->entryPath(Other)));
  EXPECT_FALSE((*C)->load(Other));
}

// One of LLVM's own options given to the process (as `dlc bench ...
// -disable-lsr` would): the cache is neither read nor written, so a
// kernel compiled under other options never stands in for this one.
TEST(KernelCache, LlvmOptionsBypassTheCache) {
  TempDir D;
  auto Cold = compile(D.Path);
  ASSERT_TRUE(bool(Cold)) << errText(Cold.takeError());
  ASSERT_TRUE(Cold->compileStats().CacheEnabled);
  llvm::cl::Option *Lsr = llvm::cl::getRegisteredOptions().lookup("disable-lsr");
  ASSERT_NE(Lsr, nullptr);
  ASSERT_FALSE(llvmOptionsGiven());
  ASSERT_FALSE(Lsr->addOccurrence(0, "disable-lsr", "true"));
  EXPECT_TRUE(llvmOptionsGiven());
  auto With = compile(D.Path);
  Lsr->reset();
  ASSERT_TRUE(bool(With)) << errText(With.takeError());
  EXPECT_FALSE(With->compileStats().CacheEnabled);
  EXPECT_EQ(With->compileStats().CacheHits, 0u);
  auto Out = With->run({input(2)});
  ASSERT_TRUE(bool(Out)) << errText(Out.takeError());
  expectClose(reference(input(2)), (*Out)[0]);
  // Back without the option: the cache serves every kernel again.
  EXPECT_FALSE(llvmOptionsGiven());
  auto Warm = compile(D.Path);
  ASSERT_TRUE(bool(Warm)) << errText(Warm.takeError());
  EXPECT_EQ(Warm->compileStats().CacheHits, Warm->compileStats().Distinct);
}

TEST(KernelCache, TwoProcessesAtOnce) {
  TempDir D;
  // Two processes compile the same model into an empty cache at once, then
  // hammer one entry with stores and loads: a reader sees a whole entry or
  // none, never a torn one.
  auto K = kernel();
  ASSERT_TRUE(K);
  KernelKey Key = kernelKey(*K, TargetId{"cpu", "+f", 3});
  std::string Big(1 << 16, 'x');
  pid_t Kids[2];
  for (int P = 0; P < 2; ++P) {
    Kids[P] = fork();
    ASSERT_GE(Kids[P], 0);
    if (Kids[P] == 0) {
      int Bad = 0;
      auto M = compile(D.Path);
      if (!M) {
        llvm::consumeError(M.takeError());
        _exit(10);
      }
      Tensor X = input(2);
      auto Out = M->run({X});
      Tensor Want = reference(X);
      if (!Out || !((*Out)[0].type() == Want.type()))
        _exit(11);
      for (int64_t I = 0; I < Want.numElements(); ++I)
        Bad += std::fabs(Want.getF(I) - (*Out)[0].getF(I)) > 1e-4;
      auto C = KernelCache::open(D.Path);
      if (!C)
        _exit(12);
      for (int I = 0; I < 200; ++I) {
        std::string Data = Big;
        Data[I % Data.size()] = char('a' + P); // the writers differ
        if ((*C)->store(Key, Data))
          _exit(13);
        auto B = (*C)->load(Key);
        if (!B || B->getBufferSize() != Big.size())
          ++Bad;
      }
      _exit(Bad ? 14 : 0);
    }
  }
  for (pid_t Kid : Kids) {
    int Status = 0;
    ASSERT_EQ(waitpid(Kid, &Status, 0), Kid);
    ASSERT_TRUE(WIFEXITED(Status));
    EXPECT_EQ(WEXITSTATUS(Status), 0);
  }
  // What they left is whole: a third compile loads every kernel.
  auto M = compile(D.Path);
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  EXPECT_EQ(M->compileStats().CacheMisses, 0u);
  for (auto &F : entries(D.Path)) // no temporary files left behind
    EXPECT_EQ(llvm::StringRef(F).find(".tmp-"), llvm::StringRef::npos) << F;
}

TEST(KernelCache, SizeIsBounded) {
  TempDir D;
  auto C = KernelCache::open(D.Path, /*MaxBytes=*/40000);
  ASSERT_TRUE(bool(C));
  auto K = kernel();
  ASSERT_TRUE(K);
  std::vector<KernelKey> Keys;
  for (unsigned I = 0; I < 10; ++I) {
    Keys.push_back(kernelKey(*K, TargetId{"cpu" + std::to_string(I), "", 3}));
    ASSERT_FALSE(bool((*C)->store(Keys.back(), std::string(8000, 'o'))));
    // Entry I was last used at I (seconds); a hit makes it recent again.
    int FD;
    ASSERT_FALSE(fs::openFileForWrite((*C)->entryPath(Keys.back()), FD,
                                      fs::CD_OpenExisting));
    fs::setLastAccessAndModificationTime(
        FD, llvm::sys::toTimePoint(1000000 + I));
    fs::closeFile(FD);
  }
  ASSERT_TRUE((*C)->load(Keys[0])); // now the most recently used
  uint64_t Left = (*C)->trim();
  EXPECT_LE(Left, 30000u);
  EXPECT_TRUE((*C)->load(Keys[0]));
  EXPECT_TRUE((*C)->load(Keys[9]));
  EXPECT_FALSE((*C)->load(Keys[1])); // the oldest went first
  uint64_t EntrySize = 0;
  ASSERT_FALSE(fs::file_size((*C)->entryPath(Keys[0]), EntrySize));
  EXPECT_GT(EntrySize, 8000u);
  EXPECT_EQ(entries(D.Path).size() * EntrySize, Left);
}

TEST(KernelCache, DefaultDirectory) {
  auto Keep = [](const char *Name) {
    const char *V = getenv(Name);
    return std::make_pair(std::string(Name), V ? std::optional<std::string>(V)
                                               : std::nullopt);
  };
  auto Saved = {Keep("DLC_CACHE_DIR"), Keep("XDG_CACHE_HOME"), Keep("HOME")};
  setenv("DLC_CACHE_DIR", "/tmp/a", 1);
  EXPECT_EQ(KernelCache::defaultDir(), "/tmp/a");
  unsetenv("DLC_CACHE_DIR");
  setenv("XDG_CACHE_HOME", "/tmp/xdg", 1);
  EXPECT_EQ(KernelCache::defaultDir(), "/tmp/xdg/dlc");
  unsetenv("XDG_CACHE_HOME");
  setenv("HOME", "/tmp/home", 1);
  EXPECT_EQ(KernelCache::defaultDir(), "/tmp/home/.cache/dlc");
  for (auto &[Name, V] : Saved)
    if (V)
      setenv(Name.c_str(), V->c_str(), 1);
    else
      unsetenv(Name.c_str());
  // A directory that cannot be created turns the cache off, it does not
  // fail the compile.
  auto M = compile("/proc/no-such-dir/dlc");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  EXPECT_FALSE(M->compileStats().CacheEnabled);
}

} // namespace
