// Progress lines, epoch summaries and the SVG training plot.
#include "TrainReport.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

using namespace dlc;

static std::string fmt(const char *Format, double V) {
  char Buf[64];
  std::snprintf(Buf, sizeof(Buf), Format, V);
  return Buf;
}

std::string dlc::formatDuration(double Seconds) {
  if (!std::isfinite(Seconds) || Seconds < 0)
    return "?";
  int64_t S = int64_t(Seconds + 0.5);
  char Buf[32];
  if (S < 60)
    std::snprintf(Buf, sizeof(Buf), "%llds", (long long)S);
  else if (S < 3600)
    std::snprintf(Buf, sizeof(Buf), "%lldm%02llds", (long long)(S / 60),
                  (long long)(S % 60));
  else
    std::snprintf(Buf, sizeof(Buf), "%lldh%02lldm", (long long)(S / 3600),
                  (long long)(S / 60 % 60));
  return Buf;
}

std::string dlc::progressLine(int64_t Epoch, int64_t Epochs, int64_t Done,
                              int64_t Total, double Loss, double Accuracy,
                              double ImagesPerSecond, unsigned Width) {
  std::string L = "epoch " + std::to_string(Epoch) + "/" +
                  std::to_string(Epochs) + " ";
  if (Width) {
    unsigned Filled = Total ? unsigned(Width * Done / Total) : Width;
    L += "[" + std::string(Filled, '=') +
         (Filled < Width ? ">" + std::string(Width - Filled - 1, ' ') : "") +
         "] ";
  }
  L += std::to_string(Done) + "/" + std::to_string(Total) + " loss " +
       fmt("%.4f", Loss) + " accuracy " + fmt("%.4f", Accuracy) + " " +
       fmt("%.0f", ImagesPerSecond) + " images/s ETA " +
       formatDuration(ImagesPerSecond > 0 ? (Total - Done) / ImagesPerSecond
                                          : NAN);
  return L;
}

std::string dlc::epochLine(const EpochStats &S, int64_t Epochs) {
  return "epoch " + std::to_string(S.Epoch) + "/" + std::to_string(Epochs) +
         ": loss " + fmt("%.4f", S.TrainLoss) + ", accuracy " +
         fmt("%.4f", S.TrainAccuracy) +
         (std::isfinite(S.ValAccuracy)
              ? " | val loss " + fmt("%.4f", S.ValLoss) + ", accuracy " +
                    fmt("%.4f", S.ValAccuracy)
              : std::string()) +
         " | test loss " +
         fmt("%.4f", S.TestLoss) + ", accuracy " + fmt("%.4f", S.TestAccuracy) +
         " | " + fmt("%.0f", S.ImagesPerSecond) + " images/s, " +
         fmt("%.1f", S.Seconds) + "s";
}

