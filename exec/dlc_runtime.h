/* dlc_runtime.h: the C API of libdlc_runtime, which runs models compiled
 * ahead of time by `dlc compile MODEL -o NAME.so` (or NAME.o). Each compiled
 * model comes with a generated NAME.h that includes this header and declares
 * NAME_create, NAME_run and NAME_destroy.
 *
 * Tensors are dense, row-major (C order). Every function that can fail
 * returns DLC_OK (0) or an error status, and then writes a NUL-terminated
 * message into err[0..err_len) (truncated; err may be NULL when err_len is
 * 0). No function prints, aborts or throws. */
#ifndef DLC_RUNTIME_H
#define DLC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define DLC_API __attribute__((visibility("default")))
#else
#define DLC_API
#endif

/* Element types (the order of dlc's DType). */
typedef enum dlc_dtype {
  DLC_F32 = 0,
  DLC_F64 = 1,
  DLC_F16 = 2,
  DLC_BF16 = 3,
  DLC_I8 = 4,
  DLC_I16 = 5,
  DLC_I32 = 6,
  DLC_I64 = 7,
  DLC_U8 = 8,
  DLC_U16 = 9,
  DLC_U32 = 10,
  DLC_U64 = 11,
  DLC_BOOL = 12, /* one byte, 0 or 1 */
  /* Low-precision types, one byte per element (never packed): a float's
     bit code in the low bits; a 4- or 2-bit integer's value, of which only
     the low 4 or 2 bits are read and which outputs hold sign- or
     zero-extended. */
  DLC_F8E4M3FN = 13,
  DLC_F8E4M3FNUZ = 14,
  DLC_F8E5M2 = 15,
  DLC_F8E5M2FNUZ = 16,
  DLC_F8E8M0 = 17,
  DLC_F4E2M1 = 18,
  DLC_I4 = 19,
  DLC_U4 = 20,
  DLC_I2 = 21,
  DLC_U2 = 22,
  /* Strings (UTF-8, NUL-terminated). An input's data is an array of
     shape[0] * ... * shape[rank-1] `const char *`, none NULL; an output's
     data is one allocation holding that many `char *` followed by the
     strings they point at (dlc_tensor_free frees it all). */
  DLC_STR = 23
} dlc_dtype;

/* Status codes. */
enum {
  DLC_OK = 0,
  DLC_ERR_INVALID_ARGUMENT = 1, /* bad inputs: count, dtype, rank, shape */
  DLC_ERR_RUNTIME = 2,          /* the model failed on these inputs */
  DLC_ERR_OUT_OF_MEMORY = 3,
  DLC_ERR_BAD_IMAGE = 4,        /* the compiled model does not load */
  DLC_ERR_DEVICE = 5            /* the device is missing or cannot run it */
};

/* Where a model runs. */
typedef enum dlc_device {
  DLC_DEVICE_CPU = 0,
  DLC_DEVICE_CUDA = 1, /* an NVIDIA GPU: needs only the driver, at run time */
  /* The GPU kernels of a model compiled with `dlc compile --target nvptx`
     run on the CPU through their emulation (every block and thread of the
     grid, in turn): slow, for checking an artifact without a GPU. */
  DLC_DEVICE_CUDA_EMU = 2
} dlc_device;

/* How a GPU model multiplies f32 matrices (`dlc compile --precision`). */
typedef enum dlc_precision {
  DLC_PRECISION_DEFAULT = 0, /* the one the model was compiled with */
  DLC_PRECISION_FP32 = 1,    /* fp32 FMAs: the CPU's numerics */
  /* tensor cores with inputs rounded to tf32 (10-bit mantissas, about 1e-3
     relative), f32 accumulation; needs sm_80 or newer */
  DLC_PRECISION_TF32 = 2,
  /* tensor cores with inputs rounded to bf16 (7-bit mantissas, about 1e-2
     relative), f32 accumulation; needs sm_80 or newer */
  DLC_PRECISION_BF16 = 3
} dlc_precision;

#define DLC_MAX_RANK 8

/* A tensor. Inputs: the caller fills every field; data points at
 * shape[0] * ... * shape[rank-1] elements of dtype (the library only reads
 * them). Outputs: the library fills every field and allocates data; free it
 * with dlc_tensor_free. */
typedef struct dlc_tensor {
  int32_t dtype; /* a dlc_dtype */
  int32_t rank;  /* 0 .. DLC_MAX_RANK */
  int64_t shape[DLC_MAX_RANK];
  void *data;
} dlc_tensor;

/* A loaded model: its graph, kernels, thread pool and cached memory plans.
 * One model may run on several threads at once. */
typedef struct dlc_model dlc_model;

/* Frees an output's data (allocated by a run) and sets data to NULL. */
DLC_API void dlc_tensor_free(dlc_tensor *t);

/* The name of a dtype ("f32", "i64", ...), or "?" */
DLC_API const char *dlc_dtype_name(int32_t dtype);

/* --- Used by the code that `dlc compile` generates ----------------------- */

/* 2: weights as raw bytes in blobs (1 had them inline in the IR text). */
#define DLC_AOT_ABI_VERSION 2

typedef void (*dlc_kernel_fn)(const void *args, int64_t chunk, int64_t chunks);

/* One tensor's data in an AOT artifact: the IR text refers to it as
 * resource<TYPE>"name", and data holds its elements as raw little-endian
 * bytes (one byte per element for bool and the low-precision types). */
