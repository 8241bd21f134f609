// Reading and writing NumPy .npy files (format versions 1-3, little-endian,
// C order). Part of the runtime: depends on nothing else of dlc.
#ifndef DLC_RUNTIME_NPY_H
#define DLC_RUNTIME_NPY_H

#include <cstdint>
#include <string>
#include <vector>

namespace dlc {
namespace rt {

struct NpyArray {
  std::string Descr; // numpy dtype string, e.g. "<f4", "|b1", "<i8"
  std::vector<int64_t> Shape;
  std::vector<uint8_t> Data;
};

/// Parses an .npy image. On failure returns false and sets Err to a message
/// that says what is wrong (truncated file, bad magic, Fortran order, ...).
bool parseNpy(const std::vector<uint8_t> &Bytes, NpyArray &Out,
              std::string &Err);
bool readNpy(const std::string &Path, NpyArray &Out, std::string &Err);
std::vector<uint8_t> serializeNpy(const NpyArray &A);
bool writeNpy(const std::string &Path, const NpyArray &A, std::string &Err);

} // namespace rt
} // namespace dlc

#endif
