"""ONNX Runtime backend: the exported graph x [N, 3, H, W], t [N] -> x0, or an unrolled graph
(export --unroll) x [N, 3, H, W] (+ noise [K, N, 3, H, W]) -> x0 holding the whole InDI loop.

FP16 graphs may take fp16 IO (export --fp16-io); arrays are cast at the edge so callers always
see float32. Never imports torch.

GPU (onnxruntime-gpu): pass providers=gpu_providers(...) (or cuda_provider / tensorrt_provider
entries) for FP16, the TensorRT EP's engine and timing caches, and CUDA graphs. With a CUDA graph
the session runs through IO binding on device buffers kept at fixed addresses, one captured graph
per input shape (run option gpu_graph_id, onnxruntime-gpu >= 1.18), as ONNX Runtime requires for
graph replay; every output of that path is checked for NaN/Inf (fp16 overflow).
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from indi_edge import sampling
from indi_edge.backends import StepLoop, check_batch, unreadable_onnx
from indi_edge.backends.device_loop import check_finite
from indi_edge.model_info import ModelInfo

STEP_INPUTS = ("t", "x")
LOOP_INPUTS = ("x",)
NOISE_INPUT = "noise"
OUTPUT = "x0"
DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}
FP32_REMEDY = "use the fp32 .onnx (indi-edge export without --fp16)"
GRAPH_ORT = (1, 18)  # one CUDA graph per input shape (run option gpu_graph_id) arrived in ONNX Runtime 1.18


def require_graph_ort(version: str) -> None:
    """RuntimeError when this ONNX Runtime is too old to replay one CUDA graph per shape."""
    found = tuple(int(p) for p in re.findall(r"\d+", version)[:2])
    if found < GRAPH_ORT:
        raise RuntimeError(f"CUDA graphs with one graph per input shape (gpu_graph_id) need onnxruntime-gpu >= "
                           f"{GRAPH_ORT[0]}.{GRAPH_ORT[1]}; this is {version}: pip install 'indi-edge[gpu-cu12]' "
                           f"(or [gpu-cu13]), or leave CUDA graphs off")


def default_providers() -> list[str]:
    """CUDA where this onnxruntime build has it, then CPU (TensorRT EP only when asked for)."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


def provider_name(provider) -> str:
    return provider if isinstance(provider, str) else provider[0]  # (name, options) pairs too


def cuda_provider(device_id: int = 0, *, cuda_graph: bool = False, mem_limit_mb: int = 0) -> tuple[str, dict]:
    """("CUDAExecutionProvider", options): exhaustive cuDNN algorithm search (the shapes of a video
    repeat), optional CUDA graph (needs every node on CUDA) and a memory cap (Jetson shares memory)."""
    options = {"device_id": str(int(device_id)), "cudnn_conv_algo_search": "EXHAUSTIVE"}
    if cuda_graph:
        options["enable_cuda_graph"] = "1"
    if mem_limit_mb:
        options["gpu_mem_limit"] = str(int(mem_limit_mb) << 20)
    return "CUDAExecutionProvider", options


def tensorrt_provider(cache_dir, device_id: int = 0, *, fp16: bool = True, cuda_graph: bool = False,
                      workspace_mb: int = 0, profile=None) -> tuple[str, dict]:
    """("TensorrtExecutionProvider", options): FP16, engine and timing caches in cache_dir (built
    once per machine, reused after), optional CUDA graph, workspace cap, and one optimisation
    profile (an indi_edge.tensorrt.Profile) for x and t instead of ONNX Runtime's shape guessing."""
    cache = str(cache_dir)
    options = {"device_id": str(int(device_id)), "trt_fp16_enable": "1" if fp16 else "0",
               "trt_engine_cache_enable": "1", "trt_engine_cache_path": cache,
               "trt_timing_cache_enable": "1", "trt_timing_cache_path": cache}
    if cuda_graph:
        options["trt_cuda_graph_enable"] = "1"
    if workspace_mb:
        options["trt_max_workspace_size"] = str(int(workspace_mb) << 20)
    if profile is not None:
        for kind in ("min", "opt", "max"):
            shape = getattr(profile, kind)
            options[f"trt_profile_{kind}_shapes"] = f"x:{'x'.join(map(str, shape))},t:{shape[0]}"
    return "TensorrtExecutionProvider", options


def gpu_providers(cache_dir=None, device_id: int = 0, *, fp16: bool = True, cuda_graph: bool = False,
                  workspace_mb: int = 0, profile=None) -> list:
    """TensorRT EP (when cache_dir is given), then CUDA, then CPU: what to pass as providers=."""
    chain = [tensorrt_provider(cache_dir, device_id, fp16=fp16, cuda_graph=cuda_graph, workspace_mb=workspace_mb,
                               profile=profile)] if cache_dir is not None else []
    return chain + [cuda_provider(device_id, cuda_graph=cuda_graph and cache_dir is None), "CPUExecutionProvider"]


def graph_device(session) -> tuple[str, int] | None:
    """("cuda", device_id) when the session replays CUDA graphs (it then needs IO binding), else None."""
    options = session.get_provider_options()
    for name, flag in (("CUDAExecutionProvider", "enable_cuda_graph"), ("TensorrtExecutionProvider", "trt_cuda_graph_enable")):
        if options.get(name, {}).get(flag, "0") in ("1", "True", "true"):
            return "cuda", int(options[name].get("device_id", 0))
    return None


