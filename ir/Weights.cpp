// Reading and writing weights side files.
#include "ir/Weights.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace dlc;

static const char Magic[4] = {'D', 'L', 'C', 'W'};

llvm::Expected<llvm::StringMap<TensorRef>> dlc::readWeights(llvm::StringRef Path) {
  auto Buf = llvm::MemoryBuffer::getFile(Path, /*IsText=*/false);
  if (!Buf)
    return makeError("cannot read weights file '" + Path + "': " +
                     Buf.getError().message());
  llvm::StringRef B = (*Buf)->getBuffer();
  size_t Pos = 0;
  auto bad = [&](const llvm::Twine &Why) {
    return makeError("weights file '" + Path + "' is malformed at byte " +
                     std::to_string(Pos) + ": " + Why);
  };
  auto read = [&](void *Out, size_t N) {
    if (B.size() - Pos < N)
      return false;
    std::memcpy(Out, B.data() + Pos, N);
    Pos += N;
    return true;
  };
  char M[4];
  uint32_t Version;
  uint64_t Count;
  if (!read(M, 4) || std::memcmp(M, Magic, 4) != 0)
    return bad("not a dlc weights file (bad magic)");
  if (!read(&Version, 4) || Version != 1)
    return bad("unsupported version");
  if (!read(&Count, 8))
    return bad("truncated header");
  llvm::StringMap<TensorRef> Out;
  for (uint64_t I = 0; I < Count; ++I) {
    uint32_t NameLen, Rank;
    uint8_t DT;
    if (!read(&NameLen, 4) || NameLen > B.size() - Pos)
      return bad("truncated tensor name");
    std::string Name(B.data() + Pos, NameLen);
    Pos += NameLen;
    if (!read(&DT, 1) || DT >= NumDTypes || DType(DT) == DType::Str)
      return bad("unknown element type in '" + Name + "'");
    if (!read(&Rank, 4) || Rank > 64)
      return bad("bad rank in '" + Name + "'");
    llvm::SmallVector<int64_t, 4> Dims(Rank);
    int64_t N = 1;
    for (uint32_t D = 0; D < Rank; ++D) {
      if (!read(&Dims[D], 8) || Dims[D] < 0 || Dims[D] > MaxElements)
        return bad("bad dims in '" + Name + "'");
      N *= Dims[D];
      if (N > MaxElements)
        return bad("'" + Name + "' is too large");
    }
    uint64_t NBytes;
    if (!read(&NBytes, 8) || NBytes != uint64_t(N) * dtypeSize(DType(DT)) ||
        NBytes > B.size() - Pos)
      return bad("data of '" + Name + "' has the wrong length or is truncated");
    auto T = std::make_shared<Tensor>(DType(DT), Dims);
    std::memcpy(T->data(), B.data() + Pos, NBytes);
    Pos += NBytes;
    if (!Out.try_emplace(Name, std::move(T)).second)
      return bad("duplicate tensor '" + Name + "'");
  }
  return Out;
}

llvm::Error dlc::writeWeights(
    llvm::StringRef Path, llvm::ArrayRef<std::pair<std::string, TensorRef>> Ts) {
  for (auto &[Name, T] : Ts)
    if (T->elem() == DType::Str)
      return makeError("weight '" + Name +
                       "' is a str tensor, which weights files do not hold");
  std::error_code EC;
  llvm::raw_fd_ostream OS(Path, EC);
  if (EC)
    return makeError("cannot write weights file '" + Path + "': " + EC.message());
  auto put = [&](const void *P, size_t N) {
    OS.write(static_cast<const char *>(P), N);
  };
  uint32_t Version = 1;
  uint64_t Count = Ts.size();
  put(Magic, 4);
  put(&Version, 4);
  put(&Count, 8);
  for (auto &[Name, T] : Ts) {
    uint32_t NameLen = Name.size(), Rank = T->rank();
    uint8_t DT = uint8_t(T->elem());
    uint64_t NBytes = T->byteSize();
    put(&NameLen, 4);
    put(Name.data(), NameLen);
    put(&DT, 1);
    put(&Rank, 4);
    for (int64_t D : T->shape())
      put(&D, 8);
    put(&NBytes, 8);
    put(T->data(), NBytes);
  }
  OS.close();
  if (OS.has_error())
    return makeError("error writing weights file '" + Path + "'");
  return llvm::Error::success();
}

llvm::Error dlc::externalizeWeights(Module &M, llvm::StringRef Path,
                                    int64_t Threshold) {
  std::vector<std::pair<std::string, TensorRef>> Out;
  llvm::StringSet<> Used;
  auto take = [&](Attribute &A, llvm::StringRef Hint) {
    const TensorRef &T = A.getTensor();
    if (!T)
      return;
    if (T->numElements() <= Threshold) {
      // Small tensors live in the text, even if they came from a file.
      A = Attribute::getTensor(T);
      return;
    }
    std::string Name = A.blobName().empty() ? Hint.str() : A.blobName().str();
    if (Name.empty())
      Name = "t";
    std::string Unique = Name;
    for (unsigned K = 1; !Used.insert(Unique).second; ++K)
      Unique = Name + "_" + std::to_string(K);
    Out.push_back({Unique, T});
    A = Attribute::getTensor(T, Unique);
  };
  for (auto &F : M.Functions) {
    for (size_t I = 0; I < F->Params.size(); ++I)
      if (I < F->ParamInits.size() && F->ParamInits[I])
        take(*F->ParamInits[I], F->Params[I]->Name);
    for (auto &Op : F->Body)
      if (Op->kind() == OpKind::Constant) {
        Attribute A = Op->attr("value");
        take(A, Op->result()->Name);
        Op->setAttr("value", std::move(A));
      }
  }
  if (auto E = writeWeights(Path, Out))
    return E;
  M.WeightsFile = Path.str();
  return llvm::Error::success();
}
