/* Test driver for bitexact.sh: runs the compiled model `special` (one f32[1]
 * input, every output a constant) and writes each output's raw bytes to
 * DIR/<i>.bin and its dtype name to DIR/<i>.dtype; then checks that the
 * runtime refuses an image of an older ABI with a message saying so.
 * Usage: bitexact DIR */
#include "special.h"

#include <stdio.h>
#include <string.h>

static size_t elem_size(int32_t dtype) {
  switch (dtype) {
  case DLC_F64: case DLC_I64: case DLC_U64: return 8;
  case DLC_F32: case DLC_I32: case DLC_U32: return 4;
  case DLC_F16: case DLC_BF16: case DLC_I16: case DLC_U16: return 2;
  default: return 1; /* i8, u8, bool and the low-precision types */
  }
}

static int check_old_abi(void) {
  dlc_aot_image old;
  dlc_model *m = NULL;
  char err[256] = "";
  int st;
  memset(&old, 0, sizeof old);
  old.abi_version = 1;
  st = dlc_model_create(&old, 1, &m, err, sizeof err);
  printf("old ABI: status %d: %s\n", st, err);
  return st == DLC_ERR_BAD_IMAGE && m == NULL &&
         strstr(err, "ABI 1, this runtime has 2") != NULL;
}

int main(int argc, char **argv) {
  dlc_model *m = NULL;
  char err[512];
  float x = 1.0f;
  dlc_tensor in, out[SPECIAL_NUM_OUTPUTS];
  int i, st;
  if (argc != 2)
    return 2;
  if ((st = special_create(&m, 1, err, sizeof err)) != DLC_OK) {
    fprintf(stderr, "create: status %d: %s\n", st, err);
    return 1;
  }
  memset(&in, 0, sizeof in);
  in.dtype = DLC_F32;
  in.rank = 1;
  in.shape[0] = 1;
  in.data = &x;
  if ((st = special_run(m, &in, 1, out, SPECIAL_NUM_OUTPUTS, err,
                        sizeof err)) != DLC_OK) {
    fprintf(stderr, "run: status %d: %s\n", st, err);
    return 1;
  }
  for (i = 0; i < SPECIAL_NUM_OUTPUTS; ++i) {
    char path[4096];
    FILE *f;
    size_t n = 1;
    int d;
    for (d = 0; d < out[i].rank; ++d)
      n *= (size_t)out[i].shape[d];
    snprintf(path, sizeof path, "%s/%d.bin", argv[1], i);
    if (!(f = fopen(path, "wb")))
      return 1;
    if (n && fwrite(out[i].data, elem_size(out[i].dtype), n, f) != n)
      return 1;
    fclose(f);
    snprintf(path, sizeof path, "%s/%d.dtype", argv[1], i);
    if (!(f = fopen(path, "w")))
      return 1;
    fprintf(f, "%s\n", dlc_dtype_name(out[i].dtype));
    fclose(f);
    dlc_tensor_free(&out[i]);
  }
  special_destroy(m);
  return check_old_abi() ? 0 : 1;
}
