// Source locations and located errors (`file:line:col: error: message`).
#ifndef DLC_IR_LOCATION_H
#define DLC_IR_LOCATION_H

#include "llvm/Support/Error.h"

#include <string>

namespace dlc {

/// Where an op or value came from: a position in IR text, or a name such as
/// an ONNX node (`node 'conv1' (Conv)`). Empty when created by a pass.
struct Loc {
  std::string File;
  unsigned Line = 0, Col = 0;
  std::string Name;

  static Loc at(llvm::StringRef File, unsigned Line, unsigned Col) {
    Loc L;
    L.File = File.str();
    L.Line = Line;
    L.Col = Col;
    return L;
  }
  static Loc named(llvm::StringRef Name) {
    Loc L;
    L.Name = Name.str();
    return L;
  }
  bool empty() const { return Line == 0 && Name.empty(); }
  std::string str() const;
};

/// An error whose message reads `<loc>: error: <Msg>` (or `error: <Msg>`
/// without a location).
llvm::Error makeError(const Loc &L, const llvm::Twine &Msg);
llvm::Error makeError(const llvm::Twine &Msg);

} // namespace dlc

#endif
