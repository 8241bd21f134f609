/* The C API checks an input's dtype, rank and dims against the signature
 * before it reads a byte: each input here ends exactly at a PROT_NONE page,
 * so a copy sized by a wrong dtype or dim would fault. Built against the
 * header of examples/mnist_cnn.dlc (images: f32[N,1,28,28]) by guarded.sh. */
#define _DEFAULT_SOURCE
#include "cnn.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Bytes bytes that end at an inaccessible page. */
static void *guarded(size_t bytes) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t span = (bytes + page - 1) / page * page;
  char *p = mmap(NULL, span + page, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED || mprotect(p + span, page, PROT_NONE) != 0)
    return NULL;
  memset(p, 0, span);
  return p + span - bytes;
}

static int expect(dlc_model *m, dlc_tensor in, const char *what,
                  const char *want) {
  dlc_tensor out[CNN_NUM_OUTPUTS];
  char err[512] = "";
  int st = cnn_run(m, &in, 1, out, CNN_NUM_OUTPUTS, err, sizeof err);
  printf("%s: status %d: %s\n", what, st, err);
  if (st != DLC_ERR_INVALID_ARGUMENT || !strstr(err, want)) {
    printf("  expected status 1 with '%s'\n", want);
    return 0;
  }
  return 1;
}

int main(void) {
  dlc_model *m;
  char err[512];
  dlc_tensor in, out[CNN_NUM_OUTPUTS];
  int i, ok = 1;
  if (cnn_create(&m, 1, err, sizeof err) != DLC_OK) {
    fprintf(stderr, "create: %s\n", err);
    return 1;
  }
  in.dtype = DLC_F32;
  in.rank = 4;
  in.shape[0] = 1;
  in.shape[1] = 1;
  in.shape[2] = 28;
  in.shape[3] = 28;
  in.data = guarded(28 * 28 * sizeof(float));
  if (!in.data)
    return 1;
  /* The right input runs. */
  if (cnn_run(m, &in, 1, out, CNN_NUM_OUTPUTS, err, sizeof err) != DLC_OK) {
    fprintf(stderr, "run: %s\n", err);
    return 1;
  }
  for (i = 0; i < CNN_NUM_OUTPUTS; ++i)
    dlc_tensor_free(&out[i]);
  printf("right input: ok\n");
  /* Twice the bytes claimed by the dtype: f64. */
  in.dtype = DLC_F64;
  ok &= expect(m, in, "f64 for f32", "input 'images' must be f32");
  in.dtype = DLC_F32;
  /* A larger fixed dim. */
  in.shape[3] = 1000;
  ok &= expect(m, in, "dim 3 = 1000", "input 'images' dim 3 must be 28");
  in.shape[3] = 28;
  /* A larger rank (the extra dim multiplies the size). */
  in.rank = 5;
  in.shape[4] = 1000;
  ok &= expect(m, in, "rank 5", "input 'images' must have rank 4");
  in.rank = 4;
  /* Out-of-range fields and an overflowing shape. */
  in.dtype = 99;
  ok &= expect(m, in, "dtype 99", "unknown dtype 99");
  in.dtype = DLC_F32;
  in.rank = 9;
  ok &= expect(m, in, "rank 9", "rank 9 is out of range");
  in.rank = 4;
  in.shape[0] = (int64_t)1 << 62;
  ok &= expect(m, in, "2^62 images", "its shape is too large");
  in.shape[0] = -1;
  ok &= expect(m, in, "batch -1", "dim 0 is negative");
  cnn_destroy(m);
  printf(ok ? "guarded: all checks passed\n" : "guarded: FAILED\n");
  return ok ? 0 : 1;
}
