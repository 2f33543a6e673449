"""GPU latency of the torch CUDA backend (indi_edge.backends.torch_cuda): the whole N-step InDI loop
of one frame at 720p and 1080p, N = 1, 4, 8, in four configurations measured in the same run:

    eager fp32     fp32, NCHW, step by step (the baseline every speed-up is relative to)
    graph fp32     fp32, NCHW, the loop replayed as one CUDA graph
    eager fp16     fp16, channels-last, step by step
    graph fp16     fp16, channels-last, CUDA graph

with the fused update kernel of indi_edge._core on torch's stream. Host<->device copies of a frame
(pinned memory) are timed separately, not inside the loop time. The achieved FLOP rate (2 x the
network's conv multiply-adds per pixel x pixels x N) is given as a fraction of a measured fp16
matrix-product peak (8192^3 torch.matmul). Measures and asserts nothing; JSON goes to --out.

    python benchmarks/gpu_latency.py --out benchmarks/results/gpu_latency_h100.json

Without torch or a CUDA GPU it says so, writes {"skipped": reason} and exits 0.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import sys
from pathlib import Path

SIZES = {"720p": (720, 1280), "1080p": (1080, 1920)}
STEPS = (1, 4, 8)
CONFIGS = {  # name -> TorchCudaBackend options
    "eager fp32": dict(precision="fp32", channels_last=False, cuda_graph=False),
    "graph fp32": dict(precision="fp32", channels_last=False, cuda_graph=True),
    "eager fp16": dict(precision="fp16", channels_last=True, cuda_graph=False),
    "graph fp16": dict(precision="fp16", channels_last=True, cuda_graph=True),
}
BASELINE = "eager fp32"


def skip_reason() -> str | None:
    """Why this machine cannot run the benchmark, or None."""
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed"
    import torch

    if not torch.cuda.is_available():
        return f"torch {torch.__version__} sees no CUDA GPU"
    from indi_edge import ops

    if not ops.cuda_available():
        return f"indi_edge._core has no CUDA kernels here (build: {ops.build_info() or ops.NATIVE_IMPORT_ERROR})"
    return None


def cuda_ms(torch, fn, repeat: int, warmup: int) -> float:
    """Median milliseconds of fn() between CUDA events on the current stream."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def matmul_peak_tflops(torch, dtype, n: int = 8192, repeat: int = 10) -> float:
    a = torch.randn(n, n, device="cuda", dtype=dtype)
    b = torch.randn(n, n, device="cuda", dtype=dtype)
    ms = cuda_ms(torch, lambda: torch.matmul(a, b), repeat, warmup=3)
    return 2 * n ** 3 / (ms * 1e-3) / 1e12


def copy_ms(torch, shape, repeat: int) -> dict:
    """Host<->device copy of one fp32 frame tensor from/to pinned host memory."""
    host = torch.empty(shape, dtype=torch.float32).pin_memory()
    device = torch.empty(shape, dtype=torch.float32, device="cuda")
    return {"upload_ms": round(cuda_ms(torch, lambda: device.copy_(host, non_blocking=True), repeat, 3), 4),
            "download_ms": round(cuda_ms(torch, lambda: host.copy_(device, non_blocking=True), repeat, 3), 4)}


def run(weights: Path, repeat: int, warmup: int) -> dict:
    import torch

    from indi_edge import ops
    from indi_edge.backends.device_loop import plan_loop
    from indi_edge.backends.torch_cuda import TorchCudaBackend
    from indi_edge.model_info import ModelInfo
    from indi_edge.training import nn

    torch.backends.cudnn.benchmark = True
    cpu_model = nn.load(weights)
    info = ModelInfo.from_metadata(nn.read_metadata(weights))
    macs_per_pixel = nn.macs_per_pixel(cpu_model)
    peak16 = matmul_peak_tflops(torch, torch.float16)
    backends = {name: TorchCudaBackend(nn.load(weights), info.replace(multiple=cpu_model.multiple), **options)
                for name, options in CONFIGS.items()}
    m = cpu_model.multiple
    rows = []
    for size, (h, w) in SIZES.items():
        shape = (1, 3, -(-h // m) * m, -(-w // m) * m)
        copies = copy_ms(torch, shape, repeat)
        for steps in STEPS:
            plan = plan_loop(steps, info.sampler, info.eps, info.eps_schedule)
            flops = 2 * macs_per_pixel * shape[2] * shape[3] * steps
            times = {}
            for name, backend in backends.items():
                y = torch.rand(shape, device="cuda").mul_(2).sub_(1).to(dtype=backend.dtype,
                                                                        memory_format=backend.format)
                noise = [torch.randn_like(y) for _ in range(plan.draws)]
                times[name] = cuda_ms(torch, lambda: backend.restore_tensor(y, plan, noise), repeat, warmup)
            for name, ms in times.items():
                tflops = flops / (ms * 1e-3) / 1e12
                rows.append({"size": size, "shape": list(shape), "steps": steps, "config": name,
                             "loop_ms": round(ms, 3), "fps": round(1e3 / ms, 1),
                             "speedup_vs_eager_fp32": round(times[BASELINE] / ms, 2),
                             "tflops": round(tflops, 2), "fraction_of_fp16_peak": round(tflops / peak16, 4),
                             **copies})
            del times
    props = torch.cuda.get_device_properties(0)
    return {"device": props.name, "compute_capability": f"{props.major}.{props.minor}",
            "torch": torch.__version__, "cuda": torch.version.cuda, "native": ops.build_info(),
            "python": platform.python_version(), "weights": str(weights), "preset": info.preset,
            "macs_per_pixel": round(macs_per_pixel, 1), "fp16_matmul_peak_tflops": round(peak16, 1),
            "sampler": info.sampler, "eps": info.eps, "repeat": repeat, "rows": rows}


def print_table(result: dict) -> None:
    print(f"{result['device']} (sm {result['compute_capability']}), torch {result['torch']}, "
          f"fp16 matmul peak {result['fp16_matmul_peak_tflops']} TFLOP/s, {result['preset']}")
    print(f"{'size':6} {'N':>2} {'config':11} {'loop ms':>9} {'fps':>8} {'x eager32':>9} {'TFLOP/s':>8} "
          f"{'% fp16 peak':>11} {'up ms':>7} {'down ms':>7}")
    for r in result["rows"]:
        print(f"{r['size']:6} {r['steps']:>2} {r['config']:11} {r['loop_ms']:>9} {r['fps']:>8} "
              f"{r['speedup_vs_eager_fp32']:>9} {r['tflops']:>8} {100 * r['fraction_of_fp16_peak']:>10.2f}% "
              f"{r['upload_ms']:>7} {r['download_ms']:>7}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--weights", type=Path, help="model weights (.safetensors; default: bundled motion-deblur)")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per case (median reported)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs per case first")
    args = parser.parse_args(argv)
    reason = skip_reason()
    if reason is not None:
        result = {"skipped": reason}
        print(f"gpu_latency: skipped: {reason}")
    else:
        from indi_edge import models

        result = run(args.weights or models.path("motion-deblur", kind="weights"), args.repeat, args.warmup)
        print_table(result)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
