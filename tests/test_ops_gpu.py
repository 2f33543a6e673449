"""CUDA kernels of indi_edge._core against the CPU kernels, bit for bit, on random inputs.

Device memory comes from torch (CUDA) or cupy, whichever sees a GPU; outputs are poisoned (NaN for
floats, 0xAB for bytes) before each run so an unwritten element fails. Work runs on a non-default
stream. Skipped where no GPU is visible.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from indi_edge import ops
from indi_edge.sampling import SAMPLERS

pytestmark = pytest.mark.gpu


class TorchDevice:
    def __init__(self, torch):
        self.torch = torch
        self.stream = torch.cuda.Stream()
        self.handle = self.stream.cuda_stream

    def upload(self, a: np.ndarray, offset: int = 0):
        """A device copy of `a` starting `offset` elements into a larger buffer (offset 1: misaligned)."""
        buf = self.torch.empty(a.size + offset, dtype=getattr(self.torch, a.dtype.name), device="cuda")
        view = buf[offset:]
        view.copy_(self.torch.from_numpy(a.reshape(-1)))
        return view

    def ptr(self, d) -> int:
        return d.data_ptr()

    def sync(self) -> None:
        self.torch.cuda.synchronize()

    def download(self, d, like: np.ndarray) -> np.ndarray:
        self.sync()
        return d.cpu().numpy().reshape(like.shape)


class CupyDevice:
    def __init__(self, cupy):
        self.cupy = cupy
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self.handle = self.stream.ptr

    def upload(self, a: np.ndarray, offset: int = 0):
        buf = self.cupy.empty(a.size + offset, dtype=a.dtype)
        view = buf[offset:]
        view.set(a.reshape(-1))
        return view

    def ptr(self, d) -> int:
        return d.data.ptr

    def sync(self) -> None:
        self.cupy.cuda.Device().synchronize()

    def download(self, d, like: np.ndarray) -> np.ndarray:
        self.sync()
        return d.get().reshape(like.shape)


def _find_device():
    if importlib.util.find_spec("torch") is not None:
        import torch

        if torch.cuda.is_available():
            return TorchDevice(torch)
    if importlib.util.find_spec("cupy") is not None:
        import cupy

        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except cupy.cuda.runtime.CUDARuntimeError:  # no driver
            count = 0
        if count > 0:
            return CupyDevice(cupy)
    return None


@pytest.fixture(scope="module")
def dev():
    device = _find_device()
    if device is None:
        pytest.skip("no GPU visible to torch or cupy")
    if not ops.cuda_available():
        pytest.fail(f"a GPU is visible but indi_edge._core has no working CUDA kernels: {ops.build_info()}, "
                    f"{ops.cuda_device_info() if ops._core is not None else ops.NATIVE_IMPORT_ERROR}")
    return device


def poisoned(shape, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    return np.full(shape, 0xAB if dtype == np.uint8 else np.nan, dtype)


def assert_bitwise(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(np.ascontiguousarray(a).view(np.uint8), np.ascontiguousarray(b).view(np.uint8))


def test_backend_is_cuda(dev):
    assert ops.backend() == "cuda"
    info = ops.cuda_device_info()
    assert "sm_" in info, info
    print(info)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("noise_std", [0.0, 0.4])
@pytest.mark.parametrize("layout", ["aligned", "misaligned", "in_place"])
def test_cuda_update_equals_cpu(dev, dtype, sampler, noise_std, layout):
    rng = np.random.default_rng(abs(hash((dtype, sampler, noise_std, layout))) % 2**32)
    n = 3 * 37 * 53 + 5  # not a multiple of a 16-byte pack
    x, x0, y, z = (rng.standard_normal(n).astype(dtype) for _ in range(4))
    t, d = 0.8, 0.2
    expected = ops.update(sampler, x, x0, y, t, d, noise_std, z)
    offset = 1 if layout == "misaligned" else 0
    dx, dx0, dy, dz = (dev.upload(a, offset) for a in (x, x0, y, z))
    dout = dx if layout == "in_place" else dev.upload(poisoned(n, dtype), offset)
    dev.sync()
    ops.cuda_update(sampler, dev.ptr(dx), dev.ptr(dx0), dev.ptr(dy), dev.ptr(dz) if noise_std else 0,
                    dev.ptr(dout), n, dtype, t, d, noise_std, dev.handle)
    assert_bitwise(dev.download(dout, expected), expected)


def test_cuda_update_large_frame_equals_cpu(dev):
    rng = np.random.default_rng(1)
    x, x0, z = (rng.standard_normal((1, 3, 1080, 1920), dtype=np.float32) for _ in range(3))
    expected = ops.update("indi", x, x0, None, 0.5, 0.25, 0.05, z)
    dx, dx0, dz = (dev.upload(a) for a in (x, x0, z))
    dout = dev.upload(poisoned(x.shape, np.float32))
    dev.sync()
    ops.cuda_update("indi", dev.ptr(dx), dev.ptr(dx0), 0, dev.ptr(dz), dev.ptr(dout), x.size, "float32",
                    0.5, 0.25, 0.05, dev.handle)
    assert_bitwise(dev.download(dout, expected), expected)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("h,w,multiple", [(1, 1, 1), (7, 5, 4), (9, 13, 1), (37, 53, 8), (64, 64, 16), (120, 161, 16),
                                          (1080, 1917, 16)])
@pytest.mark.parametrize("offset", [0, 1])
def test_cuda_preprocess_equals_cpu(dev, dtype, h, w, multiple, offset):
    frame = np.random.default_rng(h * w).integers(0, 256, (h, w, 3), dtype=np.uint8)
    expected = ops.preprocess(frame, multiple, dtype)[0]
    hp, wp = expected.shape[1:]
    dframe = dev.upload(frame, offset)
    dout = dev.upload(poisoned(expected.shape, dtype), offset)
    dev.sync()
    ops.cuda_preprocess(dev.ptr(dframe), dev.ptr(dout), h, w, hp, wp, dtype, dev.handle)
    assert_bitwise(dev.download(dout, expected), expected)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("hp,wp,h,w", [(1, 1, 1, 1), (8, 8, 5, 7), (9, 13, 9, 13), (40, 56, 37, 53), (64, 64, 64, 64),
                                       (1088, 1920, 1080, 1917)])
@pytest.mark.parametrize("offset", [0, 1])
def test_cuda_postprocess_equals_cpu(dev, dtype, hp, wp, h, w, offset):
    rng = np.random.default_rng(hp * wp + h)
    x = rng.uniform(-1.2, 1.2, (3, hp, wp))
    ties = (rng.integers(0, 255, (3, hp, wp)) + 0.5) / 127.5 - 1
    x = np.where(rng.random((3, hp, wp)) < 0.3, ties, x).astype(dtype)
    expected = ops.postprocess(x, h, w)
    dx = dev.upload(x, offset)
    dout = dev.upload(poisoned(expected.shape, np.uint8), offset)
    dev.sync()
    ops.cuda_postprocess(dev.ptr(dx), dev.ptr(dout), hp, wp, h, w, dtype, dev.handle)
    assert_bitwise(dev.download(dout, expected), expected)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_cuda_blend_accumulate_equals_cpu(dev, dtype):
    rng = np.random.default_rng(4)
    acc = rng.standard_normal((3, 70, 90)).astype(np.float32)
    wsum = rng.uniform(0, 1, (70, 90)).astype(np.float32)
    dacc, dwsum = dev.upload(acc), dev.upload(wsum)
    keep = []  # device tiles must outlive the asynchronous launches
    for top, left, h, w in [(0, 0, 40, 40), (10, 25, 40, 41), (30, 49, 40, 41), (69, 89, 1, 1)]:  # overlapping
        tile = rng.standard_normal((3, h, w)).astype(dtype)
        weight = rng.uniform(0.01, 1, (h, w)).astype(np.float32)
        ops.blend_accumulate(acc, wsum, tile, weight, top, left)
        dtile, dweight = dev.upload(tile), dev.upload(weight)
        keep += [dtile, dweight]
        dev.sync()
        ops.cuda_blend_accumulate(dev.ptr(dacc), dev.ptr(dwsum), dev.ptr(dtile), dev.ptr(dweight), 3, 70, 90, h, w,
                                  top, left, dtype, dev.handle)
    assert_bitwise(dev.download(dacc, acc), acc)
    assert_bitwise(dev.download(dwsum, wsum), wsum)


def test_cuda_calls_reject_bad_arguments(dev):
    with pytest.raises(ValueError, match="null device pointer"):
        ops.cuda_update("indi", 0, 256, 0, 0, 256, 64, "float32", 1.0, 0.5)
    with pytest.raises(ValueError, match="float32' or 'float16"):
        ops.cuda_update("indi", 256, 256, 0, 0, 256, 64, "bfloat16", 1.0, 0.5)
    with pytest.raises(ValueError, match="noise_std > 0 needs"):
        ops.cuda_update("indi", 256, 256, 0, 0, 256, 64, "float32", 1.0, 0.5, 0.1)
    with pytest.raises(ValueError, match="does not fit"):
        ops.cuda_blend_accumulate(256, 256, 256, 256, 3, 8, 8, 4, 4, 5, 0)
