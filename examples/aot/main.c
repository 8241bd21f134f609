/* Runs a model compiled ahead of time by `dlc compile MODEL -o NAME.so`
 * (or NAME.o) through its generated C header. The test suite builds it
 * against two models (test/aot/aot.sh); build it yourself with, e.g.:
 *
 *   dlc compile examples/mnist_cnn.dlc -o cnn.so
 *   cc -std=c99 -I. -I<dlc>/include -DMODEL=cnn -DMODEL_UPPER=CNN \
 *      -DMODEL_HEADER='"cnn.h"' examples/aot/main.c cnn.so \
 *      -L<dlc>/lib -ldlc_runtime -lm -o cnn_demo
 *
 *   cnn_demo BATCH DIR        fills the model's one f32 input with
 *                             deterministic values (named dims = BATCH),
 *                             runs it, writes DIR/input.npy and
 *                             DIR/output<i>.npy, then checks that a wrong
 *                             dtype and a wrong shape are refused
 *   cnn_demo --compare A.npy B.npy TOL
 *                             exits 0 when the two arrays (f32 or i64) have
 *                             the same type and shape and agree within TOL
 */
#include MODEL_HEADER

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(suffix) CAT(MODEL, suffix)   /* FN(_run) is cnn_run */
#define DEF(suffix) CAT(MODEL_UPPER, suffix)

#if DEF(_NUM_INPUTS) != 1
#error "this example feeds models with exactly one input"
#endif

static const char *npy_descr(int32_t dtype) {
  switch (dtype) {
  case DLC_F32: return "<f4";
  case DLC_F64: return "<f8";
  case DLC_I32: return "<i4";
  case DLC_I64: return "<i8";
  case DLC_U8: return "|u1";
  case DLC_BOOL: return "|b1";
  default: return NULL;
  }
}

static size_t dtype_size(int32_t dtype) {
  switch (dtype) {
  case DLC_F64: case DLC_I64: return 8;
  case DLC_F32: case DLC_I32: return 4;
  case DLC_F16: case DLC_BF16: case DLC_I16: return 2;
  default: return 1;
  }
}

static size_t num_elements(const dlc_tensor *t) {
  size_t n = 1;
  for (int32_t d = 0; d < t->rank; ++d)
    n *= (size_t)t->shape[d];
  return n;
}

/* Writes t as a version 1.0 .npy file. */
static int write_npy(const char *path, const dlc_tensor *t) {
  const char *descr = npy_descr(t->dtype);
  char dict[256], shape[160] = "";
  size_t len;
  FILE *f;
  int32_t d;
  if (!descr)
    return 0;
  for (d = 0; d < t->rank; ++d)
    sprintf(shape + strlen(shape), "%lld,%s", (long long)t->shape[d],
            d + 1 < t->rank ? " " : "");
  if (t->rank > 1)
    shape[strlen(shape) - 1] = 0; /* (2, 3) rather than (2, 3,) */
  sprintf(dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
          descr, shape);
  len = strlen(dict);
  while ((10 + len + 1) % 64)
    dict[len++] = ' ';
  dict[len++] = '\n';
  f = fopen(path, "wb");
  if (!f)
    return 0;
  fwrite("\x93NUMPY\x01\x00", 1, 8, f);
  fputc((int)(len & 0xff), f);
  fputc((int)(len >> 8), f);
  fwrite(dict, 1, len, f);
  fwrite(t->data, dtype_size(t->dtype), num_elements(t), f);
  return fclose(f) == 0;
}

/* Reads a .npy file (versions 1 and 2): its header dict and its data. */
static int read_npy(const char *path, char *dict, size_t dict_cap,
                    unsigned char **data, size_t *bytes) {
  FILE *f = fopen(path, "rb");
  unsigned char magic[12];
  size_t len, head;
  long end;
  if (!f || fread(magic, 1, 10, f) != 10 || memcmp(magic, "\x93NUMPY", 6))
    return f ? (fclose(f), 0) : 0;
  if (magic[6] == 1) {
    len = magic[8] | (size_t)magic[9] << 8;
    head = 10;
  } else {
    if (fread(magic + 10, 1, 2, f) != 2)
      return fclose(f), 0;
    len = magic[8] | (size_t)magic[9] << 8 | (size_t)magic[10] << 16 |
          (size_t)magic[11] << 24;
    head = 12;
  }
  if (len >= dict_cap || fread(dict, 1, len, f) != len)
    return fclose(f), 0;
  dict[len] = 0;
  fseek(f, 0, SEEK_END);
  end = ftell(f);
  *bytes = (size_t)end - head - len;
  fseek(f, (long)(head + len), SEEK_SET);
  *data = malloc(*bytes + 1);
  if (!*data || fread(*data, 1, *bytes, f) != *bytes)
    return fclose(f), 0;
  fclose(f);
  return 1;
}

/* The text of key in an .npy header dict, up to the next ',' (or ')' for
 * the shape), without spaces. */
static void dict_field(const char *dict, const char *key, char *out,
                       size_t cap) {
  const char *p = strstr(dict, key);
  size_t n = 0;
  out[0] = 0;
  if (!p)
    return;
  p += strlen(key);
  for (; *p && *p != ')' && (*p != ',' || strcmp(key, "'shape': (") == 0) &&
         n + 1 < cap;
       ++p)
    if (*p != ' ')
      out[n++] = *p;
  out[n] = 0;
}

