// Saving and loading training checkpoints (see Checkpoint.h).
#include "Checkpoint.h"
#include "TrainSetup.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cinttypes>
#include <cstring>

using namespace dlc;

static constexpr llvm::StringLiteral Magic = "dlc-checkpoint 1";
static constexpr llvm::StringLiteral StateMagic = "DLCSTATE1\n";

static std::string join(llvm::StringRef Dir, llvm::StringRef Name) {
  llvm::SmallString<256> P(Dir);
  llvm::sys::path::append(P, Name);
  return P.str().str();
}

/// Writes Bytes to Path through a temporary file renamed over it.
static llvm::Error writeAtomically(const std::string &Path,
                                   llvm::StringRef Bytes) {
  std::string Tmp = Path + ".tmp";
  {
    std::error_code EC;
    llvm::raw_fd_ostream OS(Tmp, EC);
    if (EC)
      return makeError("cannot write '" + Tmp + "': " + EC.message());
    OS << Bytes;
    OS.close();
    if (OS.has_error())
      return makeError("error writing '" + Tmp + "'");
  }
  if (std::error_code EC = llvm::sys::fs::rename(Tmp, Path))
    return makeError("cannot rename '" + Tmp + "' to '" + Path +
                     "': " + EC.message());
  return llvm::Error::success();
}

/// state.bin: magic, tensor count, then per tensor its element type, rank,
/// dims and bytes (little-endian, as in memory).
static std::string serializeState(llvm::ArrayRef<Tensor> State) {
  std::string Out(StateMagic);
  auto put = [&](uint64_t V) { Out.append(reinterpret_cast<char *>(&V), 8); };
  put(State.size());
  for (const Tensor &T : State) {
    put(uint64_t(T.elem()));
    put(T.rank());
    for (int64_t D : T.shape())
      put(uint64_t(D));
    put(T.byteSize());
    Out.append(reinterpret_cast<const char *>(T.data()), T.byteSize());
  }
  return Out;
}

static llvm::Expected<std::vector<Tensor>>
parseState(llvm::StringRef Bytes, const std::string &Path) {
  auto damaged = [&](const llvm::Twine &Why) {
    return makeError("checkpoint file '" + Path + "' is damaged: " + Why);
  };
  if (!Bytes.consume_front(StateMagic))
    return damaged("it does not start like a dlc training state");
  auto get = [&](uint64_t &V) {
    if (Bytes.size() < 8)
      return false;
    std::memcpy(&V, Bytes.data(), 8);
    Bytes = Bytes.drop_front(8);
    return true;
  };
  uint64_t Count;
  if (!get(Count) || Count > Bytes.size())
    return damaged("bad tensor count");
  std::vector<Tensor> Out;
  for (uint64_t I = 0; I < Count; ++I) {
    uint64_t Elem, Rank, Size;
    if (!get(Elem) || !get(Rank) || Rank > 16)
      return damaged("bad header of tensor " + llvm::Twine(I));
    llvm::SmallVector<int64_t, 4> Shape;
    double Elements = 1;
    for (uint64_t D = 0; D < Rank; ++D) {
      uint64_t V;
      if (!get(V) || int64_t(V) < 0)
        return damaged("bad shape of tensor " + llvm::Twine(I));
      Shape.push_back(int64_t(V));
      Elements *= double(V);
    }
    if (Elem >= NumDTypes || isString(DType(Elem)) ||
        !get(Size) || Size > Bytes.size() ||
        Elements * double(dtypeSize(DType(Elem))) != double(Size))
      return damaged("tensor " + llvm::Twine(I) + " does not fit its data");
    Tensor T(DType(Elem), Shape);
    std::memcpy(T.data(), Bytes.data(), Size);
    Bytes = Bytes.drop_front(Size);
    Out.push_back(std::move(T));
  }
  if (!Bytes.empty())
    return damaged("trailing bytes");
  return Out;
}

