// `dlc export`: writes a model (a .dlc or .onnx file, or a built-in tutorial
// model) as ONNX, with its weights as initializers, before any optimization.
#include "Commands.h"

#include "frontend/builder/TutorialModels.h"
#include "frontend/onnx/OnnxExporter.h"
#include "frontend/onnx/OnnxImporter.h"
#include "ir/Location.h"

#include "llvm/Support/Path.h"

using namespace dlc;

static llvm::Error exportModel(const ExportOptions &O) {
  if (O.Output.empty())
    return makeError("dlc export needs an output file: -o MODEL.onnx");
  if (!llvm::StringRef(O.Output).ends_with_insensitive(".onnx"))
    return makeError("-o '" + O.Output + "': dlc export writes ONNX; name "
                     "the file .onnx");
  if (O.Model.empty() == O.ModelName.empty())
    return makeError("give one model: MODEL.dlc, MODEL.onnx or --model NAME");
  llvm::Expected<std::unique_ptr<Module>> M =
      O.ModelName.empty() ? loadModelFile(O.Model)
                          : makeTutorialModel(O.ModelName, O.Seed);
  if (!M)
    return M.takeError();
  Function *F = (*M)->lookup("main");
  if (!F && !(*M)->Functions.empty())
    F = (*M)->Functions.front().get();
  if (!F)
    return makeError("the model has no function to export");
  return exportOnnxFile(*F, O.Output);
}

int dlc::exportCommand(const ExportOptions &O) {
  if (auto E = exportModel(O)) {
    llvm::errs() << llvm::toString(std::move(E)) << "\n";
    return 1;
  }
  return 0;
}
