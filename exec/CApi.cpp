// The C API of libdlc_runtime (dlc_runtime.h): loads an AOT image (parses
// its graph, copies its tensors from their raw bytes, rebuilds the steps,
// takes its kernel table, or hands its GPU kernels to the GPU executor:
// CApiGpu.cpp) and runs it on C tensors, with every error turned into a
// status and a message.
#include "ir/LowPrecision.h"
#include "exec/CApiModel.h"

#include "runtime/SizeMath.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"
#include "runtime/CudaDriver.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

using namespace dlc;
using capi::fail;

static_assert(int(DType::F32) == DLC_F32 && int(DType::F64) == DLC_F64 &&
                  int(DType::F16) == DLC_F16 && int(DType::BF16) == DLC_BF16 &&
                  int(DType::I8) == DLC_I8 && int(DType::I16) == DLC_I16 &&
                  int(DType::I32) == DLC_I32 && int(DType::I64) == DLC_I64 &&
                  int(DType::U8) == DLC_U8 && int(DType::U16) == DLC_U16 &&
                  int(DType::U32) == DLC_U32 && int(DType::U64) == DLC_U64 &&
                  int(DType::Bool) == DLC_BOOL &&
                  int(DType::F8E4M3FN) == DLC_F8E4M3FN &&
                  int(DType::F8E4M3FNUZ) == DLC_F8E4M3FNUZ &&
                  int(DType::F8E5M2) == DLC_F8E5M2 &&
                  int(DType::F8E5M2FNUZ) == DLC_F8E5M2FNUZ &&
                  int(DType::F8E8M0) == DLC_F8E8M0 &&
                  int(DType::F4E2M1) == DLC_F4E2M1 && int(DType::I4) == DLC_I4 &&
                  int(DType::U4) == DLC_U4 && int(DType::I2) == DLC_I2 &&
                  int(DType::U2) == DLC_U2 && int(DType::Str) == DLC_STR && NumDTypes == 24,
              "dlc_dtype and DType disagree");

/// Writes Msg into Err (truncated, NUL-terminated) and returns Status.
int dlc::capi::fail(int Status, llvm::StringRef Msg, char *Err, size_t ErrLen) {
  if (Err && ErrLen) {
    Msg.consume_front("error: ");
    size_t N = std::min(Msg.size(), ErrLen - 1);
    std::memcpy(Err, Msg.data(), N);
    Err[N] = 0;
  }
  return Status;
}

int dlc::capi::fail(int Status, llvm::Error E, char *Err, size_t ErrLen) {
  return fail(Status, llvm::toString(std::move(E)), Err, ErrLen);
}

extern "C" void dlc_tensor_free(dlc_tensor *T) {
  if (T) {
    std::free(T->data);
    T->data = nullptr;
  }
}

extern "C" const char *dlc_dtype_name(int32_t D) {
  static const char *const Names[] = {
#define X(Id, Name, Size, Class) Name,
      DLC_DTYPES(X)
#undef X
  };
  return D >= 0 && D < int32_t(NumDTypes) ? Names[D] : "?";
}

