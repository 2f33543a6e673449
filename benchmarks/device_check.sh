#!/usr/bin/env bash
# The one script a GPU machine runs for the native kernels (csrc/): build indi_edge._core with CUDA
# (editable install, no network: --no-deps --no-build-isolation), list the GPU code it holds, run the
# CPU and GPU kernel tests, the TensorRT backend's loop without TensorRT (section 3b,
# benchmarks/gpu_harness.py), run benchmarks/kernels.py, then (section 5) the torch CUDA backend's tests
# and benchmarks/gpu_latency.py, and print a summary table.
#
#   benchmarks/device_check.sh [OUTDIR]     (default: $OUT, else ./device_check_out)
#
# Writes to OUTDIR: build.log, native.txt, test_cpu.log, test_gpu.log, gpu_harness.log, gpu_harness.json,
# bench.log, kernels.json, test_gpu_backends.log, gpu_latency.log, gpu_latency.json, summary.txt.
# Where no GPU is visible the GPU steps skip with a message. PYTHON picks the interpreter
# (default python3); THREADS the CPU kernel threads for the benchmark (default: all cores, at most 8).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-$PWD/device_check_out}}"
mkdir -p "$out"
py="${PYTHON:-python3}"
threads="${THREADS:-$(( $(nproc) < 8 ? $(nproc) : 8 ))}"
if ! command -v nvcc > /dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"

rows=()
failed=0
# step NAME LOG COMMAND...: run COMMAND with output to OUTDIR/LOG, record status and seconds.
step() {
  local name=$1 log=$2
  shift 2
  local start=$(date +%s%N)
  "$@" > "$out/$log" 2>&1
  local rc=$?
  local ms=$(( ($(date +%s%N) - start) / 1000000 ))
  local status="ok"
  [ "$rc" -eq 0 ] || { status="FAILED (rc $rc)"; failed=1; }
  rows+=("$(printf '%-22s %-16s %7d.%01d s  %s' "$name" "$status" $((ms / 1000)) $((ms % 1000 / 100)) "$log")")
  return "$rc"
}

gpu_visible() {
  "$py" - <<'EOF'
import importlib.util, sys
if importlib.util.find_spec("torch"):
    import torch
    if torch.cuda.is_available():
        sys.exit(0)
if importlib.util.find_spec("cupy"):
    import cupy
    try:
        sys.exit(0 if cupy.cuda.runtime.getDeviceCount() > 0 else 1)
    except cupy.cuda.runtime.CUDARuntimeError:
        pass
sys.exit(1)
EOF
}

# 1. Build: CUDA required where nvcc exists (a CUDA failure then fails the step), else AUTO.
cuda_mode=AUTO
command -v nvcc > /dev/null && cuda_mode=ON
step "build (CUDA=$cuda_mode)" build.log \
  "$py" -m pip install --no-deps --no-build-isolation -v -e . -C "cmake.define.INDI_EDGE_CUDA=$cuda_mode"

