// Interpreter kernels for N-D convolution, transposed convolution, max and
// average pooling (pads, dilations, ceil_mode, count_include_pad) and the
// global pools.
#include "interp/Kernels.h"

#include <cmath>
#include <limits>

using namespace dlc;
using namespace dlc::interp;

namespace {
/// Spatial window parameters of a conv or pool over K spatial dims.
struct Window {
  Sizes Kernel, Strides, Dilations, PadBegin, PadEnd;
};
} // namespace

/// Reads a per-spatial-dim list attribute: empty means Default everywhere.
static llvm::Expected<Sizes> spatialList(const Operation &Op,
                                         llvm::StringRef Name, unsigned K,
                                         int64_t Default, int64_t Min) {
  if (!Op.info().findAttr(Name))
    return Sizes(K, Default);
  llvm::ArrayRef<int64_t> L = Op.getInts(Name);
  if (L.empty())
    return Sizes(K, Default);
  if (L.size() != K)
    return opError(Op, Name + " has " + std::to_string(L.size()) +
                           " entries, expected " + std::to_string(K));
  for (int64_t V : L)
    if (V < Min)
      return opError(Op,
                     Name + " entries must be at least " + std::to_string(Min));
  return Sizes(L.begin(), L.end());
}

static llvm::Expected<Window> readWindow(const Operation &Op, unsigned K,
                                         llvm::ArrayRef<int64_t> Kernel) {
  Window W;
  W.Kernel.assign(Kernel.begin(), Kernel.end());
  auto S = spatialList(Op, "strides", K, 1, 1);
  if (!S)
    return S.takeError();
  auto D = spatialList(Op, "dilations", K, 1, 1);
  if (!D)
    return D.takeError();
  W.Strides = *S;
  W.Dilations = *D;
  llvm::ArrayRef<int64_t> P = Op.getInts("pads");
  if (P.empty()) {
    W.PadBegin.assign(K, 0);
    W.PadEnd.assign(K, 0);
  } else if (P.size() != 2 * K) {
    return opError(Op, "pads has " + std::to_string(P.size()) +
                           " entries, expected " + std::to_string(2 * K));
  } else {
    W.PadBegin.assign(P.begin(), P.begin() + K);
    W.PadEnd.assign(P.begin() + K, P.end());
  }
  return W;
}

