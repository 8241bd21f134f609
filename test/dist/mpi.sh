#!/usr/bin/env bash
# Data-parallel training over MPI with two ranks on this machine (ctest runs
# each case as mpi-CASE; see test/CMakeLists.txt).
#   match      test/dist/DistTrainCheck.cpp's checks: 2 ranks x 32 against
#              1 process x 64 for 10 steps of keras-cnn, bit-identical ranks
#   match-adam the same with Adam
#   sync-bn    DistTrainCheck's synchronized batch norm: a BN CNN, 2 x 32
#              with sync-bn against 1 x 64 within 1e-5, local statistics
#              differ; an empty shard is refused on every rank
#   dlc-train-sync-bn  `mpiexec -n 2 dlc train --sync-bn --batch 4` on a
#              BN model gives the epoch lines of `dlc train --batch 8`;
#              without --sync-bn it does not
#   killed     rank 1 dies (SIGKILL) mid-training: rank 0 is ended too, the
#              launcher names rank 1, within seconds
#   hangs      rank 1 stops answering: rank 0's watchdog (2 s) ends the run
#              with an error naming the collective, within seconds
#   dlc-train  `mpiexec -n 2 dlc train --batch 16` prints and writes once
#              (rank 0) and gives the epoch lines of `dlc train --batch 32`,
#              with the gradient sums overlapped or not
#   bad-data   rank 1's data file is truncated: every rank exits, the error
#              names rank 1 and the file, within seconds
# The GPU path with NCCL, on the fake CUDA driver and the fake NCCL
# (test/cuda/FakeNccl.h; test/dist/NcclTrainCheck.cpp's cases):
#   nccl-match    2 ranks sum with NCCL: parameters bit-identical on both
#                 ranks after each of 6 steps and within 1e-6 of the
#                 host path (MPI); no gradient download; a sum per bucket
#   nccl-sync-bn  synchronized batch norm on the GPU: NCCL sums the batch
#                 norms' statistics on the device; it, the host path and
#                 the emulation match the CPU within 1e-5
#   nccl-error    rank 1's ncclAllReduce fails: both ranks end, within
#                 seconds, the error names ncclAllReduce and rank 1
#   nccl-async    NCCL reports an asynchronous error on rank 0: both end
#   nccl-hang     rank 1's sum never finishes, --comm-timeout 2: both end
#                 within seconds, the error names ncclAllReduce
#   nccl-init-hang  rank 1 never joins ncclCommInitRank, --comm-timeout 2:
#                 both end within seconds, naming ncclCommInitRank
#   nccl-missing  no libnccl: comm nccl is an error saying what to install,
#                 auto falls back to MPI with a note
#   nccl-emu      comm nccl on cuda-emu is an error; auto uses MPI
#   nccl-dlc-train  dlc train --comm: the option in --help, the note on
#                 stderr (NCCL, or MPI with why), the errors of --comm nccl
#                 without NCCL and with --device cuda-emu
# Usage: mpi.sh MPIEXEC BUILD_DIR SOURCE_DIR CASE
set -euo pipefail
mpiexec=$1 build=$2 src=$3 case=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dlc=$build/tools/dlc
check=$build/test/DistTrainCheck
run2() { timeout 300 "$mpiexec" --oversubscribe "$@"; }
fail() { echo "mpi.sh $case: $*"; exit 1; }
# Runs a command that must fail within LIMIT seconds; its output in $work/out.
must_fail_within() {
  local limit=$1; shift
  local start=$SECONDS rc=0
  "$@" >"$work/out" 2>&1 || rc=$?
  local took=$((SECONDS - start))
  cat "$work/out"
  echo "mpi.sh $case: exit status $rc after ${took}s"
  [ "$rc" -ne 0 ] || fail "expected a failure"
  [ "$rc" -ne 124 ] || fail "timed out: a rank hung"
  [ "$took" -le "$limit" ] || fail "took ${took}s, more than ${limit}s"
}