int dlc::capi::loadGraph(const dlc_aot_image *Img, dlc_model &Model,
                         std::vector<LoweredStep> &Steps, char *Err,
                         size_t ErrLen, bool Gpu) {
  if (!Img || Img->abi_version != DLC_AOT_ABI_VERSION)
    return fail(DLC_ERR_BAD_IMAGE,
                "the compiled model was made for another runtime version "
                "(ABI " + std::to_string(Img ? Img->abi_version : 0) +
                    ", this runtime has " +
                    std::to_string(DLC_AOT_ABI_VERSION) +
                    "): compile it again with the dlc of this runtime",
                Err, ErrLen);
  llvm::StringMap<llvm::StringRef> Blobs;
  for (uint64_t I = 0; I < Img->n_blobs; ++I) {
    const dlc_aot_blob &B = Img->blobs[I];
    if (!B.name || (B.size && !B.data))
      return fail(DLC_ERR_BAD_IMAGE,
                  "tensor " + std::to_string(I) +
                      " of the compiled model has no name or no data",
                  Err, ErrLen);
    if (!Blobs.try_emplace(B.name, static_cast<const char *>(B.data), B.size)
             .second)
      return fail(DLC_ERR_BAD_IMAGE,
                  "the compiled model has two tensors named '" +
                      std::string(B.name) + "'",
                  Err, ErrLen);
  }
  auto M = parseModuleWithBlobs(llvm::StringRef(Img->ir, Img->ir_len),
                                "<aot model>", Blobs);
  if (!M)
    return fail(DLC_ERR_BAD_IMAGE, M.takeError(), Err, ErrLen);
  if ((*M)->Functions.size() != 1)
    return fail(DLC_ERR_BAD_IMAGE, "the compiled model holds no function",
                Err, ErrLen);
  auto S = planSteps(*(*M)->Functions.front(), Gpu);
  if (!S)
    return fail(DLC_ERR_BAD_IMAGE, S.takeError(), Err, ErrLen);
  Model.M = std::move(*M);
  Steps = std::move(*S);
  return DLC_OK;
}

/// Loads Img's CPU kernels into Model.
static int createCpuModel(const dlc_aot_image *Img, bool HasGpu, int Threads,
                          dlc_model &Model, char *Err, size_t ErrLen) {
  if (Threads < 0)
    return fail(DLC_ERR_INVALID_ARGUMENT,
                "threads must be 0 (the default) or more, got " +
                    std::to_string(Threads),
                Err, ErrLen);
  std::vector<LoweredStep> Steps;
  if (int S = capi::loadGraph(Img, Model, Steps, Err, ErrLen))
    return S;
  std::vector<KernelEntry> Table;
  for (uint64_t I = 0; I < Img->n_kernels; ++I)
    Table.push_back({reinterpret_cast<KernelFn>(Img->kernels[I]),
                     Img->parallel[I] != 0});
  size_t Used = 0;
  for (const LoweredStep &S : Steps)
    Used += S.K == LoweredStep::Kind::Kernel;
  if (Used && Table.empty() && HasGpu)
    return fail(DLC_ERR_DEVICE,
                "this model was compiled for the GPU (dlc compile --target "
                "nvptx) and has no CPU kernels: use DLC_DEVICE_CUDA (or "
                "DLC_DEVICE_CUDA_EMU), or compile it for the CPU",
                Err, ErrLen);
  if (Used != Table.size())
    return fail(DLC_ERR_BAD_IMAGE,
                "the graph needs " + std::to_string(Used) +
                    " kernels but the compiled model has " +
                    std::to_string(Table.size()),
                Err, ErrLen);
  const Function &F = *Model.M->Functions.front();
  // Host steps (strings, data-sized results) run the reference
  // interpreter's kernels, which this library holds for planning anyway.
  auto X = Executable::create(F, std::move(Steps), std::move(Table),
                              Threads ? Threads : Img->default_threads,
                              &evaluateOp);
  if (!X)
    return fail(DLC_ERR_BAD_IMAGE, X.takeError(), Err, ErrLen);
  Model.X = std::move(*X);
  return DLC_OK;
}

