// Training checkpoints of `dlc train --checkpoint DIR` / `--resume DIR`:
// after every epoch, the model (as -o would write it), the parameters and
// optimizer state bit for bit, the step count and the history so far.
//
//   DIR/checkpoint.txt      which epoch directory is current, and the recipe
//   DIR/epoch-N/model.dlc   the model with its weights (model.weights)
//   DIR/epoch-N/state.bin   parameters and optimizer state
//
// checkpoint.txt is replaced (write then rename) only once epoch-N is
// complete, so a run killed while saving leaves the previous checkpoint.
#ifndef DLC_TOOLS_DLC_CHECKPOINT_H
#define DLC_TOOLS_DLC_CHECKPOINT_H

#include "TrainReport.h"

#include "ir/IR.h"

#include <vector>

namespace dlc {

struct Checkpoint {
  /// What must be the same to resume: model, data, loss, optimizer and its
  /// settings, batch, seed (one line of text).
  std::string Recipe;
  int64_t Epoch = 0; // epochs done
  int64_t Steps = 0; // training steps done (dropout seeds follow it)
  std::vector<EpochStats> History;
  std::vector<Tensor> State; // Trainer::trainingState()
};

/// Writes C (and Model, the forward model with the current weights) into
/// Dir, creating it if needed; then drops the previous epoch's directory.
llvm::Error saveCheckpoint(llvm::StringRef Dir, const Checkpoint &C,
                           Module &Model);

/// Reads the current checkpoint of Dir. Damaged or foreign files are an
/// error that names the file.
llvm::Expected<Checkpoint> loadCheckpoint(llvm::StringRef Dir);

} // namespace dlc

#endif
