// Small helpers shared by the unit tests.
#ifndef DLC_TEST_UNIT_TESTUTIL_H
#define DLC_TEST_UNIT_TESTUTIL_H

#include "ir/IR.h"
#include "ir/Random.h"

#include "llvm/Support/Error.h"

#include <ostream>
#include <string>
#include <vector>

namespace dlc {
/// Readable op names in gtest and ctest output.
inline void PrintTo(OpKind K, std::ostream *OS) {
  *OS << getOpInfo(K).Mnemonic.str();
}

inline std::string errText(llvm::Error E) { return llvm::toString(std::move(E)); }

/// Inputs for F with every non-static dim set to SymSize. Floats lie in
/// (0.1, 0.9), so log, sqrt and the binary cross-entropy are defined;
/// integers in [0, 3) are valid labels and gather indices in every table
/// example. Input K draws from seed SeedBase + K.
inline std::vector<Tensor> functionInputs(const Function &F, int64_t SymSize,
                                          int64_t SeedBase) {
  std::vector<Tensor> In;
  for (size_t K = 0; K < F.Inputs.size(); ++K) {
    llvm::SmallVector<int64_t, 4> Sizes;
    for (const Dim &D : F.Inputs[K]->Type.dims())
      Sizes.push_back(D.isStatic() ? D.size() : SymSize);
    Tensor T(F.Inputs[K]->Type.elem(), Sizes);
    // Strings from a small vocabulary, so that equal ones occur.
    static const char *const Words[] = {"a", "b", "Ab c", "", "a.b"};
    for (int64_t I = 0; I < T.numElements(); ++I) {
      double U = uniformAt(SeedBase + int64_t(K), I);
      if (T.elem() == DType::Str)
        T.strings()[I] = Words[int64_t(U * 5)];
      else if (isFloat(T.elem()))
        T.setF(I, 0.1 + 0.8 * U);
      else
        T.setI(I, int64_t(U * 3));
    }
    In.push_back(std::move(T));
  }
  return In;
}
} // namespace dlc

#endif
