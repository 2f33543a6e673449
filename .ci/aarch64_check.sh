#!/usr/bin/env bash
# CI: the CPU kernels on Jetson's CPU, checked here. csrc/tests/kernels_test.cpp runs every kernel
# on fixed inputs and compares the output bits with csrc/tests/kernels_reference.h (made on x86-64).
# It is built and run natively first (a failure there is the reference's or the kernels', not the
# architecture's), then cross-built for aarch64 with Debian's g++ and run under qemu user mode.
# Usage, from anywhere: bash .ci/aarch64_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
qemu_bin() { command -v qemu-aarch64-static || command -v qemu-aarch64 || true; }
# (Not `apt-cache ... | grep -q`: grep -q exits at the first match, apt-cache may die of SIGPIPE,
# and pipefail turns that into "no candidate".)
has_candidate() { [[ "$(apt-cache policy "$1" 2>/dev/null)" =~ Candidate:\ [^\(] ]]; }

# (a) The cross compiler and qemu, installed only when missing.
start=$(now)
missing=()
command -v aarch64-linux-gnu-g++ >/dev/null || missing+=(g++-aarch64-linux-gnu)
command -v file >/dev/null || missing+=(file)
if (( ${#missing[@]} )) || [[ -z "$(qemu_bin)" ]]; then
  sudo=""
  [[ $EUID -eq 0 ]] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  if [[ -z "$(qemu_bin)" ]]; then
    # qemu-user-static has qemu-aarch64-static and no shared-library dependencies; where a release
    # has no such package, qemu-user provides qemu-aarch64.
    if has_candidate qemu-user-static; then missing+=(qemu-user-static); else missing+=(qemu-user); fi
  fi
  echo "installing: ${missing[*]}"
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
qemu="$(qemu_bin)"
[[ -n "$qemu" ]] || { echo "no qemu-aarch64(-static) after the install" >&2; exit 1; }
echo "== packages: $(took "$start")"

checks_start=$(now)
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# The kernels' flags from csrc/CMakeLists.txt (Release: -O3). -ffp-contract=off matters most on
# aarch64: GCC contracts a*b+c into fmadd there by default, which would change the rounding.
# The x86-only target_clones in cpu_kernels.cpp are guarded by __x86_64__ and vanish on aarch64.
flags=(-std=c++17 -O3 -ffp-contract=off -fno-trapping-math -fopenmp-simd -pthread -Wall -Icsrc)
sources=(csrc/tests/kernels_test.cpp csrc/cpu_kernels.cpp)

# (b) Native x86-64 build and run.
start=$(now)
g++ "${flags[@]}" "${sources[@]}" -o "$out/kernels_test_native"
echo "== native build: $(took "$start")"
start=$(now)
"$out/kernels_test_native"
echo "== native run: $(took "$start")"

# (c) aarch64, static so qemu needs no aarch64 sysroot (glibc >= 2.34 has pthreads in libc, so a
# static -pthread binary runs its std::threads). Two targets:
#  - no -march: what the wheel build on a Jetson produces (CMake adds none; Ubuntu's aarch64 GCC
#    defaults to armv8-a), so this is the code that ships;
#  - -mcpu=cortex-a78ae: Orin's core (armv8.2-a with fp16, dotprod, ...), as `-mcpu=native` would
#    give on the device; a different instruction selection must not change a bit either.
# qemu's default CPU model ("max") implements both.
for target in "" "-mcpu=cortex-a78ae"; do
  name="kernels_test_aarch64${target:+_${target#-mcpu=}}"
  start=$(now)
  aarch64-linux-gnu-g++ "${flags[@]}" ${target:+"$target"} -static "${sources[@]}" -o "$out/$name"
  echo "== aarch64 build (${target:-no -march}): $(took "$start")"
  file -b "$out/$name"
  start=$(now)
  "$qemu" "$out/$name"
  echo "== aarch64 run under $(basename "$qemu") (${target:-no -march}): $(took "$start")"
done
echo "== all builds and runs (after packages): $(took "$checks_start")"
