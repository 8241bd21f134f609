// Runs an ONNX test folder (model.onnx plus test_data_set_N/input_K.pb and
// output_K.pb, the layout of ONNX's backend tests and of onnxruntime's
// onnx_test_runner) through dlc::Model exactly as a user would: every graph
// input given at run time. The conformance runner and `dlc test-onnx` share
// it, so they agree test by test.
#ifndef DLC_API_ONNXTESTFOLDER_H
#define DLC_API_ONNXTESTFOLDER_H

#include "api/Model.h"
#include "frontend/onnx/OnnxImporter.h"

namespace dlc {

/// Output K against its expected value: the same element type and shape;
/// floats within 1e-7 + 1e-3 * |expected| (NaN equals NaN); the narrow
/// types (float8, int4, ...) bit for bit; integers, bools and strings
/// exactly.
llvm::Error compareOnnxOutput(const Tensor &Got, const Tensor &Want,
                              unsigned K);

/// The same for sequences (element by element) and optionals (both empty,
/// or both holding equal elements).
llvm::Error compareOnnxValue(const RunValue &Got, const RunValue &Want,
                             unsigned K);

/// The importer's form of a port (for readOnnxValueFile).
OnnxPortForm portForm(const Port &P);

/// Whether Dir holds an ONNX test (a model.onnx file).
bool isOnnxTestFolder(llvm::StringRef Dir);

/// Loads Dir/model.onnx with Opts once and runs every test_data_set_N in
/// order (input_K.pb is the model's K-th input, output_K.pb its K-th
/// output); fails with the first error or mismatch, naming the data set.
/// DataSets, when given, receives the number of data sets that passed.
llvm::Error runOnnxTestFolder(llvm::StringRef Dir, const ModelOptions &Opts,
                              unsigned *DataSets = nullptr);

} // namespace dlc

#endif
