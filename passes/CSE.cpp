// --cse: merges ops that compute the same value.
//
// 1. Walk ops in order, keyed by (kind, operands, attributes).
// 2. Commutative binary ops are keyed with their operands sorted, so
//    `add %a, %b` and `add %b, %a` merge.
// 3. A repeated key's results are replaced by the first op's results; the
//    duplicate is erased. Constants merge when their tensors are equal.
#include "passes/Pass.h"

#include "llvm/ADT/Hashing.h"

#include <cstring>
#include <unordered_map>

using namespace dlc;

namespace {
struct Key {
  OpKind Kind;
  llvm::SmallVector<Value *, 4> Operands;
  const Operation *Op;
};

static llvm::hash_code hashBits(double D) {
  uint64_t U;
  std::memcpy(&U, &D, sizeof(U));
  return llvm::hash_value(U);
}

static llvm::hash_code hashAttr(const Attribute &A) {
  switch (A.kind()) {
  case AttrKind::Int:
  case AttrKind::Bool:
  case AttrKind::Type:
    return llvm::hash_value(A.getInt());
  case AttrKind::Float:
    return hashBits(A.getFloat());
  case AttrKind::String:
    return llvm::hash_value(A.getString());
  case AttrKind::IntList:
    return llvm::hash_combine_range(A.getInts().begin(), A.getInts().end());
  case AttrKind::FloatList:
    return A.getFloats().empty() ? llvm::hash_value(0)
                                 : hashBits(A.getFloats()[0]);
  case AttrKind::StringList:
    return llvm::hash_value(A.getStrings().size());
  case AttrKind::Tensor: {
    const Tensor &T = *A.getTensor();
    return llvm::hash_combine(
        int(T.elem()), llvm::hash_combine_range(T.shape().begin(), T.shape().end()),
        llvm::hash_combine_range(T.bytes().begin(), T.bytes().end()));
  }
  }
  llvm_unreachable("bad attribute kind");
}

struct KeyHash {
  size_t operator()(const Key &K) const {
    llvm::hash_code H = llvm::hash_combine(
        unsigned(K.Kind),
        llvm::hash_combine_range(K.Operands.begin(), K.Operands.end()));
    for (const NamedAttr &A : K.Op->attrs())
      H = llvm::hash_combine(H, A.Name, hashAttr(A.Value));
    return H;
  }
};

struct KeyEq {
  bool operator()(const Key &A, const Key &B) const {
    if (A.Kind != B.Kind || A.Operands != B.Operands)
      return false;
    auto AA = A.Op->attrs(), BA = B.Op->attrs();
    if (AA.size() != BA.size())
      return false;
    for (size_t I = 0; I < AA.size(); ++I)
      if (AA[I].Name != BA[I].Name || AA[I].Value != BA[I].Value)
        return false;
    return true;
  }
};

class CSE : public Pass {
public:
  llvm::StringRef name() const override { return "cse"; }
  llvm::StringRef description() const override {
    return "Merge ops that compute the same value";
  }
  llvm::Error run(Function &F) override {
    std::unordered_map<Key, Operation *, KeyHash, KeyEq> Seen;
    ValueReplacer R;
    std::vector<std::unique_ptr<Operation>> Dead;
    for (auto It = F.Body.begin(); It != F.Body.end();) {
      Operation &Op = **It;
      R.remapOperands(Op);
      // Ops with regions differ by their regions, which the key omits.
      if (!Op.Regions.empty()) {
        ++It;
        continue;
      }
      Key K{Op.kind(), Op.Operands, &Op};
      if (Op.info().has(Commutative) && K.Operands.size() == 2 &&
          std::less<Value *>()(K.Operands[1], K.Operands[0]))
        std::swap(K.Operands[0], K.Operands[1]);
      auto [Found, New] = Seen.try_emplace(K, &Op);
      if (New) {
        ++It;
        continue;
      }
      Operation &Prev = *Found->second;
      for (unsigned I = 0; I < Op.numResults(); ++I)
        R.replace(Op.result(I), Prev.result(I));
      Dead.push_back(std::move(*It)); // freed later: see ValueReplacer
      It = F.Body.erase(It);
    }
    R.finish(F);
    return llvm::Error::success();
  }
};
} // namespace

std::unique_ptr<Pass> dlc::createCSEPass() { return std::make_unique<CSE>(); }
