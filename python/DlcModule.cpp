// The Python module `dlc`: models run on numpy arrays (dlc.Model), ahead-of-
// time compilation (dlc.compile) and training (dlc.Trainer), over the same
// C++ API and driver code as the command line. dlc's errors are raised as
// dlc.Error with dlc's message.
#include "api/Model.h"
#include "api/Trainer.h"
#include "frontend/data/Dataset.h"
#include "ir/Printer.h"
#include "tools/dlc/Commands.h"
#include "tools/dlc/TrainSetup.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "llvm/Support/raw_ostream.h"

namespace py = pybind11;
using namespace dlc;

namespace {

/// The exception dlc's errors become (dlc.Error, a RuntimeError).
PyObject *ErrorType = nullptr;

[[noreturn]] void raise(llvm::Error E) {
  std::string Msg = llvm::toString(std::move(E));
  PyErr_SetString(ErrorType, Msg.c_str());
  throw py::error_already_set();
}

template <typename T> T check(llvm::Expected<T> V) {
  if (!V)
    raise(V.takeError());
  return std::move(*V);
}

void check(llvm::Error E) {
  if (E)
    raise(std::move(E));
}

/// numpy's dtype for a dlc element type; none for types numpy lacks.
std::optional<py::dtype> numpyType(DType T) {
  switch (T) {
  case DType::F32: return py::dtype::of<float>();
  case DType::F64: return py::dtype::of<double>();
  case DType::F16: return py::dtype("float16");
  case DType::I8: return py::dtype::of<int8_t>();
  case DType::I16: return py::dtype::of<int16_t>();
  case DType::I32: return py::dtype::of<int32_t>();
  case DType::I64: return py::dtype::of<int64_t>();
  case DType::U8: return py::dtype::of<uint8_t>();
  case DType::U16: return py::dtype::of<uint16_t>();
  case DType::U32: return py::dtype::of<uint32_t>();
  case DType::U64: return py::dtype::of<uint64_t>();
  case DType::Bool: return py::dtype::of<bool>();
  default: return std::nullopt;
  }
}

/// The array as a dlc tensor (one copy into dlc's buffer, in C order).
Tensor toTensor(const py::array &A, const std::string &What) {
  for (unsigned I = 0; I < NumDTypes; ++I) {
    auto NT = numpyType(DType(I));
    if (!NT || !A.dtype().is(*NT))
      continue;
    llvm::SmallVector<int64_t, 4> Shape(A.shape(), A.shape() + A.ndim());
    Tensor T(DType(I), Shape);
    py::array C = py::array::ensure(A, py::array::c_style);
    if (T.byteSize())
      std::memcpy(T.data(), C.data(), T.byteSize());
    return T;
  }
  PyErr_SetString(ErrorType,
                  (What + ": numpy dtype " +
                   py::str(A.dtype()).cast<std::string>() +
                   " has no dlc element type")
                      .c_str());
  throw py::error_already_set();
}

/// The tensor as a numpy array that owns it: no copy.
py::array toArray(Tensor T) {
  auto NT = numpyType(T.elem());
  if (!NT) {
    PyErr_SetString(ErrorType, ("an output of type " +
                                dtypeName(T.elem()).str() +
                                " has no numpy dtype")
                                   .c_str());
    throw py::error_already_set();
  }
  auto *Owned = new Tensor(std::move(T));
  py::capsule Free(Owned, [](void *P) { delete static_cast<Tensor *>(P); });
  std::vector<py::ssize_t> Shape(Owned->shape().begin(),
                                 Owned->shape().end());
  // Explicit C-order strides: pybind11 before 2.12 computes them from the
  // dtype's item size read at numpy 1's struct offset, which numpy 2 moved
  // (every element then read the first one's bytes).
  std::vector<py::ssize_t> Strides(Shape.size());
  py::ssize_t Step = dtypeSize(Owned->elem());
  for (size_t I = Shape.size(); I-- > 0;) {
    Strides[I] = Step;
    Step *= std::max<py::ssize_t>(Shape[I], 1);
  }
  return py::array(*NT, Shape, Strides, Owned->data(), Free);
}

std::string portText(const Port &P) { return P.Name + ": " + P.Type.str(); }

class PyModel {
public:
  PyModel(const std::string &Path, const std::string &Device,
          const std::string &Engine, unsigned Threads)
      : M(load(Path, Device, Engine, Threads)) {}

