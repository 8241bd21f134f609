// dlc_model_create_on, the C API's device choice: the CPU runs an image;
// CUDA fails with DLC_ERR_DEVICE and a message, with no driver (ctest runs
// the NoDriver tests with DLC_CUDA_DRIVER naming a missing file) and with
// the fake driver (this image has no GPU kernels; CApiGpuTest has some).
#include "exec/dlc_runtime.h"

#include "gtest/gtest.h"

#include <string>

namespace {

const char Ir[] = "func @f(%x: f32[2]) -> (y: f32[2]) {\n  return %x\n}\n";

dlc_aot_image image() {
  dlc_aot_image I{};
  I.abi_version = DLC_AOT_ABI_VERSION;
  I.default_threads = 1;
  I.ir = Ir;
  I.ir_len = sizeof(Ir) - 1;
  return I;
}

TEST(CApiDevice, CpuRuns) {
  dlc_aot_image I = image();
  dlc_model *M = nullptr;
  char Err[256] = "";
  ASSERT_EQ(dlc_model_create_on(&I, DLC_DEVICE_CPU, 0, &M, Err, sizeof Err),
            DLC_OK) << Err;
  float X[2] = {1.5f, -2.0f};
  dlc_tensor In{DLC_F32, 1, {2}, X}, Out{};
  ASSERT_EQ(dlc_model_run(M, &In, 1, &Out, 1, Err, sizeof Err), DLC_OK) << Err;
  EXPECT_EQ(static_cast<float *>(Out.data)[1], -2.0f);
  dlc_tensor_free(&Out);
  dlc_model_destroy(M);
}

TEST(CApiDevice, UnknownDevice) {
  dlc_aot_image I = image();
  dlc_model *M = reinterpret_cast<dlc_model *>(&I);
  char Err[256] = "";
  EXPECT_EQ(dlc_model_create_on(&I, 7, 0, &M, Err, sizeof Err),
            DLC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(M, nullptr);
  EXPECT_STREQ(Err, "unknown device 7 (DLC_DEVICE_CPU is 0, DLC_DEVICE_CUDA "
                    "1, DLC_DEVICE_CUDA_EMU 2)");
}

TEST(CApiDevice, CudaNeedsGpuKernels) {
  dlc_aot_image I = image();
  dlc_model *M = nullptr;
  char Err[256] = "";
  EXPECT_EQ(dlc_model_create_on(&I, DLC_DEVICE_CUDA, 0, &M, Err, sizeof Err),
            DLC_ERR_DEVICE);
  EXPECT_EQ(M, nullptr);
  EXPECT_STREQ(Err, "this compiled model has no GPU kernels: compile it with "
                    "dlc compile --target nvptx, or use DLC_DEVICE_CPU");
}

TEST(CApiNoDriver, CudaSaysWhatIsMissing) {
  dlc_aot_image I = image();
  dlc_model *M = nullptr;
  char Err[512] = "";
  EXPECT_EQ(dlc_model_create_on(&I, DLC_DEVICE_CUDA, 0, &M, Err, sizeof Err),
            DLC_ERR_DEVICE);
  EXPECT_EQ(M, nullptr);
  std::string E = Err;
  EXPECT_EQ(E.rfind("no NVIDIA driver found (DLC_CUDA_DRIVER=/nonexistent/"
                    "libcuda.so.1: ", 0), 0u) << E;
  EXPECT_NE(E.find("use --device cpu"), std::string::npos) << E;
}

} // namespace
