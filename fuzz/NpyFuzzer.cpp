// Fuzz target: the .npy reader. Whatever it accepts must serialize back to
// an image it reads again identically.
#include "runtime/Npy.h"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  std::vector<uint8_t> B(Data, Data + Size);
  dlc::rt::NpyArray A, Back;
  std::string Err;
  if (!dlc::rt::parseNpy(B, A, Err))
    return 0;
  if (!dlc::rt::parseNpy(dlc::rt::serializeNpy(A), Back, Err) ||
      Back.Descr != A.Descr || Back.Shape != A.Shape || Back.Data != A.Data)
    std::abort(); // an accepted array must round-trip
  return 0;
}