  /// Inputs by name (a dict) or in order (a list); outputs by name.
  py::dict run(py::object Inputs) {
    std::vector<Tensor> In;
    const std::vector<Port> &Ports = M.inputs();
    if (py::isinstance<py::dict>(Inputs)) {
      py::dict D = Inputs;
      for (auto Item : D) {
        std::string K = py::str(Item.first);
        if (llvm::none_of(Ports, [&](const Port &P) { return P.Name == K; }))
          check(makeError("the model has no input '" + K + "' (inputs: " +
                          names(Ports) + ")"));
      }
      for (const Port &P : Ports) {
        if (!D.contains(P.Name))
          check(makeError("missing input '" + P.Name + "' (" +
                          P.Type.str() + ")"));
        In.push_back(toTensor(py::array::ensure(D[P.Name.c_str()]),
                              "input '" + P.Name + "'"));
      }
    } else {
      size_t I = 0;
      for (py::handle H : Inputs)
        In.push_back(toTensor(py::array::ensure(H),
                              "input " + std::to_string(I++)));
    }
    llvm::Expected<std::vector<Tensor>> Ran = std::vector<Tensor>();
    {
      py::gil_scoped_release Free; // other Python threads go on meanwhile
      Ran = M.run(In);
    }
    std::vector<Tensor> Out = check(std::move(Ran)); // with the GIL again
    py::dict R;
    for (size_t I = 0; I < Out.size(); ++I)
      R[M.outputs()[I].Name.c_str()] = toArray(std::move(Out[I]));
    return R;
  }

  std::vector<std::string> inputs() const { return texts(M.inputs()); }
  std::vector<std::string> outputs() const { return texts(M.outputs()); }
  std::string engine() const { return M.engine().str(); }
  /// How a model compiled per run-time value or dim has fared: the inputs
  /// (or "NAME dim K") it specializes on and its cache counts.
  py::dict specialization() const {
    SpecializationStats S = M.specialization();
    py::dict D;
    D["inputs"] = S.Inputs;
    D["compiles"] = S.Compiles;
    D["hits"] = S.Hits;
    D["evictions"] = S.Evictions;
    D["cached"] = S.Cached;
    return D;
  }

private:
  static Model load(const std::string &Path, const std::string &Device,
                    const std::string &Engine, unsigned Threads) {
    ModelOptions O;
    O.Device = Device; // cpu, cuda or cuda-emu (checked by dlc::Model)
    O.Engine = Engine;
    O.Threads = Threads;
    return check(Model::fromFile(Path, O));
  }
  static std::string names(const std::vector<Port> &Ps) {
    std::string S;
    for (const Port &P : Ps)
      S += (S.empty() ? "" : ", ") + P.Name;
    return S;
  }
  static std::vector<std::string> texts(const std::vector<Port> &Ps) {
    std::vector<std::string> Out;
    for (const Port &P : Ps)
      Out.push_back(portText(P));
    return Out;
  }
  Model M;
};

/// dlc.Trainer: `dlc train`'s model loading and options, on arrays.
class PyTrainer {
public:
  PyTrainer(const std::string &Model, const std::string &Loss,
            const std::string &Optimizer, std::optional<double> LR,
            std::optional<double> Momentum, double WeightDecay, int64_t Seed,
            unsigned Threads, const std::string &Engine,
            std::optional<double> BNMomentum) {
    bool IsFile = llvm::StringRef(Model).contains('.') ||
                  llvm::StringRef(Model).contains('/');
    TM = check(loadTrainModel(IsFile ? Model : "", IsFile ? "" : Model, Seed));
    std::string LossName = Loss.empty() ? defaultLossName(*TM.F).str() : Loss;
    TrainerOptions O;
    O.Loss = check(parseLoss(LossName));
    O.Optimizer.Kind = check(parseOptimizer(Optimizer));
    if (LR)
      O.Optimizer.LearningRate = *LR;
    if (Momentum)
      O.Optimizer.Momentum = *Momentum;
    O.Optimizer.WeightDecay = WeightDecay;
    O.Seed = Seed;
    O.Threads = Threads;
    O.Engine = Engine;
    O.BatchNormMomentum = BNMomentum;
    // The model's warnings (a batch norm that cannot train, ...) become
    // Python warnings once the trainer exists (no Python inside create).
    auto Warnings = std::make_shared<std::vector<std::string>>();
    O.OnWarning = [Warnings](const std::string &W) { Warnings->push_back(W); };
    Opts = O;
    T = std::make_unique<Trainer>(check(Trainer::create(*TM.F, O)));
    for (const std::string &W : *Warnings)
      py::module_::import("warnings").attr("warn")(W);
  }

  py::dict step(py::array X, py::array Labels) {
    return result(check(T->step(toTensor(X, "x"), toTensor(Labels, "labels"))));
  }
  py::dict evaluate(py::array X, py::array Labels) const {
    return result(
        check(T->evaluate(toTensor(X, "x"), toTensor(Labels, "labels"))));
  }
  py::array predict(py::array X) const {
    return toArray(check(T->predict(toTensor(X, "x"))));
  }