namespace {

/// A tick step of 1, 2 or 5 times a power of ten, about Span / 5.
double niceStep(double Span) {
  double Raw = Span / 5, P = std::pow(10.0, std::floor(std::log10(Raw)));
  for (double M : {1.0, 2.0, 5.0})
    if (M * P >= Raw)
      return M * P;
  return 10 * P;
}

std::string escape(const std::string &S) {
  std::string R;
  for (char C : S)
    switch (C) {
    case '<': R += "&lt;"; break;
    case '>': R += "&gt;"; break;
    case '&': R += "&amp;"; break;
    case '"': R += "&quot;"; break;
    default: R += C;
    }
  return R;
}

struct Series {
  const char *Name, *Color;
  std::function<double(const EpochStats &)> Get;
};

/// The step losses of every epoch, smoothed by a bias-corrected moving
/// average over about 2% of the steps, at (epoch - 1 + (k + 1) / steps); at
/// most about 1000 points.
std::vector<std::pair<double, double>>
smoothedSteps(llvm::ArrayRef<EpochStats> E) {
  size_t Total = 0;
  for (const EpochStats &St : E)
    Total += St.StepLosses.size();
  std::vector<std::pair<double, double>> Out;
  if (Total == 0)
    return Out;
  double Window = std::max(1.0, double(Total) / 50);
  double Beta = 1 - 1 / Window, Avg = 0, Weight = 0;
  size_t Stride = (Total + 999) / 1000, Seen = 0;
  for (const EpochStats &St : E) {
    size_t N = St.StepLosses.size();
    for (size_t K = 0; K < N; ++K) {
      double V = St.StepLosses[K];
      if (!std::isfinite(V))
        continue;
      Avg = Beta * Avg + (1 - Beta) * V;
      Weight = Beta * Weight + (1 - Beta);
      if (++Seen % Stride == 0 || K + 1 == N)
        Out.push_back({double(St.Epoch - 1) + double(K + 1) / double(N),
                       Avg / Weight});
    }
  }
  return Out;
}

/// One panel at (X0, Y0) of size W x H: frame, ticks, the series, a legend.
void panel(std::string &Out, llvm::ArrayRef<EpochStats> E, const char *YLabel,
           llvm::ArrayRef<Series> S, bool Accuracy, double X0, double Y0,
           double W, double H) {
  const double L = 60, R = 15, T = 44, B = 45; // margins
  double PW = W - L - R, PH = H - T - B;
  // Ranges: epochs on x; loss from 0, accuracy up to at most 1.
  std::vector<std::pair<double, double>> Steps; // (epoch position, loss)
  if (!Accuracy)
    Steps = smoothedSteps(E);
  double XLo = E.front().Epoch, XHi = E.back().Epoch;
  if (!Steps.empty())
    XLo -= 1; // the steps of the first epoch start at its beginning
  if (XHi <= XLo)
    XLo -= 0.5, XHi += 0.5;
  double YLo = INFINITY, YHi = -INFINITY;
  for (const EpochStats &St : E)
    for (const Series &Se : S)
      if (std::isfinite(Se.Get(St)))
        YLo = std::min(YLo, Se.Get(St)), YHi = std::max(YHi, Se.Get(St));
  for (auto [X, V] : Steps)
    YLo = std::min(YLo, V), YHi = std::max(YHi, V);
  if (!std::isfinite(YLo))
    YLo = 0, YHi = 1;
  if (Accuracy)
    YLo = std::floor(YLo * 10) / 10, YHi = std::min(1.0, std::ceil(YHi * 10) / 10);
  else
    YLo = std::min(0.0, YLo), YHi = YHi * 1.1;
  if (YHi <= YLo)
    YHi = YLo + 1;
  auto X = [&](double V) { return X0 + L + (V - XLo) / (XHi - XLo) * PW; };
  auto Y = [&](double V) { return Y0 + T + (YHi - V) / (YHi - YLo) * PH; };

  Out += "<rect x=\"" + fmt("%.1f", X0 + L) + "\" y=\"" + fmt("%.1f", Y0 + T) +
         "\" width=\"" + fmt("%.1f", PW) + "\" height=\"" + fmt("%.1f", PH) +
         "\" fill=\"none\" stroke=\"#444\"/>\n";
  double Step = niceStep(YHi - YLo);
  for (double V = std::ceil(YLo / Step - 1e-9) * Step; V <= YHi + 1e-9; V += Step)
    Out += "<line x1=\"" + fmt("%.1f", X0 + L) + "\" x2=\"" +
           fmt("%.1f", X0 + L + PW) + "\" y1=\"" + fmt("%.1f", Y(V)) +
           "\" y2=\"" + fmt("%.1f", Y(V)) + "\" stroke=\"#ddd\"/>\n" +
           "<text x=\"" + fmt("%.1f", X0 + L - 6) + "\" y=\"" +
           fmt("%.1f", Y(V) + 4) + "\" text-anchor=\"end\">" +
           fmt("%.4g", std::fabs(V) < 1e-12 ? 0.0 : V) + "</text>\n";
  int64_t XStep = std::max<int64_t>(1, int64_t(niceStep(XHi - XLo)));
  for (int64_t Ep = int64_t(std::ceil(XLo)); Ep <= E.back().Epoch; Ep += XStep)
    Out += "<text x=\"" + fmt("%.1f", X(double(Ep))) + "\" y=\"" +
           fmt("%.1f", Y0 + T + PH + 18) + "\" text-anchor=\"middle\">" +
           std::to_string(Ep) + "</text>\n";
  Out += "<text x=\"" + fmt("%.1f", X0 + L + PW / 2) + "\" y=\"" +
         fmt("%.1f", Y0 + H - 8) + "\" text-anchor=\"middle\">epoch</text>\n";
  Out += std::string("<text x=\"") + fmt("%.1f", X0 + 16) + "\" y=\"" +
         fmt("%.1f", Y0 + T + PH / 2) + "\" text-anchor=\"middle\" "
         "transform=\"rotate(-90 " + fmt("%.1f", X0 + 16) + " " +
         fmt("%.1f", Y0 + T + PH / 2) + ")\">" + YLabel + "</text>\n";

  if (!Steps.empty()) {
    std::string Pts;
    for (auto [XV, V] : Steps)
      Pts += (Pts.empty() ? "" : " ") + fmt("%.1f", X(XV)) + "," +
             fmt("%.1f", Y(V));
    Out += "<polyline class=\"steps\" fill=\"none\" stroke-width=\"1\" "
           "stroke=\"#9ecae1\" points=\"" + Pts + "\"/>\n";
    double LX = X0 + L + 10, LY = Y0 + 34; // the legend's second row
    Out += "<line x1=\"" + fmt("%.1f", LX) + "\" x2=\"" + fmt("%.1f", LX + 20) +
           "\" y1=\"" + fmt("%.1f", LY - 4) + "\" y2=\"" + fmt("%.1f", LY - 4) +
           "\" stroke=\"#9ecae1\"/>\n<text x=\"" + fmt("%.1f", LX + 25) +
           "\" y=\"" + fmt("%.1f", LY) + "\">train loss per step "
           "(smoothed)</text>\n";
  }
  for (size_t K = 0; K < S.size(); ++K) {
    const Series &Se = S[K];
    // A polyline per run of finite values, a dot per point.
    std::string Pts;
    auto flush = [&] {
      if (!Pts.empty())
        Out += std::string("<polyline class=\"series\" fill=\"none\" "
                           "stroke-width=\"2\" stroke=\"") +
               Se.Color + "\" points=\"" + Pts + "\"/>\n";
      Pts.clear();
    };
    for (const EpochStats &St : E) {
      double V = Se.Get(St);
      if (!std::isfinite(V)) {
        flush();
        continue;
      }
      std::string P = fmt("%.1f", X(double(St.Epoch))) + "," + fmt("%.1f", Y(V));
      Pts += (Pts.empty() ? "" : " ") + P;
      Out += std::string("<circle r=\"3\" fill=\"") + Se.Color + "\" cx=\"" +
             fmt("%.1f", X(double(St.Epoch))) + "\" cy=\"" + fmt("%.1f", Y(V)) +
             "\"><title>" + Se.Name + ", epoch " + std::to_string(St.Epoch) +
             ": " + fmt("%.4f", V) + "</title></circle>\n";
    }
    flush();
    double LX = X0 + L + 10 + 120 * double(K), LY = Y0 + 18;
    Out += std::string("<line x1=\"") + fmt("%.1f", LX) + "\" x2=\"" +
           fmt("%.1f", LX + 20) + "\" y1=\"" + fmt("%.1f", LY - 4) + "\" y2=\"" +
           fmt("%.1f", LY - 4) + "\" stroke-width=\"2\" stroke=\"" + Se.Color +
           "\"/>\n<text x=\"" + fmt("%.1f", LX + 25) + "\" y=\"" +
           fmt("%.1f", LY) + "\">" + Se.Name + "</text>\n";
  }
}

} // namespace

