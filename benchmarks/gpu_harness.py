"""GPU harness for the TensorRT backend's cuda-python loop, with no TensorRT.

The real TensorRTBackend (indi_edge/backends/tensorrt.py) runs against a stand-in engine whose
"network" is a few in-place torch CUDA ops, F(x, t) = tanh(A x) (1 - t/2) + B (t per batch item),
enqueued on the very stream the backend hands to execute_async_v3. So everything but TensorRT is
real: cuda-bindings buffers, pinned memory and copies, 256-byte-aligned tensor addresses, the
_core CUDA kernels (update, preprocess, postprocess), CUDA-graph capture (the torch ops are
recorded as TensorRT's enqueue would be) and replay, restore_frame with eps > 0 and its seeded
generator. Each case is compared with indi_edge.sampling.run on the CPU with the same F (numpy)
and the same noise (the backend's draws are recorded and replayed).

Cases: F(x, t) alone; restore() on float batches and restore_frame() on uint8 frames for every
sampler, N = 1, 2, 4, eps 0 and 0.1 (brownian), fp32 and fp16. Each restore case runs once eagerly
(then captured) and twice as a graph replay on new inputs; it passes when every output is within
TOLERANCE of the reference, the loop was captured, and the replays did not call the engine again.

    python benchmarks/gpu_harness.py --out DIR    # writes DIR/gpu_harness.json

Exit status: 0 every case passed, 1 a case failed, 2 not runnable here (no CUDA GPU, no torch,
no cuda-bindings, or indi_edge._core without CUDA): it says so and writes {"skipped": reason}.
Run by benchmarks/device_check.sh; written without a GPU and not yet run on one (docs/GPU.md).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import itertools
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np

try:
    import indi_edge  # noqa: F401 - installed (device_check.sh installs it editable)
except ImportError:  # a plain checkout: import the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indi_edge import cuda_runtime, ops, sampling
from indi_edge.backends import tensorrt as trt_backend
from indi_edge.backends.device_loop import plan_loop
from indi_edge.model_info import ModelInfo
from indi_edge.tensorrt import cache
from indi_edge.tensorrt.profiles import Profile

A, B = 1.3, 0.1                      # F(x, t) = tanh(A x) (1 - t/2) + B
STEPS = (1, 2, 4)
EPS = (0.0, 0.1)
EPS_SCHEDULE = "brownian"            # eps > 0 then draws noise at every indi step, not only at x_1
DTYPES = ("float32", "float16")
TOLERANCE = {"float32": 1e-5, "float16": 1e-2}   # max |backend - sampling.run| of the float result
FRAME_LEVELS = {"float32": 1, "float16": 2}      # uint8 levels: rint may round a tiny float gap apart
CALLS = 3                            # call 0: eager, then captured; calls 1, 2: graph replays
REPEAT = 10                          # timed graph replays per case
BATCH = (2, 3, 24, 32)               # restore() input
FRAME_HW = (30, 44)                  # restore_frame() input, padded to 32 x 48 (MULTIPLE)
MULTIPLE = 8
FAKE_VERSION = "10.0.0+gpu-harness"  # TensorRT version the stand-in claims (and its sidecar names)
INFO = ModelInfo(multiple=MULTIPLE, steps=2, eps=0.1, eps_schedule=EPS_SCHEDULE, sampler="indi")
PROFILE = Profile((1, 3, 8, 8), (2, 3, 32, 48), (2, 3, 64, 64))
INPUT_RANKS = {"x": 4, "t": 1}


# --- the stand-in network ---------------------------------------------------------------------------

def network_numpy(x, t):
    """The reference F(x, t): computed in float32, rounded once to x's dtype."""
    x32 = np.asarray(x, np.float32)
    t32 = np.asarray(t, np.float32).reshape(-1, 1, 1, 1)
    return (np.tanh(np.float32(A) * x32) * (np.float32(1) - np.float32(0.5) * t32) + np.float32(B)).astype(x.dtype)


