// What `dlc train` shows: the live progress line, the per-epoch summary and
// the SVG plot of loss and accuracy per epoch.
#ifndef DLC_TOOLS_DLC_TRAINREPORT_H
#define DLC_TOOLS_DLC_TRAINREPORT_H

#include "llvm/ADT/ArrayRef.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace dlc {

struct EpochStats {
  int64_t Epoch = 0; // from 1
  double TrainLoss = 0, TrainAccuracy = 0;
  double TestLoss = 0, TestAccuracy = 0;
  double Seconds = 0;      // training time of the epoch
  double ImagesPerSecond = 0;
  std::vector<double> StepLosses; // the loss of each training step
  /// On the held-out part of the training data (--validation-split); NaN
  /// without one.
  double ValLoss = NAN, ValAccuracy = NAN;
};

/// "42s", "3m07s", "1h02m".
std::string formatDuration(double Seconds);

/// One progress line (no newline): epoch, a bar of Width characters (none
/// when Width is 0), examples done, running loss and accuracy, images/s and
/// the epoch's remaining time.
std::string progressLine(int64_t Epoch, int64_t Epochs, int64_t Done,
                         int64_t Total, double Loss, double Accuracy,
                         double ImagesPerSecond, unsigned Width);

/// "epoch 2/5: loss 0.4123, accuracy 0.8512 | test loss 0.4400, accuracy
/// 0.8390 | 2345 images/s, 25.6s", with "| val loss .., accuracy .." before
/// the test part when there is a validation split.
std::string epochLine(const EpochStats &S, int64_t Epochs);

/// An SVG (no dependencies, drawn by hand): two panels, loss (train, test)
/// and accuracy (train, test) per epoch, with axes, ticks and a legend; the
/// loss panel also draws the loss of every step, smoothed (an exponential
/// moving average, bias-corrected), at its fraction of the epoch.
/// Non-finite values leave gaps.
std::string renderTrainingPlot(llvm::ArrayRef<EpochStats> Epochs,
                               const std::string &Title);

} // namespace dlc

#endif