std::string dlc::renderTrainingPlot(llvm::ArrayRef<EpochStats> Epochs,
                                    const std::string &Title) {
  const double W = 900, H = 380, Top = 30;
  std::string Out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    fmt("%.0f", W) + "\" height=\"" + fmt("%.0f", H) +
                    "\" viewBox=\"0 0 " + fmt("%.0f", W) + " " +
                    fmt("%.0f", H) +
                    "\" font-family=\"sans-serif\" font-size=\"12\">\n"
                    "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
                    "<text x=\"" + fmt("%.0f", W / 2) +
                    "\" y=\"20\" text-anchor=\"middle\" font-size=\"15\">" +
                    escape(Title) + "</text>\n";
  if (!Epochs.empty()) {
    const char *Blue = "#1f77b4", *Orange = "#ff7f0e";
    Series Loss[] = {
        {"train loss", Blue, [](const EpochStats &S) { return S.TrainLoss; }},
        {"test loss", Orange, [](const EpochStats &S) { return S.TestLoss; }}};
    Series Acc[] = {{"train accuracy", Blue,
                     [](const EpochStats &S) { return S.TrainAccuracy; }},
                    {"test accuracy", Orange,
                     [](const EpochStats &S) { return S.TestAccuracy; }}};
    // The validation series when the run had a split.
    bool Val = std::isfinite(Epochs.front().ValAccuracy);
    const char *Green = "#2ca02c";
    Series LossV[] = {Loss[0], Loss[1],
                      {"val loss", Green,
                       [](const EpochStats &S) { return S.ValLoss; }}};
    Series AccV[] = {Acc[0], Acc[1],
                     {"val accuracy", Green,
                      [](const EpochStats &S) { return S.ValAccuracy; }}};
    panel(Out, Epochs, "loss", llvm::ArrayRef(LossV, Val ? 3 : 2), false, 0,
          Top, W / 2, H - Top);
    panel(Out, Epochs, "accuracy", llvm::ArrayRef(AccV, Val ? 3 : 2), true,
          W / 2, Top, W / 2, H - Top);
  }
  Out += "</svg>\n";
  return Out;
}