def network_torch(x, t, out, scratch, factor):
    """F(x, t) into out, in place on preallocated float32 scratch [N,3,H,W] and factor [N]: nothing is
    allocated, because an allocation inside a stream capture that torch did not begin is not allowed
    (and its memory would be reused behind the graph's back)."""
    scratch.copy_(x)                      # float32 working copy: one rounding at the end, as numpy
    scratch.mul_(A).tanh_()
    factor.copy_(t).mul_(-0.5).add_(1.0)  # 1 - t/2, one value per batch item
    scratch.mul_(factor.view(-1, 1, 1, 1)).add_(B)
    out.copy_(scratch)


class CudaArray:
    """Raw device memory as __cuda_array_interface__, which torch.as_tensor wraps without a copy."""

    def __init__(self, ptr: int, shape, dtype):
        self.__cuda_array_interface__ = {"shape": tuple(shape), "typestr": np.dtype(dtype).str,
                                         "data": (int(ptr), False), "strides": None, "version": 2}


class CudaMemory:
    """How the stand-in engine reaches the GPU: torch tensors over the backend's pointers, work on the
    backend's own stream (torch.cuda.ExternalStream), so a capture of that stream records it."""

    def __init__(self, device: int = 0):
        import torch

        self.torch, self.device = torch, torch.device("cuda", device)
        self.views: dict = {}
        self.streams: dict = {}

    def tensor(self, ptr: int, shape, dtype):
        key = (ptr, tuple(shape), np.dtype(dtype).str)
        if key not in self.views:  # made on the eager run, reused while capturing: no CUDA calls then
            self.views[key] = self.torch.as_tensor(CudaArray(ptr, shape, dtype))
        return self.views[key]

    def empty(self, shape):
        return self.torch.empty(tuple(shape), dtype=self.torch.float32, device=self.device)

    def enqueue(self, stream: int, work) -> None:
        if stream not in self.streams:
            self.streams[stream] = self.torch.cuda.ExternalStream(stream, device=self.device)
        with self.torch.cuda.stream(self.streams[stream]):
            work()


class FakeContext:
    """A TensorRT IExecutionContext for x [N,3,H,W], t [N] -> x0 whose network is network_torch.

    Same calls and conventions as TensorRT's: refusals return False (a misaligned address, an unknown
    tensor, a bad shape, enqueue before every tensor is set), addresses are read at enqueue time.
    `memory` is CudaMemory on a GPU (tests host it on the CPU simulation of tests/test_gpu_loop_sim.py)."""

    def __init__(self, memory, dtype):
        self.memory, self.dtype = memory, np.dtype(dtype)
        self.shapes: dict[str, tuple] = {}
        self.addresses: dict[str, int] = {}
        self.executes = 0  # enqueues made; a graph replay makes none
        self.scratch = self.factor = None

    def set_optimization_profile_async(self, index: int, stream: int) -> bool:
        return index == 0  # the stand-in engine has one profile

    def set_input_shape(self, name: str, dims) -> bool:
        dims = tuple(int(v) for v in dims)
        if INPUT_RANKS.get(name) != len(dims) or min(dims) < 1:
            return False
        self.shapes[name] = dims
        if name == "x":  # working buffers per shape, made here: never while a stream captures
            self.scratch, self.factor = self.memory.empty(dims), self.memory.empty(dims[:1])
        return True

    def get_tensor_shape(self, name: str) -> tuple:
        return self.shapes.get("x" if name == "x0" else name, ())

    def set_tensor_address(self, name: str, ptr: int) -> bool:
        if name not in ("x", "t", "x0") or int(ptr) % trt_backend.ALIGN:
            return False  # TensorRT: every tensor address must be 256-byte aligned
        self.addresses[name] = int(ptr)
        return True

    def execute_async_v3(self, stream: int) -> bool:
        shape = self.shapes.get("x")
        if shape is None or self.shapes.get("t") != shape[:1] or len(self.addresses) < 3:
            return False
        view = self.memory.tensor
        x, x0 = view(self.addresses["x"], shape, self.dtype), view(self.addresses["x0"], shape, self.dtype)
        t = view(self.addresses["t"], shape[:1], np.float32)
        scratch, factor = self.scratch, self.factor
        self.executes += 1
        self.memory.enqueue(stream, lambda: network_torch(x, t, x0, scratch, factor))
        return True


