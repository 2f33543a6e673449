"""Kernel benchmarks: the fused native CPU kernels against the numpy reference at 720p and 1080p
(update, preprocess, postprocess), and, where a GPU is visible to torch or cupy, the fused CUDA
update's bandwidth against a device-to-device copy of the same bytes and against the framework's
separate elementwise ops. Measures only (targets: CPU >= 3x, GPU >= 85% of copy bandwidth).

    PYTHONPATH=. python benchmarks/kernels.py --out benchmarks/results/kernels.json [--threads 1]

Times are medians of --repeat runs after a warm-up; GPU times come from CUDA events on one stream.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from indi_edge import ops
from indi_edge.sampling import apply_step

SIZES = {"720p": (720, 1280), "1080p": (1080, 1920)}
T, D, NOISE = 0.5, 0.25, 0.1


def median_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


# --- CPU -----------------------------------------------------------------------------------------

def cpu_cases(h: int, w: int, rng) -> list[tuple[str, object, object]]:
    """(name, native call, numpy reference call) at one frame size; outputs preallocated for native."""
    x, x0, y, z = (rng.standard_normal((1, 3, h, w), dtype=np.float32) for _ in range(4))
    out = np.empty_like(x)
    frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    pre32 = np.empty((1, 3, -(-h // 16) * 16, -(-w // 16) * 16), np.float32)
    pre16 = pre32.astype(np.float16)
    x16 = x.astype(np.float16)
    back = np.empty((h, w, 3), np.uint8)
    return [
        ("update indi fp32", lambda: ops.update("indi", x, x0, y, T, D, out=out),
         lambda: apply_step("indi", x, x0, y, T, D)),
        ("update indi+noise fp32", lambda: ops.update("indi", x, x0, y, T, D, NOISE, z, out=out),
         lambda: apply_step("indi", x, x0, y, T, D, NOISE, z)),
        ("preprocess fp32 (pad 16)", lambda: ops.preprocess(frame, 16, out=pre32),
         lambda: ops.reference.preprocess(frame, 16)),
        ("preprocess fp16 (pad 16)", lambda: ops.preprocess(frame, 16, np.float16, out=pre16),
         lambda: ops.reference.preprocess(frame, 16, np.float16)),
        ("postprocess fp32", lambda: ops.postprocess(x, h, w, out=back), lambda: ops.reference.postprocess(x, h, w)),
        ("postprocess fp16", lambda: ops.postprocess(x16, h, w, out=back), lambda: ops.reference.postprocess(x16, h, w)),
    ]


def cpu_rows(repeat: int) -> list[dict]:
    rows = []
    rng = np.random.default_rng(0)
    for size, (h, w) in SIZES.items():
        for name, native, reference in cpu_cases(h, w, rng):
            native_ms, numpy_ms = median_ms(native, repeat), median_ms(reference, repeat)
            rows.append({"size": size, "kernel": name, "native_ms": round(native_ms, 3),
                         "numpy_ms": round(numpy_ms, 3), "speedup": round(numpy_ms / native_ms, 2)})
    return rows


# --- GPU -----------------------------------------------------------------------------------------

class TorchGpu:
    name = "torch"

    def __init__(self):
        import torch

        self.torch = torch
        self.version = torch.__version__
        self.device = torch.cuda.get_device_name()

    def randn(self, n, dtype):
        return self.torch.randn(n, device="cuda", dtype=getattr(self.torch, dtype))

    def empty(self, n, dtype):
        return self.torch.empty(n, device="cuda", dtype=getattr(self.torch, dtype))

    def ptr(self, a) -> int:
        return a.data_ptr()

    def stream(self) -> int:
        return self.torch.cuda.current_stream().cuda_stream

    def copy(self, dst, src) -> None:
        dst.copy_(src)

    def time_ms(self, fn, repeat: int) -> float:
        torch = self.torch
        fn()
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        times = []
        for _ in range(repeat):
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        return statistics.median(times)


class CupyGpu(TorchGpu):
    name = "cupy"

    def __init__(self):
        import cupy

        self.cupy = cupy
        self.version = cupy.__version__
        self.device = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()

    def randn(self, n, dtype):
        return self.cupy.random.standard_normal(n, dtype=np.float32).astype(dtype)

    def empty(self, n, dtype):
        return self.cupy.empty(n, dtype=dtype)

    def ptr(self, a) -> int:
        return a.data.ptr

    def stream(self) -> int:
        return self.cupy.cuda.get_current_stream().ptr

    def copy(self, dst, src) -> None:
        self.cupy.copyto(dst, src)

    def time_ms(self, fn, repeat: int) -> float:
        cuda = self.cupy.cuda
        fn()
        cuda.Device().synchronize()
        start, end = cuda.Event(), cuda.Event()
        times = []
        for _ in range(repeat):
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(cuda.get_elapsed_time(start, end))
        return statistics.median(times)


def find_gpu():
    """TorchGpu or CupyGpu where that framework sees a GPU, else (None, why)."""
    if importlib.util.find_spec("torch") is not None:
        import torch

        if torch.cuda.is_available():
            return TorchGpu(), ""
    if importlib.util.find_spec("cupy") is not None:
        import cupy

        try:
            if cupy.cuda.runtime.getDeviceCount() > 0:
                return CupyGpu(), ""
        except cupy.cuda.runtime.CUDARuntimeError as err:
            return None, f"cupy: {err}"
    return None, "no GPU visible to torch or cupy"


def gpu_update_rows(gpu, repeat: int) -> list[dict]:
    """Fused update vs a copy moving the same bytes, and vs x0*a + x*b as separate framework ops."""
    rows = []
    a, b = D / T, 1.0 - D / T
    for label, n in (("1080p frame", 3 * 1080 * 1920), ("64M elements", 64 * 2**20)):
        for dtype in ("float32", "float16"):
            item = np.dtype(dtype).itemsize
            x, x0, z, out = gpu.randn(n, dtype), gpu.randn(n, dtype), gpu.randn(n, dtype), gpu.empty(n, dtype)
            for noise in (0.0, NOISE):
                arrays = 4 if noise else 3  # reads x, x0 (+ z), writes out
                moved = arrays * n * item
                src, dst = gpu.empty(moved // (2 * item), dtype), gpu.empty(moved // (2 * item), dtype)
                fused = gpu.time_ms(lambda: ops.cuda_update(
                    "indi", gpu.ptr(x), gpu.ptr(x0), 0, gpu.ptr(z), gpu.ptr(out), n, dtype, T, D, noise,
                    gpu.stream()), repeat)
                copy = gpu.time_ms(lambda: gpu.copy(dst, src), repeat)
                separate = gpu.time_ms((lambda: a * x0 + b * x + noise * z) if noise else (lambda: a * x0 + b * x),
                                       repeat)
                rows.append({"case": f"update indi{'+noise' if noise else ''} {dtype}", "size": label,
                             "fused_ms": round(fused, 4), "fused_GBps": round(moved / fused / 1e6, 1),
                             "copy_same_bytes_ms": round(copy, 4), "copy_GBps": round(moved / copy / 1e6, 1),
                             "fused_vs_copy": round(copy / fused, 3), "separate_ops_ms": round(separate, 4),
                             "fused_speedup_vs_separate": round(separate / fused, 2)})
                del src, dst
            del x, x0, z, out
    return rows


def gpu_frame_rows(gpu, repeat: int) -> list[dict]:
    """Pre/postprocess at 1080p on the GPU (bytes: uint8 frame + float planes)."""
    rows = []
    h, w = SIZES["1080p"]
    hp, wp = -(-h // 16) * 16, w
    frame = gpu.empty(h * w * 3, "uint8")
    for dtype in ("float32", "float16"):
        planes = gpu.randn(3 * hp * wp, dtype)
        moved = h * w * 3 + 3 * hp * wp * np.dtype(dtype).itemsize
        pre = gpu.time_ms(lambda: ops.cuda_preprocess(gpu.ptr(frame), gpu.ptr(planes), h, w, hp, wp, dtype,
                                                      gpu.stream()), repeat)
        post = gpu.time_ms(lambda: ops.cuda_postprocess(gpu.ptr(planes), gpu.ptr(frame), hp, wp, h, w, dtype,
                                                        gpu.stream()), repeat)
        rows += [{"case": f"preprocess {dtype}", "size": "1080p", "ms": round(pre, 4),
                  "GBps": round(moved / pre / 1e6, 1)},
                 {"case": f"postprocess {dtype}", "size": "1080p", "ms": round(post, 4),
                  "GBps": round((h * w * 3 + 3 * h * w * np.dtype(dtype).itemsize) / post / 1e6, 1)}]
    return rows


# --- report --------------------------------------------------------------------------------------

def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def print_table(title: str, rows: list[dict]) -> None:
    if not rows:
        return
    keys = list(rows[0])
    widths = [max(len(k), *(len(str(r.get(k, ""))) for r in rows)) for k in keys]
    print(f"\n{title}")
    print("  ".join(k.ljust(wd) for k, wd in zip(keys, widths)))
    for r in rows:
        print("  ".join(str(r.get(k, "")).ljust(wd) for k, wd in zip(keys, widths)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--threads", type=int, default=1, help="CPU kernel threads (numpy uses one)")
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per case (median)")
    parser.add_argument("--no-gpu", action="store_true", help="skip the GPU part")
    args = parser.parse_args(argv)

    ops.set_num_threads(args.threads)
    report = {
        "device": {"cpu": cpu_name(), "cpu_threads_used": ops.get_num_threads()},
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "ops_backend": ops.backend(),
                     "native_build": ops.build_info()},
        "cpu": cpu_rows(args.repeat),
    }
    gpu, why = (None, "--no-gpu") if args.no_gpu else find_gpu()
    if gpu is not None and not ops.cuda_available():
        gpu, why = None, f"{gpu.device} is visible but indi_edge._core has no CUDA kernels ({ops.build_info()})"
    if gpu is None:
        report["gpu"] = {"skipped": why}
        print(f"GPU benchmarks skipped: {why}", file=sys.stderr)
    else:
        report["device"]["gpu"] = gpu.device
        report["versions"][gpu.name] = gpu.version
        report["versions"]["cuda_device_info"] = ops.cuda_device_info()
        report["gpu"] = {"update": gpu_update_rows(gpu, args.repeat), "frames": gpu_frame_rows(gpu, args.repeat)}

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(f"CPU ({report['device']['cpu']}, {ops.get_num_threads()} thread(s), backend {ops.backend()})",
                report["cpu"])
    if gpu is not None:
        print_table(f"GPU update ({gpu.device}, via {gpu.name})", report["gpu"]["update"])
        print_table("GPU frames", report["gpu"]["frames"])
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
