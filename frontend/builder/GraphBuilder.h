// The builder API's core: GraphBuilder (a functional style for arbitrary
// graphs: inputs, layer calls on values, any dlc op, build()) and Sequential
// (a stack of layers). Both produce a dlc Module with one function "main":
// inputs with the symbolic batch dim N first, parameters with their initial
// values, one output.
//
//   dlc::GraphBuilder B(/*Seed=*/42);
//   dlc::Value *X = B.input("images", {1, 28, 28});      // f32[N,1,28,28]
//   dlc::Value *H = B.apply(dlc::Conv2D(32, 3, dlc::Activation::Relu), X);
//   H = B.apply(dlc::Flatten(), H);
//   H = B.apply(dlc::Dense(10, dlc::Activation::Softmax), H);
//   auto M = B.build(H, "probs");   // Expected<std::unique_ptr<Module>>
//
// Layer calls do not return errors one by one: the first error (a bad
// layer configuration, a shape that does not fit) is kept, later calls do
// nothing and return null, and build() reports it, naming the layer.
#ifndef DLC_FRONTEND_BUILDER_GRAPHBUILDER_H
#define DLC_FRONTEND_BUILDER_GRAPHBUILDER_H

#include "frontend/builder/Initializers.h"
#include "ir/IR.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <memory>
#include <string>
#include <vector>

namespace dlc {

class GraphBuilder;

/// A layer: configuration, and how it adds its ops and parameters to a
/// graph. Concrete layers are in frontend/builder/Layers.h.
class Layer {
public:
  virtual ~Layer();
  /// The layer's kind as users know it ("Conv2D").
  virtual llvm::StringRef kindName() const = 0;
  /// The base of automatic names ("conv2d" gives conv2d, conv2d_1, ...).
  virtual llvm::StringRef baseName() const = 0;
  virtual std::unique_ptr<Layer> clone() const = 0;
  /// Adds the layer applied to X to B. Name is the layer's (unique) name,
  /// used for its parameters and values. Errors need no location: the
  /// builder adds the layer's name and kind.
  virtual llvm::Expected<Value *> build(GraphBuilder &B, Value *X,
                                        llvm::StringRef Name) const = 0;

  /// A name chosen by the user (unique in the model); empty: automatic.
  std::string UserName;
};

class GraphBuilder {
public:
  explicit GraphBuilder(int64_t Seed = 0, llvm::StringRef FunctionName = "main");
  GraphBuilder(GraphBuilder &&) = default;

  /// A graph input of type f32[N, Dims...]: N is the symbolic batch dim.
  Value *input(llvm::StringRef Name, llvm::ArrayRef<int64_t> Dims);
  /// A graph input of any type.
  Value *input(llvm::StringRef Name, TensorType T);

  /// Applies L to X and returns its result, or null once an error is kept.
  Value *apply(const Layer &L, Value *X);

  /// Any dlc op on values of this graph (a residual add, a concat, ...);
  /// result types come from shape inference. Returns the first result, or
  /// null once an error is kept.
  Value *op(OpKind K, llvm::ArrayRef<Value *> Operands,
            std::vector<NamedAttr> Attrs = {}, llvm::StringRef Name = {});

  /// Finishes the graph with one output. Errors: the first error kept, an
  /// output that is null or not from this builder, a second build().
  llvm::Expected<std::unique_ptr<Module>> build(Value *Output,
                                                llvm::StringRef OutputName =
                                                    "output");

  // ----- For layer implementations ---------------------------------------
  /// A new f32 parameter drawn from I, with its own stream of the builder's
  /// seed (parameter k of a model always gets the same stream).
  Value *param(llvm::StringRef Name, llvm::ArrayRef<int64_t> Shape, Init I,
               int64_t FanIn, int64_t FanOut);
  /// A constant tensor.
  Value *constant(llvm::StringRef Name, Tensor T);
  /// Adds one op at the end of the function; errors from shape inference.
  llvm::Expected<Value *> emit(OpKind K, llvm::ArrayRef<Value *> Operands,
                               std::vector<NamedAttr> Attrs,
                               llvm::StringRef Name);
  /// A seed for a layer's own randomness (dropout masks), distinct per layer.
  int64_t layerSeed();
  /// Whether an error has been kept.
  bool failed() const { return !FirstError.empty(); }
  /// The function under construction (for inspection).
  const Function &function() const { return *F; }

private:
  std::string uniqueName(llvm::StringRef Base);
  bool owns(const Value *V) const;
  void fail(std::string Msg);

  std::unique_ptr<Module> M;
  Function *F = nullptr;
  int64_t Seed;
  uint64_t NumParams = 0, NumSeeds = 0;
  llvm::StringMap<unsigned> Counters; // next suffix per base name
  llvm::StringSet<> Taken;            // layer and op names used
  std::string FirstError;
  Loc Where; // location of the layer being built
};

/// A plain stack of layers on one input.
class Sequential {
public:
  /// InputDims: one example's dims, without the batch dim ({1, 28, 28}).
  explicit Sequential(std::vector<int64_t> InputDims,
                      std::string InputName = "input");
  Sequential(const Sequential &O);
  Sequential(Sequential &&) = default;
  Sequential &operator=(Sequential O);
  Sequential &add(const Layer &L);
  /// Builds "main": f32[N, InputDims...] -> OutputName.
  llvm::Expected<std::unique_ptr<Module>>
  build(int64_t Seed = 0, llvm::StringRef OutputName = "output") const;
  size_t size() const { return Layers.size(); }

private:
  std::vector<int64_t> InputDims;
  std::string InputName;
  std::vector<std::unique_ptr<Layer>> Layers;
};

} // namespace dlc

#endif
