// Kernel keys and the persistent kernel cache: machine code (one relocatable
// object per distinct kernel) on disk, keyed by a canonical hash of the
// kernel IR, the target CPU and its features, the optimization level, the
// LLVM version and a hash of dlc's code generator sources.
//
// An entry is `<dir>/kernels/<2 hex>/<64 hex>.o`: a header (magic, format
// version, the full key, the payload size and the payload's BLAKE3) followed
// by the object file. A reader checks all of them and treats any mismatch
// (truncation, corruption, another key) as a miss, so the kernel is compiled
// again and the entry rewritten. Writers write a unique temporary file and
// rename it over the entry, so concurrent processes never see half an entry.
// The directory is bounded: after writing, the least recently used entries
// are removed until it holds at most 3/4 of the bound.
#ifndef DLC_CODEGEN_KERNELCACHE_H
#define DLC_CODEGEN_KERNELCACHE_H

#include "kernel/KernelIR.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <array>
#include <memory>
#include <string>

namespace dlc {

/// What the machine code of a kernel depends on besides its kernel IR.
struct TargetId {
  std::string CPU;      // e.g. "skylake-avx512"
  std::string Features; // LLVM's feature string, e.g. "+avx512f,+fma,..."
  unsigned OptLevel = 3;
};

/// A kernel's key: BLAKE3 of dlc's code generator build id, the LLVM
/// version, the target and the kernel IR printed without its name (so two
/// kernels that differ only in name share a key).
using KernelKey = std::array<uint8_t, 32>;
KernelKey kernelKey(const kir::Kernel &K, const TargetId &T);
/// The same from canonicalKernelText(K).
KernelKey kernelKey(llvm::StringRef CanonicalText, const TargetId &T);
/// K's kernel IR text without its name.
std::string canonicalKernelText(const kir::Kernel &K);
std::string keyHex(const KernelKey &Key);

/// A hash of the sources that decide a kernel's machine code (codegen/,
/// the kernel IR printer, the kernel ABI) with dlc's version, made at
/// build time: a rebuilt code generator never reuses older entries.
llvm::StringRef codegenBuildId();

class KernelCache {
public:
  /// The default directory: $DLC_CACHE_DIR, else $XDG_CACHE_HOME/dlc,
  /// else $HOME/.cache/dlc; empty when none of them is set.
  static std::string defaultDir();
  /// The default bound on the cache's size: 512 MiB, or $DLC_CACHE_MAX_MB.
  static uint64_t defaultMaxBytes();

  /// A cache in Dir (created when missing). MaxBytes = 0: the default bound.
  static llvm::Expected<std::unique_ptr<KernelCache>>
  open(llvm::StringRef Dir, uint64_t MaxBytes = 0);

  /// The object stored for Key, or null when there is none or the entry is
  /// truncated, corrupt or for another key. A hit marks the entry as used.
  std::unique_ptr<llvm::MemoryBuffer> load(const KernelKey &Key) const;
  /// Stores Object for Key (a temporary file renamed over the entry).
  llvm::Error store(const KernelKey &Key, llvm::StringRef Object) const;
  /// Removes least recently used entries (and temporary files older than an
  /// hour) until the directory holds at most 3/4 of its bound; returns the
  /// bytes left.
  uint64_t trim() const;

  /// Where the entry for Key lives.
  std::string entryPath(const KernelKey &Key) const;
  llvm::StringRef dir() const { return Dir; }

private:
  KernelCache(std::string Dir, uint64_t MaxBytes)
      : Dir(std::move(Dir)), MaxBytes(MaxBytes) {}
  std::string Dir;
  uint64_t MaxBytes;
};

} // namespace dlc

#endif