/// Checks Opts, then loads the model on its device.
static int createModel(const dlc_aot_image *Img, const dlc_aot_gpu_image *Gpu,
                       const dlc_model_options &Opts, dlc_model **Out,
                       char *Err, size_t ErrLen) {
  if (!Out)
    return fail(DLC_ERR_INVALID_ARGUMENT, "model pointer is NULL", Err, ErrLen);
  *Out = nullptr;
  if (Opts.precision < DLC_PRECISION_DEFAULT ||
      Opts.precision > DLC_PRECISION_BF16)
    return fail(DLC_ERR_INVALID_ARGUMENT,
                "unknown precision " + std::to_string(Opts.precision) +
                    " (DLC_PRECISION_DEFAULT is 0, DLC_PRECISION_FP32 1, "
                    "DLC_PRECISION_TF32 2, DLC_PRECISION_BF16 3)",
                Err, ErrLen);
  if (Opts.device != DLC_DEVICE_CPU && Opts.device != DLC_DEVICE_CUDA &&
      Opts.device != DLC_DEVICE_CUDA_EMU)
    return fail(DLC_ERR_INVALID_ARGUMENT,
                "unknown device " + std::to_string(Opts.device) +
                    " (DLC_DEVICE_CPU is 0, DLC_DEVICE_CUDA 1, "
                    "DLC_DEVICE_CUDA_EMU 2)",
                Err, ErrLen);
  if (Opts.device == DLC_DEVICE_CPU && Opts.precision > DLC_PRECISION_FP32)
    return fail(DLC_ERR_INVALID_ARGUMENT,
                std::string("precision ") +
                    (Opts.precision == DLC_PRECISION_BF16 ? "bf16" : "tf32") +
                    " is for GPU tensor cores: use DLC_DEVICE_CUDA "
                    "(or DLC_DEVICE_CUDA_EMU), or DLC_PRECISION_FP32 on the "
                    "CPU",
                Err, ErrLen);
  auto *Model = new (std::nothrow) dlc_model;
  if (!Model)
    return fail(DLC_ERR_OUT_OF_MEMORY, "out of memory", Err, ErrLen);
  int S = Opts.device == DLC_DEVICE_CPU
              ? createCpuModel(Img, Gpu != nullptr, Opts.threads, *Model, Err,
                               ErrLen)
              : capi::createGpuModel(Img, Gpu, Opts, *Model, Err, ErrLen);
  if (S != DLC_OK) {
    delete Model;
    return S;
  }
  *Out = Model;
  return DLC_OK;
}

extern "C" void dlc_model_destroy(dlc_model *Model) { delete Model; }

extern "C" void dlc_model_options_init(dlc_model_options *O) {
  if (!O)
    return;
  std::memset(O, 0, sizeof *O);
  O->struct_size = sizeof *O;
  O->device = DLC_DEVICE_CPU;
  O->precision = DLC_PRECISION_DEFAULT;
}

/// The caller's options: the fields its struct_size covers, the defaults
/// for the rest.
static dlc_model_options readOptions(const dlc_model_options *O) {
  dlc_model_options R;
  dlc_model_options_init(&R);
  if (O && O->struct_size > sizeof(uint32_t))
    std::memcpy(reinterpret_cast<char *>(&R) + sizeof(uint32_t),
                reinterpret_cast<const char *>(O) + sizeof(uint32_t),
                std::min<size_t>(O->struct_size, sizeof R) - sizeof(uint32_t));
  R.struct_size = sizeof R;
  return R;
}

// No C++ exception crosses the C API: running out of memory (the arena of
// a large batch, for instance) becomes a status.
extern "C" int dlc_model_create_with(const dlc_aot_image *Img,
                                     const dlc_aot_gpu_image *Gpu,
                                     const dlc_model_options *Options,
                                     dlc_model **Out, char *Err,
                                     size_t ErrLen) {
  try {
    return createModel(Img, Gpu, readOptions(Options), Out, Err, ErrLen);
  } catch (const std::bad_alloc &) {
    if (Out)
      *Out = nullptr;
    return fail(DLC_ERR_OUT_OF_MEMORY, "out of memory", Err, ErrLen);
  }
}

extern "C" int dlc_model_create(const dlc_aot_image *Img, int Threads,
                                dlc_model **Out, char *Err, size_t ErrLen) {
  dlc_model_options O;
  dlc_model_options_init(&O);
  O.threads = Threads;
  return dlc_model_create_with(Img, nullptr, &O, Out, Err, ErrLen);
}

