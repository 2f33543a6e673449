"""OpenVINO CPU backend: the exported step graph x [N, 3, H, W], t [N] -> x0 run by OpenVINO on the CPU.

    backend = OpenVinoBackend("motion-deblur.onnx", precision="auto", threads=4)
    restorer = Restorer(backend)

Reads the same .onnx files as ONNX Runtime (dynamic N/H/W); the model facts (ModelInfo) come from
the file's metadata_props, which OpenVINO's ONNX reader keeps in the model's rt_info["framework"].
precision "bf16" sets OpenVINO's inference precision hint to bf16 (convolutions in bf16, IO stays
float32) and is refused on CPUs without native bf16; "fp32" pins f32 (OpenVINO would otherwise
pick bf16 by itself on AVX512-BF16/AMX CPUs); "auto" is bf16 where native, else fp32.
Unrolled graphs (export --unroll) are not supported here: use ONNX Runtime for those.
Needs the openvino package (imported when a backend is made, never by `import indi_edge`); never
imports torch.
"""
from __future__ import annotations

import collections
from pathlib import Path

import numpy as np

from indi_edge.backends import StepLoop, check_batch, unreadable_onnx
from indi_edge.model_info import ModelInfo

PRECISIONS = ("auto", "fp32", "bf16")
STEP_INPUTS = ("t", "x")
OUTPUT = "x0"
DEVICE = "CPU"
DEFAULT_CACHE_SIZE = 4
INSTALL_HINT = 'pip install "indi-edge[openvino]" (or: pip install openvino)'


def import_openvino():
    """The openvino module, or an ImportError that says how to install it."""
    try:
        import openvino
    except ImportError as err:
        raise ImportError(f"OpenVinoBackend needs OpenVINO: {INSTALL_HINT}") from err
    return openvino


def resolve_precision(precision: str) -> str:
    """"fp32" or "bf16" for this CPU; "bf16" is refused where the CPU has no native bf16."""
    from indi_edge.cpu_features import bf16_skip_reason

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    reason = bf16_skip_reason()
    if precision == "auto":
        return "fp32" if reason else "bf16"
    if precision == "bf16" and reason:
        raise ValueError(f"precision='bf16' refused: {reason}. Use precision='fp32' (or 'auto')")
    return precision


def read_metadata(model) -> dict[str, str]:
    """The ONNX file's metadata_props (str -> str, the same map ONNX Runtime's custom_metadata_map
    gives) from an OpenVINO model read from that file."""
    if not model.has_rt_info(["framework"]):
        return {}
    return {str(key): value.astype(str) for key, value in model.get_rt_info()["framework"].items()}


def multiple_from_onnx_dims(path: Path) -> int:
    """The size multiple named in the graph's dims ('16*h'), for files whose metadata lacks it.

    OpenVINO drops ONNX dim names (its inputs read [?, 3, ?, ?]), so this reuses the ONNX Runtime
    backend's reader when onnxruntime is installed; without it the multiple stays 1 (a bad size then
    fails when OpenVINO reshapes the graph, with OpenVINO's own message). Files from `indi-edge
    export` always carry indi_edge.multiple, so this runs only for hand-made or older files."""
    try:
        from indi_edge.backends.onnx import make_session, multiple_from_graph
    except ImportError:  # onnxruntime missing
        return 1
    return multiple_from_graph(make_session(path, ["CPUExecutionProvider"], threads=1))


def read_onnx(path: Path):
    """The ov.Model of an .onnx file, read by OpenVINO's ONNX front end alone: Core.read_model would
    try every front end on a file that is not ONNX (TensorFlow's prints absl errors to stderr) and
    end in a list of them. A file it cannot parse gets the one line the other backends give."""
    from openvino.frontend import FrontEndManager

    onnx_reader = FrontEndManager().load_by_framework("onnx")
    if not onnx_reader.supported(str(path)):
        raise unreadable_onnx(path, "Protobuf parsing failed.")  # what ONNX Runtime says of such a file
    try:
        return onnx_reader.convert(onnx_reader.load(str(path)))
    except Exception as err:  # OpenVINO's own error types (GeneralFailure, OpConversionFailure, ...)
        if not type(err).__module__.startswith("openvino"):
            raise
        parse_failed = "can't be parsed" in str(err)  # a truncated file: say what ONNX Runtime says
        raise unreadable_onnx(path, "Protobuf parsing failed." if parse_failed else str(err)) from err


class UnrolledGraph(ValueError):
    """The file holds the whole N-step loop (export --unroll): ONNX Runtime runs it, OpenVINO here does not."""


