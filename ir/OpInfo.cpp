// The static op table, expanded from Ops.def.
#include "ir/OpInfo.h"

#include "llvm/ADT/StringMap.h"

using namespace dlc;

namespace {
#define DLC_OP(Id, ...)
#define DLC_ATTR(Id, Name, Kind, Default) {#Name, AttrKind::Kind, Default},
// One array per op would need a name per op; instead keep every op's attrs
// in one array, in table order, and slice it below.
const AttrSpec AllAttrs[] = {
#include "ir/Ops.def"
    {"", AttrKind::Int, nullptr}};

#define DLC_OP(Id, ...)
#define DLC_ATTR(Id, Name, Kind, Default) OpKind::Id,
const OpKind AttrOwner[] = {
#include "ir/Ops.def"
    OpKind(0)};

constexpr size_t NumAttrs = sizeof(AllAttrs) / sizeof(AllAttrs[0]) - 1;

std::vector<OpInfo> buildTable() {
  std::vector<OpInfo> T;
#define DLC_OP(Id, Mnemonic, MinOps, MaxOps, NumRes, Traits, Summary, ExOps,  \
               ExAttrs, ExRes)                                                 \
  T.push_back(OpInfo{OpKind::Id, Mnemonic, MinOps, MaxOps, NumRes, Traits,    \
                     Summary, ExOps, ExAttrs, ExRes, {}});
#include "ir/Ops.def"
  // Attributes of one op are contiguous in the table.
  size_t I = 0;
  while (I < NumAttrs) {
    size_t J = I;
    while (J < NumAttrs && AttrOwner[J] == AttrOwner[I])
      ++J;
    T[size_t(AttrOwner[I])].Attrs = llvm::ArrayRef<AttrSpec>(&AllAttrs[I], J - I);
    I = J;
  }
  return T;
}

const std::vector<OpInfo> &table() {
  static const std::vector<OpInfo> T = buildTable();
  return T;
}
} // namespace

const AttrSpec *OpInfo::findAttr(llvm::StringRef Name) const {
  for (const AttrSpec &A : Attrs)
    if (A.Name == Name)
      return &A;
  static const AttrSpec Fusion = {FusionAttr, AttrKind::Int, "0"};
  return Name == FusionAttr ? &Fusion : nullptr;
}

const OpInfo &dlc::getOpInfo(OpKind K) { return table()[size_t(K)]; }

llvm::ArrayRef<OpInfo> dlc::allOps() { return table(); }

std::optional<OpKind> dlc::lookupOp(llvm::StringRef Mnemonic) {
  static const llvm::StringMap<OpKind> Map = [] {
    llvm::StringMap<OpKind> M;
    for (const OpInfo &I : table())
      M[I.Mnemonic] = I.Kind;
    return M;
  }();
  auto It = Map.find(Mnemonic);
  if (It == Map.end())
    return std::nullopt;
  return It->second;
}