extern "C" int dlc_model_create_on(const dlc_aot_image *Img, int Device,
                                   int Threads, dlc_model **Out, char *Err,
                                   size_t ErrLen) {
  dlc_model_options O;
  dlc_model_options_init(&O);
  O.device = Device;
  O.threads = Threads;
  return dlc_model_create_with(Img, nullptr, &O, Out, Err, ErrLen);
}

/// Checks what the signature check cannot see (a dtype or rank out of
/// range, a shape whose byte count overflows), before any byte is read.
static llvm::Error checkCInput(const dlc_tensor &T, const Value &In) {
  std::string What = "input '" + In.Name + "'";
  if (T.dtype < 0 || T.dtype > int32_t(DType::Str))
    return makeError(What + ": unknown dtype " + std::to_string(T.dtype));
  if (T.rank < 0 || T.rank > DLC_MAX_RANK)
    return makeError(What + ": rank " + std::to_string(T.rank) +
                     " is out of range [0, " + std::to_string(DLC_MAX_RANK) +
                     "]");
  for (int32_t D = 0; D < T.rank; ++D)
    if (T.shape[D] < 0)
      return makeError(What + ": dim " + std::to_string(D) + " is negative (" +
                       std::to_string(T.shape[D]) + ")");
  int64_t N;
  size_t Bytes;
  if (!productOf(T.shape, size_t(T.rank), N) ||
      !bytesOf(N,
               T.dtype == DLC_STR ? sizeof(const char *)
                                  : dtypeSize(DType(T.dtype)),
               Bytes) ||
      Bytes > (size_t(1) << 62))
    return makeError(What + ": its shape is too large");
  return llvm::Error::success();
}

/// Copies a C input that passed checkCInput and the signature check into a
/// tensor.
static llvm::Expected<Tensor> toTensor(const dlc_tensor &T, const Value &In) {
  Tensor R(DType(T.dtype), llvm::ArrayRef<int64_t>(T.shape, T.rank));
  if (R.elem() == DType::Str) { // an array of C strings
    std::vector<std::string> &S = R.strings();
    if (!S.empty() && !T.data)
      return makeError("input '" + In.Name + "': data is NULL");
    const char *const *P = static_cast<const char *const *>(T.data);
    for (size_t I = 0; I < S.size(); ++I) {
      if (!P[I])
        return makeError("input '" + In.Name + "': string " +
                         std::to_string(I) + " is NULL");
      S[I] = P[I];
    }
    return R;
  }
  if (R.byteSize() && !T.data)
    return makeError("input '" + In.Name + "': data is NULL");
  if (R.byteSize())
    std::memcpy(R.data(), T.data, R.byteSize());
  // Only the low bits of 4- and 2-bit elements count; dlc keeps integers
  // sign- or zero-extended and float codes with the high bits clear.
  if (isNarrow(R.elem()) && narrowBits(R.elem()) < 8)
    for (int64_t I = 0, N = R.numElements(); I < N; ++I)
      R.data()[I] = isNarrowInt(R.elem())
                        ? narrowFromInt(R.elem(), R.data()[I])
                        : uint8_t(R.data()[I] & 0xF);
  return R;
}

