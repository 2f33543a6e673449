"""Small helpers over cuda-python's runtime API (cuda.bindings.runtime): checked calls, device
buffers, pinned host buffers, one stream, CUDA graph capture. Used by the TensorRT backend.

cuda-bindings is optional (extras `gpu-cu12`: cuda-bindings 12.x for CUDA 12 drivers and JetPack 6;
`gpu-cu13`: cuda-bindings 13.x, driver >= 580). Importing this module never imports it and never
touches a GPU; the first call that needs CUDA raises RuntimeError saying what is missing.
Pointers and stream handles are plain ints, as indi_edge._core's cuda_* entry points take them.
Everything runs on the calling thread's current device: pass device= (or call set_device) to pick a GPU.
"""
from __future__ import annotations

import ctypes
import dataclasses
import importlib.metadata

import numpy as np

INSTALL_HINT = ("pip install 'indi-edge[gpu-cu12]' (cuda-bindings 12.x: CUDA 12 drivers, JetPack 6) or "
                "'indi-edge[gpu-cu13]' (cuda-bindings 13.x: NVIDIA driver >= 580)")
NO_GPU_ERRORS = ("cudaErrorNoDevice", "cudaErrorDevicesUnavailable")
NO_GPU_HINT = ("no usable CUDA GPU is visible (no GPU, or no NVIDIA driver for it); the GPU backends "
               "need one: restore with the .onnx model on the CPU instead")
# The oldest driver each cuda-bindings major version runs on (CUDA minor-version compatibility).
MIN_DRIVER = {12: ("525", "CUDA 12"), 13: ("580", "CUDA 13")}


def _dist_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return ""


def bindings_version() -> str:
    """The installed cuda-bindings version ("" when it is not installed)."""
    return _dist_version("cuda-bindings")


