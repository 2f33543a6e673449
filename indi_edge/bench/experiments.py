"""What was tried to make the CPU path fast, each measured on one network call F(x, 1) at one size
(median of `repeats` after 2 warm-ups), so every kept or dropped option has its number.

ONNX Runtime: graph optimisation level (basic / extended / all: all adds the NCHWc layout
transform), memory arena off, 1 vs all threads, IO binding into a preallocated output.
torch eager: channels-last memory format and bfloat16 (oneDNN picks AMX kernels for bf16).
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np


def median_ms(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def _ort_session(path: Path, threads: int, level: str = "all", arena: bool = True):
    import onnxruntime as ort

    levels = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
              "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
              "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}
    options = ort.SessionOptions()
    options.graph_optimization_level = levels[level]
    options.intra_op_num_threads = threads
    options.enable_cpu_mem_arena = arena
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _bound_runner(session, x: np.ndarray, t: np.ndarray):
    """session.run through IO binding: inputs bound once, output written into one preallocated array."""
    binding = session.io_binding()
    out = np.empty_like(x)
    for name, array in (("x", x), ("t", t)):
        binding.bind_cpu_input(name, array)
    binding.bind_output("x0", "cpu", 0, np.float32, list(out.shape), out.ctypes.data)

    def run(keep=(out, x, t)):  # the bound buffers must outlive every run
        session.run_with_iobinding(binding)

    return run


def onnxruntime_options(onnx_path: Path, x: np.ndarray, threads: int, repeats: int) -> list[dict]:
    t = np.ones(x.shape[0], np.float32)
    rows = []
    for label, level, arena, n in (("ENABLE_BASIC", "basic", True, threads),
                                   ("ENABLE_EXTENDED", "extended", True, threads),
                                   ("ENABLE_ALL (runtime default)", "all", True, threads),
                                   ("ENABLE_ALL, memory arena off", "all", False, threads),
                                   ("ENABLE_ALL, 1 thread", "all", True, 1)):
        session = _ort_session(onnx_path, n, level, arena)
        rows.append({"path": "onnxruntime fp32", "option": label, "threads": n,
                     "ms": median_ms(lambda: session.run(["x0"], {"x": x, "t": t}), repeats)})
    session = _ort_session(onnx_path, threads)
    rows.append({"path": "onnxruntime fp32", "option": "ENABLE_ALL + IO binding (preallocated output)",
                 "threads": threads, "ms": median_ms(_bound_runner(session, x, t), repeats)})
    return rows


def torch_eager_options(model, x: np.ndarray, threads: int, repeats: int) -> list[dict]:
    import copy

    import torch

    t = torch.ones(x.shape[0])
    rows = []
    for label, dtype, layout in (("fp32 NCHW (baseline)", torch.float32, torch.contiguous_format),
                                 ("fp32 channels-last", torch.float32, torch.channels_last),
                                 ("bf16 NCHW", torch.bfloat16, torch.contiguous_format),
                                 ("bf16 channels-last", torch.bfloat16, torch.channels_last)):
        net = copy.deepcopy(model).to(dtype=dtype, memory_format=layout).eval()
        xt = torch.from_numpy(x).to(dtype).contiguous(memory_format=layout)

        def call(net=net, xt=xt):
            with torch.inference_mode():
                net(xt, t)

        rows.append({"path": "torch eager", "option": label, "threads": threads, "ms": median_ms(call, repeats)})
    return rows