static int runModel(dlc_model *Model, const dlc_tensor *Inputs,
                    size_t NumInputs, dlc_tensor *Outputs, size_t NumOutputs,
                    char *Err, size_t ErrLen) {
  if (!Model)
    return fail(DLC_ERR_INVALID_ARGUMENT, "model is NULL", Err, ErrLen);
  const Executable &X = Model->G ? Model->G->planner() : *Model->X;
  const Function &F = X.function();
  if (NumInputs != F.Inputs.size() || (NumInputs && !Inputs))
    return fail(DLC_ERR_INVALID_ARGUMENT,
                "'@" + F.Name + "' takes " + std::to_string(F.Inputs.size()) +
                    " input(s), got " +
                    std::to_string(Inputs ? NumInputs : 0),
                Err, ErrLen);
  if (NumOutputs != F.Outputs.size() || (NumOutputs && !Outputs))
    return fail(DLC_ERR_INVALID_ARGUMENT,
                "'@" + F.Name + "' has " + std::to_string(F.Outputs.size()) +
                    " output(s), got room for " +
                    std::to_string(Outputs ? NumOutputs : 0),
                Err, ErrLen);
  // Signature errors (dtype, rank, dims) are the caller's and are found
  // before a byte of any input is read (a wrong dim must not make the copy
  // read past the caller's buffer); the rest happen while running (shape
  // rules, gather indices).
  std::vector<InputSpec> Specs;
  for (size_t I = 0; I < NumInputs; ++I) {
    if (auto E = checkCInput(Inputs[I], *F.Inputs[I]))
      return fail(DLC_ERR_INVALID_ARGUMENT, std::move(E), Err, ErrLen);
    Specs.push_back({DType(Inputs[I].dtype),
                     llvm::ArrayRef<int64_t>(Inputs[I].shape, Inputs[I].rank)});
  }
  if (auto E = X.checkInputSpecs(Specs))
    return fail(DLC_ERR_INVALID_ARGUMENT, std::move(E), Err, ErrLen);
  std::vector<Tensor> In;
  for (size_t I = 0; I < NumInputs; ++I) {
    auto T = toTensor(Inputs[I], *F.Inputs[I]);
    if (!T)
      return fail(DLC_ERR_INVALID_ARGUMENT, T.takeError(), Err, ErrLen);
    In.push_back(std::move(*T));
  }
  llvm::Expected<std::vector<Tensor>> Out =
      Model->G ? Model->G->run(In) : Model->X->run(In);
  if (!Out)
    return fail(DLC_ERR_RUNTIME, Out.takeError(), Err, ErrLen);
  for (size_t I = 0; I < NumOutputs; ++I) {
    const Tensor &T = (*Out)[I];
    dlc_tensor &C = Outputs[I];
    C.data = nullptr;
    // str: the pointers, then the strings (see DLC_STR).
    size_t Bytes = T.byteSize();
    for (const std::string &S : T.strings())
      Bytes += sizeof(char *) + S.size() + 1;
    if (T.rank() > DLC_MAX_RANK || !(C.data = std::malloc(Bytes + 1))) {
      for (size_t J = 0; J <= I; ++J)
        dlc_tensor_free(&Outputs[J]);
      return T.rank() > DLC_MAX_RANK
                 ? fail(DLC_ERR_RUNTIME,
                        "output '" + F.OutputNames[I] + "' has rank " +
                            std::to_string(T.rank()) + ", more than " +
                            std::to_string(DLC_MAX_RANK),
                        Err, ErrLen)
                 : fail(DLC_ERR_OUT_OF_MEMORY, "out of memory", Err, ErrLen);
    }
    C.dtype = int32_t(T.elem());
    C.rank = int32_t(T.rank());
    std::fill(std::begin(C.shape), std::end(C.shape), 0);
    std::copy(T.shape().begin(), T.shape().end(), C.shape);
    if (T.byteSize())
      std::memcpy(C.data, T.data(), T.byteSize());
    if (T.elem() == DType::Str) {
      char **Ptrs = static_cast<char **>(C.data);
      char *Text = reinterpret_cast<char *>(Ptrs + T.strings().size());
      for (size_t K = 0; K < T.strings().size(); ++K) {
        const std::string &S = T.strings()[K];
        Ptrs[K] = Text;
        std::memcpy(Text, S.c_str(), S.size() + 1);
        Text += S.size() + 1;
      }
    }
  }
  return DLC_OK;
}

extern "C" int dlc_model_run(dlc_model *Model, const dlc_tensor *Inputs,
                             size_t NumInputs, dlc_tensor *Outputs,
                             size_t NumOutputs, char *Err, size_t ErrLen) {
  try {
    return runModel(Model, Inputs, NumInputs, Outputs, NumOutputs, Err, ErrLen);
  } catch (const std::bad_alloc &) {
    return fail(DLC_ERR_OUT_OF_MEMORY, "out of memory", Err, ErrLen);
  }
}