case $case in
match|match-adam)
  opt=sgd; [ "$case" = match-adam ] && opt=adam
  run2 -n 2 "$check" "$case" | tee "$work/out"
  [ "$(grep -Ec "^$opt step .*ranks bit-identical$" "$work/out")" -eq 10 ] || fail "10 steps"
  grep -q "^all checks passed on 2 ranks" "$work/out" || fail "checks"
  ;;
sync-bn)
  run2 -n 2 "$check" sync-bn | tee "$work/out"
  [ "$(grep -Ec "^sync-bn step .*ranks bit-identical$" "$work/out")" -eq 10 ] || fail "10 steps"
  grep -q "^sync-bn: a global batch of 1 is refused on every rank" "$work/out" ||
    fail "empty shard"
  grep -q "^all checks passed on 2 ranks" "$work/out" || fail "checks"
  ;;
dlc-train-sync-bn)
  python3 "$src/test/tools/Inputs/make_tiny_mnist.py" "$work/data" 200 50
  python3 "$src/test/dist/make_bn_model.py" "$work/bn.dlc"
  common=(train "$work/bn.dlc" --data "mnist:$work/data" --epochs 2 --seed 3
          --threads 1 --optimizer sgd --lr 0.05 --comm-timeout 120)
  run2 -n 2 "$dlc" "${common[@]}" --batch 4 --sync-bn | tee "$work/sync"
  run2 -n 2 "$dlc" "${common[@]}" --batch 4 | tee "$work/local"
  "$dlc" "${common[@]}" --batch 8 | tee "$work/one"
  grep -q "batch 4 per rank x 2 ranks (global batch 8, 1 thread per rank, synchronized batch norm)" \
    "$work/sync" || fail "no rank line"
  strip() { grep -E "^(epoch|test accuracy)" "$1" | sed 's/ | [0-9.]* images\/s.*//'; }
  for f in one sync local; do strip "$work/$f" >"$work/$f.lines"; done
  cat "$work/sync.lines"
  [ "$(wc -l <"$work/sync.lines")" -eq 3 ] || fail "expected 2 epochs"
  diff "$work/one.lines" "$work/sync.lines" || fail "2 x 4 --sync-bn differs from 1 x 8"
  if diff -q "$work/one.lines" "$work/local.lines" >/dev/null; then
    fail "without --sync-bn, 2 x 4 should differ from 1 x 8 on a BN model"
  fi
  ;;
killed)
  must_fail_within 60 run2 -n 2 "$check" kill
  grep -q "rank 1: kill after 2 steps" "$work/out" || fail "no kill"
  grep -Eq "rank 1 .*(signal 9|Killed)|process rank 1" "$work/out" ||
    fail "the launcher's message does not name rank 1"
  ;;
hangs)
  must_fail_within 60 run2 -n 2 "$check" hang
  grep -q "dlc: rank 0 of 2: error: MPI_Allreduce has not finished after 2 s" \
    "$work/out" || fail "no watchdog error"
  ;;
