"""TensorRT backend: Restorer("model.engine") on an engine from `indi-edge build-engine`.

The whole N-step loop of a frame stays on the GPU: upload, N x (enqueue F, fused update
kernel), download, on one stream (cuda-python), with device and pinned host buffers allocated
once per shape. The first frame of a (shape, loop) runs step by step (TensorRT sets itself up for
the shape there); it is then captured as a CUDA graph and later frames replay it. restore_frame()
also keeps the uint8 <-> float conversion on the GPU (preprocess and postprocess kernels).

Every float output (restore_frame: every frame too) is checked for NaN/Inf (fp16 overflow) with a
message naming the fp32 remedy. Every address handed to TensorRT is 256-byte aligned, and every
TensorRT call that can refuse (set_input_shape, set_tensor_address, execute_async_v3) is checked.
A loop that cannot be captured as a CUDA graph runs step by step, with one warning (as trtexec does).
Needs TensorRT >= 10, cuda-bindings and indi_edge._core built with CUDA; importing this module needs
none. Written against the TensorRT 10/11 API and not yet run on real TensorRT (docs/GPU.md).
"""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np

from indi_edge import cuda_runtime, ops
from indi_edge.backends import check_batch
from indi_edge.backends.device_loop import LoopPlan, check_finite, draw_noise, plan_loop, run_plan
from indi_edge.tensorrt.cache import EngineKey, read_sidecar
from indi_edge.tensorrt.profiles import format_shape, select_profile
from indi_edge.tensorrt.version import tensorrt_module

FP32_REMEDY = "rebuild the engine in fp32 (indi-edge build-engine MODEL.onnx --precision fp32) or use the fp32 .onnx"
ALIGN = 256      # TensorRT needs every tensor address aligned to 256 bytes (cudaMalloc gives at least that)
FRAME_SEED = 0   # restore_frame's default noise generator: np.random.default_rng(FRAME_SEED), one per backend


