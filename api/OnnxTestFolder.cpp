// ONNX test folders through dlc::Model: data sets read from TensorProto
// files, outputs compared with the expected ones.
#include "api/OnnxTestFolder.h"

#include "frontend/onnx/OnnxImporter.h"

#include "llvm/Support/FileSystem.h"

#include <cmath>

using namespace dlc;

llvm::Error dlc::compareOnnxOutput(const Tensor &Got, const Tensor &Want,
                                   unsigned K) {
  std::string O = "output " + std::to_string(K);
  if (Got.elem() != Want.elem() || Got.shape() != Want.shape())
    return makeError(O + " is " + Got.type().str() + ", expected " +
                     Want.type().str());
  if (Want.elem() == DType::Str) {
    for (int64_t I = 0; I < Want.numElements(); ++I)
      if (Got.strings()[I] != Want.strings()[I])
        return makeError(O + " element " + std::to_string(I) + " is \"" +
                         Got.strings()[I] + "\", expected \"" +
                         Want.strings()[I] + "\"");
    return llvm::Error::success();
  }
  for (int64_t I = 0; I < Want.numElements(); ++I) {
    bool Ok;
    if (isNarrow(Want.elem())) {
      Ok = Got.data()[I] == Want.data()[I]; // bit-exact codes
    } else if (isFloat(Want.elem())) {
      double A = Got.getF(I), E = Want.getF(I);
      Ok = (std::isnan(A) && std::isnan(E)) || A == E ||
           std::fabs(A - E) <= 1e-7 + 1e-3 * std::fabs(E);
    } else {
      Ok = Got.getI(I) == Want.getI(I);
    }
    if (!Ok)
      return makeError(O + " element " + std::to_string(I) + " is " +
                       std::to_string(Got.getF(I)) + ", expected " +
                       std::to_string(Want.getF(I)));
  }
  return llvm::Error::success();
}

OnnxPortForm dlc::portForm(const Port &P) {
  OnnxPortForm F;
  F.Sequence = P.Sequence;
  F.Optional = P.Optional;
  return F;
}

llvm::Error dlc::compareOnnxValue(const RunValue &Got, const RunValue &Want,
                                  unsigned K) {
  std::string O = "output " + std::to_string(K);
  if (Got.K != Want.K ||
      (Got.isSequence() && Got.Seq.size() != Want.Seq.size()))
    return makeError(O + " is " + Got.str() + ", expected " + Want.str());
  if (Got.isTensor())
    return compareOnnxOutput(Got.T, Want.T, K);
  for (size_t I = 0; I < Want.Seq.size(); ++I)
    if (auto E = compareOnnxOutput(Got.Seq[I], Want.Seq[I], K))
      return makeError("element " + std::to_string(I) + " of " +
                       llvm::toString(std::move(E)));
  return llvm::Error::success();
}

bool dlc::isOnnxTestFolder(llvm::StringRef Dir) {
  return llvm::sys::fs::is_regular_file(Dir + "/model.onnx");
}

llvm::Error dlc::runOnnxTestFolder(llvm::StringRef Dir,
                                   const ModelOptions &Opts,
                                   unsigned *DataSets) {
  if (DataSets)
    *DataSets = 0;
  auto M = Model::fromFile((Dir + "/model.onnx").str(), Opts);
  if (!M)
    return M.takeError();
  for (unsigned Set = 0;; ++Set) {
    std::string SetDir = (Dir + "/test_data_set_" + llvm::Twine(Set)).str();
    if (!llvm::sys::fs::is_directory(SetDir)) {
      if (Set == 0)
        return makeError("'" + Dir + "' has no test_data_set_0");
      return llvm::Error::success();
    }
    auto InSet = [&](llvm::Error E) {
      return makeError("test_data_set_" + std::to_string(Set) + ": " +
                       llvm::toString(std::move(E)));
    };
    std::vector<RunValue> Args;
    for (size_t K = 0; K < M->inputs().size(); ++K) {
      const Port &In = M->inputs()[K];
      std::string F = SetDir + "/input_" + std::to_string(K) + ".pb";
      if (!llvm::sys::fs::exists(F))
        return InSet(makeError("no data for input '" + In.Name + "' (" + F +
                               ")"));
      auto T = readOnnxValueFile(F, portForm(In));
      if (!T)
        return InSet(T.takeError());
      Args.push_back(std::move(*T));
    }
    auto Out = M->runValues(Args);
    if (!Out)
      return InSet(Out.takeError());
    size_t NOut = M->outputs().size();
    if (Out->size() != NOut)
      return InSet(makeError("got " + std::to_string(Out->size()) +
                             " outputs, expected " + std::to_string(NOut)));
    for (unsigned K = 0; K < NOut; ++K) {
      auto Want = readOnnxValueFile(SetDir + "/output_" + std::to_string(K) +
                                        ".pb",
                                    portForm(M->outputs()[K]));
      if (!Want)
        return InSet(Want.takeError());
      if (auto E = compareOnnxValue((*Out)[K], *Want, K))
        return InSet(std::move(E));
    }
    if (DataSets)
      ++*DataSets;
  }
}
