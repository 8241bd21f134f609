#!/usr/bin/env bash
# AOT weights are exact: compiles test/aot/Inputs/special.dlc (constants of
# NaNs with payloads, signalling NaNs, -0.0, infinities, subnormals in f32,
# f64, f16, bf16, a float8, i4 and bool), runs it through the C API
# (bitexact.c) and compares every output byte for byte with the weights file
# it was made from. Also checks that the runtime refuses an older image ABI.
# Usage: bitexact.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
# $DLC_CC: the C compiler driver (the sanitizer build sets one that links
# the sanitizer runtimes); cc by default.
CC=${DLC_CC:-cc}
build=$1 src=$2
dlc=$build/tools/dlc
rtdir=$(dirname "$(ls "$build"/exec/libdlc_runtime.so)")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Little-endian integers as bytes.
le() { # le BYTES VALUE
  local i v=$2
  for ((i = 0; i < $1; i++)); do
    printf "\\x$(printf %02x $((v & 255)))"
    v=$((v >> 8))
  done
}
# tensor NAME DTYPE-CODE ELEM-BYTES HEX...: one entry of a weights file
# (ir/Weights.h: name, dtype, rank 1, dim, byte count, data); the data also
# goes to $work/expect/NAME.bin.
tensor() {
  local name=$1 code=$2 size=$3 v
  shift 3
  { for v in "$@"; do le "$size" "$((16#$v))"; done; } >"$work/expect/$name.bin"
  le 4 ${#name}; printf %s "$name"; le 1 "$code"; le 4 1; le 8 $#
  le 8 $(($# * size)); cat "$work/expect/$name.bin"
}
mkdir -p "$work/expect" "$work/out"
{
  printf DLCW; le 4 1; le 8 7
  # f32: +0, -0, +inf, -inf, quiet NaN with payload, signalling NaN,
  # negative NaN, smallest subnormal.
  tensor f 0 4 00000000 80000000 7f800000 ff800000 7fc12345 7f800001 \
    ffc00001 00000001
  # f64: -0, NaN with payload, signalling NaN, smallest subnormal.
  tensor d 1 8 8000000000000000 7ff8000000000123 7ff0000000000001 1
  # f16 and bf16: -0, NaN with payload, signalling NaN, smallest subnormal.
  tensor h 2 2 8000 7e01 7c01 0001
  tensor b 3 2 8000 7fc1 ff81 0001
  # f8e4m3fn: -0, NaN, negative NaN, smallest subnormal.
  tensor e 13 1 80 7f ff 01
  # i4, held sign-extended: -8, 7, -1, 0.
  tensor q 19 1 f8 07 ff 00
  tensor z 12 1 01 00
} >"$work/special.bin"
cp "$src/test/aot/Inputs/special.dlc" "$work/"

"$dlc" compile "$work/special.dlc" -o "$work/special.so"
$CC -std=c99 -Wall -Werror -I"$src/exec" -I"$work" "$src/test/aot/bitexact.c" \
  "$work/special.so" -Wl,-rpath,"$work" -L"$rtdir" -Wl,-rpath,"$rtdir" \
  -ldlc_runtime -o "$work/bitexact"
"$work/bitexact" "$work/out"

i=0
for pair in f:f32 d:f64 h:f16 b:bf16 e:f8e4m3fn q:i4 z:bool; do
  name=${pair%%:*} dtype=${pair#*:}
  [ "$(cat "$work/out/$i.dtype")" = "$dtype" ] ||
    { echo "bitexact.sh: output $i is $(cat "$work/out/$i.dtype"), not $dtype"; exit 1; }
  cmp "$work/expect/$name.bin" "$work/out/$i.bin" ||
    { echo "bitexact.sh: output $name differs:"; od -An -tx1 "$work/expect/$name.bin" \
        "$work/out/$i.bin"; exit 1; }
  i=$((i + 1))
done
# The graph text in the artifact names the tensors; it holds no numbers.
if strings "$work/special.so" | grep -q 'dense<'; then
  echo "bitexact.sh: the artifact still holds inline tensors"; exit 1
fi
echo "bitexact.sh: all checks passed"
