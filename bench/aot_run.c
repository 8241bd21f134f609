/* Runs an AOT-compiled model on zero inputs: MODEL_create, then MODEL_run
 * RUNS times with every named dim of input 0 set to BATCH, then
 * MODEL_destroy. Used by bench/peak_memory.py to measure the peak resident
 * memory of a process that holds only the model and dlc's runtime (no
 * compiler, no interpreter). The model must have one float input.
 * Usage: aot_run BATCH RUNS THREADS */
#include MODEL_HEADER

#include <stdio.h>
#include <stdlib.h>

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(suffix) CAT(MODEL, suffix)
#define MACRO(suffix) CAT(MODEL_MACRO, suffix)

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s BATCH RUNS THREADS\n", argv[0]);
    return 2;
  }
  long batch = atol(argv[1]), runs = atol(argv[2]);
  int threads = atoi(argv[3]);
  if (MACRO(_NUM_INPUTS) != 1 || MACRO(_INPUT0_DTYPE) != DLC_F32) {
    fprintf(stderr, "aot_run handles models with one f32 input\n");
    return 2;
  }
  int64_t shape[] = MACRO(_INPUT0_SHAPE);
  dlc_tensor in = {DLC_F32, MACRO(_INPUT0_RANK), {0}, NULL};
  size_t count = 1;
  for (int d = 0; d < in.rank; ++d) {
    in.shape[d] = shape[d] < 0 ? batch : shape[d];
    count *= (size_t)in.shape[d];
  }
  in.data = calloc(count, sizeof(float));
  char err[512];
  dlc_model *m = NULL;
  if (!in.data || FN(_create)(&m, threads, err, sizeof err) != DLC_OK) {
    fprintf(stderr, "create failed: %s\n", in.data ? err : "out of memory");
    return 1;
  }
  for (long r = 0; r < runs; ++r) {
    dlc_tensor out[MACRO(_NUM_OUTPUTS)];
    if (FN(_run)(m, &in, 1, out, MACRO(_NUM_OUTPUTS), err, sizeof err) !=
        DLC_OK) {
      fprintf(stderr, "run failed: %s\n", err);
      return 1;
    }
    for (int o = 0; o < MACRO(_NUM_OUTPUTS); ++o)
      dlc_tensor_free(&out[o]);
  }
  FN(_destroy)(m);
  free(in.data);
  return 0;
}
