// GraphBuilder and Sequential: build a dlc function layer by layer, keeping
// the first error.
#include "frontend/builder/GraphBuilder.h"

#include "ir/Random.h"
#include "ir/Verifier.h"

using namespace dlc;

Layer::~Layer() = default;

GraphBuilder::GraphBuilder(int64_t Seed, llvm::StringRef FunctionName)
    : M(std::make_unique<Module>()), Seed(Seed) {
  F = M->addFunction(FunctionName);
}

void GraphBuilder::fail(std::string Msg) {
  if (FirstError.empty())
    FirstError = std::move(Msg);
}

bool GraphBuilder::owns(const Value *V) const {
  if (!V || !F)
    return false;
  for (auto &In : F->Inputs)
    if (In.get() == V)
      return true;
  for (auto &P : F->Params)
    if (P.get() == V)
      return true;
  return V->Def && llvm::any_of(F->Body, [&](const auto &Op) {
           return Op.get() == V->Def;
         });
}

std::string GraphBuilder::uniqueName(llvm::StringRef Base) {
  unsigned &N = Counters[Base];
  std::string Name;
  do {
    Name = N ? (Base + "_" + llvm::Twine(N)).str() : Base.str();
    ++N;
  } while (Taken.count(Name));
  Taken.insert(Name);
  return Name;
}

Value *GraphBuilder::input(llvm::StringRef Name, llvm::ArrayRef<int64_t> Dims) {
  Shape S{Dim::symbol("N")};
  for (int64_t D : Dims)
    S.push_back(Dim::fixed(D));
  for (int64_t D : Dims)
    if (D < 1) {
      fail("error: input '" + Name.str() + "': dims must be positive, got " +
           TensorType(DType::F32, S).str());
      return nullptr;
    }
  return input(Name, TensorType(DType::F32, S));
}

Value *GraphBuilder::input(llvm::StringRef Name, TensorType T) {
  if (!F)
    return nullptr;
  return F->addInput(Name, std::move(T));
}

Value *GraphBuilder::apply(const Layer &L, Value *X) {
  if (failed() || !F)
    return nullptr;
  std::string Name;
  if (!L.UserName.empty()) {
    if (!Taken.insert(L.UserName).second) {
      fail("layer '" + L.UserName + "' (" + L.kindName().str() +
           "): error: the name is already taken by another layer");
      return nullptr;
    }
    Name = L.UserName;
  } else {
    Name = uniqueName(L.baseName());
  }
  Where = Loc::named("layer '" + Name + "' (" + L.kindName().str() + ")");
  if (!owns(X)) {
    fail(Where.str() + ": error: its input is not a value of this graph" +
         (X ? "" : " (null)"));
    return nullptr;
  }
  auto R = L.build(*this, X, Name);
  if (!R) {
    std::string Msg = llvm::toString(R.takeError());
    // Errors from the layer itself have no location; shape inference's
    // carry the layer's.
    if (llvm::StringRef(Msg).starts_with("error: "))
      Msg = Where.str() + ": " + Msg;
    fail(Msg);
    return nullptr;
  }
  return *R;
}

Value *GraphBuilder::op(OpKind K, llvm::ArrayRef<Value *> Operands,
                        std::vector<NamedAttr> Attrs, llvm::StringRef Name) {
  if (failed() || !F)
    return nullptr;
  std::string OpName = Name.empty() ? uniqueName(getOpInfo(K).Mnemonic)
                                    : Name.str();
  Where = Loc::named("op '" + OpName + "' (" + getOpInfo(K).Mnemonic.str() +
                     ")");
  for (Value *V : Operands)
    if (!owns(V)) {
      fail(Where.str() + ": error: an operand is not a value of this graph");
      return nullptr;
    }
  auto R = emit(K, Operands, std::move(Attrs), OpName);
  if (!R) {
    fail(llvm::toString(R.takeError()));
    return nullptr;
  }
  return *R;
}

llvm::Expected<Value *> GraphBuilder::emit(OpKind K,
                                           llvm::ArrayRef<Value *> Operands,
                                           std::vector<NamedAttr> Attrs,
                                           llvm::StringRef Name) {
  OpBuilder OB(*F, F->Body.end(), Where);
  auto Op = OB.tryCreate(K, Operands, std::move(Attrs));
  if (!Op)
    return Op.takeError();
  Value *R = (*Op)->result(0);
  R->Name = Name.str();
  return R;
}

Value *GraphBuilder::param(llvm::StringRef Name, llvm::ArrayRef<int64_t> Shape,
                           Init I, int64_t FanIn, int64_t FanOut) {
  Tensor T = initTensor(I, Shape, FanIn, FanOut, paramSeed(Seed, NumParams++));
  TensorType Ty = T.type();
  auto Ref = std::make_shared<const Tensor>(std::move(T));
  return F->addParam(Name, std::move(Ty), Attribute::getTensor(std::move(Ref)));
}

Value *GraphBuilder::constant(llvm::StringRef Name, Tensor T) {
  OpBuilder OB(*F, F->Body.end(), Where);
  Value *V = OB.constant(std::move(T));
  V->Name = Name.str();
  return V;
}

int64_t GraphBuilder::layerSeed() {
  // A stream apart from the parameters' (which count up from 0).
  return int64_t(splitMix64(uint64_t(paramSeed(Seed, ~NumSeeds++))) >> 33);
}

llvm::Expected<std::unique_ptr<Module>>
GraphBuilder::build(Value *Output, llvm::StringRef OutputName) {
  if (failed())
    return llvm::createStringError(llvm::inconvertibleErrorCode(), FirstError);
  if (!F)
    return makeError("build() was called twice on one GraphBuilder");
  if (!owns(Output))
    return makeError("the output is not a value of this graph");
  if (F->Inputs.empty())
    return makeError("the graph has no input");
  F->addOutput(OutputName, Output);
  if (auto E = verifyModule(*M))
    return std::move(E);
  F = nullptr;
  return std::move(M);
}

Sequential::Sequential(std::vector<int64_t> InputDims, std::string InputName)
    : InputDims(std::move(InputDims)), InputName(std::move(InputName)) {}

Sequential::Sequential(const Sequential &O)
    : InputDims(O.InputDims), InputName(O.InputName) {
  for (const auto &L : O.Layers)
    Layers.push_back(L->clone());
}

Sequential &Sequential::operator=(Sequential O) {
  InputDims = std::move(O.InputDims);
  InputName = std::move(O.InputName);
  Layers = std::move(O.Layers);
  return *this;
}

Sequential &Sequential::add(const Layer &L) {
  Layers.push_back(L.clone());
  return *this;
}

llvm::Expected<std::unique_ptr<Module>>
Sequential::build(int64_t Seed, llvm::StringRef OutputName) const {
  GraphBuilder B(Seed);
  Value *X = B.input(InputName, InputDims);
  for (const auto &L : Layers)
    X = B.apply(*L, X);
  return B.build(X, OutputName);
}
