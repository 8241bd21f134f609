// Graph IR containers: values, ops, functions, modules and the op builder.
#include "ir/IR.h"
#include "ir/Parser.h"
#include "ir/ShapeInference.h"

#include "llvm/ADT/StringMap.h"

#include <map>
#include <mutex>

using namespace dlc;

Operation::~Operation() = default;

Value *Operation::addResult(TensorType T) {
  auto V = std::make_unique<Value>();
  V->Type = std::move(T);
  V->Def = this;
  V->ResultNo = Results.size();
  Results.push_back(std::move(V));
  return Results.back().get();
}

const Attribute *Operation::findAttr(llvm::StringRef Name) const {
  for (const NamedAttr &A : Attrs)
    if (A.Name == Name)
      return &A.Value;
  return nullptr;
}

void Operation::setAttr(llvm::StringRef Name, Attribute A) {
  auto It = Attrs.begin();
  while (It != Attrs.end() && It->Name < Name)
    ++It;
  if (It != Attrs.end() && It->Name == Name)
    It->Value = std::move(A);
  else
    Attrs.insert(It, NamedAttr{Name.str(), std::move(A)});
}

void Operation::removeAttr(llvm::StringRef Name) {
  llvm::erase_if(Attrs, [&](const NamedAttr &A) { return A.Name == Name; });
}

/// The parsed default value of an op's attribute, cached.
static const Attribute &defaultAttr(OpKind K, llvm::StringRef Name) {
  static std::mutex M;
  static std::map<std::pair<unsigned, std::string>, Attribute> Cache;
  std::lock_guard<std::mutex> Lock(M);
  auto Key = std::make_pair(unsigned(K), Name.str());
  auto It = Cache.find(Key);
  if (It != Cache.end())
    return It->second;
  const AttrSpec *S = getOpInfo(K).findAttr(Name);
  assert(S && "attribute not declared in Ops.def");
  assert(S->hasDefault() && "required or optional attribute has no default: "
                            "use findAttr");
  Attribute A = llvm::cantFail(parseAttributeText(S->Default, S->Kind));
  return Cache.emplace(Key, std::move(A)).first->second;
}

const Attribute &Operation::attr(llvm::StringRef Name) const {
  if (const Attribute *A = findAttr(Name))
    return *A;
  return defaultAttr(Kind, Name);
}

Value *Function::addInput(llvm::StringRef Name, TensorType T) {
  auto V = std::make_unique<Value>();
  V->Name = Name.str();
  V->Type = std::move(T);
  Inputs.push_back(std::move(V));
  return Inputs.back().get();
}

Value *Function::addParam(llvm::StringRef Name, TensorType T,
                          std::optional<Attribute> Init) {
  auto V = std::make_unique<Value>();
  V->Name = Name.str();
  V->Type = std::move(T);
  Params.push_back(std::move(V));
  ParamInits.push_back(std::move(Init));
  return Params.back().get();
}

void Function::addOutput(llvm::StringRef Name, Value *V) {
  Outputs.push_back(V);
  OutputNames.push_back(Name.str());
}

std::unique_ptr<Function> Function::clone(llvm::StringRef NewName) const {
  auto F = std::make_unique<Function>();
  F->Name = NewName.str();
  F->L = L;
  llvm::DenseMap<const Value *, Value *> Map;
  auto CopyArg = [&](const Value &From, Value *To) {
    To->L = From.L;
    Map[&From] = To;
  };
  for (auto &In : Inputs)
    CopyArg(*In, F->addInput(In->Name, In->Type));
  for (size_t I = 0; I < Params.size(); ++I)
    CopyArg(*Params[I], F->addParam(Params[I]->Name, Params[I]->Type,
                                    I < ParamInits.size() ? ParamInits[I]
                                                          : std::nullopt));
  for (auto &Op : Body) {
    auto New = std::make_unique<Operation>(Op->kind(), Op->L);
    for (Value *V : Op->Operands)
      New->Operands.push_back(Map.lookup(V));
    for (const NamedAttr &A : Op->attrs())
      New->setAttr(A.Name, A.Value);
    for (auto &R : Op->Regions)
      New->Regions.push_back(R->clone(R->Name));
    for (auto &R : Op->Results) {
      Value *NR = New->addResult(R->Type);
      NR->Name = R->Name;
      NR->L = R->L;
      Map[R.get()] = NR;
    }
    F->Body.push_back(std::move(New));
  }
  for (size_t I = 0; I < Outputs.size(); ++I)
    F->addOutput(OutputNames[I], Map.lookup(Outputs[I]));
  return F;
}