def aligned(nbytes: int) -> int:
    """nbytes rounded up to a whole number of ALIGN-byte slots."""
    return -(-int(nbytes) // ALIGN) * ALIGN


def check_portable(key: EngineKey, tensorrt_version: str, device: cuda_runtime.DeviceInfo, name: str) -> None:
    """Engines run only where they were built: same TensorRT version, same GPU model. ValueError else."""
    built = (key.tensorrt_version, key.gpu_name, tuple(key.compute_capability))
    here = (tensorrt_version, device.name, device.compute_capability)
    if built != here:
        raise ValueError(f"{name} was built with TensorRT {built[0]} for {built[1]} (sm_{built[2][0]}{built[2][1]}); "
                         f"this machine has TensorRT {here[0]} and {here[1]} ({device.sm}). TensorRT engines "
                         f"are not portable: rebuild it here with `indi-edge build-engine`")


@dataclasses.dataclass(frozen=True)
class DeviceArray:
    """A view of device memory: pointer, shape, dtype (what the kernels and TensorRT take).

    stride: bytes from one entry of the first dimension to the next; 0 means packed. Arrays made
    with Pool.device(..., slots=True) keep each entry in its own 256-byte-aligned slot."""
    ptr: int
    shape: tuple[int, ...]
    dtype: np.dtype
    stride: int = 0

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        """Bytes of the data (a packed array's whole buffer; copy a slotted one entry by entry)."""
        return self.size * self.dtype.itemsize

    def item(self, k: int) -> "DeviceArray":
        """Entry k of the first dimension."""
        inner = DeviceArray(0, self.shape[1:], self.dtype)
        return DeviceArray(self.ptr + k * (self.stride or inner.nbytes), inner.shape, self.dtype)


class Pool:
    """Device and pinned host buffers, freed together."""

    def __init__(self):
        self.owned: list = []

    def device(self, shape, dtype, slots: bool = False) -> DeviceArray:
        """A device array; slots=True puts each entry of the first dimension at a 256-byte-aligned
        address of its own (per-step t and noise draws are bound or read one entry at a time)."""
        dtype = np.dtype(dtype)
        shape = tuple(int(v) for v in shape)
        stride = aligned(max(1, int(np.prod(shape[1:]))) * dtype.itemsize) if slots else 0
        nbytes = shape[0] * stride if slots else int(np.prod(shape)) * dtype.itemsize
        buf = cuda_runtime.DeviceBuffer(max(1, nbytes))
        self.owned.append(buf)
        if buf.ptr % ALIGN:
            raise RuntimeError(f"cudaMalloc returned {buf.ptr:#x}, not {ALIGN}-byte aligned as TensorRT needs")
        return DeviceArray(buf.ptr, shape, dtype, stride)

    def pinned(self, shape, dtype) -> cuda_runtime.PinnedArray:
        buf = cuda_runtime.PinnedArray(tuple(shape), dtype)
        self.owned.append(buf)
        return buf

    def free(self) -> None:
        for buf in reversed(self.owned):
            buf.free()
        self.owned.clear()


class Workspace:
    """Buffers for one input shape [N, 3, H, W], and the captured loops for it."""

    def __init__(self, shape, dtype, pool: Pool):
        self.shape = tuple(shape)
        self.y, self.x, self.x0, self.anchor = (pool.device(shape, dtype) for _ in range(4))
        self.host_in = pool.pinned(shape, dtype)
        self.host_out = pool.pinned(shape, dtype)
        self.host_t = pool.pinned((shape[0],), np.float32)
        self.t = pool.device((shape[0],), np.float32)
        self.loops: dict[tuple, "Loop"] = {}


class Loop:
    """One (shape, plan, io) loop: its t values and noise on the device, and its CUDA graph once captured."""

    def __init__(self, plan: LoopPlan, work: Workspace, pool: Pool, dtype, frame_hw=None):
        n = work.shape[0]
        self.plan = plan
        # Step k's t is bound to TensorRT at t.item(k): a 256-byte slot each, never an offset of 4*N*k.
        self.t = pool.device((len(plan.steps), n), np.float32, slots=True)
        self.host_t = pool.pinned((len(plan.steps), n), np.float32)
        self.host_t.array[...] = np.array([[s.t] * n for s in plan.steps], np.float32)
        self.noise = pool.device((plan.draws, *work.shape), dtype, slots=True) if plan.draws else None
        self.host_noise = pool.pinned((plan.draws, *work.shape), dtype) if plan.draws else None
        self.frame_hw = frame_hw  # (h, w) for the uint8 frame path, else None
        if frame_hw is not None:
            self.host_frame_in = pool.pinned((*frame_hw, 3), np.uint8)
            self.host_frame_out = pool.pinned((*frame_hw, 3), np.uint8)
            self.frame_in = pool.device((*frame_hw, 3), np.uint8)
            self.frame_out = pool.device((*frame_hw, 3), np.uint8)
        self.graph: cuda_runtime.Graph | None = None


class TensorRTBackend:
    """F(x, t) -> x0 on a TensorRT engine, and the InDI loop on the GPU (CUDA-graph replay).

    device: the GPU index to run on (cudaSetDevice before every call: the current device is per thread).
    cuda_graph: capture each (shape, loop) after its first frame and replay it (default True); a
        capture that fails turns graphs off for this backend, with one RuntimeWarning.
    check_output: NaN/Inf check of every float output, every frame (restore_frame included). The
        Restorer checks every frame of every backend as well; this covers direct calls.
    """

    def __init__(self, path, *, device: int = 0, cuda_graph: bool = True, check_output: bool = True):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no TensorRT engine at {path}")
        sidecar = read_sidecar(path)
        trt = tensorrt_module()
        if not ops.cuda_available():
            raise RuntimeError("the TensorRT backend runs its update kernels from indi_edge._core, which sees no CUDA "
                               f"GPU here (build: {ops.build_info() or ops.NATIVE_IMPORT_ERROR}); reinstall on the "
                               "GPU machine with nvcc on PATH")
        self.device = int(device)
        cuda_runtime.set_device(self.device)  # TensorRT loads onto, and allocates on, the current device
        info = cuda_runtime.device_info(self.device)
        check_portable(sidecar.key, trt.__version__, info, path.name)
        self._trt_logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._trt_logger)
        self.engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:
            raise ValueError(f"TensorRT could not load {path} (corrupt, or built by another TensorRT)")
        self.context = self.engine.create_execution_context()
        self.path, self.sidecar, self.info = path, sidecar, sidecar.info
        self.multiple = sidecar.info.multiple
        self.profiles = list(sidecar.key.profiles)
        self.dtype = np.dtype(sidecar.inputs["x"])
        if np.dtype(sidecar.outputs.get("x0", "")) != self.dtype or np.dtype(sidecar.inputs["t"]) != np.float32:
            raise ValueError(f"{path.name}: expected x and x0 of one dtype and t float32, got {sidecar.inputs} -> {sidecar.outputs}")
        self.cuda_graph, self.check_output = cuda_graph, check_output
        self.providers = [f"TensorRT {trt.__version__} {sidecar.key.precision} on {info.name} (GPU {self.device})"]
        self.stream = cuda_runtime.Stream(self.device)
        self.pool = Pool()
        self.work: Workspace | None = None
        self.profile_index = -1
        self.frame_rng = np.random.default_rng(FRAME_SEED)

    # --- the Backend protocol ---------------------------------------------------------------

    def __call__(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        check_batch(x, t, self.multiple)
        cuda_runtime.set_device(self.device)
        work = self._workspace(x.shape)
        work.host_in.array[...] = x
        work.host_t.array[...] = t
        self.stream.copy(work.x.ptr, work.host_in.ptr, work.x.nbytes)
        self.stream.copy(work.t.ptr, work.host_t.ptr, work.t.nbytes)
        self._enqueue_network(work.x, work.t, work.x0, "F(x, t)")
        self.stream.copy(work.host_out.ptr, work.x0.ptr, work.x0.nbytes)
        self.stream.synchronize()
        return self._checked(work.host_out.array.astype(np.float32))

    def restore(self, y: np.ndarray, steps: int, *, sampler: str, eps: float, eps_schedule: str,
                rng) -> np.ndarray:
        """y [N, 3, H, W] float32 in [-1, 1] -> x_0 (float32), the whole loop on the GPU."""
        check_batch(y, np.zeros(y.shape[0], np.float32), self.multiple)
        plan = plan_loop(steps, sampler, eps, eps_schedule)
        cuda_runtime.set_device(self.device)
        work = self._workspace(y.shape)
        loop = self._loop(work, plan, None)
        work.host_in.array[...] = y
        if plan.draws:
            loop.host_noise.array[...] = draw_noise(y, rng, plan.draws)
        self._launch(work, loop, lambda: self._enqueue_arrays(work, loop))
        return self._checked(work.host_out.array.astype(np.float32))

    # --- uint8 frames, converted on the GPU --------------------------------------------------

    def restore_frame(self, frame: np.ndarray, steps: int | None = None, *, sampler: str | None = None,
                      eps: float | None = None, eps_schedule: str | None = None, rng=None) -> np.ndarray:
        """uint8 [H, W, 3] BGR -> restored uint8 [H, W, 3] BGR: upload, preprocess kernel (pad to the
        multiple), the loop, postprocess kernel (crop), download. Defaults come from the model.

        rng: the noise generator when eps > 0; by default the backend's own
        np.random.default_rng(FRAME_SEED) (seed 0), so the k-th frame after opening gets the same
        noise on every run. With check_output, every frame's float result is checked for NaN/Inf
        (the postprocess kernel would turn NaN into black pixels)."""
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame must be a uint8 [H, W, 3] BGR array, got {getattr(frame, 'dtype', type(frame))} "
                             f"{getattr(frame, 'shape', '')}")
        info = self.info
        plan = plan_loop(info.steps if steps is None else steps, sampler or info.sampler,
                         info.eps if eps is None else eps, eps_schedule or info.eps_schedule)
        h, w = frame.shape[:2]
        m = self.multiple
        shape = (1, 3, -(-h // m) * m, -(-w // m) * m)
        cuda_runtime.set_device(self.device)
        work = self._workspace(shape)
        loop = self._loop(work, plan, (h, w))
        loop.host_frame_in.array[...] = frame
        if plan.draws:
            rng = self.frame_rng if rng is None else rng
            loop.host_noise.array[...] = draw_noise(np.empty(shape, np.float32), rng, plan.draws)
        self._launch(work, loop, lambda: self._enqueue_frame(work, loop))
        self._checked(work.host_out.array)  # every frame: the float result came back with it
        return loop.host_frame_out.array.copy()

    # --- internals ----------------------------------------------------------------------------

    def _checked(self, x: np.ndarray) -> np.ndarray:
        if self.check_output:
            check_finite(x, f"TensorRT engine {self.path.name} ({self.sidecar.key.precision})", FP32_REMEDY)
        return x

    def _workspace(self, shape) -> Workspace:
        shape = tuple(int(v) for v in shape)
        if self.work is not None and self.work.shape == shape:
            return self.work
        index = select_profile(self.profiles, shape)
        self.stream.synchronize()
        self.close_buffers()
        if index != self.profile_index:
            if not self.context.set_optimization_profile_async(index, self.stream.handle):
                raise RuntimeError(f"TensorRT refused optimization profile {index} of {self.path.name}")
            self.profile_index = index
        for name, dims in (("x", shape), ("t", shape[:1])):
            if not self.context.set_input_shape(name, dims):
                raise ValueError(f"TensorRT refused shape {format_shape(dims)} for input {name!r} of "
                                 f"{self.path.name} (input {format_shape(shape)})")
        self.work = Workspace(shape, self.dtype, self.pool)
        return self.work

    def _loop(self, work: Workspace, plan: LoopPlan, frame_hw) -> Loop:
        key = (plan, frame_hw)
        if key not in work.loops:
            loop = Loop(plan, work, self.pool, self.dtype, frame_hw)
            self._upload_slots(loop.t, loop.host_t)  # constant for this loop
            work.loops[key] = loop
        return work.loops[key]

    def _upload_slots(self, device: DeviceArray, host: cuda_runtime.PinnedArray) -> None:
        """Enqueue the copy of a packed host array into a slotted device array, entry by entry."""
        row = device.item(0).nbytes
        for k in range(device.shape[0]):
            self.stream.copy(device.item(k).ptr, host.ptr + k * row, row)

    def _launch(self, work: Workspace, loop: Loop, enqueue) -> None:
        """Replay the loop's graph, or run it step by step and then capture it."""
        if loop.graph is not None:
            loop.graph.launch()
        else:
            enqueue()  # the first run also lets TensorRT finish shape-dependent setup before capture
            if self.cuda_graph:
                self.stream.synchronize()
                try:
                    loop.graph = cuda_runtime.Graph(self.stream, enqueue)  # cleans up after itself on failure
                except RuntimeError as err:
                    # As trtexec does: the eager run above already produced this frame; go on without graphs.
                    self.cuda_graph = False
                    warnings.warn(f"CUDA graph capture failed for {self.path.name}; running step by step "
                                  f"from now on: {err}", RuntimeWarning, stacklevel=3)
        self.stream.synchronize()

    def _set_address(self, name: str, array: DeviceArray, where: str) -> None:
        if array.ptr % ALIGN:
            raise RuntimeError(f"tensor {name!r} at {where} is at {array.ptr:#x}, not {ALIGN}-byte aligned "
                               f"as TensorRT requires")
        if not self.context.set_tensor_address(name, array.ptr):
            raise RuntimeError(f"TensorRT refused the address {array.ptr:#x} of tensor {name!r} at {where} "
                               f"({self.path.name})")

    def _enqueue_network(self, x: DeviceArray, t: DeviceArray, x0: DeviceArray, where: str) -> DeviceArray:
        for name, array in (("x", x), ("t", t), ("x0", x0)):
            self._set_address(name, array, where)
        if not self.context.execute_async_v3(self.stream.handle):
            raise RuntimeError(f"TensorRT failed to enqueue {self.path.name} at {where} for {format_shape(x.shape)}")
        return x0

    def _update(self, sampler, x, x0, y, t, d, noise_std=0.0, z=None, out=None) -> None:
        """indi_edge.ops.update's signature on DeviceArrays: the fused CUDA kernel on our stream."""
        ops.cuda_update(sampler, x.ptr, x0.ptr, y.ptr if y is not None else 0, z.ptr if z is not None else 0,
                        out.ptr, x.size, self.dtype.name, t, d, noise_std, self.stream.handle)

    def _enqueue_loop(self, work: Workspace, loop: Loop) -> None:
        steps = len(loop.plan.steps)

        def model(x, step):
            return self._enqueue_network(x, loop.t.item(step.index), work.x0, f"step {step.index + 1} of {steps}")

        run_plan(loop.plan, model, self._update, work.y, work.x, work.anchor if loop.plan.needs_anchor else None,
                 loop.noise.item if loop.noise is not None else None)

    def _enqueue_arrays(self, work: Workspace, loop: Loop) -> None:
        self.stream.copy(work.y.ptr, work.host_in.ptr, work.y.nbytes)
        if loop.noise is not None:
            self._upload_slots(loop.noise, loop.host_noise)
        self._enqueue_loop(work, loop)
        self.stream.copy(work.host_out.ptr, work.x.ptr, work.x.nbytes)

    def _enqueue_frame(self, work: Workspace, loop: Loop) -> None:
        (h, w), (_, _, hp, wp) = loop.frame_hw, work.shape
        self.stream.copy(loop.frame_in.ptr, loop.host_frame_in.ptr, loop.frame_in.nbytes)
        ops.cuda_preprocess(loop.frame_in.ptr, work.y.ptr, h, w, hp, wp, self.dtype.name, self.stream.handle)
        if loop.noise is not None:
            self._upload_slots(loop.noise, loop.host_noise)
        self._enqueue_loop(work, loop)
        ops.cuda_postprocess(work.x.ptr, loop.frame_out.ptr, hp, wp, h, w, self.dtype.name, self.stream.handle)
        self.stream.copy(loop.host_frame_out.ptr, loop.frame_out.ptr, loop.frame_out.nbytes)
        if self.check_output:  # the float result too, so every frame is checked for NaN/Inf
            self.stream.copy(work.host_out.ptr, work.x.ptr, work.x.nbytes)

    def close(self) -> None:
        """Free every buffer, graph and the stream (the backend is unusable afterwards)."""
        cuda_runtime.set_device(self.device)
        self.close_buffers()
        self.stream.destroy()

    def close_buffers(self) -> None:
        """Free the buffers and graphs of the current shape (the next call allocates again)."""
        if self.work is not None:
            for loop in self.work.loops.values():
                if loop.graph is not None:
                    loop.graph.destroy()
            self.work = None
        self.pool.free()