class OpenVinoBackend(StepLoop):
    """F(x, t) -> x0 with OpenVINO on the CPU; one inference per InDI step.

    path: an .onnx step graph (x, t -> x0) from `indi-edge export`.
    precision: "fp32", "bf16" (ValueError where the CPU lacks native bf16) or "auto".
    threads: OpenVINO inference threads (0: its default, all cores).
    cache_size: how many input shapes keep a compiled model (least recently used dropped first).

    Not for concurrent calls from several threads (each shape has one infer request).
    """

    def __init__(self, path, *, precision: str = "fp32", threads: int = 0, cache_size: int = DEFAULT_CACHE_SIZE):
        ov = import_openvino()
        from openvino import properties
        from openvino.properties import hint

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no ONNX model at {self.path}")
        if self.path.suffix != ".onnx":
            raise ValueError(f"OpenVinoBackend reads .onnx models; got {self.path.name}")
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 0:
            raise ValueError(f"threads must be an integer >= 0 (0: OpenVINO's default), got {threads!r}")
        if isinstance(cache_size, bool) or not isinstance(cache_size, (int, np.integer)) or cache_size < 1:
            raise ValueError(f"cache_size must be an integer >= 1, got {cache_size!r}")
        self.precision = resolve_precision(precision)
        self.threads, self.cache_size = int(threads), int(cache_size)

        self._ov = ov
        self.core = ov.Core()
        self.model = read_onnx(self.path)
        info = ModelInfo.from_metadata(read_metadata(self.model), str(self.path))
        self._check_io(info)
        if info.multiple == 1:
            info = info.replace(multiple=multiple_from_onnx_dims(self.path))
        self.info, self.multiple = info, info.multiple
        self.dtypes = {port.get_any_name(): port.get_element_type().to_dtype().type for port in self.model.inputs}

        self.config = {hint.inference_precision: ov.Type.bf16 if self.precision == "bf16" else ov.Type.f32,
                       hint.performance_mode: hint.PerformanceMode.LATENCY}  # one request at a time, all cores on it
        if self.threads:
            self.config[properties.inference_num_threads] = self.threads
        self.providers = [f"openvino-cpu-{self.precision}"]
        # Static shapes: OpenVINO's CPU plugin plans kernels, layouts and memory once for a graph
        # compiled for one fixed input shape; the [?, 3, ?, ?] graph pays shape inference and memory
        # management on every call and loses some optimisations (OpenVINO's dynamic-shape docs;
        # ~10-30% slower at 720p here, noisy). A cache: a video (and the tiles of a frame) repeats
        # the same few shapes, and a compile costs about one inference, so each shape is compiled
        # once and kept; the least recently used shape is dropped beyond cache_size to bound memory.
        self.compiled: collections.OrderedDict[tuple[int, ...], object] = collections.OrderedDict()  # x shape -> request
        self.compile_count = 0

    def _check_io(self, info: ModelInfo) -> None:
        inputs = {port.get_any_name(): port for port in self.model.inputs}
        outputs = [port.get_any_name() for port in self.model.outputs]
        if info.unrolled_steps > 0 or "noise" in inputs:
            raise UnrolledGraph(f"{self.path.name} is an unrolled graph (the whole {info.unrolled_steps}-step loop); "
                             f"OpenVinoBackend runs step graphs (x, t -> x0) only: export without --unroll, or "
                             f"open this file with ONNX Runtime (Restorer(path))")
        floats = (self._ov.Type.f32, self._ov.Type.f16)
        if tuple(sorted(inputs)) != STEP_INPUTS or outputs != [OUTPUT] or \
                any(port.get_element_type() not in floats for port in inputs.values()):
            raise ValueError(f"{self.path} does not have indi_edge's IO: expected float inputs {list(STEP_INPUTS)} "
                             f"and output [{OUTPUT!r}], got inputs "
                             f"{[(n, str(p.get_element_type())) for n, p in inputs.items()]} and outputs {outputs}")

    def _request(self, shape: tuple[int, ...]):
        """The infer request of a model compiled for x of this static shape (compiled on first use)."""
        request = self.compiled.get(shape)
        if request is not None:
            self.compiled.move_to_end(shape)
            return request
        model = self.model.clone()
        model.reshape({"x": list(shape), "t": [shape[0]]})
        request = self.core.compile_model(model, DEVICE, self.config).create_infer_request()
        self.compile_count += 1
        self.compiled[shape] = request
        while len(self.compiled) > self.cache_size:
            self.compiled.popitem(last=False)
        return request

    def fp32_twin(self) -> "OpenVinoBackend | None":
        """The same model in fp32, for frames whose bf16 output overflowed (Restorer fp16_fallback)."""
        if self.precision == "fp32":
            return None
        return OpenVinoBackend(self.path, precision="fp32", threads=self.threads, cache_size=self.cache_size)

    def close(self) -> None:
        self.compiled.clear()

    def __call__(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        check_batch(x, t, self.multiple)
        feeds = {"x": np.ascontiguousarray(x, dtype=self.dtypes["x"]),
                 "t": np.ascontiguousarray(t, dtype=self.dtypes["t"])}
        result = self._request(tuple(x.shape)).infer(feeds)  # outputs copied out (share_outputs=False)
        return np.asarray(result[0], dtype=np.float32)
