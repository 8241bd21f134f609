// Kernel keys and the on-disk kernel cache (see KernelCache.h).
#include "codegen/KernelCache.h"

#include "CodegenBuildId.inc" // DLC_CODEGEN_BUILD_ID, generated at build time

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/BLAKE3.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cstring>

using namespace dlc;
namespace fs = llvm::sys::fs;

// Entry layout (little-endian): magic[8], format u32, reserved u32,
// key[32], payload size u64, payload BLAKE3[32], payload.
static constexpr char Magic[8] = {'D', 'L', 'C', 'K', 'O', 'B', 'J', '\n'};
static constexpr uint32_t Format = 1;
static constexpr size_t HeaderSize = 8 + 4 + 4 + 32 + 8 + 32;

llvm::StringRef dlc::codegenBuildId() { return DLC_CODEGEN_BUILD_ID; }

std::string dlc::canonicalKernelText(const kir::Kernel &K) {
  std::string Text = kir::toString(K);
  // The name is the only part of the text that may differ between two
  // identical kernels: "kernel @<name>(" becomes "kernel @(".
  size_t At = Text.find('@'), Paren = Text.find('(');
  if (At != std::string::npos && Paren != std::string::npos && At < Paren)
    Text.erase(At + 1, Paren - At - 1);
  return Text;
}

KernelKey dlc::kernelKey(const kir::Kernel &K, const TargetId &T) {
  return kernelKey(canonicalKernelText(K), T);
}

KernelKey dlc::kernelKey(llvm::StringRef Text, const TargetId &T) {
  llvm::BLAKE3 H;
  auto Field = [&](llvm::StringRef S) {
    uint8_t Len[8];
    llvm::support::endian::write64le(Len, S.size());
    H.update(llvm::ArrayRef<uint8_t>(Len, 8));
    H.update(S);
  };
  Field("dlc-kernel-key-1");
  Field(codegenBuildId());
  Field(LLVM_VERSION_STRING);
  Field(T.CPU);
  Field(T.Features);
  Field(std::to_string(T.OptLevel));
  Field(Text);
  return H.final();
}

std::string dlc::keyHex(const KernelKey &Key) {
  return llvm::toHex(llvm::ArrayRef<uint8_t>(Key.data(), Key.size()),
                     /*LowerCase=*/true);
}

std::string KernelCache::defaultDir() {
  if (auto D = llvm::sys::Process::GetEnv("DLC_CACHE_DIR"); D && !D->empty())
    return *D;
  llvm::SmallString<256> P;
  if (auto X = llvm::sys::Process::GetEnv("XDG_CACHE_HOME"); X && !X->empty()) {
    P = *X;
  } else if (auto H = llvm::sys::Process::GetEnv("HOME"); H && !H->empty()) {
    P = *H;
    llvm::sys::path::append(P, ".cache");
  } else {
    return "";
  }
  llvm::sys::path::append(P, "dlc");
  return std::string(P);
}

uint64_t KernelCache::defaultMaxBytes() {
  uint64_t MB = 512;
  if (auto E = llvm::sys::Process::GetEnv("DLC_CACHE_MAX_MB"))
    if (uint64_t V; !llvm::StringRef(*E).getAsInteger(10, V) && V > 0)
      MB = V;
  return MB << 20;
}

llvm::Expected<std::unique_ptr<KernelCache>>
KernelCache::open(llvm::StringRef Dir, uint64_t MaxBytes) {
  if (Dir.empty())
    return llvm::createStringError(
        "no kernel cache directory (set DLC_CACHE_DIR, XDG_CACHE_HOME or HOME)");
  llvm::SmallString<256> Kernels(Dir);
  llvm::sys::path::append(Kernels, "kernels");
  if (std::error_code EC = fs::create_directories(Kernels))
    return llvm::createStringError(EC, "cannot create kernel cache '" +
                                           Kernels + "': " + EC.message());
  return std::unique_ptr<KernelCache>(new KernelCache(
      Dir.str(), MaxBytes ? MaxBytes : defaultMaxBytes()));
}

std::string KernelCache::entryPath(const KernelKey &Key) const {
  std::string Hex = keyHex(Key);
  llvm::SmallString<256> P(Dir);
  llvm::sys::path::append(P, "kernels", Hex.substr(0, 2), Hex + ".o");
  return std::string(P);
}