static int compare(const char *a, const char *b, double tol) {
  char da[512], db[512], ta[64], tb[64], sa[128], sb[128];
  unsigned char *xa = NULL, *xb = NULL;
  size_t na, nb, i, n;
  double worst = 0;
  if (!read_npy(a, da, sizeof da, &xa, &na) ||
      !read_npy(b, db, sizeof db, &xb, &nb)) {
    fprintf(stderr, "cannot read %s or %s\n", a, b);
    return 1;
  }
  dict_field(da, "'descr': ", ta, sizeof ta);
  dict_field(db, "'descr': ", tb, sizeof tb);
  dict_field(da, "'shape': (", sa, sizeof sa);
  dict_field(db, "'shape': (", sb, sizeof sb);
  if (strcmp(ta, tb) || strcmp(sa, sb) || na != nb) {
    fprintf(stderr, "%s is %s (%s), %s is %s (%s)\n", a, ta, sa, b, tb, sb);
    return 1;
  }
  if (strcmp(ta, "'<f4'") == 0) {
    n = na / 4;
    for (i = 0; i < n; ++i) {
      float x, y;
      memcpy(&x, xa + 4 * i, 4);
      memcpy(&y, xb + 4 * i, 4);
      if (!(fabs((double)x - y) <= tol * (1 + fabs(y)))) {
        fprintf(stderr, "element %zu: %g vs %g\n", i, x, y);
        return 1;
      }
      if (fabs((double)x - y) > worst)
        worst = fabs((double)x - y);
    }
  } else if (memcmp(xa, xb, na)) {
    fprintf(stderr, "%s and %s differ\n", a, b);
    return 1;
  }
  printf("%s: %s (%s) matches, max abs diff %g\n", b, ta, sa, worst);
  free(xa);
  free(xb);
  return 0;
}

int main(int argc, char **argv) {
  const int64_t shape[] = DEF(_INPUT0_SHAPE);
  dlc_tensor in, out[DEF(_NUM_OUTPUTS)];
  dlc_model *model;
  char err[512], path[1024];
  size_t i, n;
  float *x;
  int status, ok = 1;
  int64_t batch;
  if (argc == 5 && strcmp(argv[1], "--compare") == 0)
    return compare(argv[2], argv[3], atof(argv[4]));
  if (argc != 3) {
    fprintf(stderr, "usage: %s BATCH DIR | --compare A.npy B.npy TOL\n",
            argv[0]);
    return 2;
  }
  batch = atoll(argv[1]);
  if (DEF(_INPUT0_DTYPE) != DLC_F32) {
    fprintf(stderr, "this example feeds f32 inputs\n");
    return 2;
  }

  if (FN(_create)(&model, 0, err, sizeof err) != DLC_OK) {
    fprintf(stderr, "create: %s\n", err);
    return 1;
  }
  /* The input: named dims (-1 in the header) take the batch size. */
  in.dtype = DEF(_INPUT0_DTYPE);
  in.rank = DEF(_INPUT0_RANK);
  for (i = 0; i < (size_t)in.rank; ++i)
    in.shape[i] = shape[i] < 0 ? batch : shape[i];
  n = num_elements(&in);
  x = malloc(n * sizeof *x + 1);
  for (i = 0; i < n; ++i)
    x[i] = (float)sin(0.37 * (double)i) * 0.5f + 0.25f;
  in.data = x;

  status = FN(_run)(model, &in, 1, out, DEF(_NUM_OUTPUTS), err, sizeof err);
  if (status != DLC_OK) {
    fprintf(stderr, "run: status %d: %s\n", status, err);
    return 1;
  }
  sprintf(path, "%s/input.npy", argv[2]);
  ok &= write_npy(path, &in);
  for (i = 0; i < DEF(_NUM_OUTPUTS); ++i) {
    sprintf(path, "%s/output%zu.npy", argv[2], i);
    ok &= write_npy(path, &out[i]);
    printf("output %zu: %s, rank %d, dim 0 = %lld\n", i,
           dlc_dtype_name(out[i].dtype), out[i].rank,
           out[i].rank ? (long long)out[i].shape[0] : 0LL);
    dlc_tensor_free(&out[i]);
  }

  /* A wrong dtype and a wrong fixed dim are refused with a message. */
  in.dtype = DLC_I32;
  status = FN(_run)(model, &in, 1, out, DEF(_NUM_OUTPUTS), err, sizeof err);
  printf("wrong dtype: status %d: %s\n", status, err);
  ok &= status == DLC_ERR_INVALID_ARGUMENT;
  in.dtype = DLC_F32;
  for (i = 0; i < (size_t)in.rank && shape[i] < 0; ++i)
    ; /* the first fixed dim */
  if (i < (size_t)in.rank)
    in.shape[i] += 1;
  status = FN(_run)(model, &in, 1, out, DEF(_NUM_OUTPUTS), err, sizeof err);
  printf("wrong shape: status %d: %s\n", status, err);
  ok &= i == (size_t)in.rank || status == DLC_ERR_INVALID_ARGUMENT;
  if (status == DLC_OK) /* no fixed dim to get wrong: the run succeeded */
    for (i = 0; i < DEF(_NUM_OUTPUTS); ++i)
      dlc_tensor_free(&out[i]);
  status = FN(_run)(model, &in, 0, out, DEF(_NUM_OUTPUTS), err, sizeof err);
  printf("no inputs: status %d: %s\n", status, err);
  ok &= status == DLC_ERR_INVALID_ARGUMENT;

  free(x);
  FN(_destroy)(model);
  return ok ? 0 : 1;
}