class Logger:
    WARNING = 2

    def __init__(self, level):
        self.level = level


@contextlib.contextmanager
def fake_tensorrt(engine):
    """The backend's tensorrt_module() gives a stand-in whose runtime 'deserializes' to `engine`.
    Only around the constructor: TensorRTBackend takes an engine path, with no hook for an engine object."""
    module = SimpleNamespace(__version__=FAKE_VERSION, Logger=Logger,
                             Runtime=lambda logger: SimpleNamespace(deserialize_cuda_engine=lambda data: engine))
    saved = trt_backend.tensorrt_module
    trt_backend.tensorrt_module = lambda: module
    try:
        yield module
    finally:
        trt_backend.tensorrt_module = saved


class Recorder:
    """A numpy Generator that keeps every standard-normal draw it makes (the noise the backend uploads)."""

    def __init__(self, rng):
        self.rng, self.draws = rng, []

    def standard_normal(self, size, dtype=np.float32):
        z = self.rng.standard_normal(size, dtype=dtype)
        self.draws.append(z.copy())
        return z

    def take(self) -> list:
        draws, self.draws = self.draws, []
        return draws


class Replay:
    """Gives recorded draws back in order, so sampling.run adds exactly the backend's noise."""

    def __init__(self, draws):
        self.draws = list(draws)

    def standard_normal(self, size, dtype=np.float32):
        if not self.draws:
            raise AssertionError("sampling.run wanted more noise draws than the backend made")
        z = self.draws.pop(0)
        if z.shape != tuple(size):
            raise AssertionError(f"recorded draw {z.shape} where sampling.run wants {tuple(size)}")
        return z.astype(dtype)


def open_backend(memory, dtype: str, folder, device: int = 0) -> trt_backend.TensorRTBackend:
    """A real TensorRTBackend on a FakeContext: an engine file and sidecar naming this GPU and the
    stand-in TensorRT version (so its portability check passes), opened with fake_tensorrt()."""
    gpu = cuda_runtime.device_info(device)
    path = Path(folder) / f"harness-{dtype}.engine"
    path.write_bytes(b"no TensorRT engine: benchmarks/gpu_harness.py stands in for it")
    key = cache.EngineKey("0" * 64, (PROFILE,), "fp32" if dtype == "float32" else "fp16", FAKE_VERSION,
                          gpu.name, gpu.compute_capability)
    cache.write_sidecar(path, cache.EngineSidecar(key, INFO, {"x": dtype, "t": "float32"}, {"x0": dtype},
                                                  "benchmarks/gpu_harness.py"))
    engine = SimpleNamespace(create_execution_context=lambda: FakeContext(memory, dtype))
    with fake_tensorrt(engine):
        backend = trt_backend.TensorRTBackend(path, device=device)
    backend.frame_rng = Recorder(backend.frame_rng)  # still default_rng(FRAME_SEED); only observed
    return backend


# --- cases -------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Case:
    api: str        # "call": F(x, t) once; "restore": float batch; "frame": uint8 frame
    sampler: str
    steps: int
    eps: float
    dtype: str

    @property
    def name(self) -> str:
        if self.api == "call":
            return f"call F(x, t) {self.dtype}"
        return f"{self.api} {self.sampler} N={self.steps} eps={self.eps} {self.dtype}"


def cases() -> list[Case]:
    """Every case, grouped by dtype (one backend each) and api (one buffer shape each)."""
    out = []
    for dtype in DTYPES:
        out.append(Case("call", "-", 0, 0.0, dtype))
        for api in ("restore", "frame"):
            out += [Case(api, s, n, e, dtype) for s, n, e in itertools.product(sampling.SAMPLERS, STEPS, EPS)]
    return out


def batch_input(seed: int) -> np.ndarray:
    return np.random.default_rng(100 + seed).uniform(-1, 1, BATCH).astype(np.float32)


def frame_input(seed: int) -> np.ndarray:
    """A smooth uint8 BGR frame with texture; seed shifts it, so a replay sees a new frame."""
    yy, xx = np.mgrid[0:FRAME_HW[0], 0:FRAME_HW[1]].astype(np.float32)
    planes = [128 + 100 * np.sin(xx / 5 + c + seed) * np.cos(yy / 7 - c) for c in range(3)]
    return np.clip(np.dstack(planes), 0, 255).astype(np.uint8)


