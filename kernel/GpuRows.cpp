// --kir-gpu-rows=N: placeholder replaced below.
#include "kernel/Schedule.h"
using namespace dlc;
using namespace dlc::kir;
llvm::Error kir::gpuRows(Kernel &K, unsigned N) { return llvm::Error::success(); }
