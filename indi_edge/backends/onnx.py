"""ONNX Runtime backend: the exported graph x [N, 3, H, W], t [N] -> x0, or an unrolled graph
(export --unroll) x [N, 3, H, W] (+ noise [K, N, 3, H, W]) -> x0 holding the whole InDI loop.

FP16 graphs may take fp16 IO (export --fp16-io); arrays are cast at the edge so callers always
see float32. Never imports torch.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from indi_edge import sampling
from indi_edge.backends import StepLoop, check_batch
from indi_edge.model_info import ModelInfo

STEP_INPUTS = ("t", "x")
LOOP_INPUTS = ("x",)
NOISE_INPUT = "noise"
OUTPUT = "x0"
DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


def default_providers() -> list[str]:
    """CUDA where this onnxruntime build has it, then CPU (TensorRT EP only when asked for)."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


def provider_name(provider) -> str:
    return provider if isinstance(provider, str) else provider[0]  # (name, options) pairs too


def make_session(path: Path, providers=None, threads: int = 0):
    """An InferenceSession with full graph optimisation; warns when it did not get the providers asked."""
    import onnxruntime as ort
    from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidGraph, InvalidProtobuf

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no ONNX model at {path}")
    asked = list(providers) if providers else default_providers()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL  # one chain of convolutions: no inter-op gain
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # ORT's own provider warnings are replaced by ours below
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=asked)
    except (InvalidProtobuf, InvalidGraph, Fail) as err:
        raise ValueError(f"{path} is not a readable ONNX model: {err}") from err
    got = session.get_providers()
    missing = [provider_name(p) for p in asked if provider_name(p) not in got]
    if missing:
        warnings.warn(f"ONNX Runtime could not use {missing} for {path.name}; it runs on {got}",
                      RuntimeWarning, stacklevel=3)
    return session


def multiple_from_graph(session) -> int:
    """The size multiple named in the graph's dims (export declares H as e.g. '8*h'), else 1."""
    found = [int(m.group(1)) for i in session.get_inputs() for d in i.shape
             if isinstance(d, str) for m in [re.match(r"^(\d+)\*", d)] if m]
    return max(found, default=1)


def open_onnx(path: Path, providers=None, threads: int = 0) -> "OnnxBackend | OnnxLoopBackend":
    session = make_session(path, providers, threads)
    info = ModelInfo.from_metadata(session.get_modelmeta().custom_metadata_map)
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = [o.name for o in session.get_outputs()]
    expected = LOOP_INPUTS if info.unrolled_steps > 0 else STEP_INPUTS
    names = tuple(sorted(n for n in inputs if n != NOISE_INPUT or info.unrolled_steps == 0))
    if names != expected or outputs != [OUTPUT] or any(inputs[n].type not in DTYPES for n in inputs):
        raise ValueError(
            f"{path} does not have indi_edge's IO: expected float inputs {list(expected)}"
            f"{' (+ noise)' if info.unrolled_steps else ''} and output [{OUTPUT!r}], got inputs "
            f"{[(n, i.type) for n, i in inputs.items()]} and outputs {outputs}")
    if info.multiple == 1:
        info = info.replace(multiple=multiple_from_graph(session))
    cls = OnnxLoopBackend if info.unrolled_steps > 0 else OnnxBackend
    return cls(session, Path(path), info)


class OnnxBackend(StepLoop):
    """F(x, t) -> x0 on an ONNX Runtime session; one run per InDI step."""

    def __init__(self, session, path: Path, info: ModelInfo):
        self.session, self.path, self.info = session, path, info
        self.multiple = info.multiple
        self.dtypes = {i.name: DTYPES[i.type] for i in session.get_inputs()}

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers()

    def __call__(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        check_batch(x, t, self.multiple)
        feeds = {"x": x.astype(self.dtypes["x"], copy=False), "t": t.astype(self.dtypes["t"], copy=False)}
        (x0,) = self.session.run([OUTPUT], feeds)
        return x0.astype(np.float32, copy=False)


class OnnxLoopBackend:
    """An unrolled graph: the whole InDI loop (schedule, sampler and eps baked in) in one run.

    The graph's noise input [K, N, 3, H, W] takes the K draws the Python loop would make, in the
    same order (x_1's noise, then each noisy step), so both give the same result for one seed.
    """

    def __init__(self, session, path: Path, info: ModelInfo):
        self.session, self.path, self.info = session, path, info
        self.multiple = info.multiple
        inputs = {i.name: i for i in session.get_inputs()}
        self.dtypes = {name: DTYPES[i.type] for name, i in inputs.items()}
        self.draws = int(inputs[NOISE_INPUT].shape[0]) if NOISE_INPUT in inputs else 0

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers()

    def __call__(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        raise TypeError(f"{self.path.name} holds the whole {self.info.unrolled_steps}-step loop; "
                        f"it restores through restore(y, steps, ...), not one F(x, t) call")

    def restore(self, y: np.ndarray, steps: int, *, sampler: str, eps: float, eps_schedule: str,
                rng) -> np.ndarray:
        baked = (self.info.unrolled_steps, self.info.sampler, self.info.eps, self.info.eps_schedule)
        if (steps, sampler, eps, eps_schedule) != baked:
            raise ValueError(f"{self.path.name} is unrolled with steps, sampler, eps, eps_schedule = {baked}; "
                             f"got {(steps, sampler, eps, eps_schedule)}. Export another --unroll or use the "
                             f"step-by-step model to change them")
        check_batch(y, np.zeros(y.shape[0], np.float32), self.multiple)
        feeds = {"x": y.astype(self.dtypes["x"], copy=False)}
        if self.draws:
            noise = np.stack([sampling.normal_like(y, rng) for _ in range(self.draws)])
            feeds[NOISE_INPUT] = noise.astype(self.dtypes[NOISE_INPUT], copy=False)
        (x0,) = self.session.run([OUTPUT], feeds)
        return x0.astype(np.float32, copy=False)