def reference(y: np.ndarray, case: Case, draws) -> np.ndarray:
    """sampling.run with network_numpy and the backend's own noise draws."""
    replay = Replay(draws)
    x = sampling.run(network_numpy, y, case.steps, sampler=case.sampler, eps=case.eps,
                     eps_schedule=EPS_SCHEDULE, rng=replay, update=ops.update)
    if replay.draws:
        raise AssertionError(f"the backend drew {len(replay.draws)} more noise arrays than sampling.run used")
    return x


def max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def run_case(backend, case: Case, repeat: int = REPEAT) -> dict:
    """Run one case on `backend`; the row of the report (never raises: errors go into the row)."""
    row = {"name": case.name, **dataclasses.asdict(case), "tolerance": TOLERANCE[case.dtype],
           "max_abs_diff": None, "max_level_diff": None, "captured": None, "replayed": None,
           "graph_replay_ms": None, "warnings": [], "error": None}
    dtype = np.dtype(case.dtype)
    try:
        if case.api == "call":
            x, t = batch_input(0), np.linspace(0.25, 0.75, BATCH[0], dtype=np.float32)  # t differs per item
            row["max_abs_diff"] = max_diff(backend(x, t), network_numpy(x.astype(dtype), t))
        else:
            _run_loop_case(backend, case, dtype, repeat, row)
    except Exception as err:  # noqa: BLE001 - a harness reports every case
        row["error"] = f"{type(err).__name__}: {err}"
    row["passed"] = (row["error"] is None and not row["warnings"] and row["max_abs_diff"] is not None
                     and row["max_abs_diff"] <= row["tolerance"]
                     and (case.api == "call" or (row["captured"] and row["replayed"]))
                     and (case.api != "frame" or row["max_level_diff"] <= FRAME_LEVELS[case.dtype]))
    return row


def _run_loop_case(backend, case: Case, dtype, repeat: int, row: dict) -> None:
    frame_hw = FRAME_HW if case.api == "frame" else None
    kwargs = dict(sampler=case.sampler, eps=case.eps, eps_schedule=EPS_SCHEDULE)
    backend.cuda_graph = True  # a capture that failed in an earlier case must not hide this one's
    diffs, levels = [], []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for call in range(CALLS):
            if call == 1:
                executes = backend.context.executes
            if case.api == "restore":
                y, rng = batch_input(call), Recorder(np.random.default_rng(call))
                got = backend.restore(y, case.steps, **kwargs, rng=rng)
                diffs.append(max_diff(got, reference(y.astype(dtype), case, rng.take())))
            else:  # restore_frame with its default generator (eps > 0 draws from it)
                frame = frame_input(call)
                backend.frame_rng.take()
                got = backend.restore_frame(frame, case.steps, **kwargs)
                want = reference(ops.preprocess(frame, MULTIPLE, dtype), case, backend.frame_rng.take())
                diffs.append(max_diff(backend.work.host_out.array, want))  # the float result, every frame
                levels.append(max_diff(got, ops.postprocess(want, *FRAME_HW)))
    row["warnings"] = [str(w.message) for w in caught]
    row["max_abs_diff"] = max(diffs)
    row["max_level_diff"] = max(levels) if levels else None
    loop = backend.work.loops.get((plan_loop(case.steps, case.sampler, case.eps, EPS_SCHEDULE), frame_hw))
    row["captured"] = loop is not None and loop.graph is not None
    row["replayed"] = backend.context.executes == executes  # replays never call the engine again
    if row["captured"]:
        times = []
        for _ in range(repeat):  # the whole frame's graph: uploads, N steps, downloads
            start = time.perf_counter()
            loop.graph.launch()
            backend.stream.synchronize()
            times.append(time.perf_counter() - start)
        row["graph_replay_ms"] = round(1e3 * statistics.median(times), 4)


