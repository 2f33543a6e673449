"""Which CPU path runs a model: chosen in one place, from this CPU's features and the installed packages.

    open_cpu_path(path, "auto")          # the fastest path measured for this kind of CPU
    open_cpu_path(path, "openvino-bf16") # or a path named by the user

CPU_PATHS says how to open each path and what it needs; FASTEST_FIRST orders the paths "auto" may
take per kind of CPU by measured speed (benchmarks/results/, 1280x720, N=4, 2 threads). "auto" takes
the first path of that order whose package is installed. It never takes a torch path: restoring an
ONNX model never imports torch (the runtime's promise); the torch paths run only when named, and
need the model's .safetensors weights beside its .onnx (the bundled models have them). ONNX Runtime
fp32, a required dependency, ends every order, so auto is never without a path.
"""
from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from typing import Callable

from indi_edge.cpu_features import CpuFeatures, cpu_features


@dataclasses.dataclass(frozen=True)
class CpuPath:
    name: str
    package: str              # the import it needs
    native_bf16: bool         # runs bf16 arithmetic: only where the CPU has it natively
    from_weights: bool        # runs the torch network from NAME.safetensors, not the ONNX graph
    open: Callable            # (onnx or weights path, threads) -> Backend


def _onnxruntime(path: Path, threads: int):
    from indi_edge.backends.onnx import open_onnx

    return open_onnx(path, providers=["CPUExecutionProvider"], threads=threads)


def _openvino(precision: str):
    def open_path(path: Path, threads: int):
        from indi_edge.backends.openvino import OpenVinoBackend

        return OpenVinoBackend(path, precision=precision, threads=threads)
    return open_path


def _torch_cpu(precision: str):
    def open_path(weights: Path, threads: int):
        from indi_edge.backends.torch_cpu import TorchCpuBackend

        if threads:
            import torch

            torch.set_num_threads(threads)
        return TorchCpuBackend(weights, precision=precision)
    return open_path


CPU_PATHS = {p.name: p for p in (
    CpuPath("onnxruntime", "onnxruntime", False, False, _onnxruntime),
    CpuPath("openvino", "openvino", False, False, _openvino("fp32")),
    CpuPath("openvino-bf16", "openvino", True, False, _openvino("bf16")),
    CpuPath("torch-bf16", "torch", True, True, _torch_cpu("bf16")),
    CpuPath("torch-fp32", "torch", False, True, _torch_cpu("fp32")),
)}

# Kind of CPU -> paths, fastest first (measured; see the README table "Which path runs on my CPU").
FASTEST_FIRST: list[tuple[str, Callable[[CpuFeatures], bool], tuple[str, ...]]] = [
    # Native bf16 (AMX or AVX512-BF16): OpenVINO bf16, ~2x ONNX Runtime fp32 on an EPYC Zen 4
    # (benchmarks/results/bench_zen4_cpu.md). On the AMX Xeon torch bf16 ran 1.49x ONNX Runtime fp32
    # (bench_devbox_cpu); OpenVINO bf16 was not measured there (OpenVINO's own CPU plugin picks bf16 on
    # AMX for speed). torch paths are not auto's to take (see above): name "torch-bf16" to use it.
    ("native bf16", lambda f: f.native_bf16, ("openvino-bf16", "onnxruntime")),
    # x86 without native bf16 (AVX2): OpenVINO fp32 1.37-1.53x ONNX Runtime fp32 with the bundled naf-s-dense
    # models on an EPYC Zen 3 (bench_zen3_fp32_paths_*.md; within 7% either way with edge-s, issue #12).
    ("x86 fp32 only", lambda f: f.arch == "x86_64", ("openvino", "onnxruntime")),
    # Arm without BF16 (Jetson Orin's CPU): OpenVINO's Arm plugin not measured, so the required dependency.
    ("fp32 only", lambda f: True, ("onnxruntime",)),
]


def installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def weights_beside(onnx_path: Path) -> Path | None:
    weights = onnx_path.with_suffix(".safetensors")
    return weights if weights.is_file() else None


def why_not(path: CpuPath, onnx_path: Path, features: CpuFeatures) -> str | None:
    """None if `path` can run the model here, else the reason it cannot."""
    if path.native_bf16 and not features.native_bf16:
        return f"{features.model} has no native bf16"
    if not installed(path.package):
        return f"the Python package {path.package!r} is not installed"
    if path.from_weights and weights_beside(onnx_path) is None:
        return f"it runs the torch network and there is no {onnx_path.with_suffix('.safetensors').name} beside the model"
    return None


def fastest_first(features: CpuFeatures) -> tuple[str, tuple[str, ...]]:
    """(kind of CPU, its path names fastest first)."""
    return next((kind, order) for kind, applies, order in FASTEST_FIRST if applies(features))


def choose(onnx_path: Path, backend: str = "auto", features: CpuFeatures | None = None) -> str:
    """The name of the CPU path that runs `onnx_path`: `backend` itself when named (refused with the
    reason when it cannot run here), else the first runnable path of this CPU's order."""
    features = features or cpu_features()
    if backend != "auto":
        if backend not in CPU_PATHS:
            raise ValueError(f"unknown backend {backend!r}; choose auto or one of {sorted(CPU_PATHS)}")
        reason = why_not(CPU_PATHS[backend], onnx_path, features)
        if reason:
            raise ValueError(f"backend {backend!r} cannot run here: {reason}")
        return backend
    _, order = fastest_first(features)
    return next(name for name in order if why_not(CPU_PATHS[name], onnx_path, features) is None)


def open_cpu_path(onnx_path: Path, backend: str = "auto", threads: int = 0):
    """The Backend of the chosen CPU path for an .onnx model (its .safetensors twin for torch paths).
    An unrolled graph (export --unroll: the whole loop in one graph) runs on ONNX Runtime under auto."""
    path = CPU_PATHS[choose(onnx_path, backend)]
    if path.package == "openvino" and backend == "auto":
        from indi_edge.backends.openvino import UnrolledGraph

        try:
            return path.open(onnx_path, threads)
        except UnrolledGraph:
            return CPU_PATHS["onnxruntime"].open(onnx_path, threads)
    return path.open(weights_beside(onnx_path) if path.from_weights else onnx_path, threads)
