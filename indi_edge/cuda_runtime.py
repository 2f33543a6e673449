"""Small helpers over cuda-python's runtime API (cuda.bindings.runtime): checked calls, device
buffers, pinned host buffers, one stream, CUDA graph capture. Used by the TensorRT backend.

cuda-python is optional (the `gpu` extra). Importing this module never imports it and never
touches a GPU; the first call that needs CUDA raises RuntimeError saying what is missing.
Pointers and stream handles are plain ints, as indi_edge._core's cuda_* entry points take them.
"""
from __future__ import annotations

import ctypes
import dataclasses
import importlib.util

import numpy as np

INSTALL_HINT = "pip install 'indi-edge[gpu]' (or pip install cuda-python)"
NO_GPU_ERRORS = ("cudaErrorNoDevice", "cudaErrorInsufficientDriver", "cudaErrorDevicesUnavailable")
NO_GPU_HINT = ("no usable CUDA GPU is visible (no GPU, or no NVIDIA driver for it); the GPU backends "
               "need one: restore with the .onnx model on the CPU instead")


def runtime():
    """cuda.bindings.runtime, or RuntimeError naming the package to install."""
    if importlib.util.find_spec("cuda") is None or importlib.util.find_spec("cuda.bindings") is None:
        raise RuntimeError(f"cuda-python is not installed; the TensorRT backend needs it: {INSTALL_HINT}")
    from cuda.bindings import runtime as cudart

    return cudart


def error_message(name: str, text: str, call: str) -> str:
    """The message for a failed CUDA call: what failed, CUDA's words, and what to do for no-GPU errors."""
    message = f"{call} failed: {name} ({text})"
    return f"{message}: {NO_GPU_HINT}" if name in NO_GPU_ERRORS else message


def check(result, call: str = "CUDA call"):
    """Unwrap a cuda-python result tuple (err, *values): the values, or RuntimeError on an error."""
    cudart = runtime()
    err, *values = result if isinstance(result, tuple) else (result,)
    if err != cudart.cudaError_t.cudaSuccess:
        name = cudart.cudaGetErrorName(err)[1]
        text = cudart.cudaGetErrorString(err)[1]
        raise RuntimeError(error_message(_text(name), _text(text), call))
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def _text(raw) -> str:
    return raw.decode(errors="replace").rstrip("\x00") if isinstance(raw, bytes) else str(raw)


def device_count() -> int:
    """GPUs the CUDA runtime sees; 0 without cuda-python, a driver or a GPU (never raises)."""
    if importlib.util.find_spec("cuda") is None or importlib.util.find_spec("cuda.bindings") is None:
        return 0
    cudart = runtime()
    err, count = cudart.cudaGetDeviceCount()
    return int(count) if err == cudart.cudaError_t.cudaSuccess else 0


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
    prop = check(runtime().cudaGetDeviceProperties(device), f"cudaGetDeviceProperties({device})")
    return DeviceInfo(_text(prop.name), (int(prop.major), int(prop.minor)), int(prop.totalGlobalMem),
                      bool(prop.integrated))


class DeviceBuffer:
    """cudaMalloc'd device memory of `nbytes`; `.ptr` is the device pointer as an int."""

    def __init__(self, nbytes: int):
        if nbytes <= 0:
            raise ValueError(f"a device buffer needs nbytes > 0, got {nbytes}")
        self.nbytes = int(nbytes)
        self.ptr = int(check(runtime().cudaMalloc(self.nbytes), f"cudaMalloc({self.nbytes})"))

    def free(self) -> None:
        if self.ptr:
            check(runtime().cudaFree(self.ptr), "cudaFree")
            self.ptr = 0


class PinnedArray:
    """A numpy array in page-locked host memory (fast, asynchronous copies): `.array`, `.ptr`."""

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
    """One non-blocking CUDA stream; `.handle` is the int the kernels and TensorRT take."""

    def __init__(self):
        cudart = runtime()
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
    """A CUDA graph captured from the work `enqueue()` puts on `stream`, replayed by launch()."""

    def __init__(self, stream: Stream, enqueue):
        cudart = runtime()
        mode = cudart.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        check(cudart.cudaStreamBeginCapture(stream._stream, mode), "cudaStreamBeginCapture")
        try:
            enqueue()
        except BaseException:
            cudart.cudaStreamEndCapture(stream._stream)  # drop the broken capture; enqueue's error is the one to see
            raise
        graph = check(cudart.cudaStreamEndCapture(stream._stream), "cudaStreamEndCapture")
        self._graph = graph
        self._exec = check(cudart.cudaGraphInstantiate(graph, 0), "cudaGraphInstantiate")
        self.stream = stream

    def launch(self) -> None:
        check(runtime().cudaGraphLaunch(self._exec, self.stream._stream), "cudaGraphLaunch")

    def destroy(self) -> None:
        cudart = runtime()
        if self._exec is not None:
            check(cudart.cudaGraphExecDestroy(self._exec), "cudaGraphExecDestroy")
            check(cudart.cudaGraphDestroy(self._graph), "cudaGraphDestroy")
            self._exec = self._graph = None
