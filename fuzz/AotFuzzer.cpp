// Fuzz target: the AOT artifact loader (dlc_model_create). The input is the
// image's IR text after a first byte that picks the kernel count; the image
// holds two zero-filled blobs, "w" (16 bytes) and "b" (3 bytes), that the
// text may name with any type (the loader must check the sizes). Kernels
// are never run.
#include "exec/dlc_runtime.h"

#include <string>
#include <vector>

static void unused(const void *, int64_t, int64_t) {}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  if (Size < 2)
    return 0;
  unsigned NKernels = Data[0] % 16;
  std::string IR(reinterpret_cast<const char *>(Data + 1), Size - 1);
  // Blobs "w" (16 bytes) and "b" (3 bytes): names the text may refer to.
  static const uint8_t Bytes[16] = {};
  dlc_aot_blob Blobs[2] = {{"w", Bytes, 16}, {"b", Bytes, 3}};
  std::vector<dlc_kernel_fn> Kernels(NKernels, unused);
  std::vector<uint8_t> Parallel(NKernels, 0);
  dlc_aot_image Img{};
  Img.abi_version = DLC_AOT_ABI_VERSION;
  Img.ir = IR.c_str();
  Img.ir_len = IR.size();
  Img.blobs = Blobs;
  Img.n_blobs = 2;
  Img.kernels = Kernels.data();
  Img.parallel = Parallel.data();
  Img.n_kernels = NKernels;
  Img.default_threads = 1;
  dlc_model *M = nullptr;
  char Err[256];
  if (dlc_model_create(&Img, 1, &M, Err, sizeof Err) == DLC_OK)
    dlc_model_destroy(M);
  return 0;
}
