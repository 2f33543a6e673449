#!/usr/bin/env bash
# Everything a lent GPU slot is for, in the order it is owed: (1) the motion-deblur training recipe
# (MINUTES of training, default 6.5, then a CPU evaluation), (2) benchmarks/device_check.sh (native
# kernels, GPU latency). Prepared as one command so a session spends one machine start on both.
#
#   benchmarks/device_all.sh [OUTDIR]     (default: $OUT, else ./device_all_out)
#
# OUTDIR/train/ gets the recipe's five files; device_check's files are packed into
# OUTDIR/device_check.tar.gz (a device run brings back at most 8 files). CHECK_TIMEOUT (seconds,
# default 150) bounds the check so the whole command fits one 10-minute call.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-$PWD/device_all_out}}"
mkdir -p "$out/train"
bash benchmarks/gpu_train_recipe.sh "$out/train"
train_rc=$?
echo "training recipe: rc $train_rc"
check="$(mktemp -d)/device_check"
timeout "${CHECK_TIMEOUT:-150}" bash benchmarks/device_check.sh "$check"
check_rc=$?
echo "device_check: rc $check_rc (124: stopped by CHECK_TIMEOUT)"
tar czf "$out/device_check.tar.gz" -C "$(dirname "$check")" device_check
[ -f "$check/summary.txt" ] && cat "$check/summary.txt"
exit $(( train_rc != 0 || check_rc != 0 ))
