#!/usr/bin/env bash
# Runs one reference test script with the reference Python, or skips it
# (exit 77, ctest's skip code here) when that Python or its packages are absent.
# Usage: run.sh PYTHON SCRIPT [ARGS...]
py="$1"; shift
script="$1"; shift
if [ ! -x "$py" ]; then
  echo "SKIPPED: no reference Python at $py; run scripts/reference-env.sh to make it"
  exit 77
fi
exec "$py" "$script" "$@"