def runtime():
    """cuda.bindings.runtime, or RuntimeError naming the package to install."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError as err:
        old = _dist_version("cuda-python")
        if old and not bindings_version():  # cuda-python < 12.6.1 has cuda.cudart but no cuda.bindings
            raise RuntimeError(f"cuda-python {old} is too old (no cuda.bindings, which came with 12.6.1); "
                               f"the GPU backends need cuda-bindings: {INSTALL_HINT}") from err
        raise RuntimeError(f"cuda-bindings is not installed ({err}); the GPU backends need it: {INSTALL_HINT}") from err
    return cudart


def is_driver_too_old(name: str) -> bool:
    """cudaErrorInsufficientDriver, in the runtime's or the driver API's spelling."""
    return "insufficientdriver" in name.replace("_", "").lower()


def driver_message(bindings: str, driver_cuda: str = "") -> str:
    """What to do when the driver is older than the installed cuda-bindings needs."""
    major = int(bindings.split(".")[0]) if bindings.split(".")[0].isdigit() else 0
    need, cuda = MIN_DRIVER.get(major, ("a newer version", f"CUDA {major or '?'}"))
    have = f"; this driver supports CUDA {driver_cuda}" if driver_cuda else ""
    fix = ("install indi-edge[gpu-cu12] (cuda-bindings 12.x, for CUDA 12 drivers such as JetPack 6) "
           "or upgrade the driver") if major >= 13 else "upgrade the NVIDIA driver"
    return (f"the NVIDIA driver is too old for cuda-bindings {bindings or '(unknown version)'}: it needs "
            f"driver >= {need} ({cuda}){have}: {fix}")


def error_message(name: str, text: str, call: str, bindings: str | None = None, driver_cuda: str = "") -> str:
    """The message for a failed CUDA call: what failed, CUDA's words, and what to do for no-GPU and
    too-old-driver errors."""
    message = f"{call} failed: {name} ({text})"
    if is_driver_too_old(name):  # a GPU is there: "no usable GPU" would send the user the wrong way
        return f"{message}: {driver_message(bindings_version() if bindings is None else bindings, driver_cuda)}"
    return f"{message}: {NO_GPU_HINT}" if name in NO_GPU_ERRORS else message


def driver_cuda_version() -> str:
    """The CUDA version the driver supports, e.g. "12.6" ("" when it cannot be read)."""
    try:
        err, version = runtime().cudaDriverGetVersion()
        return f"{int(version) // 1000}.{int(version) % 1000 // 10}" if int(version) else ""
    except Exception:  # noqa: BLE001 - only decorates an error message
        return ""


def check(result, call: str = "CUDA call"):
    """Unwrap a cuda-python result tuple (err, *values): the values, or RuntimeError on an error."""
    cudart = runtime()
    err, *values = result if isinstance(result, tuple) else (result,)
    if err != cudart.cudaError_t.cudaSuccess:
        name = _text(cudart.cudaGetErrorName(err)[1])
        text = _text(cudart.cudaGetErrorString(err)[1])
        driver = driver_cuda_version() if is_driver_too_old(name) else ""
        raise RuntimeError(error_message(name, text, call, driver_cuda=driver))
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def _text(raw) -> str:
    return raw.decode(errors="replace").rstrip("\x00") if isinstance(raw, bytes) else str(raw)


def device_count() -> int:
    """GPUs the CUDA runtime sees; 0 without cuda-bindings, a driver or a GPU (never raises)."""
    try:
        cudart = runtime()
    except RuntimeError:
        return 0
    err, count = cudart.cudaGetDeviceCount()
    return int(count) if err == cudart.cudaError_t.cudaSuccess else 0


def set_device(device: int) -> None:
    """Make GPU `device` current on this thread (buffers, streams and kernels go there)."""
    check(runtime().cudaSetDevice(int(device)), f"cudaSetDevice({device})")


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
    name: str                                # e.g. "NVIDIA H100 80GB HBM3", "Orin"
    compute_capability: tuple[int, int]      # (8, 7) on Jetson Orin, (9, 0) on H100
    total_memory: int                        # bytes
    integrated: bool                         # True on Jetson (memory shared with the CPU)

    @property
    def sm(self) -> str:
        return f"sm_{self.compute_capability[0]}{self.compute_capability[1]}"


def device_info(device: int = 0) -> DeviceInfo:
    """Name, compute capability and memory of one GPU (RuntimeError without one)."""
    prop = check(runtime().cudaGetDeviceProperties(int(device)), f"cudaGetDeviceProperties({device})")
    return DeviceInfo(_text(prop.name), (int(prop.major), int(prop.minor)), int(prop.totalGlobalMem),
                      bool(prop.integrated))


class DeviceBuffer:
    """cudaMalloc'd device memory of `nbytes` on `device` (default: the current one); `.ptr` is the
    device pointer as an int (cudaMalloc aligns it to at least 256 bytes)."""

    def __init__(self, nbytes: int, device: int | None = None):
        if nbytes <= 0:
            raise ValueError(f"a device buffer needs nbytes > 0, got {nbytes}")
        if device is not None:
            set_device(device)
        self.nbytes = int(nbytes)
        self.ptr = int(check(runtime().cudaMalloc(self.nbytes), f"cudaMalloc({self.nbytes})"))

    def free(self) -> None:
        if self.ptr:
            check(runtime().cudaFree(self.ptr), "cudaFree")
            self.ptr = 0


class PinnedArray:
    """A numpy array in page-locked host memory (fast, asynchronous copies): `.array`, `.ptr`.
    With unified addressing every GPU can copy from and to it."""

    def __init__(self, shape: tuple[int, ...], dtype):
        self.dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape)) * self.dtype.itemsize
        if nbytes <= 0:
            raise ValueError(f"a pinned buffer needs a non-empty shape, got {shape}")
        self.ptr = int(check(runtime().cudaMallocHost(nbytes), f"cudaMallocHost({nbytes})"))
        raw = np.ctypeslib.as_array((ctypes.c_uint8 * nbytes).from_address(self.ptr))
        self.array = raw.view(self.dtype).reshape(shape)

    def free(self) -> None:
        if self.ptr:
            self.array = None
            check(runtime().cudaFreeHost(self.ptr), "cudaFreeHost")
            self.ptr = 0


class Stream:
    """One non-blocking CUDA stream on `device` (default: the current one); `.handle` is the int the
    kernels and TensorRT take."""

    def __init__(self, device: int | None = None):
        cudart = runtime()
        if device is not None:
            set_device(device)
        self.device = device
        self._stream = check(cudart.cudaStreamCreateWithFlags(cudart.cudaStreamNonBlocking), "cudaStreamCreate")
        self.handle = int(self._stream)

    def synchronize(self) -> None:
        check(runtime().cudaStreamSynchronize(self._stream), "cudaStreamSynchronize")

    def copy(self, dst: int, src: int, nbytes: int) -> None:
        """Enqueue a copy of nbytes between any two pointers (unified addressing picks the direction)."""
        cudart = runtime()
        check(cudart.cudaMemcpyAsync(dst, src, nbytes, cudart.cudaMemcpyKind.cudaMemcpyDefault, self._stream),
              "cudaMemcpyAsync")

    def destroy(self) -> None:
        if self.handle:
            check(runtime().cudaStreamDestroy(self._stream), "cudaStreamDestroy")
            self.handle = 0


class Graph:
    """A CUDA graph captured from the work `enqueue()` puts on `stream`, replayed by launch().

    A failed capture (enqueue raising, an invalidated capture, a graph that cannot be instantiated)
    raises RuntimeError (or enqueue's own error) and leaves nothing behind: the stream is out of
    capture mode and any partial graph is destroyed."""

    def __init__(self, stream: Stream, enqueue):
        cudart = runtime()
        mode = cudart.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        check(cudart.cudaStreamBeginCapture(stream._stream, mode), "cudaStreamBeginCapture")
        try:
            enqueue()
        except BaseException:
            # Leave capture mode and drop what was captured; enqueue's error is the one to see.
            _, partial = cudart.cudaStreamEndCapture(stream._stream)
            _destroy_graph(cudart, partial)
            raise
        err, graph = cudart.cudaStreamEndCapture(stream._stream)
        if err != cudart.cudaError_t.cudaSuccess:
            _destroy_graph(cudart, graph)  # NULL when the capture was invalidated; destroyed if not
            check((err,), "cudaStreamEndCapture")
        try:
            self._exec = check(cudart.cudaGraphInstantiate(graph, 0), "cudaGraphInstantiate")
        except BaseException:
            _destroy_graph(cudart, graph)
            raise
        self._graph = graph
        self.stream = stream

    def launch(self) -> None:
        check(runtime().cudaGraphLaunch(self._exec, self.stream._stream), "cudaGraphLaunch")

    def destroy(self) -> None:
        cudart = runtime()
        if self._exec is not None:
            check(cudart.cudaGraphExecDestroy(self._exec), "cudaGraphExecDestroy")
            check(cudart.cudaGraphDestroy(self._graph), "cudaGraphDestroy")
            self._exec = self._graph = None


def _destroy_graph(cudart, graph) -> None:
    """Destroy a graph handle unless it is NULL (best effort: we are already on an error path)."""
    if graph is not None and int(graph):
        cudart.cudaGraphDestroy(graph)