llvm::Error dlc::saveCheckpoint(llvm::StringRef Dir, const Checkpoint &C,
                                Module &Model) {
  std::string EpochDir = join(Dir, "epoch-" + std::to_string(C.Epoch));
  if (std::error_code EC = llvm::sys::fs::create_directories(EpochDir))
    return makeError("--checkpoint: cannot create '" + EpochDir +
                     "': " + EC.message());
  if (auto E = saveTrainedModel(Model, join(EpochDir, "model.dlc")))
    return E;
  if (auto E = writeAtomically(join(EpochDir, "state.bin"),
                               serializeState(C.State)))
    return E;
  std::string Text;
  llvm::raw_string_ostream OS(Text);
  OS << Magic << "\ncurrent epoch-" << C.Epoch << "\nrecipe " << C.Recipe
     << "\nepoch " << C.Epoch << "\nsteps " << C.Steps << "\n";
  for (const EpochStats &E : C.History) {
    OS << llvm::format("history %" PRId64 " %a %a %a %a %a %a %a %a\n",
                       E.Epoch, E.TrainLoss, E.TrainAccuracy, E.TestLoss,
                       E.TestAccuracy, E.Seconds, E.ImagesPerSecond, E.ValLoss,
                       E.ValAccuracy);
    OS << "step-losses";
    for (double V : E.StepLosses)
      OS << llvm::format(" %a", V);
    OS << "\n";
  }
  if (auto E = writeAtomically(join(Dir, "checkpoint.txt"), Text))
    return E;
  // The previous epoch's files are no longer current.
  if (C.Epoch > 1)
    llvm::sys::fs::remove_directories(
        join(Dir, "epoch-" + std::to_string(C.Epoch - 1)));
  return llvm::Error::success();
}

llvm::Expected<Checkpoint> dlc::loadCheckpoint(llvm::StringRef Dir) {
  std::string Path = join(Dir, "checkpoint.txt");
  auto Buf = llvm::MemoryBuffer::getFile(Path);
  if (!Buf)
    return makeError("--resume: cannot read '" + Path +
                     "': " + Buf.getError().message() +
                     " (a directory written by --checkpoint?)");
  llvm::SmallVector<llvm::StringRef, 16> Lines;
  (*Buf)->getBuffer().split(Lines, '\n', -1, false);
  if (Lines.empty() || Lines[0] != Magic)
    return makeError("'" + Path + "' is not a dlc checkpoint");
  Checkpoint C;
  std::string Current;
  for (llvm::StringRef L : llvm::ArrayRef(Lines).drop_front()) {
    auto [Key, Rest] = L.split(' ');
    bool Bad = false;
    if (Key == "current") {
      Current = Rest.str();
    } else if (Key == "recipe") {
      C.Recipe = Rest.str();
    } else if (Key == "epoch") {
      Bad = Rest.getAsInteger(10, C.Epoch);
    } else if (Key == "steps") {
      Bad = Rest.getAsInteger(10, C.Steps);
    } else if (Key == "step-losses") {
      llvm::SmallVector<llvm::StringRef, 64> F;
      Rest.split(F, ' ', -1, false);
      Bad = C.History.empty();
      for (llvm::StringRef V : F) {
        double D;
        if (Bad || (Bad = V.getAsDouble(D)))
          break;
        C.History.back().StepLosses.push_back(D);
      }
    } else if (Key == "history") {
      llvm::SmallVector<llvm::StringRef, 8> F;
      Rest.split(F, ' ');
      EpochStats E;
      double *Vals[] = {&E.TrainLoss,       &E.TrainAccuracy, &E.TestLoss,
                        &E.TestAccuracy,    &E.Seconds,       &E.ImagesPerSecond,
                        &E.ValLoss,         &E.ValAccuracy};
      Bad = F.size() != 9 || F[0].getAsInteger(10, E.Epoch);
      for (unsigned I = 0; !Bad && I < 8; ++I)
        Bad = F[I + 1].getAsDouble(*Vals[I]);
      C.History.push_back(E);
    } else {
      Bad = true;
    }
    if (Bad)
      return makeError("'" + Path + "' is damaged at '" + L + "'");
  }
  if (Current.empty() || C.Epoch < 1 || C.Steps < 0 ||
      int64_t(C.History.size()) != C.Epoch)
    return makeError("'" + Path + "' is incomplete");
  std::string StatePath = join(join(Dir, Current), "state.bin");
  auto State = llvm::MemoryBuffer::getFile(StatePath);
  if (!State)
    return makeError("--resume: cannot read '" + StatePath +
                     "': " + State.getError().message());
  auto Tensors = parseState((*State)->getBuffer(), StatePath);
  if (!Tensors)
    return Tensors.takeError();
  C.State = std::move(*Tensors);
  return C;
}
