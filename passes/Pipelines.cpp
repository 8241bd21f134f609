// Named pass pipelines: plain ordered lists, one reason per step.
#include "passes/Pass.h"

using namespace dlc;

namespace {
struct Step {
  const char *Pass;
  const char *Reason;
};

// The graph-level optimization pipeline used by `dlc run`.
const Step Optimize[] = {
    {"decompose", "later stages handle primitives only"},
    {"conv-to-gemm", "convolutions, and dense layers over batches of sequences, run on the blocked GEMM kernel"},
    {"sink-reshapes", "keep elementwise chains after a conv in its matmul's "
                      "shape, so they fuse as its epilogue"},
    {"canonicalize", "drop no-ops that decomposition and frontends leave"},
    {"fold-constants", "precompute weight-only subgraphs (batch-norm scales)"},
    {"cse", "merge the duplicates that folding and decomposition expose"},
    {"dce", "remove what the steps above made unused"},
    {"infer-shapes", "refine '?' dims now that the graph is final"},
    {"fuse", "run elementwise chains, epilogues and softmax-like rows as one "
             "kernel each"},
};
} // namespace

std::string dlc::optimizePipeline() {
  std::string S;
  for (const Step &St : Optimize)
    S += (S.empty() ? "" : ",") + std::string(St.Pass);
  return S;
}