dlc-train|bad-data)
  python3 "$src/test/tools/Inputs/make_tiny_mnist.py" "$work/data" 200 50
  common=(train --model mlp --epochs 2 --seed 3 --threads 1 --optimizer sgd
          --lr 0.05 --comm-timeout 120)
  if [ "$case" = bad-data ]; then
    cp -r "$work/data" "$work/bad"
    head -c 3000 "$work/data/train-images-idx3-ubyte.gz" \
      >"$work/bad/train-images-idx3-ubyte.gz"
    must_fail_within 60 run2 -n 1 "$dlc" "${common[@]}" --data "mnist:$work/data" \
      : -n 1 "$dlc" "${common[@]}" --data "mnist:$work/bad"
    grep -q "dlc train: rank 1 of 2: error: .*train-images-idx3-ubyte.gz" \
      "$work/out" || fail "the error does not name rank 1 and the file"
    # (mpirun's own "MPI_ABORT was invoked on rank 1" notice is not
    # checked: mpirun sometimes fails to print it while it tears down.)
    echo "mpi.sh $case: passed"
    exit 0
  fi
  run2 -n 2 "$dlc" "${common[@]}" --data "mnist:$work/data" --batch 16 \
    -o "$work/two.dlc" --plot "$work/two.svg" | tee "$work/two"
  "$dlc" "${common[@]}" --data "mnist:$work/data" --batch 32 | tee "$work/one"
  grep -q "batch 16 per rank x 2 ranks (global batch 32, 1 thread per rank)" \
    "$work/two" || fail "no rank line"
  for what in "^training " "^test accuracy" "^wrote .*two.dlc" "^wrote .*two.svg"; do
    [ "$(grep -c "$what" "$work/two")" -eq 1 ] || fail "'$what' not once"
  done
  [ -s "$work/two.dlc" ] && [ -s "$work/two.weights" ] && [ -s "$work/two.svg" ] ||
    fail "rank 0 did not write -o and --plot"
  # The same losses and accuracies as one process at twice the batch.
  strip() { grep -E "^(epoch|test accuracy)" "$1" | sed 's/ | [0-9.]* images\/s.*//'; }
  strip "$work/one" >"$work/one.lines"
  strip "$work/two" >"$work/two.lines"
  cat "$work/two.lines"
  diff "$work/one.lines" "$work/two.lines" || fail "2 x 16 differs from 1 x 32"
  [ "$(wc -l <"$work/two.lines")" -eq 3 ] || fail "expected 2 epochs"
  # Gradient sums after the backward pass (blocking) instead of during it:
  # the same lines.
  run2 -n 2 "$dlc" "${common[@]}" --data "mnist:$work/data" --batch 16 \
    --comm-overlap=false >"$work/blocking"
  strip "$work/blocking" >"$work/blocking.lines"
  diff "$work/two.lines" "$work/blocking.lines" || fail "--comm-overlap=false differs"
  ;;
