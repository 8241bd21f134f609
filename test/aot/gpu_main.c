/* Drives a GPU artifact of `dlc compile --target nvptx -o NAME.so` through
 * its generated header, for test/aot/gpu.sh. Built with -DMODEL=name
 * -DMODEL_UPPER=NAME -DMODEL_HEADER='"name.h"', and -DFAKE_CUDA when linked
 * with the test suite's fake CUDA driver (libdlc_fake_cuda.so, which then
 * runs each kernel through the emulation this program registers).
 *
 *   gpu_main ptx DIR            writes each embedded PTX program to
 *                               DIR/<precision>.ptx and lists its kernels
 *   gpu_main run DEVICE PREC BATCH DIR
 *                               DEVICE cuda|cuda-emu|cpu, PREC default|
 *                               fp32|tf32: creates with NAME_create_with
 *                               (cuda default: NAME_create), runs on
 *                               deterministic input (named dims = BATCH),
 *                               writes DIR/input.npy and DIR/output<i>.npy,
 *                               runs twice more and says whether the
 *                               outputs are the same
 *   gpu_main create             NAME_create; prints its status and message
 */
#include MODEL_HEADER

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(suffix) CAT(MODEL, suffix)
#define DEF(suffix) CAT(MODEL_UPPER, suffix)

#ifdef FAKE_CUDA
void dlcFakeCudaRegisterKernel(const char *name, unsigned n_args,
                               dlc_gpu_emulate_fn fn);
size_t dlcFakeCudaLaunchCount(void);
uint64_t dlcFakeCudaCalls(const char *fn);
#endif

static const char *prec_name(int32_t p) {
  return p == DLC_PRECISION_TF32 ? "tf32" : p == DLC_PRECISION_FP32 ? "fp32"
                                                                    : "?";
}

/* Writes t (f32 or i64) as a version 1.0 .npy file. */
static int write_npy(const char *path, const dlc_tensor *t) {
  char dict[256], shape[160] = "";
  size_t len, n = 1, size = t->dtype == DLC_I64 ? 8 : 4;
  int32_t d;
  FILE *f;
  if (t->dtype != DLC_F32 && t->dtype != DLC_I64)
    return 0;
  for (d = 0; d < t->rank; ++d) {
    sprintf(shape + strlen(shape), "%lld,%s", (long long)t->shape[d],
            d + 1 < t->rank ? " " : "");
    n *= (size_t)t->shape[d];
  }
  if (t->rank > 1)
    shape[strlen(shape) - 1] = 0;
  sprintf(dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
          t->dtype == DLC_I64 ? "<i8" : "<f4", shape);
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
  fwrite(t->data, size, n, f);
  return fclose(f) == 0;
}

static int write_ptx(const char *dir) {
  uint32_t i;
  uint64_t k;
  char path[1024];
  for (i = 0; i < FN(_gpu_image).n_programs; ++i) {
    const dlc_aot_gpu_program *p = &FN(_gpu_image).programs[i];
    FILE *f;
    sprintf(path, "%s/%s.ptx", dir, prec_name(p->precision));
    f = fopen(path, "wb");
    if (!f || fwrite(p->ptx, 1, p->ptx_len, f) != p->ptx_len || fclose(f))
      return 1;
    printf("program %u: %s, sm_%u, %llu kernels, %llu bytes of PTX\n", i,
           prec_name(p->precision), p->sm, (unsigned long long)p->n_kernels,
           (unsigned long long)p->ptx_len);
    for (k = 0; k < p->n_kernels; ++k)
      printf("  %s (%u buffers)\n", p->kernels[k].name, p->kernels[k].n_args);
  }
  return 0;
}