  /// Epochs of shuffled batches (the order `dlc train` uses for the same
  /// seed); one dict per epoch with the mean loss and the accuracy.
  py::list fit(py::array X, py::array Labels, int64_t Epochs, int64_t Batch) {
    if (Epochs < 1 || Batch < 1)
      check(makeError("epochs and batch must be at least 1"));
    Tensor AllX = toTensor(X, "x"), AllY = toTensor(Labels, "labels");
    if (AllX.rank() == 0 || AllY.rank() == 0 ||
        AllX.shape()[0] != AllY.shape()[0])
      check(makeError("x and labels must have the same first dim"));
    int64_t N = AllX.shape()[0];
    py::list History;
    for (int64_t E = 1; E <= Epochs; ++E) {
      std::vector<int64_t> Order = epochOrder(N, Opts.Seed, E);
      double LossSum = 0;
      int64_t Correct = 0, Count = 0;
      for (int64_t K = 0; K < numBatches(N, Batch); ++K) {
        llvm::ArrayRef<int64_t> Rows =
            llvm::ArrayRef(Order).slice(K * Batch,
                                        std::min(Batch, N - K * Batch));
        StepResult R = check(T->step(gather(AllX, Rows), gather(AllY, Rows)));
        LossSum += R.Loss * double(R.Count);
        Correct += R.Correct;
        Count += R.Count;
      }
      py::dict D;
      D["epoch"] = E;
      D["loss"] = LossSum / double(Count);
      D["accuracy"] = double(Correct) / double(Count);
      History.append(D);
    }
    return History;
  }

  /// Writes the trained model: .dlc (with a .weights file) or .onnx.
  void save(const std::string &Path) const {
    check(checkOutputPath(Path));
    std::unique_ptr<Module> M = T->currentModel();
    check(saveTrainedModel(*M, Path));
  }
  int64_t steps() const { return T->stepsDone(); }

private:
  static py::dict result(const StepResult &R) {
    py::dict D;
    D["loss"] = R.Loss;
    D["correct"] = R.Correct;
    D["count"] = R.Count;
    return D;
  }
  static Tensor gather(const Tensor &T, llvm::ArrayRef<int64_t> Rows) {
    llvm::SmallVector<int64_t, 4> Shape(T.shape().begin(), T.shape().end());
    size_t RowBytes = Shape[0] ? T.byteSize() / size_t(Shape[0]) : 0;
    Shape[0] = int64_t(Rows.size());
    Tensor Out(T.elem(), Shape);
    for (size_t I = 0; I < Rows.size(); ++I)
      std::memcpy(Out.data() + I * RowBytes,
                  T.data() + size_t(Rows[I]) * RowBytes, RowBytes);
    return Out;
  }
  TrainModel TM;
  TrainerOptions Opts;
  std::unique_ptr<Trainer> T;
};

} // namespace

PYBIND11_MODULE(dlc, m) {
  m.doc() = "dlc: a deep-learning graph compiler and JIT";
  static py::exception<std::runtime_error> Error(m, "Error",
                                                 PyExc_RuntimeError);
  ErrorType = Error.ptr();

  py::class_<PyModel>(m, "Model",
                      "A model compiled once (IR text or ONNX) and run on "
                      "numpy arrays")
      .def(py::init<const std::string &, const std::string &,
                    const std::string &, unsigned>(),
           py::arg("path"), py::arg("device") = "cpu",
           py::arg("engine") = "jit", py::arg("threads") = 0)
      .def("run", &PyModel::run, py::arg("inputs"),
           "Runs the model: inputs as a dict by name (or a list in order); "
           "returns a dict of outputs by name")
      .def_property_readonly("inputs", &PyModel::inputs)
      .def_property_readonly("outputs", &PyModel::outputs)
      .def_property_readonly("engine", &PyModel::engine)
      .def_property_readonly("specialization", &PyModel::specialization,
                             "for a model compiled per run-time value or "
                             "dim: what it specializes on and the variant "
                             "cache's counts");

  m.def(
      "compile",
      [](const std::string &Model, const std::string &Output,
         const std::string &Name, unsigned Threads, unsigned OptLevel) {
        CompileOptions O;
        O.Model = Model;
        O.Output = Output;
        O.Name = Name;
        O.Threads = Threads;
        O.OptLevel = std::min(3u, OptLevel);
        check(compileModel(O));
      },
      py::arg("model"), py::arg("output"), py::arg("name") = "",
      py::arg("threads") = 0, py::arg("opt_level") = 3,
      "Compiles a model ahead of time: output NAME.so or NAME.o, with NAME.h");

  py::class_<PyTrainer>(m, "Trainer",
                        "Training with dlc train's models and options")
      .def(py::init<const std::string &, const std::string &,
                    const std::string &, std::optional<double>,
                    std::optional<double>, double, int64_t, unsigned,
                    const std::string &, std::optional<double>>(),
           py::arg("model"), py::arg("loss") = "",
           py::arg("optimizer") = "adam", py::arg("lr") = py::none(),
           py::arg("momentum") = py::none(), py::arg("weight_decay") = 0.0,
           py::arg("seed") = 0, py::arg("threads") = 0,
           py::arg("engine") = "jit", py::arg("bn_momentum") = py::none())
      .def("step", &PyTrainer::step, py::arg("x"), py::arg("labels"))
      .def("evaluate", &PyTrainer::evaluate, py::arg("x"), py::arg("labels"))
      .def("predict", &PyTrainer::predict, py::arg("x"))
      .def("fit", &PyTrainer::fit, py::arg("x"), py::arg("labels"),
           py::arg("epochs") = 1, py::arg("batch") = 32)
      .def("save", &PyTrainer::save, py::arg("path"))
      .def_property_readonly("steps", &PyTrainer::steps);
}
