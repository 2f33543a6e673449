"""Backends run the network F(x, t) -> x0; the Restorer drives them all the same way.

The protocol (one small surface, no branching on backend type anywhere):
    backend.info      ModelInfo read from the model file (defaults for steps, eps, sampler, ...)
    backend.multiple  H and W fed to the backend must be multiples of this
    backend(x, t)     x [N, 3, H, W] float32 in [-1, 1], t [N] float32 -> x0, same shape, float32
    backend.restore(y, steps, *, sampler, eps, eps_schedule, rng) -> x_0 of the whole InDI loop

Most backends take restore() from StepLoop (sampling.run, one backend call per step, the fused
update from indi_edge.ops); a backend holding the whole loop in one graph (an unrolled ONNX
export) brings its own. Modules: onnx (ONNX Runtime), openvino (OpenVINO CPU), torch_cpu (torch
bf16/fp32 on the CPU), pt2 (AOTInductor, needs torch), function (any Python object), tensorrt
(.engine files, the loop on the GPU), torch_cuda (torch on a GPU, passed to Restorer as an object).
Which CPU path runs an .onnx model is decided in one place: choice.py.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np

from indi_edge import ops, sampling
from indi_edge.model_info import ModelInfo

MODEL_SUFFIXES = (".onnx", ".pt2", ".engine")


class Backend(Protocol):
    info: ModelInfo
    multiple: int

    def __call__(self, x: np.ndarray, t: np.ndarray) -> np.ndarray: ...

    def restore(self, y: np.ndarray, steps: int, *, sampler: str, eps: float, eps_schedule: str,
                rng) -> np.ndarray: ...


class StepLoop:
    """restore() for backends that evaluate one step at a time: the InDI loop is sampling.run."""

    def restore(self, y: np.ndarray, steps: int, *, sampler: str, eps: float, eps_schedule: str,
                rng) -> np.ndarray:
        """y [N, 3, H, W] float32 in [-1, 1] -> x_0 after `steps` steps; rng(x) -> noise like x."""
        return sampling.run(self, y, steps, sampler=sampler, eps=eps, eps_schedule=eps_schedule,
                            rng=rng, update=ops.update)


def unreadable_onnx(path: Path, reason: str) -> ValueError:
    """The one-line error every CPU backend gives for an .onnx file it cannot parse: the path and
    the last line of the runtime's reason, without its error-code prefix ("... failed:")."""
    lines = [line.strip() for line in str(reason).splitlines() if line.strip()] or ["no reason given"]
    last = lines[-1].rsplit(" failed:", 1)[-1].strip()
    return ValueError(f"{path} is not a readable ONNX model ({'the file is empty' if not Path(path).stat().st_size else last})")


def resolve(engine: str | os.PathLike) -> Path:
    """A model file path, or the bundled model a bare name (e.g. "motion-deblur") refers to."""
    path = Path(engine)
    from indi_edge import models

    bare = path.parent == Path(".") and not path.suffix
    if bare and str(engine) in models.list_models() and not path.is_file():
        return models.path(str(engine))  # a folder named like a bundled model does not hide it
    if path.suffix in MODEL_SUFFIXES or path.exists() or path.parent != Path("."):
        if not path.exists():
            raise FileNotFoundError(f"no model file at {path}")
        return path
    return models.path(str(engine))


def open_backend(engine, *, providers=None, threads: int = 0, backend: str = "auto", trust: bool = False) -> Backend:
    """A backend for `engine`: a .onnx, .pt2 or .engine path, a bundled model name, an object that already
    follows the Backend protocol, or any callable f(x, t) -> x0 on numpy arrays.

    An .onnx model runs where `backend` says: "auto" (ONNX Runtime on a GPU where onnxruntime-gpu sees
    one, else the fastest CPU path for this CPU: choice.py), or a named CPU path ("onnxruntime",
    "openvino", "openvino-bf16", "torch-bf16", "torch-fp32"). providers (ONNX Runtime's, which then
    runs the model) and threads (0: the runtime's default) as given. trust=True is needed to open a
    .pt2 package, whose loading runs code from the file (backends/pt2.py); ONNX and engines need none.
    """
    if isinstance(engine, (str, os.PathLike)):
        return open_path(resolve(engine), providers=providers, threads=threads, backend=backend, trust=trust)
    if backend != "auto":
        raise ValueError(f"backend={backend!r} applies to model files; engine is already a {type(engine).__name__}")
    if hasattr(engine, "restore") and hasattr(engine, "info") and hasattr(engine, "multiple"):
        return engine
    if callable(engine):
        from indi_edge.backends.function import CallableBackend

        return CallableBackend(engine)
    raise TypeError(f"engine must be a model path (.onnx, .pt2), a bundled model name or a callable "
                    f"f(x, t) -> x0, got {type(engine).__name__}")


def open_path(path: Path, *, providers=None, threads: int = 0, backend: str = "auto", trust: bool = False) -> Backend:
    if path.is_dir():
        raise ValueError(f"{path} is a folder; expected a model file (.onnx, .pt2 or .engine)")
    if backend != "auto" and path.suffix != ".onnx":
        raise ValueError(f"backend={backend!r} chooses how an .onnx model runs; {path.name} is a {path.suffix} file")
    if path.suffix == ".onnx":
        from indi_edge.backends import choice
        from indi_edge.backends.onnx import default_providers, open_onnx

        if providers is not None or (backend == "auto" and "CUDAExecutionProvider" in default_providers()):
            if backend not in ("auto", "onnxruntime"):
                raise ValueError(f"providers= are ONNX Runtime's; backend={backend!r} does not take them")
            return open_onnx(path, providers=providers, threads=threads)
        return choice.open_cpu_path(path, backend, threads)
    if path.suffix == ".pt2":
        from indi_edge.backends.pt2 import Pt2Backend

        return Pt2Backend(path, trust=trust)
    if path.suffix == ".engine":
        from indi_edge.backends.tensorrt import TensorRTBackend

        return TensorRTBackend(path)
    raise ValueError(f"{path}: unknown model file type {path.suffix!r}; expected .onnx or .pt2 "
                     f"(or a TensorRT .engine)")


def check_batch(x: np.ndarray, t: np.ndarray, multiple: int) -> None:
    """The backend protocol's input contract, with messages that say what was expected."""
    if not isinstance(x, np.ndarray) or x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"x must be a [N, 3, H, W] numpy array, got {getattr(x, 'shape', type(x).__name__)}")
    if x.shape[2] % multiple or x.shape[3] % multiple:
        raise ValueError(f"H and W must be multiples of {multiple}, got {x.shape[2]}x{x.shape[3]}")
    if not isinstance(t, np.ndarray) or t.shape != (x.shape[0],):
        raise ValueError(f"t must be a [N] = [{x.shape[0]}] numpy array, got {getattr(t, 'shape', type(t).__name__)}")