void Function::replaceAllUses(Value *From, Value *To) {
  for (auto &Op : Body)
    for (Value *&O : Op->Operands)
      if (O == From)
        O = To;
  for (Value *&O : Outputs)
    if (O == From)
      O = To;
}

Value *ValueReplacer::lookup(Value *V) const {
  for (auto It = Map.find(V); It != Map.end(); It = Map.find(V))
    V = It->second;
  return V;
}

void ValueReplacer::remapOperands(Operation &Op) const {
  if (Map.empty())
    return;
  for (Value *&O : Op.Operands)
    O = lookup(O);
}

void ValueReplacer::finish(Function &F) const {
  if (Map.empty())
    return;
  for (auto &Op : F.Body)
    remapOperands(*Op);
  for (Value *&O : F.Outputs)
    O = lookup(O);
}

llvm::DenseMap<const Value *, unsigned> Function::countUses() const {
  llvm::DenseMap<const Value *, unsigned> Uses;
  for (auto &Op : Body)
    for (Value *O : Op->Operands)
      ++Uses[O];
  for (Value *O : Outputs)
    ++Uses[O];
  return Uses;
}

Function *Module::lookup(llvm::StringRef Name) const {
  for (auto &F : Functions)
    if (F->Name == Name)
      return F.get();
  return nullptr;
}

Function *Module::addFunction(llvm::StringRef Name) {
  Functions.push_back(std::make_unique<Function>());
  Functions.back()->Name = Name.str();
  return Functions.back().get();
}

llvm::Expected<Operation *> OpBuilder::tryCreate(OpKind K,
                                                 llvm::ArrayRef<Value *> Ops,
                                                 std::vector<NamedAttr> Attrs) {
  auto Op = std::make_unique<Operation>(K, L);
  Op->Operands.assign(Ops.begin(), Ops.end());
  for (NamedAttr &A : Attrs)
    Op->setAttr(A.Name, std::move(A.Value));
  auto Types = inferResultTypes(*Op);
  if (!Types)
    return Types.takeError();
  for (TensorType &T : *Types)
    Op->addResult(std::move(T));
  Operation *Raw = Op.get();
  F.Body.insert(IP, std::move(Op));
  return Raw;
}

Value *OpBuilder::create(OpKind K, llvm::ArrayRef<Value *> Ops,
                         std::vector<NamedAttr> Attrs) {
  auto Op = tryCreate(K, Ops, std::move(Attrs));
  if (!Op) {
    std::string Msg = llvm::toString(Op.takeError());
    llvm::report_fatal_error(llvm::Twine("dlc internal error: building ") +
                             getOpInfo(K).Mnemonic + ": " + Msg);
  }
  return (*Op)->result(0);
}

Value *OpBuilder::constant(Tensor T) {
  auto Ref = std::make_shared<const Tensor>(std::move(T));
  return create(OpKind::Constant, {},
                {{"value", Attribute::getTensor(std::move(Ref))}});
}

Value *OpBuilder::scalar(DType E, double V) {
  Tensor T(E, {});
  T.setF(0, V);
  return constant(std::move(T));
}

bool dlc::runsOnHost(const Operation &Op) {
  return Op.info().has(Collective) || Op.info().has(DataShape) ||
         Op.info().has(ControlFlow) || touchesStrings(Op);
}

bool dlc::touchesStrings(const Operation &Op) {
  for (const Value *V : Op.Operands)
    if (V->Type.elem() == DType::Str)
      return true;
  for (const auto &R : Op.Results)
    if (R->Type.elem() == DType::Str)
      return true;
  return false;
}