std::unique_ptr<llvm::MemoryBuffer>
KernelCache::load(const KernelKey &Key) const {
  std::string Path = entryPath(Key);
  auto FD = fs::openNativeFileForRead(Path);
  if (!FD) {
    llvm::consumeError(FD.takeError());
    return nullptr;
  }
  llvm::SmallVector<char, 0> Bytes;
  llvm::Error E = fs::readNativeFileToEOF(*FD, Bytes);
  if (!E) // a hit: the entry counts as recently used (for trim())
    (void)fs::setLastAccessAndModificationTime(*FD,
                                               std::chrono::system_clock::now());
  fs::closeFile(*FD);
  if (E) {
    llvm::consumeError(std::move(E));
    return nullptr;
  }
  using namespace llvm::support::endian;
  const uint8_t *P = reinterpret_cast<const uint8_t *>(Bytes.data());
  if (Bytes.size() < HeaderSize || std::memcmp(P, Magic, 8) ||
      read32le(P + 8) != Format || std::memcmp(P + 16, Key.data(), 32))
    return nullptr;
  uint64_t Size = read64le(P + 48);
  if (Size != Bytes.size() - HeaderSize)
    return nullptr; // truncated, or something appended
  llvm::ArrayRef<uint8_t> Payload(P + HeaderSize, Size);
  auto Sum = llvm::BLAKE3::hash(Payload);
  if (std::memcmp(Sum.data(), P + 56, 32))
    return nullptr; // corrupt
  return llvm::MemoryBuffer::getMemBufferCopy(
      llvm::StringRef(Bytes.data() + HeaderSize, Size), Path);
}

llvm::Error KernelCache::store(const KernelKey &Key,
                               llvm::StringRef Object) const {
  std::string Path = entryPath(Key);
  llvm::StringRef Parent = llvm::sys::path::parent_path(Path);
  if (std::error_code EC = fs::create_directories(Parent))
    return llvm::createStringError(EC, "cannot create '" + Parent + "'");
  uint8_t Header[HeaderSize] = {};
  using namespace llvm::support::endian;
  std::memcpy(Header, Magic, 8);
  write32le(Header + 8, Format);
  std::memcpy(Header + 16, Key.data(), 32);
  write64le(Header + 48, Object.size());
  auto Sum = llvm::BLAKE3::hash(llvm::arrayRefFromStringRef(Object));
  std::memcpy(Header + 56, Sum.data(), 32);

  int FD;
  llvm::SmallString<256> Tmp;
  if (std::error_code EC =
          fs::createUniqueFile(Path + ".tmp-%%%%%%%%%%%%", FD, Tmp))
    return llvm::createStringError(EC, "cannot create a file in '" + Parent +
                                           "': " + EC.message());
  {
    llvm::raw_fd_ostream OS(FD, /*shouldClose=*/true);
    OS.write(reinterpret_cast<const char *>(Header), HeaderSize);
    OS << Object;
    OS.close();
    if (OS.has_error()) {
      std::error_code EC = OS.error();
      OS.clear_error();
      fs::remove(Tmp);
      return llvm::createStringError(EC, "cannot write '" + Tmp + "'");
    }
  }
  if (std::error_code EC = fs::rename(Tmp, Path)) {
    fs::remove(Tmp);
    return llvm::createStringError(EC, "cannot rename '" + Tmp + "'");
  }
  return llvm::Error::success();
}

uint64_t KernelCache::trim() const {
  struct Entry {
    std::string Path;
    uint64_t Size;
    llvm::sys::TimePoint<> Used;
  };
  std::vector<Entry> Entries;
  uint64_t Total = 0;
  auto Now = std::chrono::system_clock::now();
  llvm::SmallString<256> Root(Dir);
  llvm::sys::path::append(Root, "kernels");
  std::error_code EC;
  for (fs::directory_iterator Sub(Root, EC), End; !EC && Sub != End;
       Sub.increment(EC)) {
    std::error_code EC2;
    for (fs::directory_iterator F(Sub->path(), EC2); !EC2 && F != End;
         F.increment(EC2)) {
      fs::file_status St;
      if (fs::status(F->path(), St) || St.type() != fs::file_type::regular_file)
        continue;
      llvm::StringRef Name = llvm::sys::path::filename(F->path());
      if (Name.contains(".tmp-")) {
        // A writer that died before its rename; a live one is much faster.
        if (Now - St.getLastModificationTime() > std::chrono::hours(1))
          fs::remove(F->path());
        continue;
      }
      Entries.push_back({F->path(), St.getSize(), St.getLastModificationTime()});
      Total += St.getSize();
    }
  }
  if (Total <= MaxBytes)
    return Total;
  llvm::sort(Entries,
             [](const Entry &A, const Entry &B) { return A.Used < B.Used; });
  for (const Entry &E : Entries) {
    if (Total <= MaxBytes / 4 * 3)
      break;
    if (!fs::remove(E.Path))
      Total -= E.Size;
  }
  return Total;
}
