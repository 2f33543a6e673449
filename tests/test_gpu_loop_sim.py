"""The TensorRT backend's GPU loop, run against a simulation of the cuda-bindings runtime calls, the
fused kernels and a TensorRT execution context, on the CPU.

What this checks is the loop's own logic: which addresses it hands to TensorRT (256-byte alignment),
that every TensorRT call that can refuse is checked, the order of copies, kernels and enqueues,
CUDA-graph capture/replay bookkeeping (including a capture that fails), the device it runs on,
restore_frame's default generator and its per-frame NaN/Inf check. It does NOT check CUDA or
TensorRT themselves: "device" memory is host memory, work enqueued on a stream runs at once (or is
recorded while the stream captures, and run again on graph launch), the kernels are the numpy
definitions in indi_edge.ops, and the "engine" is the smooth toy F(x, t) of test_gpu_backends.
A real engine on a real GPU is tests/test_tensorrt.py::test_a_real_engine_restores_like_onnx_runtime.
"""
from __future__ import annotations

import ctypes
import enum
import itertools
import sys
import types
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from indi_edge import cuda_runtime, ops, sampling
from indi_edge.backends import tensorrt as trt_backend
from indi_edge.model_info import ModelInfo
from indi_edge.tensorrt import cache
from indi_edge.tensorrt.cache import EngineKey, EngineSidecar
from indi_edge.tensorrt.profiles import Profile

ROOT = Path(__file__).resolve().parents[1]


def toy_model(x, t):
    """The engine's F(x, t) (as in test_gpu_backends)."""
    return np.tanh(1.3 * x + t[:, None, None, None]).astype(np.float32)


def view(ptr: int, count: int, dtype) -> np.ndarray:
    """count items of dtype at ptr, as a writable numpy array (simulated device memory is host memory)."""
    dtype = np.dtype(dtype)
    return np.ctypeslib.as_array((ctypes.c_uint8 * (count * dtype.itemsize)).from_address(ptr)).view(dtype)


class Err(enum.IntEnum):
    cudaSuccess = 0
    cudaErrorInvalidValue = 1
    cudaErrorInsufficientDriver = 35
    cudaErrorNoDevice = 100
    cudaErrorInvalidDevice = 101
    cudaErrorStreamCaptureInvalidated = 901


OK = Err.cudaSuccess