def make_session(path: Path, providers=None, threads: int = 0):
    """An InferenceSession with full graph optimisation; warns when it did not get the providers asked."""
    import onnxruntime as ort
    from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument, InvalidGraph, InvalidProtobuf

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
    except (InvalidProtobuf, InvalidGraph, InvalidArgument) as err:  # the file: empty, not protobuf, bad graph
        raise unreadable_onnx(path, str(err)) from err
    except Exception as err:  # ONNX Runtime's other errors (providers, memory) say something else: keep it
        if type(err).__module__.startswith("onnxruntime"):
            raise RuntimeError(f"ONNX Runtime could not open {path}: {err}") from err
        raise
    got = session.get_providers()
    missing = [provider_name(p) for p in asked if provider_name(p) not in got]
    if missing:
        warnings.warn(f"ONNX Runtime could not use {missing} for {path.name}; it runs on {got}",
                      RuntimeWarning, stacklevel=3)
    return session


def run_session(session, path: Path, feeds: dict) -> list:
    """session.run, with ONNX Runtime's own exception types (not Python's) turned into a RuntimeError
    that names the model file."""
    try:
        return session.run([OUTPUT], feeds)
    except Exception as err:
        if type(err).__module__.startswith("onnxruntime"):
            raise RuntimeError(f"ONNX Runtime failed running {path.name} on {feeds['x'].shape}: {err}") from err
        raise


def multiple_from_graph(session) -> int:
    """The size multiple named in the graph's dims (export declares H as e.g. '8*h'), else 1."""
    found = [int(m.group(1)) for i in session.get_inputs() for d in i.shape
             if isinstance(d, str) for m in [re.match(r"^(\d+)\*", d)] if m]
    return max(found, default=1)


def open_onnx(path: Path, providers=None, threads: int = 0) -> "OnnxBackend | OnnxLoopBackend":
    session = make_session(path, providers, threads)
    info = ModelInfo.from_metadata(session.get_modelmeta().custom_metadata_map, str(path))
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
    if info.unrolled_steps > 0:
        return OnnxLoopBackend(session, Path(path), info)
    return OnnxBackend(session, Path(path), info, bind_device=graph_device(session))


class OnnxBackend(StepLoop):
    """F(x, t) -> x0 on an ONNX Runtime session; one run per InDI step.

    bind_device: ("cuda", id) runs through IO binding on buffers at fixed addresses (CUDA graphs);
    None runs session.run on numpy arrays.
    """

    def __init__(self, session, path: Path, info: ModelInfo, bind_device: tuple[str, int] | None = None):
        self.session, self.path, self.info = session, path, info
        self.multiple = info.multiple
        self.dtypes = {i.name: DTYPES[i.type] for i in session.get_inputs()}
        self.output_dtype = DTYPES[session.get_outputs()[0].type]
        self.bind_device = bind_device
        if bind_device is not None and bind_device[0] == "cuda":
            import onnxruntime as ort

            require_graph_ort(ort.__version__)
        self.bound: dict[tuple, tuple] = {}  # (x shape) -> (binding, input values, output value, run options)

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers()

    def close(self) -> None:
        """Drop the session and its bound device buffers (ONNX Runtime frees them with the last reference)."""
        self.bound.clear()
        self.session = None

    def __call__(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        check_batch(x, t, self.multiple)
        feeds = {"x": x.astype(self.dtypes["x"], copy=False), "t": t.astype(self.dtypes["t"], copy=False)}
        if self.bind_device is not None:
            return self._run_bound(feeds)
        (x0,) = run_session(self.session, self.path, feeds)
        return x0.astype(np.float32, copy=False)

    def _run_bound(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """Copy the inputs into this shape's bound buffers, run, read the bound output."""
        import onnxruntime as ort

        shape = feeds["x"].shape
        if shape not in self.bound:
            device, device_id = self.bind_device
            binding = self.session.io_binding()
            # Buffers of their own (ortvalue_from_numpy would alias the caller's array on the CPU).
            values = {name: ort.OrtValue.ortvalue_from_shape_and_type(a.shape, a.dtype, device, device_id)
                      for name, a in feeds.items()}
            out = ort.OrtValue.ortvalue_from_shape_and_type(shape, self.output_dtype, device, device_id)
            for name, value in values.items():
                binding.bind_ortvalue_input(name, value)
            binding.bind_ortvalue_output(OUTPUT, out)
            run_options = ort.RunOptions()
            run_options.add_run_config_entry("gpu_graph_id", str(len(self.bound)))  # one graph per shape
            self.bound[shape] = (binding, values, out, run_options)
        binding, values, out, run_options = self.bound[shape]
        for name, a in feeds.items():
            values[name].update_inplace(np.ascontiguousarray(a))
        self.session.run_with_iobinding(binding, run_options)
        x0 = np.array(out.numpy(), dtype=np.float32)  # a copy: the bound buffer is reused next run
        # Every run, every frame: an fp16 graph on the GPU can overflow (the GPU backends all check).
        return check_finite(x0, f"ONNX Runtime ({self.providers[0]}, IO binding) {self.path.name}", FP32_REMEDY)


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
        (x0,) = run_session(self.session, self.path, feeds)
        return x0.astype(np.float32, copy=False)