# 2. What was built, imported from outside the repository; the GPU code in the module.
native_info() {
  (cd / && "$py" -c "
import indi_edge.ops as o
print('backend:', o.backend())
print('build:', o.build_info())
print('module:', o._core.__file__ if o._core else o.NATIVE_IMPORT_ERROR)
print('device:', o.cuda_device_info() if o._core else '-')
") || return 1
  local so
  so=$(cd / && "$py" -c "import indi_edge._core as c; print(c.__file__)") || return 1
  if command -v cuobjdump > /dev/null; then
    echo "--- cuobjdump --list-elf"; cuobjdump --list-elf "$so"
    echo "--- cuobjdump --list-ptx"; cuobjdump --list-ptx "$so"
  else
    echo "cuobjdump not found: architecture listing skipped"
  fi
}
step "native module" native.txt native_info

# 3. Tests: the CPU kernels here, then the CUDA kernels against them.
step "tests CPU (test_ops)" test_cpu.log "$py" -m pytest -q -p no:cacheprovider tests/test_ops.py
if gpu_visible; then
  step "tests GPU (-m gpu)" test_gpu.log "$py" -m pytest -v -p no:cacheprovider -m gpu tests/test_ops_gpu.py
else
  echo "no GPU visible to torch or cupy: GPU tests skipped" > "$out/test_gpu.log"
  rows+=("$(printf '%-22s %-16s' "tests GPU (-m gpu)" "skipped: no GPU")")
fi

# 3b. The TensorRT backend's loop on the GPU, with a few torch ops standing in for the engine
# (benchmarks/gpu_harness.py): cuda-bindings buffers, the _core kernels, CUDA-graph capture and replay,
# restore_frame with eps > 0, each case against sampling.run. Under a minute (bounded at 120 s); it runs
# before the benchmarks so that a time limit on this script (device_all.sh) cuts those, not it.
if gpu_visible; then
  step "TensorRT loop harness" gpu_harness.log timeout 120 "$py" benchmarks/gpu_harness.py --out "$out"
else
  "$py" benchmarks/gpu_harness.py --out "$out" > "$out/gpu_harness.log" 2>&1
  rows+=("$(printf '%-22s %-16s' "TensorRT loop harness" "skipped: no GPU")")
fi

# 4. Benchmarks (the GPU part skips itself without a GPU).
step "benchmarks" bench.log "$py" benchmarks/kernels.py --out "$out/kernels.json" --threads "$threads" --repeat 30

# ---- 5. GPU runtime: torch CUDA backend (indi_edge.backends.torch_cuda) -----------------------------
# The GPU-backend tests, then benchmarks/gpu_latency.py: the whole N-step loop of one frame at 720p and
# 1080p, N = 1, 4, 8, eager fp32 (baseline) / CUDA graph fp32 / eager fp16 / graph fp16 channels-last,
# all in the same run, copies timed apart, fraction of a measured fp16 matmul peak. Both skip without a GPU.
if gpu_visible; then
  step "tests GPU backends" test_gpu_backends.log \
    "$py" -m pytest -v -p no:cacheprovider -m gpu tests/test_gpu_backends.py
  step "torch CUDA latency" gpu_latency.log "$py" benchmarks/gpu_latency.py --out "$out/gpu_latency.json"
else
  echo "no GPU visible to torch or cupy: GPU backend tests skipped" > "$out/test_gpu_backends.log"
  rows+=("$(printf '%-22s %-16s' "tests GPU backends" "skipped: no GPU")")
  "$py" benchmarks/gpu_latency.py --out "$out/gpu_latency.json" > "$out/gpu_latency.log" 2>&1
  rows+=("$(printf '%-22s %-16s' "torch CUDA latency" "skipped: no GPU")")
fi

# 6. Summary.
{
  echo "=== device_check summary ($(date -u +%FT%TZ)) ==="
  command -v nvidia-smi > /dev/null && nvidia-smi -L
  printf '%s\n' "${rows[@]}"
  grep -E "^(backend|device):" "$out/native.txt" 2>/dev/null
  grep -E "^(ELF|PTX) file" "$out/native.txt" 2>/dev/null | sed -E 's/^(ELF|PTX) file +[0-9]+: +/  \1 /'
  for log in test_cpu.log test_gpu.log; do echo "  $log: $(tail -n 1 "$out/$log" | tr -d '=')"; done
  [ -f "$out/kernels.json" ] && "$py" - "$out/kernels.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
for row in r["cpu"]:
    print(f"  CPU {row['size']:5s} {row['kernel']:26s} x{row['speedup']:<6} ({row['native_ms']} vs {row['numpy_ms']} ms numpy)")
gpu = r["gpu"]
if "skipped" in gpu:
    print("  GPU benchmarks skipped:", gpu["skipped"])
else:
    for row in gpu["update"]:
        print(f"  GPU {row['size']:12s} {row['case']:26s} {row['fused_GBps']:>7} GB/s = {row['fused_vs_copy']:.0%} of copy,"
              f" x{row['fused_speedup_vs_separate']} vs separate ops")
    for row in gpu["frames"]:
        print(f"  GPU {row['size']:12s} {row['case']:26s} {row['GBps']:>7} GB/s ({row['ms']} ms)")
EOF
  [ -f "$out/gpu_latency.json" ] && "$py" - "$out/gpu_latency.json" <<'EOF2'
import json, sys
r = json.load(open(sys.argv[1]))
if "skipped" in r:
    print("  torch CUDA latency skipped:", r["skipped"])
else:
    print(f"  torch CUDA backend on {r['device']}: fp16 matmul peak {r['fp16_matmul_peak_tflops']} TFLOP/s")
    for row in r["rows"]:
        if row["config"] in ("eager fp32", "graph fp16"):
            print(f"  {row['size']:5s} N={row['steps']} {row['config']:10s} {row['loop_ms']:>8} ms"
                  f" x{row['speedup_vs_eager_fp32']:<5} {100 * row['fraction_of_fp16_peak']:.2f}% of fp16 peak"
                  f" (copies {row['upload_ms']} + {row['download_ms']} ms)")
EOF2
  [ -f "$out/gpu_harness.json" ] && "$py" - "$out/gpu_harness.json" <<'EOF3'
import json, sys
r = json.load(open(sys.argv[1]))
if "skipped" in r:
    print("  TensorRT loop harness skipped:", r["skipped"])
else:
    ms = [c["graph_replay_ms"] for c in r["cases"] if c.get("graph_replay_ms") is not None]
    print(f"  TensorRT loop harness on {r['device']}: {r['passed']} passed, {r['failed']} failed"
          + (f", graph replay {min(ms)} to {max(ms)} ms" if ms else ""))
    for c in r["cases"]:
        if not c["passed"]:
            print(f"    FAIL {c['name']}: diff {c.get('max_abs_diff')} {c.get('error') or ''} {c.get('warnings') or ''}")
EOF3
  echo "logs, kernels.json, gpu_harness.json and gpu_latency.json in $out"
} | tee "$out/summary.txt"
exit "$failed"