def run_all(memory, device: int = 0, selected: list[Case] | None = None, repeat: int = REPEAT) -> dict:
    """Every case (or `selected`), one backend per dtype; the report."""
    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for dtype, group in itertools.groupby(selected or cases(), key=lambda c: c.dtype):
            group = list(group)
            try:
                backend = open_backend(memory, dtype, folder, device)
            except Exception as err:  # noqa: BLE001 - every case of this dtype fails with the reason
                rows += [{"name": c.name, **dataclasses.asdict(c), "passed": False,
                          "error": f"opening the backend: {type(err).__name__}: {err}"} for c in group]
                continue
            try:
                rows += [run_case(backend, case, repeat) for case in group]
            finally:
                backend.close()
    failed = sum(not row["passed"] for row in rows)
    return {"harness": "benchmarks/gpu_harness.py", "device": describe_device(device), "versions": versions(memory),
            "network": f"tanh({A} x) (1 - t/2) + {B}", "eps_schedule": EPS_SCHEDULE, "tolerance": TOLERANCE,
            "frame_levels": FRAME_LEVELS, "calls_per_case": CALLS, "replay_repeat": repeat,
            "passed": len(rows) - failed, "failed": failed, "seconds": round(time.perf_counter() - start, 2),
            "cases": rows}


def describe_device(device: int) -> str:
    try:
        gpu = cuda_runtime.device_info(device)
        return f"{gpu.name} ({gpu.sm})"
    except RuntimeError as err:
        return f"unknown ({err})"


def versions(memory) -> dict:
    torch = getattr(memory, "torch", None)
    return {"numpy": np.__version__, "torch": torch.__version__ if torch else None,
            "cuda_bindings": cuda_runtime.bindings_version(), "core": ops.build_info()}


# --- report and command line -------------------------------------------------------------------------

def write_report(report: dict, out_dir) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "gpu_harness.json"
    path.write_text(json.dumps(report, indent=1) + "\n")
    return path


def exit_code(report: dict) -> int:
    if "skipped" in report:
        return 2
    return 0 if report["cases"] and not report["failed"] else 1


def summary(report: dict) -> list[str]:
    lines = [f"gpu_harness on {report['device']}: {report['passed']} passed, {report['failed']} failed "
             f"({report['seconds']} s)"]
    for row in report["cases"]:
        diff = "-" if row.get("max_abs_diff") is None else f"{row['max_abs_diff']:.2e}"
        ms = "-" if row.get("graph_replay_ms") is None else f"{row['graph_replay_ms']:.3f} ms"
        why = row.get("error") or "; ".join(row.get("warnings") or [])
        lines.append(f"  {'ok  ' if row['passed'] else 'FAIL'} {row['name']:38s} diff {diff:>9s} replay {ms:>10s}"
                     + (f"  {why}" if why else ""))
    return lines


def missing(device: int = 0) -> str | None:
    """Why the harness cannot run here, or None."""
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed (the stand-in network runs on torch CUDA)"
    import torch

    if not torch.cuda.is_available():
        return f"torch {torch.__version__} sees no CUDA GPU"
    if device >= torch.cuda.device_count():
        return f"there is no GPU {device} (torch sees {torch.cuda.device_count()})"
    if cuda_runtime.device_count() <= device:
        try:
            cuda_runtime.runtime()
        except RuntimeError as err:
            return str(err)
        return f"cuda-bindings sees no GPU {device}"
    if not ops.cuda_available():
        return f"indi_edge._core has no CUDA kernels here (build: {ops.build_info() or ops.NATIVE_IMPORT_ERROR})"
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for gpu_harness.json")
    parser.add_argument("--device", type=int, default=0, help="GPU index (default 0)")
    args = parser.parse_args(argv)
    reason = missing(args.device)
    if reason:
        print(f"gpu_harness needs a CUDA GPU (with torch, cuda-bindings and indi_edge._core built with CUDA); "
              f"not run here: {reason}")
        write_report({"skipped": reason}, args.out)
        return 2
    report = run_all(CudaMemory(args.device), args.device)
    path = write_report(report, args.out)
    print("\n".join(summary(report)))
    print(f"wrote {path}")
    return exit_code(report)


if __name__ == "__main__":
    sys.exit(main())
