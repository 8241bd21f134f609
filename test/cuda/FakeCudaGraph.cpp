// The fake CUDA driver's graphs: stream capture records what is queued on
// the stream instead of running it, an instance copies the recording, and
// a graph launch queues the recorded work, in order, as one op on the
// stream it is launched on. Kernel parameters are read when the launch is
// recorded, as CUDA copies them. See FakeCuda.h for what it checks.
#include "FakeCudaState.h"

using namespace fakecuda;

bool fakecuda::capturing(void *H, const char *Who) {
  auto *Q = static_cast<Stream *>(H);
  if (!Q || !Q->Capturing)
    return false;
  Q->Invalidated = true;
  violation(std::string(Who) + " on a stream that is capturing a graph");
  return true;
}

static Graph *find(std::vector<std::unique_ptr<Graph>> &V, void *H) {
  for (auto &P : V)
    if (P.get() == H)
      return P.get();
  return nullptr;
}

static bool erase(std::vector<std::unique_ptr<Graph>> &V, void *H) {
  for (auto It = V.begin(); It != V.end(); ++It)
    if (It->get() == H) {
      V.erase(It);
      return true;
    }
  return false;
}

FAKE_API CUresult cuStreamBeginCapture_v2(void *H, int Mode) {
  ENTER("cuStreamBeginCapture_v2");
  if (!H || !validStream(H) || Mode < 0 || Mode > 2) {
    violation("cuStreamBeginCapture_v2 on the default stream, an unknown "
              "stream or with an unknown mode");
    return 1;
  }
  Stream &Q = *static_cast<Stream *>(H);
  if (Q.Capturing) {
    violation("cuStreamBeginCapture_v2 on a stream that is capturing");
    return 900;
  }
  Q.Capturing = true;
  Q.Invalidated = false;
  Q.Captured.clear();
  return 0;
}

FAKE_API CUresult cuStreamEndCapture(void *H, void **G) {
  ENTER("cuStreamEndCapture");
  if (!H || !validStream(H) || !static_cast<Stream *>(H)->Capturing) {
    violation("cuStreamEndCapture on a stream that is not capturing");
    return 1;
  }
  Stream &Q = *static_cast<Stream *>(H);
  Q.Capturing = false;
  auto Ops = std::move(Q.Captured);
  Q.Captured.clear();
  if (Q.Invalidated) {
    *G = nullptr;
    return 901;
  }
  auto Gr = std::make_unique<Graph>();
  Gr->Ops = std::move(Ops);
  *G = Gr.get();
  st().Graphs.push_back(std::move(Gr));
  return 0;
}

FAKE_API CUresult cuGraphInstantiateWithFlags(void **X, void *G,
                                              unsigned long long Flags) {
  ENTER("cuGraphInstantiateWithFlags");
  Graph *Gr = find(st().Graphs, G);
  if (!Gr || Flags) {
    violation("cuGraphInstantiateWithFlags of an unknown graph or with flags");
    return 1;
  }
  auto E = std::make_unique<Graph>(*Gr);
  *X = E.get();
  st().Execs.push_back(std::move(E));
  return 0;
}

FAKE_API CUresult cuGraphLaunch(void *X, void *H) {
  ENTER("cuGraphLaunch");
  Graph *E = find(st().Execs, X);
  if (!E) {
    violation("cuGraphLaunch of an unknown or destroyed graph instance");
    return 400;
  }
  if (!validStream(H))
    return 400;
  if (capturing(H, "cuGraphLaunch"))
    return 900;
  // The instance may be destroyed while its launch is queued (CUDA frees
  // it when the launch is done): the queued op holds the work itself.
  auto Ops = std::make_shared<std::vector<std::function<CUresult()>>>(E->Ops);
  return enqueue(H, [Ops] {
    for (auto &Op : *Ops) {
      ++st().GraphLaunches;
      if (CUresult R = Op())
        return R;
    }
    return 0;
  });
}

FAKE_API CUresult cuGraphExecDestroy(void *X) {
  ENTER("cuGraphExecDestroy");
  if (!erase(st().Execs, X)) {
    violation("cuGraphExecDestroy of an unknown graph instance");
    return 400;
  }
  return 0;
}

FAKE_API CUresult cuGraphDestroy(void *G) {
  ENTER("cuGraphDestroy");
  if (!erase(st().Graphs, G)) {
    violation("cuGraphDestroy of an unknown graph");
    return 400;
  }
  return 0;
}
