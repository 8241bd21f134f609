/* Times loading an AOT-compiled model: MODEL_create (the runtime reads the
 * embedded graph and weights and plans its steps) then MODEL_destroy, RUNS
 * times; prints the fastest and the median in milliseconds. Built and run by
 * bench/aot_artifact.sh. */
#define _POSIX_C_SOURCE 199309L
#include MODEL_HEADER

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(suffix) CAT(MODEL, suffix)

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 5;
  double ms[64];
  if (runs < 1 || runs > 64)
    runs = 5;
  for (int i = 0; i < runs; ++i) {
    char err[512];
    dlc_model *m = NULL;
    double t0 = now_ms();
    int st = FN(_create)(&m, 1, err, sizeof err);
    ms[i] = now_ms() - t0;
    if (st != DLC_OK) {
      fprintf(stderr, "create failed: status %d: %s\n", st, err);
      return 1;
    }
    FN(_destroy)(m);
  }
  qsort(ms, runs, sizeof ms[0], cmp);
  printf("create: min %.1f ms, median %.1f ms over %d runs\n", ms[0],
         ms[runs / 2], runs);
  return 0;
}