static int run(const char *device, const char *prec, long long batch,
               const char *dir) {
  const int64_t shape[] = DEF(_INPUT0_SHAPE);
  dlc_model_options o;
  dlc_model *model;
  dlc_tensor in, out[DEF(_NUM_OUTPUTS)];
  char err[512], path[1024];
  size_t i, n = 1;
  float *x;
  int status, r;
  dlc_model_options_init(&o);
  o.device = strcmp(device, "cuda") == 0       ? DLC_DEVICE_CUDA
             : strcmp(device, "cuda-emu") == 0 ? DLC_DEVICE_CUDA_EMU
                                               : DLC_DEVICE_CPU;
  o.precision = strcmp(prec, "fp32") == 0   ? DLC_PRECISION_FP32
                : strcmp(prec, "tf32") == 0 ? DLC_PRECISION_TF32
                                            : DLC_PRECISION_DEFAULT;
#ifdef FAKE_CUDA
  {
    uint32_t p;
    uint64_t k;
    for (p = 0; p < FN(_gpu_image).n_programs; ++p)
      for (k = 0; k < FN(_gpu_image).programs[p].n_kernels; ++k) {
        const dlc_aot_gpu_kernel *K = &FN(_gpu_image).programs[p].kernels[k];
        dlcFakeCudaRegisterKernel(K->name, K->n_args, K->emulate);
      }
  }
#endif
  status = o.device == DLC_DEVICE_CUDA && o.precision == DLC_PRECISION_DEFAULT
               ? FN(_create)(&model, 0, err, sizeof err)
               : FN(_create_with)(&o, &model, err, sizeof err);
  if (status != DLC_OK) {
    printf("create: status %d: %s\n", status, err);
    return 1;
  }
  in.dtype = DEF(_INPUT0_DTYPE);
  in.rank = DEF(_INPUT0_RANK);
  for (i = 0; i < (size_t)in.rank; ++i) {
    in.shape[i] = shape[i] < 0 ? batch : shape[i];
    n *= (size_t)in.shape[i];
  }
  x = malloc(n * sizeof *x + 1);
  for (i = 0; i < n; ++i)
    x[i] = (float)sin(0.37 * (double)i) * 0.5f + 0.25f;
  in.data = x;
  status = FN(_run)(model, &in, 1, out, DEF(_NUM_OUTPUTS), err, sizeof err);
  if (status != DLC_OK) {
    printf("run: status %d: %s\n", status, err);
    return 1;
  }
  sprintf(path, "%s/input.npy", dir);
  status = !write_npy(path, &in);
  for (i = 0; i < DEF(_NUM_OUTPUTS); ++i) {
    sprintf(path, "%s/output%zu.npy", dir, i);
    status |= !write_npy(path, &out[i]);
  }
  /* Two more runs of the same input: on a CUDA device the second records
   * the launches as CUDA graphs and replays them, the third replays; the
   * outputs must be the first run's, bit for bit. */
  for (r = 0; r < 2 && status == DLC_OK; ++r) {
    dlc_tensor again[DEF(_NUM_OUTPUTS)];
    int same = 1;
    status = FN(_run)(model, &in, 1, again, DEF(_NUM_OUTPUTS), err, sizeof err);
    if (status != DLC_OK) {
      printf("run %d: status %d: %s\n", r + 2, status, err);
      break;
    }
    for (i = 0; i < DEF(_NUM_OUTPUTS); ++i) {
      size_t bytes = again[i].dtype == DLC_I64 ? 8 : 4, m = 1;
      int d;
      for (d = 0; d < again[i].rank; ++d)
        m *= (size_t)again[i].shape[d];
      same &= memcmp(again[i].data, out[i].data, m * bytes) == 0;
      dlc_tensor_free(&again[i]);
    }
    printf("run %d: %s outputs\n", r + 2, same ? "the same" : "DIFFERENT");
  }
  for (i = 0; i < DEF(_NUM_OUTPUTS); ++i)
    dlc_tensor_free(&out[i]);
  /* A wrong dtype is refused before anything reaches the device. */
  in.dtype = DLC_I32;
  printf("wrong dtype: status %d\n",
         FN(_run)(model, &in, 1, out, DEF(_NUM_OUTPUTS), err, sizeof err));
#ifdef FAKE_CUDA
  printf("launches: %zu\n", dlcFakeCudaLaunchCount());
  printf("graph launches: %llu\n",
         (unsigned long long)dlcFakeCudaCalls("cuGraphLaunch"));
#endif
  free(x);
  FN(_destroy)(model);
  return status;
}

int main(int argc, char **argv) {
  dlc_model *model;
  char err[512];
  int status;
  if (argc == 3 && strcmp(argv[1], "ptx") == 0)
    return write_ptx(argv[2]);
  if (argc == 6 && strcmp(argv[1], "run") == 0)
    return run(argv[2], argv[3], atoll(argv[4]), argv[5]);
  if (argc == 2 && strcmp(argv[1], "create") == 0) {
    status = FN(_create)(&model, 0, err, sizeof err);
    printf("create: status %d: %s\n", status, status ? err : "ok");
    if (status == DLC_OK)
      FN(_destroy)(model);
    return 0;
  }
  fprintf(stderr, "usage: %s ptx DIR | run DEVICE PREC BATCH DIR | create\n",
          argv[0]);
  return 2;
}
