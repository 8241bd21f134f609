// OptimizerUpdate: the optimizer update formulas of passes/OptimizerUpdate.h.
#include "passes/OptimizerUpdate.h"

using namespace dlc;

Value *OptimizerUpdate::c(DType E, double V) { return B.scalar(E, V); }

Value *OptimizerUpdate::correction(DType E, int Which) {
  Value *&Slot = Corrections[{E, Which}];
  if (!Slot) {
    Value *TE = B.create(OpKind::Cast, {T}, {{"to", Attribute::getType(E)}});
    double Beta = Which == 0 ? Opt.Beta1 : Opt.Beta2;
    Slot = mk(OpKind::Sub, {c(E, 1.0), mk(OpKind::Pow, {c(E, Beta), TE})});
  }
  return Slot;
}
Value *OptimizerUpdate::mk(OpKind K, llvm::ArrayRef<Value *> Ops) {
  return B.create(K, Ops);
}

Value *OptimizerUpdate::state(Value *P, unsigned Index, llvm::StringRef Kind) {
  StateOf.push_back(Index);
  return F.addInput(Kind.str() + "." + P->Name, P->Type);
}

Value *OptimizerUpdate::update(Value *P, unsigned Index, Value *G) {
  DType E = P->Type.elem();
  Value *Lr = c(E, Opt.LearningRate);
  bool Decoupled = Opt.Kind == OptimizerKind::AdamW;
  if (Opt.WeightDecay != 0 && !Decoupled)
    G = mk(OpKind::Add, {G, mk(OpKind::Mul, {P, c(E, Opt.WeightDecay)})});
  auto Step = [&](Value *Delta) {
    return mk(OpKind::Sub, {P, mk(OpKind::Mul, {Delta, Lr})});
  };
  auto Keep = [&](llvm::StringRef Kind, Value *V) {
    NewState.push_back({Kind.str() + "." + P->Name, V});
  };
  auto Ema = [&](Value *Old, double Rate, Value *New) {
    return mk(OpKind::Add, {mk(OpKind::Mul, {Old, c(E, Rate)}),
                            mk(OpKind::Mul, {New, c(E, 1 - Rate)})});
  };
  auto Denom = [&](Value *Sq) {
    return mk(OpKind::Add, {mk(OpKind::Sqrt, {Sq}), c(E, Opt.Epsilon)});
  };
  switch (Opt.Kind) {
  case OptimizerKind::SGD:
    return Step(G);
  case OptimizerKind::Momentum:
  case OptimizerKind::Nesterov: {
    // PyTorch's form: v = mu v + g; p -= lr v (Nesterov: lr (g + mu v)).
    Value *V = state(P, Index, "velocity");
    Value *NV = mk(OpKind::Add, {mk(OpKind::Mul, {V, c(E, Opt.Momentum)}), G});
    Keep("velocity", NV);
    if (Opt.Kind == OptimizerKind::Momentum)
      return Step(NV);
    return Step(
        mk(OpKind::Add, {G, mk(OpKind::Mul, {NV, c(E, Opt.Momentum)})}));
  }
  case OptimizerKind::Adam:
  case OptimizerKind::AdamW: {
    Value *M = state(P, Index, "m"), *V = state(P, Index, "v");
    Value *NM = Ema(M, Opt.Beta1, G),
          *NV = Ema(V, Opt.Beta2, mk(OpKind::Mul, {G, G}));
    Keep("m", NM);
    Keep("v", NV);
    Value *MHat = mk(OpKind::Div, {NM, correction(E, 0)});
    Value *VHat = mk(OpKind::Div, {NV, correction(E, 1)});
    Value *Delta = mk(OpKind::Div, {MHat, Denom(VHat)});
    if (Decoupled && Opt.WeightDecay != 0)
      Delta =
          mk(OpKind::Add, {Delta, mk(OpKind::Mul, {P, c(E, Opt.WeightDecay)})});
    return Step(Delta);
  }
  case OptimizerKind::RMSprop: {
    Value *S = state(P, Index, "square_avg");
    Value *NS = Ema(S, Opt.Rho, mk(OpKind::Mul, {G, G}));
    Keep("square_avg", NS);
    return Step(mk(OpKind::Div, {G, Denom(NS)}));
  }
  case OptimizerKind::Adagrad: {
    Value *S = state(P, Index, "sum_sq");
    Value *NS = mk(OpKind::Add, {S, mk(OpKind::Mul, {G, G})});
    Keep("sum_sq", NS);
    return Step(mk(OpKind::Div, {G, Denom(NS)}));
  }
  }
  llvm_unreachable("optimizer kind out of range");
}
