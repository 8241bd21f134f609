// IDX files (the MNIST format): a big-endian header (two zero bytes, the
// element type, the number of dims, one u32 per dim) and the elements.
// Files may be gzip-compressed (as Debian ships Fashion-MNIST); that is
// detected from the content, not the name.
#ifndef DLC_FRONTEND_DATA_IDX_H
#define DLC_FRONTEND_DATA_IDX_H

#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace dlc {

/// An IDX array of unsigned bytes (type 0x08, the only one MNIST uses).
struct IdxArray {
  std::vector<int64_t> Dims;
  std::vector<uint8_t> Data; // row-major, product(Dims) bytes
};

/// Reads an IDX file of unsigned bytes. Errors name the file: missing or
/// unreadable, corrupt gzip, bad magic, another element type, a truncated
/// header or body, or bytes after the data.
llvm::Expected<IdxArray> readIdx(llvm::StringRef Path);

/// Writes an IDX file of unsigned bytes, gzip-compressed when Gzip is set.
llvm::Error writeIdx(llvm::StringRef Path, const IdxArray &A, bool Gzip);

} // namespace dlc

#endif