/// The input offset read by window position KIdx at output position OIdx,
/// and whether it lies inside the input (false: it is padding).
static bool windowOffset(const Window &W, llvm::ArrayRef<int64_t> OIdx,
                         llvm::ArrayRef<int64_t> KIdx,
                         llvm::ArrayRef<int64_t> InSp,
                         llvm::ArrayRef<int64_t> InStr, int64_t &Off) {
  Off = 0;
  for (unsigned D = 0; D < InSp.size(); ++D) {
    int64_t P = OIdx[D] * W.Strides[D] - W.PadBegin[D] + KIdx[D] * W.Dilations[D];
    if (P < 0 || P >= InSp[D])
      return false;
    Off += P * InStr[D];
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Convolution
//===----------------------------------------------------------------------===//

llvm::Error interp::evalConv(const Operation &Op, TensorList In,
                             ResultList Out) {
  const Tensor &X = *In[0], &W = *In[1];
  const Tensor *B = In.size() > 2 ? In[2] : nullptr;
  Tensor &R = Out[0];
  if (X.rank() < 3 || W.rank() != X.rank())
    return opError(Op, "expected x[N,C,*] and w[M,C/group,*] of equal rank");
  unsigned K = X.rank() - 2;
  int64_t N = X.shape()[0], C = X.shape()[1], M = W.shape()[0];
  int64_t G = Op.getInt("group");
  if (G < 1 || C % G || M % G || W.shape()[1] != C / G)
    return opError(Op, "channels do not match: x " + shapeStr(X.shape()) +
                           ", w " + shapeStr(W.shape()) + ", group " +
                           std::to_string(G));
  if (B && (B->rank() != 1 || B->shape()[0] != M))
    return opError(Op, "bias must have shape [" + std::to_string(M) + "]");
  auto Win = readWindow(Op, K, W.shape().drop_front(2));
  if (!Win)
    return Win.takeError();
  llvm::ArrayRef<int64_t> InSp = X.shape().drop_front(2);
  Sizes Expected = {N, M};
  for (unsigned D = 0; D < K; ++D) {
    int64_t Span = (Win->Kernel[D] - 1) * Win->Dilations[D] + 1;
    int64_t Padded = InSp[D] + Win->PadBegin[D] + Win->PadEnd[D];
    Expected.push_back(Padded < Span ? 0
                                     : (Padded - Span) / Win->Strides[D] + 1);
  }
  if (llvm::Error E = expectShape(Op, R, Expected))
    return E;

  llvm::ArrayRef<int64_t> OutSp = R.shape().drop_front(2);
  int64_t Cg = C / G, Mg = M / G;
  int64_t OutSize = product(OutSp), InSize = product(InSp);
  int64_t KSize = product(Win->Kernel);
  Sizes InStr = stridesOf(InSp);
  Sizes OIdx(K), KIdx(K);
  for (int64_t Nn = 0; Nn < N; ++Nn)
    for (int64_t Mm = 0; Mm < M; ++Mm) {
      int64_t Grp = Mm / Mg;
      for (int64_t O = 0; O < OutSize; ++O) {
        unravel(O, OutSp, OIdx);
        double Acc = B ? B->getF(Mm) : 0.0;
        for (int64_t Kk = 0; Kk < KSize; ++Kk) {
          unravel(Kk, Win->Kernel, KIdx);
          int64_t Off;
          bool Inside = windowOffset(*Win, OIdx, KIdx, InSp, InStr, Off);
          if (!Inside)
            continue;
          for (int64_t Cc = 0; Cc < Cg; ++Cc) {
            int64_t XI = (Nn * C + Grp * Cg + Cc) * InSize + Off;
            int64_t WI = (Mm * Cg + Cc) * KSize + Kk;
            Acc += X.getF(XI) * W.getF(WI);
          }
        }
        R.setF((Nn * M + Mm) * OutSize + O, Acc);
      }
    }
  return llvm::Error::success();
}

llvm::Error interp::evalIm2Col(const Operation &Op, TensorList In,
                               ResultList Out) {
  const Tensor &X = *In[0];
  Tensor &R = Out[0];
  unsigned K = X.rank() - 2;
  auto Win = readWindow(Op, K, Op.getInts("kernel"));
  if (!Win)
    return Win.takeError();
  int64_t N = X.shape()[0], C = X.shape()[1];
  llvm::ArrayRef<int64_t> InSp = X.shape().drop_front(2);
  Sizes OutSp;
  for (unsigned D = 0; D < K; ++D) {
    int64_t Span = (Win->Kernel[D] - 1) * Win->Dilations[D] + 1;
    int64_t Padded = InSp[D] + Win->PadBegin[D] + Win->PadEnd[D];
    OutSp.push_back(Padded < Span ? 0 : (Padded - Span) / Win->Strides[D] + 1);
  }
  int64_t Rows = product(OutSp), KSize = product(Win->Kernel);
  bool ChannelMajor = Op.getBool("channel_major");
  if (llvm::Error E = expectShape(Op, R, ChannelMajor ? Sizes{N, C * KSize, Rows}
                                                      : Sizes{N, Rows, C * KSize}))
    return E;
  Sizes InStr = stridesOf(InSp), OIdx(K), KIdx(K);
  int64_t InSize = product(InSp);
  for (int64_t Nn = 0; Nn < N; ++Nn)
    for (int64_t O = 0; O < Rows; ++O) {
      unravel(O, OutSp, OIdx);
      for (int64_t Cc = 0; Cc < C; ++Cc)
        for (int64_t Kk = 0; Kk < KSize; ++Kk) {
          unravel(Kk, Win->Kernel, KIdx);
          int64_t Off;
          bool Inside = windowOffset(*Win, OIdx, KIdx, InSp, InStr, Off);
          double V = Inside ? X.getF((Nn * C + Cc) * InSize + Off) : 0.0;
          int64_t Col = Cc * KSize + Kk;
          R.setF(ChannelMajor ? (Nn * C * KSize + Col) * Rows + O
                              : (Nn * Rows + O) * C * KSize + Col,
                 V);
        }
    }
  return llvm::Error::success();
}

llvm::Error interp::evalConvTranspose(const Operation &Op, TensorList In,
                                      ResultList Out) {
  const Tensor &X = *In[0], &W = *In[1];
  const Tensor *B = In.size() > 2 ? In[2] : nullptr;
  Tensor &R = Out[0];
  if (X.rank() < 3 || W.rank() != X.rank())
    return opError(Op, "expected x[N,C,*] and w[C,M/group,*] of equal rank");
  unsigned K = X.rank() - 2;
  int64_t N = X.shape()[0], C = X.shape()[1];
  int64_t G = Op.getInt("group");
  if (G < 1 || C % G || W.shape()[0] != C)
    return opError(Op, "channels do not match: x " + shapeStr(X.shape()) +
                           ", w " + shapeStr(W.shape()) + ", group " +
                           std::to_string(G));
  int64_t Mg = W.shape()[1], M = Mg * G, Cg = C / G;
  if (B && (B->rank() != 1 || B->shape()[0] != M))
    return opError(Op, "bias must have shape [" + std::to_string(M) + "]");
  auto Win = readWindow(Op, K, W.shape().drop_front(2));
  if (!Win)
    return Win.takeError();
  auto OutPad = spatialList(Op, "output_padding", K, 0, 0);
  if (!OutPad)
    return OutPad.takeError();
  llvm::ArrayRef<int64_t> InSp = X.shape().drop_front(2);
  Sizes Expected = {N, M};
  for (unsigned D = 0; D < K; ++D) {
    int64_t Size = Win->Strides[D] * (InSp[D] - 1) + (*OutPad)[D] +
                   (Win->Kernel[D] - 1) * Win->Dilations[D] + 1 -
                   Win->PadBegin[D] - Win->PadEnd[D];
    Expected.push_back(std::max<int64_t>(Size, 0));
  }
  if (llvm::Error E = expectShape(Op, R, Expected))
    return E;

  llvm::ArrayRef<int64_t> OutSp = R.shape().drop_front(2);
  int64_t OutSize = product(OutSp), InSize = product(InSp);
  int64_t KSize = product(Win->Kernel);
  Sizes OutStr = stridesOf(OutSp);
  std::vector<double> Acc(R.numElements(), 0.0);
  Sizes IIdx(K), KIdx(K);
  // Scatter: input position i with kernel tap k lands on i*s - pad + k*d.
  for (int64_t Nn = 0; Nn < N; ++Nn)
    for (int64_t Cc = 0; Cc < C; ++Cc) {
      int64_t Grp = Cc / Cg;
      for (int64_t I = 0; I < InSize; ++I) {
        unravel(I, InSp, IIdx);
        double XV = X.getF((Nn * C + Cc) * InSize + I);
        for (int64_t Kk = 0; Kk < KSize; ++Kk) {
          unravel(Kk, Win->Kernel, KIdx);
          int64_t Off = 0;
          bool Inside = true;
          for (unsigned D = 0; D < K && Inside; ++D) {
            int64_t P = IIdx[D] * Win->Strides[D] - Win->PadBegin[D] +
                        KIdx[D] * Win->Dilations[D];
            Inside = P >= 0 && P < OutSp[D];
            Off += P * OutStr[D];
          }
          if (!Inside)
            continue;
          for (int64_t Mm = 0; Mm < Mg; ++Mm) {
            double WV = W.getF((Cc * Mg + Mm) * KSize + Kk);
            Acc[(Nn * M + Grp * Mg + Mm) * OutSize + Off] += XV * WV;
          }
        }
      }
    }
  for (int64_t I = 0, E = R.numElements(); I < E; ++I) {
    double Bias = B ? B->getF((I / OutSize) % M) : 0.0;
    R.setF(I, Acc[I] + Bias);
  }
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

static llvm::Error globalPool(const Operation &Op, const Tensor &X, Tensor &R) {
  if (X.rank() < 2)
    return opError(Op, "expected x[N,C,*]");
  Sizes Expected(X.shape().begin(), X.shape().end());
  for (unsigned D = 2; D < Expected.size(); ++D)
    Expected[D] = 1;
  if (llvm::Error E = expectShape(Op, R, Expected))
    return E;
  bool IsMax = Op.kind() == OpKind::GlobalMaxPool;
  int64_t Planes = X.shape()[0] * X.shape()[1];
  int64_t Size = product(X.shape().drop_front(2));
  for (int64_t P = 0; P < Planes; ++P) {
    double Acc = IsMax ? -std::numeric_limits<double>::infinity() : 0.0;
    for (int64_t I = 0; I < Size; ++I) {
      double V = X.getF(P * Size + I);
      if (!IsMax)
        Acc += V;
      else if (std::isnan(V) || V > Acc)
        Acc = std::isnan(Acc) ? Acc : V;
    }
    R.setF(P, IsMax ? Acc : Acc / double(Size));
  }
  return llvm::Error::success();
}

/// The window of a pooling op (or its gradient) over x[N, C, spatial...].
static llvm::Expected<Window> poolWindow(const Operation &Op, const Tensor &X) {
  if (X.rank() < 3)
    return opError(Op, "expected x[N,C,*] with spatial dims");
  unsigned K = X.rank() - 2;
  llvm::ArrayRef<int64_t> Kernel = Op.getInts("kernel");
  if (Kernel.size() != K)
    return opError(Op, "kernel has " + std::to_string(Kernel.size()) +
                           " entries, expected " + std::to_string(K));
  for (int64_t V : Kernel)
    if (V < 1)
      return opError(Op, "kernel sizes must be positive");
  return readWindow(Op, K, Kernel);
}

/// Calls Visit(offset in the plane) for each tap of the window at result
/// position OIdx that lies inside the input (sizes InSp, strides InStr),
/// in row-major kernel order.
template <typename VisitFn>
static void forEachTapInside(const Window &Win, llvm::ArrayRef<int64_t> InSp,
                             llvm::ArrayRef<int64_t> InStr,
                             llvm::ArrayRef<int64_t> OIdx, VisitFn Visit) {
  unsigned K = InSp.size();
  Sizes KIdx(K);
  int64_t KSize = product(Win.Kernel);
  for (int64_t Kk = 0; Kk < KSize; ++Kk) {
    unravel(Kk, Win.Kernel, KIdx);
    int64_t Off = 0;
    bool Inside = true;
    for (unsigned D = 0; D < K && Inside; ++D) {
      int64_t Pos = OIdx[D] * Win.Strides[D] - Win.PadBegin[D] +
                    KIdx[D] * Win.Dilations[D];
      Inside = Pos >= 0 && Pos < InSp[D];
      Off += Pos * InStr[D];
    }
    if (Inside)
      Visit(Off);
  }
}

llvm::Error interp::evalPool(const Operation &Op, TensorList In,
                             ResultList Out) {
  const Tensor &X = *In[0];
  Tensor &R = Out[0];
  if (Op.kind() == OpKind::GlobalAvgPool || Op.kind() == OpKind::GlobalMaxPool)
    return globalPool(Op, X, R);
  auto Win = poolWindow(Op, X);
  if (!Win)
    return Win.takeError();
  unsigned K = X.rank() - 2;
  // The spatial result sizes depend on ceil_mode rules that belong to shape
  // inference; every read below is bounds-checked, so only N and C must
  // agree here.
  if (R.rank() != X.rank() || R.shape()[0] != X.shape()[0] ||
      R.shape()[1] != X.shape()[1])
    return expectShape(Op, R, X.shape());

  bool IsMax = Op.kind() == OpKind::MaxPool;
  bool IncludePad = !IsMax && Op.getBool("count_include_pad");
  llvm::ArrayRef<int64_t> InSp = X.shape().drop_front(2);
  llvm::ArrayRef<int64_t> OutSp = R.shape().drop_front(2);
  int64_t Planes = X.shape()[0] * X.shape()[1];
  int64_t InSize = product(InSp), OutSize = product(OutSp);
  Sizes InStr = stridesOf(InSp);
  Sizes OIdx(K);
  for (int64_t P = 0; P < Planes; ++P)
    for (int64_t O = 0; O < OutSize; ++O) {
      unravel(O, OutSp, OIdx);
      double Acc = IsMax ? -std::numeric_limits<double>::infinity() : 0.0;
      int64_t Count = 0;
      forEachTapInside(*Win, InSp, InStr, OIdx, [&](int64_t Off) {
        double V = X.getF(P * InSize + Off);
        ++Count;
        if (!IsMax)
          Acc += V;
        else if (std::isnan(V) || V > Acc)
          Acc = std::isnan(Acc) ? Acc : V;
      });
      if (!IsMax) {
        if (IncludePad) {
          // Window positions inside the padded input count, positions past
          // it (from ceil_mode) do not.
          Count = 1;
          for (unsigned D = 0; D < K; ++D) {
            int64_t Start = OIdx[D] * Win->Strides[D] - Win->PadBegin[D];
            int64_t End =
                std::min(Start + Win->Kernel[D], InSp[D] + Win->PadEnd[D]);
            Count *= std::max<int64_t>(End - Start, 0);
          }
        }
        Acc = Count ? Acc / double(Count) : 0.0;
      }
      R.setF(P * OutSize + O, Acc);
    }
  return llvm::Error::success();
}

/// max_pool's gradient: for every window, in max_pool's scan order, the
/// position that max_pool's result came from (the first maximum; the first
/// NaN; the first tap inside the input when nothing beats -inf) gets dy.
llvm::Error interp::evalMaxPoolGrad(const Operation &Op, TensorList In,
                                    ResultList Out) {
  const Tensor &X = *In[0], &DY = *In[1];
  Tensor &R = Out[0];
  auto Win = poolWindow(Op, X);
  if (!Win)
    return Win.takeError();
  unsigned K = X.rank() - 2;
  if (DY.rank() != X.rank() || DY.shape()[0] != X.shape()[0] ||
      DY.shape()[1] != X.shape()[1])
    return opError(Op, "dy's batch and channels differ from x's");
  if (llvm::Error E = expectShape(Op, R, X.shape()))
    return E;
  llvm::ArrayRef<int64_t> InSp = X.shape().drop_front(2);
  llvm::ArrayRef<int64_t> OutSp = DY.shape().drop_front(2);
  int64_t Planes = X.shape()[0] * X.shape()[1];
  int64_t InSize = product(InSp), OutSize = product(OutSp);
  Sizes InStr = stridesOf(InSp);
  Sizes OIdx(K);
  for (int64_t I = 0; I < R.numElements(); ++I)
    R.setF(I, 0.0);
  for (int64_t P = 0; P < Planes; ++P)
    for (int64_t O = 0; O < OutSize; ++O) {
      unravel(O, OutSp, OIdx);
      double Best = 0;
      int64_t BestOff = -1;
      forEachTapInside(*Win, InSp, InStr, OIdx, [&](int64_t Off) {
        double V = X.getF(P * InSize + Off);
        if (BestOff < 0 || (!std::isnan(Best) && (std::isnan(V) || V > Best))) {
          Best = V;
          BestOff = Off;
        }
      });
      if (BestOff >= 0) {
        int64_t At = P * InSize + BestOff;
        R.setF(At, R.getF(At) + DY.getF(P * OutSize + O));
      }
    }
  return llvm::Error::success();
}