nccl-*)
  ncheck=$build/test/NcclTrainCheck
  fakecuda=$build/test/cuda/libdlc_fake_cuda.so
  fakenccl=$build/test/cuda/libdlc_fake_nccl.so
  mkdir -p "$work/nccl"
  export DLC_CUDA_DRIVER=$fakecuda DLC_NCCL_LIBRARY=$fakenccl \
    DLC_FAKE_NCCL_DIR=$work/nccl
  envs=(-x DLC_CUDA_DRIVER -x DLC_NCCL_LIBRARY -x DLC_FAKE_NCCL_DIR)
  case $case in
  nccl-match)
    run2 "${envs[@]}" -n 2 "$ncheck" match | tee "$work/out"
    [ "$(grep -Ec "^nccl step .*ranks bit-identical$" "$work/out")" -eq 6 ] || fail "6 steps"
    grep -q "^nccl trainer: gradient sums: NCCL 2.99.0 (.*libdlc_fake_nccl.so) on the GPU" \
      "$work/out" || fail "no NCCL note"
    grep -q "^all checks passed on 2 ranks" "$work/out" || fail "checks"
    ;;
  nccl-sync-bn)
    run2 "${envs[@]}" -n 2 "$ncheck" sync-bn | tee "$work/out"
    [ "$(grep -Ec "^sync-bn step .*ranks bit-identical$" "$work/out")" -eq 4 ] || fail "4 steps"
    grep -q "^all checks passed on 2 ranks" "$work/out" || fail "checks"
    ;;
  nccl-error)
    must_fail_within 60 run2 "${envs[@]}" -n 2 "$ncheck" error
    grep -q "rank 1 of 2: error: ncclAllReduce failed (rank 1 of 2, [0-9]* elements): ncclSystemError (unhandled system error" \
      "$work/out" || fail "no error naming ncclAllReduce on rank 1"
    ;;
  nccl-async)
    must_fail_within 60 run2 "${envs[@]}" -n 2 "$ncheck" async
    grep -q "rank 0 of 2: error: rank 0 of 2: ncclAllReduce (the gradient sums) failed: ncclRemoteError (remote process exited" \
      "$work/out" || fail "no asynchronous error on rank 0"
    ;;
  nccl-hang)
    must_fail_within 60 run2 "${envs[@]}" -n 2 "$ncheck" hang
    grep -q "error: rank [01] of 2: ncclAllReduce (the gradient sums) has not finished after 2 s: another rank is stuck, far behind or gone (--comm-timeout sets the limit); the NCCL communicator was aborted" \
      "$work/out" || fail "no timeout error"
    ;;
  nccl-init-hang)
    must_fail_within 60 run2 "${envs[@]}" -n 2 "$ncheck" init-hang
    grep -q "dlc: rank [01] of 2: error: ncclCommInitRank has not finished after 2 s: another rank is stuck, far behind or gone (--comm-timeout sets the limit)" \
      "$work/out" || fail "no init watchdog error"
    ;;
  nccl-missing)
    export DLC_NCCL_LIBRARY=/nonexistent/libnccl.so.2
    run2 "${envs[@]}" -n 2 "$ncheck" missing | tee "$work/out"
    grep -q "^all checks passed on 2 ranks" "$work/out" || fail "checks"
    ;;
  nccl-emu)
    run2 "${envs[@]}" -n 2 "$ncheck" emu | tee "$work/out"
    grep -q "^all checks passed on 2 ranks" "$work/out" || fail "checks"
    ;;
  nccl-dlc-train)
    "$dlc" train --help >"$work/help"
    grep -q -- "--comm=<auto|mpi|nccl>" "$work/help" ||
      fail "--comm is not in dlc train --help"
    python3 "$src/test/tools/Inputs/make_tiny_mnist.py" "$work/data" 64 16
    common=(train --model mlp --data "mnist:$work/data" --epochs 1
            --threads 1 --batch 16 --comm-timeout 20)
    # cuda-emu cannot use NCCL (one process: the check comes first).
    if "$dlc" "${common[@]}" --device cuda-emu --comm nccl >"$work/out" 2>&1; then
      fail "--comm nccl with cuda-emu should fail"
    fi
    cat "$work/out"
    grep -q "error: comm \"nccl\" sums gradients in GPU memory and needs device \"cuda\": the CPU emulation of a GPU (cuda-emu) cannot use NCCL" \
      "$work/out" || fail "no cuda-emu error"
    # With the fake NCCL, the note names it (the fake driver runs no PTX,
    # so only the note is checked, not what is learned).
    # (stderr on its own: mpirun interleaves it with stdout mid-line)
    run2 "${envs[@]}" -n 2 "$dlc" "${common[@]}" --device cuda \
      >"$work/out" 2>"$work/err" || true
    cat "$work/out" "$work/err"
    [ "$(grep -c "^dlc train: gradient sums: NCCL 2.99.0 (.*libdlc_fake_nccl.so) on the GPU" "$work/err")" -eq 1 ] ||
      fail "no NCCL note, once, from rank 0"
    # Without NCCL: auto falls back with a note; --comm nccl is an error.
    export DLC_NCCL_LIBRARY=/nonexistent/libnccl.so.2
    run2 "${envs[@]}" -n 2 "$dlc" "${common[@]}" --device cuda \
      >"$work/out" 2>"$work/err" || true
    cat "$work/out" "$work/err"
    grep -q "^dlc train: gradient sums: MPI through the host (NCCL: NCCL not found (DLC_NCCL_LIBRARY=/nonexistent/libnccl.so.2: " \
      "$work/err" || fail "no fallback note"
    must_fail_within 60 run2 "${envs[@]}" -n 2 "$dlc" "${common[@]}" \
      --device cuda --comm nccl
    grep -q "error: NCCL not found (DLC_NCCL_LIBRARY=/nonexistent/libnccl.so.2: .*pip install nvidia-nccl-cu12" \
      "$work/out" || fail "no error for --comm nccl without NCCL"
    ;;
  *)
    fail "unknown case"
    ;;
  esac
  ;;
*)
  fail "unknown case"
  ;;
esac
echo "mpi.sh $case: passed"