typedef struct dlc_aot_blob {
  const char *name; /* NUL-terminated */
  const void *data;
  uint64_t size; /* bytes */
} dlc_aot_blob;

/* What an AOT artifact hands the runtime: the optimized graph (dlc IR text,
 * one function), the tensors it refers to, and its kernels in kernel-number
 * order. abi_version stays the first field in every version, so a runtime
 * can refuse an image made for another one. */
typedef struct dlc_aot_image {
  uint32_t abi_version;     /* DLC_AOT_ABI_VERSION */
  uint32_t default_threads; /* 0: every hardware thread */
  const char *ir;
  uint64_t ir_len;
  const dlc_kernel_fn *kernels;
  const uint8_t *parallel; /* per kernel: 1 if it has a parallel loop */
  uint64_t n_kernels;
  const dlc_aot_blob *blobs;
  uint64_t n_blobs;
} dlc_aot_image;

/* threads: 0 uses the image's default; *model is NULL on failure. */
DLC_API int dlc_model_create(const dlc_aot_image *image, int threads, dlc_model **model,
                     char *err, size_t err_len);
/* Checks the inputs (count, dtype, rank, static dims, one size per symbolic
 * dim), runs, and fills outputs[0..n_outputs) (every output of the model).
 * On failure no output is left allocated. */
DLC_API int dlc_model_run(dlc_model *model, const dlc_tensor *inputs, size_t n_inputs,
                  dlc_tensor *outputs, size_t n_outputs, char *err,
                  size_t err_len);
DLC_API void dlc_model_destroy(dlc_model *model);
/* dlc_model_create on a device (a dlc_device). DLC_DEVICE_CUDA loads the
 * NVIDIA driver (libcuda.so.1, or the file $DLC_CUDA_DRIVER names) and
 * needs an image with GPU kernels; without either it fails with
 * DLC_ERR_DEVICE and a message saying what is missing. */
DLC_API int dlc_model_create_on(const dlc_aot_image *image, int device,
                                int threads, dlc_model **model, char *err,
                                size_t err_len);

/* --- Device and precision (added later; nothing above changed) -------- */

/* How dlc_model_create_with loads a model. Fill it with
 * dlc_model_options_init and then set what you need: struct_size tells the
 * runtime which fields the caller knows, so fields can be added at the end
 * without breaking compiled programs. */
typedef struct dlc_model_options {
  uint32_t struct_size; /* sizeof(dlc_model_options) */
  int32_t device;       /* a dlc_device; DLC_DEVICE_CPU by default */
  int32_t threads;      /* CPU threads; 0: the image's default */
  int32_t precision;    /* a dlc_precision; DLC_PRECISION_DEFAULT */
} dlc_model_options;

DLC_API void dlc_model_options_init(dlc_model_options *options);

/* The GPU half of an artifact of `dlc compile --target nvptx`. */
#define DLC_AOT_GPU_ABI_VERSION 1

/* Host functions of a GPU kernel (exec/GpuAbi.h): its launch geometry from
 * the buffers' sizes, and the CPU emulation of one block. */
typedef void (*dlc_gpu_launch_fn)(const void *args, void *launch);
typedef void (*dlc_gpu_emulate_fn)(const void *args, const void *launch,
                                   uint32_t bx, uint32_t by, uint32_t bz);

typedef struct dlc_aot_gpu_kernel {
  const char *name; /* its PTX .entry */
  uint32_t n_args;  /* buffers in its parameter block */
  uint32_t reserved;
  dlc_gpu_launch_fn launch;
  dlc_gpu_emulate_fn emulate;
} dlc_aot_gpu_kernel;

/* The model's kernels at one precision: one PTX module (NUL-terminated)
 * and the kernels in kernel-number order. */
typedef struct dlc_aot_gpu_program {
  int32_t precision; /* DLC_PRECISION_FP32, _TF32 or _BF16 */
  uint32_t sm;       /* the PTX's target: 80 for sm_80 */
  const char *ptx;
  uint64_t ptx_len;
  const dlc_aot_gpu_kernel *kernels;
  uint64_t n_kernels;
} dlc_aot_gpu_program;

typedef struct dlc_aot_gpu_image {
  uint32_t abi_version; /* DLC_AOT_GPU_ABI_VERSION */
  uint32_t n_programs;
  const dlc_aot_gpu_program *programs; /* the first: the default precision */
} dlc_aot_gpu_image;

/* Loads image on options->device (options NULL: every default). gpu holds
 * the image's GPU kernels (NULL for a CPU artifact); on DLC_DEVICE_CUDA the
 * NVIDIA driver is loaded (libcuda.so.1, or the file $DLC_CUDA_DRIVER
 * names) and the PTX is compiled by it here. Fails with
 * DLC_ERR_DEVICE and a message when the driver, a GPU, or the image's GPU
 * kernels are missing, or the GPU is older than the PTX's target; with
 * DLC_ERR_INVALID_ARGUMENT for an unknown device or precision, or a
 * precision the image has no kernels for (tf32 on the CPU among them). */
DLC_API int dlc_model_create_with(const dlc_aot_image *image,
                                  const dlc_aot_gpu_image *gpu,
                                  const dlc_model_options *options,
                                  dlc_model **model, char *err,
                                  size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
