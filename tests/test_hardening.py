"""Review findings (issue 14), one test each: model facts validated, no NaN frame written, noise in
input order, float frames checked, image depth fitted, close()/threads, training runs protected."""
from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from indi_edge import cli, video
from indi_edge.model_info import ModelInfo
from indi_edge.restorer import NonFiniteOutput, Restorer


# --- model facts ---------------------------------------------------------------------------

@pytest.mark.parametrize("field,value,says", [
    ("multiple", 0, "power of two"), ("multiple", 99, "power of two"), ("multiple", 128, "power of two"),
    ("steps", 0, "from 1 to 64"), ("steps", 100000, "from 1 to 64"), ("eps", "nan", "finite"),
    ("eps", -1, ">= 0"), ("sampler", "ddpm", "must be one of"), ("eps_schedule", "cosine", "must be one of"),
    ("unrolled_steps", -2, "from 0 to 64"), ("steps", "many", "not a valid int"),
])
def test_bad_model_facts_are_refused_naming_the_file_and_field(tiny_onnx, with_facts, tmp_path, field, value, says):
    bad = with_facts(tiny_onnx, tmp_path / "bad.onnx", **{field: value})
    for backend in ("onnxruntime", "openvino"):
        if backend == "openvino":
            pytest.importorskip("openvino")
        with pytest.raises(ValueError, match=f"bad.onnx.*indi_edge.{field}=.*{says}"):
            Restorer(bad, backend=backend)


def test_export_refuses_facts_a_restorer_would_refuse(tiny_weights, tmp_path, capsys):
    for flag, value in (("--steps", "0"), ("--eps", "nan"), ("--steps", "65")):
        out = tmp_path / "m.onnx"
        assert cli.main(["export", str(tiny_weights), "-o", str(out), flag, value]) == 2
        assert "invalid model facts" in capsys.readouterr().err and not out.exists()


def test_model_info_validate_lists_every_problem():
    problems = ModelInfo(multiple=3, steps=0, eps=float("inf")).problems()
    assert len(problems) == 3
    assert ModelInfo().problems() == []


# --- no silently wrong frames --------------------------------------------------------------

def nan_after(limit: float):
    """A network that overflows (NaN) wherever the input exceeds `limit`: what an FP16 overflow looks like."""
    def fn(x, t):
        return np.where(x > limit, np.nan, x).astype(np.float32)
    return fn


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_nan_from_the_network_is_an_error_naming_frame_and_step_never_black_pixels(dtype):
    restorer = Restorer(nan_after(0.5), steps=3)
    dark = np.zeros((8, 8, 3), dtype)
    top = {np.uint8: 255, np.uint16: 65535, np.float32: 1.0}[dtype]
    bright = np.full((8, 8, 3), top, dtype)
    assert restorer.run(dark).dtype == dtype
    with pytest.raises(NonFiniteOutput, match=r"frame 2: .*NaN or Inf \(first at step 1 of 3"):
        restorer.run_batch([dark, bright])  # frame numbers 1 and 2: the bright one is named


class LowPrecision:
    """A Backend (the public protocol) whose fast path overflows on bright input and whose fp32
    twin does not: how OpenVINO bf16 / torch bf16 backends take part in fp16_fallback."""

    def __init__(self, fast: bool = True):
        self.info, self.multiple, self.fast = ModelInfo(), 1, fast

    def restore(self, y, steps, *, sampler, eps, eps_schedule, rng):
        return np.where(y > 0.5, np.nan, -y) if self.fast else -y

    def fp32_twin(self):
        return LowPrecision(fast=False)


def test_fp16_fallback_recomputes_the_bad_frame_in_fp32_with_a_warning():
    frames = [np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 3), 250, np.uint8)]
    with pytest.raises(NonFiniteOutput, match="fp16_fallback=True"):
        Restorer(LowPrecision()).run_batch(frames)
    with pytest.warns(RuntimeWarning, match="frame 1: NaN/Inf .* recomputed in fp32"):
        out = Restorer(LowPrecision(), fp16_fallback=True).run_batch(frames)
    assert int(out[1][0, 0, 0]) == 5 and int(out[0][0, 0, 0]) == 255


def test_float_frames_outside_the_unit_range_are_refused():
    restorer = Restorer(lambda x, t: x, steps=1)
    with pytest.raises(ValueError, match=r"float frames hold values in \[0, 1\]; this one spans \[0, 255\]"):
        restorer.run(np.linspace(0, 255, 48, dtype=np.float32).reshape(4, 4, 3))
    assert restorer.run(np.full((4, 4, 3), 1.0005, np.float32)).max() <= 1.0  # a rounding overshoot is clipped


def test_run_batch_gives_each_frame_the_noise_of_its_input_position():
    small, big = np.full((8, 8, 3), 120, np.uint8), np.full((16, 12, 3), 120, np.uint8)
    sequence = [small, big, small, big, big, small]
    one_by_one = Restorer(lambda x, t: x, steps=2, eps=0.3, seed=5)
    batched = Restorer(lambda x, t: x, steps=2, eps=0.3, seed=5)
    expected = [one_by_one.run(f) for f in sequence]
    for a, b in zip(batched.run_batch(sequence), expected):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("suffix,dtype", [(".jpg", np.uint8), (".png", np.uint16), (".webp", np.uint8)])
def test_images_are_written_in_a_depth_the_format_holds_not_saturated(tmp_path, suffix, dtype):
    grey16 = np.full((6, 6, 3), 20000, np.uint16)
    for img in (grey16, grey16.astype(np.float32) / 65535):
        path = video.write_image(tmp_path / f"out{suffix}", img)
        back = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert back.dtype == dtype
        scale = 65535 if dtype == np.uint16 else 255
        assert abs(float(back.mean()) / scale - 20000 / 65535) < 0.01  # neither white nor black


# --- resources and threads -----------------------------------------------------------------

def test_close_and_context_manager(tiny_onnx):
    frame = np.full((8, 8, 3), 90, np.uint8)
    with Restorer(tiny_onnx, threads=1) as restorer:
        restorer.run(frame)
    with pytest.raises(ValueError, match="closed"):
        restorer.run(frame)
    restorer.close()  # twice is fine


def test_four_threads_get_the_frames_one_thread_gets(tiny_onnx):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (16 + 2 * (i % 3), 20, 3), dtype=np.uint8) for i in range(24)]
    expected = [Restorer(tiny_onnx, threads=1).run(f) for f in frames]
    shared = Restorer(tiny_onnx, threads=1)
    got: dict[int, np.ndarray] = {}

    def worker(k):
        for i in range(k, len(frames), 4):
            got[i] = shared.run(frames[i])

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, frame in enumerate(expected):
        np.testing.assert_array_equal(got[i], frame)


def test_tiled_restoration_with_noise_holds_only_the_tiles_noise():
    """eps > 0 on a tiled frame: the noise of 8 Brownian steps is made per tile, not kept for the
    whole frame (the full-frame draws alone would be 8 x 12.6 MB here)."""
    import tracemalloc

    restorer = Restorer(lambda x, t: x, steps=8, eps=0.1, eps_schedule="brownian", tile=256, overlap=32)
    frame = np.full((1024, 1024, 3), 100, np.uint8)
    restorer.run(frame)
    tracemalloc.start()
    try:
        restorer.run(frame)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100e6  # the frame's own arrays (~67 MB); the old full-frame noise took it to 152 MB
