// Location printing and located errors.
#include "ir/Location.h"

using namespace dlc;

std::string Loc::str() const {
  if (Line)
    return File + ":" + std::to_string(Line) + ":" + std::to_string(Col);
  return Name;
}

llvm::Error dlc::makeError(const Loc &L, const llvm::Twine &Msg) {
  std::string Where = L.str();
  if (Where.empty())
    return makeError(Msg);
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 Where + ": error: " + Msg.str());
}

llvm::Error dlc::makeError(const llvm::Twine &Msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "error: " + Msg.str());
}
