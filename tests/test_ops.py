"""indi_edge.ops: the native CPU kernels (indi_edge._core) equal the numpy reference bit for bit,
the reference equals apply_step / np.pad / cv2, and bad input fails with a clear error.

Where the native module is missing, ops runs the numpy reference: the comparisons below then hold
trivially, and test_native_module_is_built_as_expected says whether that was allowed
(INDI_EDGE_EXPECT_NATIVE=cuda|cpu|none; default cuda when nvcc is on PATH, else cpu).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indi_edge import ops
from indi_edge.sampling import SAMPLERS, apply_step

native = pytest.mark.skipif(ops._core is None, reason=f"indi_edge._core not built ({ops.NATIVE_IMPORT_ERROR})")
HYPOTHESIS = settings(max_examples=40, deadline=None)


def assert_bitwise(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, a.shape, b.dtype, b.shape)
    np.testing.assert_array_equal(np.ascontiguousarray(a).view(np.uint8), np.ascontiguousarray(b).view(np.uint8))


def random_frame(rng, h: int, w: int) -> np.ndarray:
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def step_arrays(rng, shape, dtype=np.float32, scale=1.0):
    return [(scale * rng.standard_normal(shape)).astype(dtype) for _ in range(4)]


# --- which implementation runs -----------------------------------------------------------------

def test_backend_matches_native_module():
    try:
        from indi_edge import _core
    except ImportError:
        assert ops.backend() == "numpy"
        return
    assert ops.backend() == ("cuda" if _core.cuda_available() else "cpu-native")
    assert ops.cuda_available() == _core.cuda_available()


def test_native_module_is_built_as_expected():
    expected = os.environ.get("INDI_EDGE_EXPECT_NATIVE", "cuda" if shutil.which("nvcc") else "cpu")
    assert expected in ("cuda", "cpu", "none"), f"INDI_EDGE_EXPECT_NATIVE={expected!r}"
    if expected == "none":
        return
    assert ops._core is not None, f"indi_edge._core did not import: {ops.NATIVE_IMPORT_ERROR}"
    if expected == "cuda":
        info = ops.build_info()
        assert info["cuda"], f"nvcc is on PATH but _core has no CUDA kernels: {info}"
        assert info["cuda_archs"].split(",") == ["87-real", "89-real", "90"]


def test_ops_does_not_import_torch():
    code = "import sys, indi_edge.ops; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- update ------------------------------------------------------------------------------------

@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("noise_std", [0.0, 0.37])
@pytest.mark.parametrize("in_place", [False, True])
def test_update_equals_apply_step_bitwise(sampler, noise_std, in_place):
    rng = np.random.default_rng(hash((sampler, noise_std, in_place)) % 2**32)
    x, x0, y, z = step_arrays(rng, (1, 3, 45, 67))  # odd sizes: vector tails in every loop
    t, d = 0.8125, 0.1875 if sampler != "cold" else 0.3
    expected = apply_step(sampler, x, x0, y, t, d, noise_std, z)
    out = x.copy() if in_place else None
    x_in = out if in_place else x
    got = ops.update(sampler, x_in, x0, y, t, d, noise_std, z, out=out)
    assert_bitwise(got, expected)
    if in_place:
        assert got is out
    assert_bitwise(ops.reference.update(sampler, x, x0, y, t, d, noise_std, z), expected)


@HYPOTHESIS
@given(sampler=st.sampled_from(SAMPLERS), n=st.integers(1, 300), steps=st.integers(1, 50),
       k=st.integers(0, 49), noise=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_update_equals_apply_step_for_any_step(sampler, n, steps, k, noise, seed):
    rng = np.random.default_rng(seed)
    x, x0, y, z = step_arrays(rng, (n,))
    t, d = (steps - k % steps) / steps, 1.0 / steps
    std = float(rng.uniform(0, 1)) if noise else 0.0
    assert_bitwise(ops.update(sampler, x, x0, y, t, d, std, z), apply_step(sampler, x, x0, y, t, d, std, z))


@native
@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("noise_std", [0.0, 0.5])
def test_update_float16_equals_reference(sampler, noise_std):
    rng = np.random.default_rng(7)
    # magnitudes from 1e-7 (half subnormals) to 6e4 (overflow to inf): every rounding path of float->half
    x, x0, y, z = (rng.standard_normal(5000) * 10.0 ** rng.uniform(-7, 4.8, 5000) for _ in range(4))
    with np.errstate(over="ignore"):  # overflow to inf is part of what is tested
        x, x0, y, z = (a.astype(np.float16) for a in (x, x0, y, z))
    got = ops.update(sampler, x, x0, y, 0.6, 0.35, noise_std, z)
    expected = ops.reference.update(sampler, x, x0, y, 0.6, 0.35, noise_std, z)
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    finite = ~np.isnan(expected)
    assert_bitwise(got[finite], expected[finite])


@native
def test_every_half_survives_the_float16_round_trip():
    halves = np.arange(2**16, dtype=np.uint16).view(np.float16)
    zeros = np.zeros_like(halves)
    got = ops.update("cold", halves, zeros, zeros, 1.0, 0.0)  # x + 0 * (0 - 0): half -> float -> half
    keep = ~np.isnan(halves)
    assert np.isnan(got[~keep]).all()
    assert_bitwise(got[keep], (halves[keep].astype(np.float32) + np.float32(0)).astype(np.float16))


@native
def test_update_threaded_equals_single_threaded():
    rng = np.random.default_rng(3)
    x, x0, y, z = step_arrays(rng, (1, 3, 720, 1280))
    before = ops.get_num_threads()
    try:
        ops.set_num_threads(2)
        assert ops.get_num_threads() == 2
        assert_bitwise(ops.update("indi", x, x0, y, 0.5, 0.25, 0.1, z), apply_step("indi", x, x0, y, 0.5, 0.25, 0.1, z))
    finally:
        ops.set_num_threads(before)


@native
@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs Linux CPU affinity")
def test_default_threads_follow_the_cpus_this_process_may_use():
    """A process pinned to one CPU (taskset, a container's cpuset) gets one kernel thread, not one
    per host core: more would only be throttled."""
    code = ("import os; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]}); "
            "from indi_edge import ops; print(ops.get_num_threads())")
    env = {k: v for k, v in os.environ.items() if k != "INDI_EDGE_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd="/", check=True)
    assert out.stdout.strip() == "1"


# --- frame conversion --------------------------------------------------------------------------

@HYPOTHESIS
@given(h=st.integers(1, 40), w=st.integers(1, 40), multiple=st.sampled_from([1, 2, 3, 4, 8, 16]),
       dtype=st.sampled_from([np.float32, np.float16]), seed=st.integers(0, 2**32 - 1))
def test_preprocess_equals_reference_and_pads_reflect101(h, w, multiple, dtype, seed):
    frame = random_frame(np.random.default_rng(seed), h, w)
    got = ops.preprocess(frame, multiple, dtype)
    hp, wp = -(-h // multiple) * multiple, -(-w // multiple) * multiple
    assert got.shape == (1, 3, hp, wp) and got.dtype == dtype
    assert_bitwise(got, ops.reference.preprocess(frame, multiple, dtype))
    rgb = frame[..., ::-1].transpose(2, 0, 1).astype(np.float32) * np.float32(2 / 255) - np.float32(1)
    assert_bitwise(got[0, :, :h, :w], rgb.astype(dtype))
    if hp - h < h and wp - w < w:  # cv2 reflects at most once
        padded = cv2.copyMakeBorder(np.ascontiguousarray(rgb.transpose(1, 2, 0)), 0, hp - h, 0, wp - w,
                                    cv2.BORDER_REFLECT_101)
        assert_bitwise(got[0], padded.transpose(2, 0, 1).astype(dtype))


@HYPOTHESIS
@given(hp=st.integers(1, 40), wp=st.integers(1, 40), crop=st.tuples(st.floats(0, 1), st.floats(0, 1)),
       batch=st.booleans(), dtype=st.sampled_from([np.float32, np.float16]), seed=st.integers(0, 2**32 - 1))
def test_postprocess_equals_reference_and_rounds_half_to_even(hp, wp, crop, batch, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.2, 1.2, (3, hp, wp))
    ties = (rng.integers(0, 255, (3, hp, wp)) + 0.5) / 127.5 - 1  # (x+1)*127.5 lands on k + 0.5
    x = np.where(rng.random((3, hp, wp)) < 0.3, ties, x).astype(dtype)
    x = x[None] if batch else x
    h, w = 1 + int(crop[0] * (hp - 1)), 1 + int(crop[1] * (wp - 1))
    got = ops.postprocess(x, h, w)
    assert got.shape == (h, w, 3) and got.dtype == np.uint8
    assert_bitwise(got, ops.reference.postprocess(x, h, w))
    v = np.clip(np.rint((x.reshape(3, hp, wp)[:, :h, :w].astype(np.float32) + 1) * np.float32(127.5)), 0, 255)
    assert_bitwise(got, v.astype(np.uint8).transpose(1, 2, 0)[..., ::-1])


@pytest.mark.parametrize("fn", [ops.postprocess, ops.reference.postprocess])
def test_postprocess_maps_nan_to_zero_and_clamps(fn):
    x = np.array([np.nan, -np.inf, np.inf, -1.5, 1.5, 0.0], np.float32).reshape(1, 1, 6).repeat(3, 0)
    assert fn(x, 1, 6)[0, :, 0].tolist() == [0, 0, 255, 0, 255, 128]  # rint(127.5) = 128 (even)


@HYPOTHESIS
@given(h=st.integers(1, 33), w=st.integers(1, 33), multiple=st.sampled_from([1, 4, 8, 16]),
       dtype=st.sampled_from([np.float32, np.float16]), seed=st.integers(0, 2**32 - 1))
def test_postprocess_inverts_preprocess(h, w, multiple, dtype, seed):
    frame = random_frame(np.random.default_rng(seed), h, w)
    for impl in (ops, ops.reference):
        assert_bitwise(impl.postprocess(impl.preprocess(frame, multiple, dtype), h, w), frame)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_every_byte_value_round_trips(dtype):
    frame = np.arange(256 * 3, dtype=np.uint32).astype(np.uint8).reshape(16, 16, 3)
    x = ops.preprocess(frame, 1, dtype)
    assert x.min() == -1 and x.max() == 1
    assert_bitwise(ops.postprocess(x, 16, 16), frame)


def test_outputs_are_written_into_out():
    rng = np.random.default_rng(11)
    frame = random_frame(rng, 21, 30)
    x = np.full((1, 3, 24, 32), np.nan, np.float32)
    assert ops.preprocess(frame, 8, out=x) is x and not np.isnan(x).any()
    back = np.full((21, 30, 3), 0xAB, np.uint8)
    assert ops.postprocess(x, 21, 30, out=back) is back
    assert_bitwise(back, frame)


@native
def test_large_frames_threaded_equal_reference():
    rng = np.random.default_rng(5)
    frame = random_frame(rng, 1080, 1917)
    before = ops.get_num_threads()
    try:
        ops.set_num_threads(2)
        x = ops.preprocess(frame, 16)
        assert_bitwise(x, ops.reference.preprocess(frame, 16))
        assert_bitwise(ops.postprocess(x, 1080, 1917), frame)
    finally:
        ops.set_num_threads(before)


# --- tile blending -------------------------------------------------------------------------------

@pytest.mark.parametrize("tile_dtype", [np.float32, np.float16])
def test_blend_accumulate_equals_reference(tile_dtype):
    rng = np.random.default_rng(9)
    acc = {impl: np.zeros((3, 50, 70), np.float32) for impl in ("ops", "ref")}
    wsum = {impl: np.zeros((50, 70), np.float32) for impl in ("ops", "ref")}
    for top, left, h, w in [(0, 0, 32, 32), (10, 20, 32, 33), (18, 37, 32, 33), (49, 69, 1, 1)]:  # overlapping
        tile = rng.standard_normal((3, h, w)).astype(tile_dtype)
        weight = rng.uniform(0.01, 1, (h, w)).astype(np.float32)
        ops.blend_accumulate(acc["ops"], wsum["ops"], tile, weight, top, left)
        ops.reference.blend_accumulate(acc["ref"], wsum["ref"], tile, weight, top, left)
    assert_bitwise(acc["ops"], acc["ref"])
    assert_bitwise(wsum["ops"], wsum["ref"])
    assert wsum["ops"][49, 69] > 0 and wsum["ops"][40, 0] == 0


# --- errors ----------------------------------------------------------------------------------------

def _bad_calls():
    f32 = np.zeros((1, 3, 8, 8), np.float32)
    frame = np.zeros((8, 8, 3), np.uint8)
    acc, wsum, tile, weight = np.zeros((3, 8, 8), np.float32), np.zeros((8, 8), np.float32), \
        np.zeros((3, 4, 4), np.float32), np.ones((4, 4), np.float32)
    big = np.zeros(100, np.float32)
    return [
        ("update float64", lambda m: m.update("indi", f32.astype(np.float64), f32, f32, 1.0, 0.5), TypeError, "float32"),
        ("update mixed dtypes", lambda m: m.update("indi", f32, f32.astype(np.float16), f32, 1.0, 0.5), TypeError, "dtype"),
        ("update shapes", lambda m: m.update("naive", f32, f32, f32[:, :, :4], 1.0, 0.5), ValueError, "shape"),
        ("update strided", lambda m: m.update("indi", f32[..., ::2], f32[..., ::2], None, 1.0, 0.5), ValueError, "contiguous"),
        ("update list", lambda m: m.update("indi", [0.0], f32, f32, 1.0, 0.5), TypeError, "numpy array"),
        ("update sampler", lambda m: m.update("ddim", f32, f32, f32, 1.0, 0.5), ValueError, "sampler"),
        ("update t=0", lambda m: m.update("indi", f32, f32, f32, 0.0, 0.5), ValueError, "t must be"),
        ("update no z", lambda m: m.update("indi", f32, f32, f32, 1.0, 0.5, 0.1), ValueError, "z"),
        ("update naive no y", lambda m: m.update("naive", f32, f32, None, 1.0, 0.5), ValueError, "y"),
        ("update out dtype", lambda m: m.update("indi", f32, f32, f32, 1.0, 0.5, out=f32.astype(np.float16)), TypeError, "out"),
        ("update out overlap", lambda m: m.update("indi", big[:90], big[:90], None, 1.0, 0.5, out=big[5:95]), ValueError, "overlaps"),
        ("pre float frame", lambda m: m.preprocess(frame.astype(np.float32)), TypeError, "uint8"),
        ("pre gray frame", lambda m: m.preprocess(frame[..., :1].copy()), ValueError, r"\[H, W, 3\]"),
        ("pre strided frame", lambda m: m.preprocess(frame[:, ::2]), ValueError, "contiguous"),
        ("pre multiple", lambda m: m.preprocess(frame, 0), ValueError, "multiple"),
        ("pre dtype", lambda m: m.preprocess(frame, 1, np.float64), TypeError, "float32 or float16"),
        ("pre out shape", lambda m: m.preprocess(frame, 4, out=np.zeros((1, 3, 4, 4), np.float32)), ValueError, "shape"),
        ("post too large", lambda m: m.postprocess(f32, 9, 8), ValueError, "height"),
        ("post shape", lambda m: m.postprocess(f32[:, :2], 8, 8), ValueError, r"\[1, 3, H, W\]"),
        ("post uint8", lambda m: m.postprocess(f32.astype(np.uint8), 8, 8), TypeError, "float32"),
        ("post out read-only", lambda m: m.postprocess(f32, 8, 8, out=np.broadcast_to(frame, frame.shape)),
         ValueError, "contiguous|writeable"),
        ("blend outside", lambda m: m.blend_accumulate(acc, wsum, tile, weight, 5, 0), ValueError, "does not fit"),
        ("blend weight shape", lambda m: m.blend_accumulate(acc, wsum, tile, weight[:3], 0, 0), ValueError, "disagree"),
        ("blend acc float16", lambda m: m.blend_accumulate(acc.astype(np.float16), wsum, tile, weight, 0, 0), TypeError, "acc"),
    ]


@pytest.mark.parametrize("impl", ["ops", "reference"])
@pytest.mark.parametrize("name,call,error,match", _bad_calls(), ids=[c[0] for c in _bad_calls()])
def test_bad_input_raises_clear_errors(impl, name, call, error, match):
    with pytest.raises(error, match=match):
        call(ops if impl == "ops" else ops.reference)


@native
def test_core_checks_its_arrays_too():
    x = np.zeros((2, 8), np.float32)
    with pytest.raises(TypeError, match="float32 or float16"):
        ops._core.update("indi", x.astype(np.float64), x, None, None, x.copy(), 1.0, 0.5, 0.0)
    with pytest.raises(ValueError, match="C-contiguous"):
        ops._core.update("indi", x[:, ::2], x[:, ::2], None, None, np.zeros((2, 4), np.float32), 1.0, 0.5, 0.0)
    with pytest.raises(ValueError, match="writeable"):
        ro = np.zeros((2, 8), np.float32)
        ro.flags.writeable = False
        ops._core.update("indi", x, x, None, None, ro, 1.0, 0.5, 0.0)
    with pytest.raises(ValueError, match="smaller than frame"):
        ops._core.preprocess(np.zeros((8, 8, 3), np.uint8), np.zeros((3, 4, 8), np.float32))


@pytest.mark.skipif(ops.cuda_available(), reason="a GPU is visible: tests/test_ops_gpu.py covers the CUDA calls")
def test_cuda_calls_fail_clearly_without_a_gpu():
    with pytest.raises(RuntimeError, match="no CUDA device|without CUDA|needs the native module"):
        ops.cuda_update("indi", 256, 256, 0, 0, 256, 64, "float32", 1.0, 0.5)
    with pytest.raises(RuntimeError, match="no CUDA device|without CUDA|needs the native module"):
        ops.cuda_postprocess(256, 256, 8, 8, 8, 8)