class SimCuda:
    """The cuda.bindings.runtime calls cuda_runtime makes, with the same (err, *values) results."""

    cudaError_t = Err
    cudaStreamNonBlocking = 1
    cudaMemcpyKind = SimpleNamespace(cudaMemcpyDefault=4)
    cudaStreamCaptureMode = SimpleNamespace(cudaStreamCaptureModeThreadLocal=1)

    def __init__(self, devices: int = 1, driver_too_old: bool = False, capture_fails: str = ""):
        self.devices, self.driver_too_old, self.capture_fails = devices, driver_too_old, capture_fails
        self.current = 0
        self.memory: dict[int, tuple] = {}       # ptr -> (ctypes buffer, device or "host")
        self.streams: dict[int, int] = {}        # handle -> device
        self.capturing: dict[int, list] = {}     # stream -> work recorded since BeginCapture
        self.graphs: dict[int, list] = {}        # live graphs
        self.execs: dict[int, list] = {}         # live instantiated graphs
        self.launches = 0
        self.enqueued_on: list[int] = []         # the current device at each enqueue
        self.ids = itertools.count(0x1000)

    # --- errors and devices ---
    def cudaGetErrorName(self, err):
        return OK, Err(err).name.encode()

    def cudaGetErrorString(self, err):
        return OK, f"simulated {Err(err).name}".encode()

    def cudaDriverGetVersion(self):
        return OK, 12060

    def cudaGetDeviceCount(self):
        return (Err.cudaErrorInsufficientDriver, 0) if self.driver_too_old else (OK, self.devices)

    def cudaSetDevice(self, device):
        if self.driver_too_old:
            return (Err.cudaErrorInsufficientDriver,)
        if not 0 <= device < self.devices:
            return (Err.cudaErrorInvalidDevice,)
        self.current = device
        return (OK,)

    def cudaGetDeviceProperties(self, device):
        if self.driver_too_old:
            return Err.cudaErrorInsufficientDriver, None
        return OK, SimpleNamespace(name=b"Sim GPU", major=8, minor=7, totalGlobalMem=1 << 30, integrated=0)

    # --- memory: host memory, device pointers 256-byte aligned as cudaMalloc's are ---
    def _alloc(self, nbytes, where):
        buf = ctypes.create_string_buffer(nbytes + 256)
        ptr = -(-ctypes.addressof(buf) // 256) * 256
        self.memory[ptr] = (buf, where)
        return ptr

    def cudaMalloc(self, nbytes):
        return OK, self._alloc(nbytes, self.current)

    def cudaMallocHost(self, nbytes):
        return OK, self._alloc(nbytes, "host")

    def cudaFree(self, ptr):
        del self.memory[ptr]
        return (OK,)

    cudaFreeHost = cudaFree

    # --- streams: work runs at once, or is recorded while the stream captures ---
    def enqueue(self, stream, work):
        self.enqueued_on.append(self.current)
        if stream in self.capturing:
            self.capturing[stream].append(work)
        else:
            work()

    def cudaStreamCreateWithFlags(self, flags):
        handle = next(self.ids)
        self.streams[handle] = self.current
        return OK, handle

    def cudaStreamSynchronize(self, stream):
        return (OK,)

    def cudaStreamDestroy(self, stream):
        del self.streams[stream]
        return (OK,)

    def cudaMemcpyAsync(self, dst, src, nbytes, kind, stream):
        self.enqueue(stream, lambda: ctypes.memmove(dst, src, nbytes))
        return (OK,)

    # --- graphs ---
    def cudaStreamBeginCapture(self, stream, mode):
        self.capturing[stream] = []
        return (OK,)

    def cudaStreamEndCapture(self, stream):
        work = self.capturing.pop(stream)
        if self.capture_fails == "invalidated":
            return Err.cudaErrorStreamCaptureInvalidated, 0  # NULL graph, as CUDA returns
        graph = next(self.ids)
        self.graphs[graph] = work
        return OK, graph

    def cudaGraphInstantiate(self, graph, flags):
        if self.capture_fails == "instantiate":
            return Err.cudaErrorInvalidValue, None
        exec_ = next(self.ids)
        self.execs[exec_] = self.graphs[graph]
        return OK, exec_

    def cudaGraphLaunch(self, exec_, stream):
        self.launches += 1
        for work in self.execs[exec_]:
            self.enqueue(stream, work)
        return (OK,)

    def cudaGraphExecDestroy(self, exec_):
        del self.execs[exec_]
        return (OK,)

    def cudaGraphDestroy(self, graph):
        del self.graphs[graph]
        return (OK,)

    # --- indi_edge._core's CUDA entry points, as the numpy definitions ---
    def cuda_update(self, sampler, x, x0, y, z, out, size, dtype, t, d, noise_std, stream):
        def work():
            arrays = [view(p, size, dtype) if p else None for p in (x, x0, y, z, out)]
            ops.update(sampler, arrays[0], arrays[1], arrays[2], t, d, noise_std, arrays[3], out=arrays[4])
        self.enqueue(stream, work)

    def cuda_preprocess(self, frame, y, h, w, hp, wp, dtype, stream):
        self.enqueue(stream, lambda: ops._preprocess_numpy(view(frame, h * w * 3, np.uint8).reshape(h, w, 3),
                                                           view(y, 3 * hp * wp, dtype).reshape(1, 3, hp, wp)))

    def cuda_postprocess(self, x, out, hp, wp, h, w, dtype, stream):
        self.enqueue(stream, lambda: ops._postprocess_numpy(view(x, 3 * hp * wp, dtype).reshape(1, 3, hp, wp),
                                                            view(out, h * w * 3, np.uint8).reshape(h, w, 3)))


class SimContext:
    """A TensorRT IExecutionContext for F(x, t) = toy_model: addresses are read at enqueue time (as
    TensorRT does, so a captured graph keeps them), and it refuses what TensorRT refuses."""

    def __init__(self, sim: SimCuda):
        self.sim = sim
        self.shapes, self.addresses, self.bound = {}, {}, []
        self.refuse: dict[str, int] = {}   # call name -> refuse its n-th call (1-based)
        self.calls: dict[str, int] = {}
        self.fail_in_capture = False       # execute_async_v3 returns False while the stream captures
        self.nan = False                   # the network's output turns NaN (fp16 overflow)

    def _refused(self, call):
        self.calls[call] = self.calls.get(call, 0) + 1
        return self.refuse.get(call) == self.calls[call]

    def set_optimization_profile_async(self, index, stream):
        return True

    def set_input_shape(self, name, dims):
        if self._refused(f"set_input_shape {name}"):
            return False
        self.shapes[name] = tuple(dims)
        return True

    def set_tensor_address(self, name, ptr):
        self.bound.append((name, ptr))
        if ptr % 256 or self._refused(f"set_tensor_address {name}"):
            return False  # TensorRT: "tensor address must be 256-byte aligned"
        self.addresses[name] = ptr
        return True

    def execute_async_v3(self, stream):
        if self._refused("execute_async_v3") or (self.fail_in_capture and stream in self.sim.capturing):
            return False
        x_ptr, t_ptr, x0_ptr, shape = self.addresses["x"], self.addresses["t"], self.addresses["x0"], self.shapes["x"]
        size = int(np.prod(shape))

        def work():
            x0 = toy_model(view(x_ptr, size, np.float32).reshape(shape), view(t_ptr, shape[0], np.float32))
            view(x0_ptr, size, np.float32)[...] = np.nan if self.nan else x0.ravel()
        self.sim.enqueue(stream, work)
        return True


@pytest.fixture
def sim(monkeypatch):
    """Install the simulation: cuda_runtime's runtime(), the _core CUDA entry points, and TensorRT."""
    sim = SimCuda(devices=2)
    monkeypatch.setattr(cuda_runtime, "runtime", lambda: sim)
    monkeypatch.setattr(ops, "cuda_available", lambda: True)
    for name in ("cuda_update", "cuda_preprocess", "cuda_postprocess"):
        monkeypatch.setattr(ops, name, getattr(sim, name))

    def new_context():  # sim.context: the context of the engine opened last
        sim.context = SimContext(sim)
        return sim.context

    engine = SimpleNamespace(create_execution_context=new_context)
    fake_trt = SimpleNamespace(__version__="10.3.0",
                               Logger=type("Logger", (), {"WARNING": 2, "__init__": lambda self, level: None}),
                               Runtime=lambda logger: SimpleNamespace(deserialize_cuda_engine=lambda data: engine))
    monkeypatch.setattr(trt_backend, "tensorrt_module", lambda: fake_trt)
    return sim


INFO = ModelInfo(multiple=2, steps=3, eps=0.1, eps_schedule="brownian", sampler="indi")


def open_engine(tmp_path, info=INFO, **options) -> trt_backend.TensorRTBackend:
    path = tmp_path / "sim.engine"
    path.write_bytes(b"simulated engine")
    key = EngineKey("ab" * 32, (Profile((1, 3, 2, 2), (1, 3, 16, 16), (3, 3, 64, 64)),), "fp32", "10.3.0",
                    "Sim GPU", (8, 7))
    cache.write_sidecar(path, EngineSidecar(key, info, {"x": "float32", "t": "float32"}, {"x0": "float32"}))
    return trt_backend.TensorRTBackend(path, **options)


def reference(y, steps, sampler, eps, schedule, rng):
    return sampling.run(toy_model, y, steps, sampler=sampler, eps=eps, eps_schedule=schedule, rng=rng,
                        update=ops.update)


# --- 1. alignment, checked TensorRT calls --------------------------------------------------------------

@pytest.mark.parametrize("sampler", ["indi", "cold"])
def test_every_tensor_address_is_256_byte_aligned_and_the_loop_equals_sampling_run(sim, tmp_path, sampler):
    backend = open_engine(tmp_path)
    y = np.random.default_rng(0).uniform(-1, 1, (1, 3, 6, 4)).astype(np.float32)
    kwargs = dict(sampler=sampler, eps=0.1, eps_schedule="brownian")
    for frame in range(3):  # eager then capture, then two replays
        got = backend.restore(y, 4, **kwargs, rng=np.random.default_rng(frame))
        np.testing.assert_array_equal(got, reference(y, 4, sampler, 0.1, "brownian", np.random.default_rng(frame)))
    assert sim.launches == 2
    t_addresses = {ptr for name, ptr in sim.context.bound if name == "t"}
    assert len(t_addresses) == 4  # one t per step, each in its own slot
    assert all(ptr % 256 == 0 for _, ptr in sim.context.bound)
    backend.close()
    assert not sim.memory and not sim.streams and not sim.graphs and not sim.execs  # everything freed


def test_slotted_device_arrays_keep_every_entry_256_byte_aligned(sim):
    pool = trt_backend.Pool()
    t = pool.device((5, 3), np.float32, slots=True)          # 12 bytes per step
    noise = pool.device((2, 1, 3, 2, 2), np.float16, slots=True)
    assert [t.item(k).ptr % 256 for k in range(5)] == [0] * 5 and t.item(1).ptr - t.item(0).ptr == 256
    assert noise.item(1).ptr % 256 == 0 and noise.item(1).shape == (1, 3, 2, 2)
    packed = pool.device((5, 3), np.float32)
    assert packed.item(1).ptr - packed.item(0).ptr == 12
    pool.free()
    assert not sim.memory


@pytest.mark.parametrize("call, error, match", [
    ("set_tensor_address t", RuntimeError, r"refused the address 0x[0-9a-f]+ of tensor 't' at step 2 of 3"),
    ("set_tensor_address x0", RuntimeError, r"tensor 'x0' at step 1 of 3"),
    ("execute_async_v3", RuntimeError, r"failed to enqueue sim.engine at step 1 of 3 for 1x3x6x4"),
    ("set_input_shape x", ValueError, r"refused shape 1x3x6x4 for input 'x' of sim.engine"),
    ("set_input_shape t", ValueError, r"refused shape 1 for input 't'"),
])
def test_every_refusal_of_tensorrt_is_an_error_naming_the_tensor_and_step(sim, tmp_path, call, error, match):
    backend = open_engine(tmp_path)
    sim.context.refuse[call] = 2 if call == "set_tensor_address t" else 1
    with pytest.raises(error, match=match):
        backend.restore(np.zeros((1, 3, 6, 4), np.float32), 3, sampler="indi", eps=0.0, eps_schedule="constant",
                        rng=None)


# --- 3. a driver too old for cuda-bindings -------------------------------------------------------------------

def test_a_driver_too_old_for_cuda_bindings_is_reported_as_that(sim, tmp_path, monkeypatch):
    sim.driver_too_old = True
    monkeypatch.setattr(cuda_runtime, "bindings_version", lambda: "13.0.1", raising=False)
    with pytest.raises(RuntimeError) as raised:
        cuda_runtime.device_info()
    text = str(raised.value)
    assert text.startswith("cudaGetDeviceProperties(0) failed: cudaErrorInsufficientDriver")
    for part in ("too old for cuda-bindings 13.0.1", "driver >= 580 (CUDA 13)", "this driver supports CUDA 12.6",
                 "indi-edge[gpu-cu12]"):
        assert part in text
    assert "no usable CUDA GPU" not in text
    with pytest.raises(RuntimeError, match=r"cudaSetDevice\(0\) failed.*too old for cuda-bindings 13.0.1"):
        open_engine(tmp_path)
    assert cuda_runtime.device_count() == 0
    twelve = cuda_runtime.error_message("cudaErrorInsufficientDriver", "old", "cudaMalloc(8)", bindings="12.9.0")
    assert "driver >= 525 (CUDA 12)" in twelve and "upgrade the NVIDIA driver" in twelve
    assert "too old" in cuda_runtime.error_message("CUDA_ERROR_INSUFFICIENT_DRIVER", "old", "cuInit", bindings="13.0.0")


# --- 4, 5. restore_frame: the documented call with eps > 0, every frame checked -------------------------------

def test_restore_frame_works_with_the_models_eps_and_its_seeded_default(sim, tmp_path, bgr_frame):
    backend = open_engine(tmp_path)
    rng = np.random.default_rng(trt_backend.FRAME_SEED)
    y = ops.preprocess(bgr_frame, INFO.multiple)
    for _ in range(3):  # eager + capture, replays: the backend's generator goes on, as rng does here
        got = backend.restore_frame(bgr_frame)
        want = ops.postprocess(reference(y, INFO.steps, INFO.sampler, INFO.eps, INFO.eps_schedule, rng),
                               *bgr_frame.shape[:2])
        np.testing.assert_array_equal(got, want)
    again = open_engine(tmp_path)  # a new backend starts from the same seed
    np.testing.assert_array_equal(again.restore_frame(bgr_frame),
                                  backend.restore_frame(bgr_frame, rng=np.random.default_rng(0)))


def test_restore_frame_checks_every_frame_for_nan(sim, tmp_path, bgr_frame):
    backend = open_engine(tmp_path)
    backend.restore_frame(bgr_frame)
    backend.restore_frame(bgr_frame)  # the captured graph now replays
    sim.context.nan = True
    with pytest.raises(RuntimeError, match=r"TensorRT engine sim.engine \(fp32\) produced \d+ NaN.*--precision fp32"):
        backend.restore_frame(bgr_frame)
    unchecked = open_engine(tmp_path, check_output=False)
    sim.context.nan = True
    assert unchecked.restore_frame(bgr_frame).max() == 0  # what the check prevents: NaN became black


# --- 6. a failed capture falls back to eager ---------------------------------------------------------------

@pytest.mark.parametrize("failure", ["invalidated", "instantiate", "enqueue"])
def test_a_failed_capture_runs_eagerly_with_one_warning_and_no_leak(sim, tmp_path, failure):
    backend = open_engine(tmp_path)
    sim.capture_fails = failure
    sim.context.fail_in_capture = failure == "enqueue"
    y = np.random.default_rng(0).uniform(-1, 1, (2, 3, 4, 4)).astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for frame in range(3):
            got = backend.restore(y, 3, sampler="indi", eps=0.1, eps_schedule="brownian",
                                  rng=np.random.default_rng(frame))
            np.testing.assert_array_equal(got, reference(y, 3, "indi", 0.1, "brownian", np.random.default_rng(frame)))
    assert [str(w.message)[:26] for w in caught] == ["CUDA graph capture failed "]
    assert not sim.capturing and not sim.graphs and not sim.execs and sim.launches == 0
    assert backend.cuda_graph is False


def test_graph_capture_cleans_up_when_enqueue_raises(sim):
    stream = cuda_runtime.Stream()

    def broken():
        stream.copy(0, 0, 0)
        raise RuntimeError("TensorRT failed to enqueue")

    with pytest.raises(RuntimeError, match="failed to enqueue"):
        cuda_runtime.Graph(stream, broken)
    assert not sim.capturing and not sim.graphs


# --- 8. the device index -------------------------------------------------------------------------------------

def test_the_backend_runs_on_the_gpu_it_was_given(sim, tmp_path):
    backend = open_engine(tmp_path, device=1)
    assert backend.providers[0].endswith("(GPU 1)")
    sim.current = 0  # another library (or thread) made GPU 0 current meanwhile
    backend.restore(np.zeros((1, 3, 4, 4), np.float32), 2, sampler="indi", eps=0.0, eps_schedule="constant", rng=None)
    assert {where for _, where in sim.memory.values()} == {1, "host"}
    assert set(sim.streams.values()) == {1} and set(sim.enqueued_on) == {1}
    with pytest.raises(RuntimeError, match=r"cudaSetDevice\(5\) failed: cudaErrorInvalidDevice"):
        open_engine(tmp_path, device=5)
    buffer = cuda_runtime.DeviceBuffer(64, device=1)
    assert sim.memory[buffer.ptr][1] == 1


# --- 2. GPU extras resolve to cuda-bindings that match the driver ------------------------------------------

def test_gpu_extras_pin_cuda_bindings_by_cuda_major():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    Requirement = pytest.importorskip("packaging.requirements").Requirement

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras["gpu"] == ["indi-edge[gpu-cu12]"]  # old instructions get CUDA 12 bindings
    for extra, admits, refuses in (("gpu-cu12", ["12.6.1", "12.9.4"], ["12.6.0", "12.0.0", "13.0.0"]),
                                   ("gpu-cu13", ["13.0.0", "13.5.0"], ["12.9.4", "14.0.0"])):
        reqs = {r.name: r.specifier for r in map(Requirement, extras[extra])}
        assert set(reqs) == {"cuda-bindings", "onnxruntime-gpu"}, extra
        assert all(reqs["cuda-bindings"].contains(v) for v in admits), extra
        assert not any(reqs["cuda-bindings"].contains(v) for v in refuses), extra
        assert reqs["onnxruntime-gpu"].contains("1.18.0") and not reqs["onnxruntime-gpu"].contains("1.17.3")


def test_cuda_python_without_cuda_bindings_is_named_too_old(monkeypatch):
    package = types.ModuleType("cuda")
    package.__path__ = []  # a package without a bindings subpackage, as cuda-python < 12.6.1 installs
    monkeypatch.setitem(sys.modules, "cuda", package)
    monkeypatch.delitem(sys.modules, "cuda.bindings", raising=False)
    monkeypatch.setattr(cuda_runtime, "_dist_version", lambda dist: {"cuda-python": "12.4.0"}.get(dist, ""),
                        raising=False)
    with pytest.raises(RuntimeError, match=r"cuda-python 12.4.0 is too old.*indi-edge\[gpu-cu12\]"):
        cuda_runtime.runtime()
    assert cuda_runtime.device_count() == 0


# --- 9. the docs say what the code does -------------------------------------------------------------------

def test_docs_name_jetpack_6_1_and_the_fp16_time_mlp():
    from indi_edge.backends.torch_cuda import TorchCudaBackend

    gpu_md = (ROOT / "docs" / "GPU.md").read_text()
    assert "JetPack >= 6.1" in gpu_md and "6.0 ships TensorRT 8.6" in gpu_md
    assert "gpu-cu12" in gpu_md and "gpu-cu13" in gpu_md
    doc = " ".join(TorchCudaBackend.__doc__.split())
    assert "the time MLP in half" in doc and "TF32 off" in doc
