// IDX reading and writing through zlib (which reads plain files as they are).
#include "frontend/data/Idx.h"

#include "ir/Location.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"

#include <cerrno>
#include <cstring>

#include <zlib.h>

using namespace dlc;

static llvm::Error fileError(llvm::StringRef Path, const llvm::Twine &Msg) {
  return makeError("'" + Path + "': " + Msg);
}

/// zlib's message for F without the file name it starts with.
static std::string gzMessage(gzFile F, llvm::StringRef Path) {
  int Code = 0;
  llvm::StringRef Msg = gzerror(F, &Code);
  Msg.consume_front(Path);
  Msg.consume_front(": ");
  return ("truncated or corrupt gzip data (" + Msg + ")").str();
}

/// The whole (decompressed) content of Path.
static llvm::Expected<std::vector<uint8_t>> readAll(llvm::StringRef Path) {
  if (!llvm::sys::fs::exists(Path))
    return fileError(Path, "no such file");
  if (llvm::sys::fs::is_directory(Path))
    return fileError(Path, "is a directory, not an IDX file");
  gzFile F = gzopen(Path.str().c_str(), "rb");
  if (!F)
    return fileError(Path, "cannot open: " + std::string(strerror(errno)));
  std::vector<uint8_t> Bytes;
  uint8_t Chunk[1 << 16];
  while (true) {
    int N = gzread(F, Chunk, sizeof(Chunk));
    if (N < 0) {
      std::string Msg = gzMessage(F, Path);
      gzclose(F);
      return fileError(Path, Msg);
    }
    if (N == 0)
      break;
    Bytes.insert(Bytes.end(), Chunk, Chunk + N);
  }
  // zlib reports a gzip stream cut short only through gzerror.
  int Code = 0;
  gzerror(F, &Code);
  std::string Err = Code != Z_OK ? gzMessage(F, Path) : "";
  gzclose(F);
  if (!Err.empty())
    return fileError(Path, Err);
  return Bytes;
}

static uint32_t bigEndian32(const uint8_t *P) {
  return uint32_t(P[0]) << 24 | uint32_t(P[1]) << 16 | uint32_t(P[2]) << 8 |
         uint32_t(P[3]);
}

llvm::Expected<IdxArray> dlc::readIdx(llvm::StringRef Path) {
  auto Bytes = readAll(Path);
  if (!Bytes)
    return Bytes.takeError();
  const std::vector<uint8_t> &B = *Bytes;
  if (B.size() < 4)
    return fileError(Path, "truncated: " + llvm::Twine(B.size()) +
                               " bytes, shorter than an IDX header");
  if (B[0] != 0 || B[1] != 0 || B[3] == 0 || B[3] > 8)
    return fileError(Path, llvm::formatv("not an IDX file (magic "
                                         "{0:x-2}{1:x-2}{2:x-2}{3:x-2})",
                                         B[0], B[1], B[2], B[3])
                               .str());
  if (B[2] != 0x08)
    return fileError(Path, llvm::formatv("IDX element type {0:x-2} is not "
                                         "supported (only unsigned bytes, 08)",
                                         B[2])
                               .str());
  unsigned Rank = B[3];
  size_t Header = 4 + 4 * Rank;
  if (B.size() < Header)
    return fileError(Path, "truncated: the header needs " +
                               llvm::Twine(Header) + " bytes, the file has " +
                               llvm::Twine(B.size()));
  IdxArray A;
  uint64_t Count = 1;
  for (unsigned I = 0; I < Rank; ++I) {
    uint32_t D = bigEndian32(&B[4 + 4 * I]);
    A.Dims.push_back(D);
    Count *= D; // at most 2^32^4 would overflow; bounded by the check below
    if (Count > (uint64_t(1) << 40))
      return fileError(Path, "implausible IDX dims (more than 2^40 elements)");
  }
  uint64_t Have = B.size() - Header;
  if (Have < Count)
    return fileError(Path, "truncated: the header announces " +
                               llvm::Twine(Count) + " bytes of data, the file "
                               "has " + llvm::Twine(Have));
  if (Have > Count)
    return fileError(Path, llvm::Twine(Have - Count) +
                               " unexpected bytes after the data");
  A.Data.assign(B.begin() + Header, B.end());
  return A;
}

llvm::Error dlc::writeIdx(llvm::StringRef Path, const IdxArray &A, bool Gzip) {
  std::vector<uint8_t> B = {0, 0, 0x08, uint8_t(A.Dims.size())};
  for (int64_t D : A.Dims)
    for (int Shift = 24; Shift >= 0; Shift -= 8)
      B.push_back(uint8_t(uint64_t(D) >> Shift));
  B.insert(B.end(), A.Data.begin(), A.Data.end());
  // "wT": zlib's transparent (uncompressed) write mode.
  gzFile F = gzopen(Path.str().c_str(), Gzip ? "wb" : "wbT");
  if (!F)
    return fileError(Path, "cannot create: " + std::string(strerror(errno)));
  bool Ok = gzwrite(F, B.data(), unsigned(B.size())) == int(B.size());
  Ok &= gzclose(F) == Z_OK;
  if (!Ok)
    return fileError(Path, "error while writing");
  return llvm::Error::success();
}
