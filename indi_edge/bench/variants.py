"""The CPU paths the benchmark compares, and the artifacts they run (exported once, then cached).

    torch-eager-fp32      the network as a torch module (the baseline every figure is divided by)
    onnxrt-fp32-step      ONNX Runtime, one session run per InDI step (the runtime's default path)
    onnxrt-fp32-unrolled  ONNX Runtime, the whole N-step loop as one graph (export --unroll N)
    pt2-fp32              AOTInductor package, one call per step
    torch-bf16            the torch module in bfloat16, channels-last (backends/torch_cpu.py; AMX / AVX512-BF16)
    pt2-bf16              AOTInductor package compiled in bfloat16 behind fp32 IO (dynamic H/W)
    openvino-fp32         OpenVINO on the same ONNX file (backends/openvino.py; the `openvino` extra)
    openvino-bf16         OpenVINO with bf16 inference precision (CPUs with native bf16)
    auto                  what Restorer(model) picks on this machine (backends/choice.py)

bf16 paths run only where the CPU has native bf16 (cpu_features); elsewhere they are skipped, with
the reason, since emulated bf16 runs many times slower than fp32.

Exports need torch (the `train` extra); they are cached under a key of the weights' sha256, the
kind of artifact and the torch version, so a second run starts at once.
"""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np

from indi_edge.model_info import ModelInfo

BACKENDS = ("torch-eager-fp32", "onnxrt-fp32-step", "onnxrt-fp32-unrolled", "pt2-fp32", "torch-bf16", "pt2-bf16",
            "openvino-fp32", "openvino-bf16", "auto")
PRECISION = {"torch-eager-fp32": "fp32", "onnxrt-fp32-step": "fp32", "onnxrt-fp32-unrolled": "fp32",
             "pt2-fp32": "fp32", "torch-bf16": "bf16", "pt2-bf16": "bf16", "openvino-fp32": "fp32",
             "openvino-bf16": "bf16", "auto": None}  # auto: the precision of the path it picks
PACKAGE = {"openvino-fp32": "openvino", "openvino-bf16": "openvino"}  # beyond the bench's own needs
BASELINE = "torch-eager-fp32"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclasses.dataclass
class Artifacts:
    """The model under test: its weights, its step ONNX graph, and exports cached in `cache`.

    model: a bundled model name (its .safetensors and .onnx ship together) or a weights file /
    training run folder (the step graph is then exported too)."""

    model: str
    cache: Path
    weights: Path = dataclasses.field(init=False)
    bundled_onnx: Path | None = dataclasses.field(init=False)

    def __post_init__(self):
        from indi_edge import models
        from indi_edge.export.source import weights_path

        self.cache = Path(self.cache)
        if self.model in models.list_models():
            self.weights, self.bundled_onnx = models.path(self.model, "weights"), models.path(self.model)
        else:
            self.weights, self.bundled_onnx = weights_path(self.model), None
        self.key = sha256(self.weights)[:16]
        self._torch_model = None

    def torch_model(self):
        """(UNet fp32 in eval mode, ModelInfo) read from the weights (loaded once)."""
        if self._torch_model is None:
            from indi_edge.export import load_model

            self._torch_model = load_model(self.weights)
        return self._torch_model

    @property
    def info(self) -> ModelInfo:
        return self.torch_model()[1]

    def _cached(self, kind: str, suffix: str, export) -> Path:
        import torch

        path = self.cache / f"{Path(self.weights).stem}-{self.key}-{kind}-torch{torch.__version__}{suffix}"
        if not path.is_file():
            model, info = self.torch_model()
            export(model, path, info)
        return path

    def step_onnx(self) -> Path:
        if self.bundled_onnx is not None:
            return self.bundled_onnx
        from indi_edge.export import export_onnx

        return self._cached("step", ".onnx", export_onnx)

    def unrolled_onnx(self, steps: int) -> Path:
        from indi_edge.export import export_onnx

        return self._cached(f"unroll{steps}", ".onnx", lambda m, p, i: export_onnx(m, p, i, unroll=steps))

    def pt2(self, bf16: bool) -> Path:
        from indi_edge.export import export_pt2

        return self._cached("bf16" if bf16 else "fp32", ".pt2", lambda m, p, i: export_pt2(m, p, i, bf16=bf16))


def torch_eager(artifacts: Artifacts):
    """The torch module as a backend on numpy arrays (zero-copy torch.from_numpy both ways)."""
    import torch

    from indi_edge.backends.function import CallableBackend

    model, info = artifacts.torch_model()

    def network(x: np.ndarray, t: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(x), torch.from_numpy(t)).numpy()

    network.multiple = model.multiple
    return CallableBackend(network, info.replace(multiple=model.multiple))


OPENERS = {
    "torch-eager-fp32": lambda art, steps, threads: torch_eager(art),
    "onnxrt-fp32-step": lambda art, steps, threads: _onnx(art.step_onnx(), threads),
    "onnxrt-fp32-unrolled": lambda art, steps, threads: _onnx(art.unrolled_onnx(steps), threads),
    "pt2-fp32": lambda art, steps, threads: _pt2(art.pt2(bf16=False)),  # threads: torch.set_num_threads
    "torch-bf16": lambda art, steps, threads: _torch_cpu(art),
    "pt2-bf16": lambda art, steps, threads: _pt2(art.pt2(bf16=True)),
    "openvino-fp32": lambda art, steps, threads: _openvino(art.step_onnx(), "fp32", threads),
    "openvino-bf16": lambda art, steps, threads: _openvino(art.step_onnx(), "bf16", threads),
    "auto": lambda art, steps, threads: _auto(art, threads),
}


def precision_of(name: str, artifacts: Artifacts) -> str:
    """fp32 or bf16: the variant's own, or for auto that of the path it picks here."""
    return PRECISION[name] or ("bf16" if auto_path(artifacts).endswith("bf16") else "fp32")


def auto_path(artifacts: Artifacts) -> str:
    from indi_edge.backends import choice

    return choice.choose(artifacts.step_onnx(), "auto")


def _auto(artifacts: Artifacts, threads: int):
    from indi_edge.backends import choice

    return choice.open_cpu_path(artifacts.step_onnx(), "auto", threads)


def _openvino(path: Path, precision: str, threads: int):
    from indi_edge.backends.openvino import OpenVinoBackend

    return OpenVinoBackend(path, precision=precision, threads=threads)


def _onnx(path: Path, threads: int):
    from indi_edge.backends.onnx import open_onnx

    return open_onnx(path, providers=["CPUExecutionProvider"], threads=threads)


def _torch_cpu(artifacts: Artifacts):
    from indi_edge.backends.torch_cpu import TorchCpuBackend

    return TorchCpuBackend(artifacts.weights, artifacts.info, precision="bf16")


def _pt2(path: Path):
    from indi_edge.backends.pt2 import Pt2Backend

    return Pt2Backend(path, trust=True)  # the bench compiled this package itself, into its own cache


def open_variant(name: str, artifacts: Artifacts, steps: int, threads: int):
    """A Backend for variant `name` (see BACKENDS) restoring in `steps` steps with `threads` threads."""
    if name not in OPENERS:
        raise ValueError(f"unknown backend {name!r}; choose from {BACKENDS}")
    return OPENERS[name](artifacts, steps, threads)
