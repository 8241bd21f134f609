// Small helpers shared by the unit tests.
#ifndef DLC_TEST_UNIT_TESTUTIL_H
#define DLC_TEST_UNIT_TESTUTIL_H

#include "ir/OpInfo.h"

#include "llvm/Support/Error.h"

#include <ostream>
#include <string>

namespace dlc {
/// Readable op names in gtest and ctest output.
inline void PrintTo(OpKind K, std::ostream *OS) {
  *OS << getOpInfo(K).Mnemonic.str();
}

inline std::string errText(llvm::Error E) { return llvm::toString(std::move(E)); }
} // namespace dlc

#endif
