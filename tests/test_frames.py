"""Frame layouts <-> model tensors: round trips, padding, arbitrary sizes, bad input."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indi_edge import frames
from indi_edge.restorer import Restorer


def identity(x, t):
    return x


def random_frame(rng, shape, dtype):
    if np.dtype(dtype).kind == "f":
        return rng.random(shape).astype(dtype)
    return rng.integers(0, np.iinfo(dtype).max + 1, size=shape, dtype=dtype)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), multiple=st.sampled_from([1, 2, 4, 8, 16]))
def test_pad_then_crop_is_the_identity_for_any_size(h, w, multiple):
    x = np.random.default_rng(h * 41 + w).random((1, 3, h, w)).astype(np.float32)
    padded = frames.pad_to_multiple(x, multiple)
    assert padded.shape[2] % multiple == 0 and padded.shape[3] % multiple == 0
    assert padded.shape[2] - h < multiple and padded.shape[3] - w < multiple
    np.testing.assert_array_equal(frames.crop(padded, h, w), x)
    if h > 1 and padded.shape[2] > h:  # reflect-101: row h mirrors row h-2
        np.testing.assert_array_equal(padded[:, :, h, :w], x[:, :, h - 2])


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 33), w=st.integers(1, 33),
       layout=st.sampled_from([(), (1,), (3,), (4,)]),
       dtype=st.sampled_from([np.uint8, np.uint16, np.float32, np.float64]))
def test_identity_model_gives_every_layout_back_unchanged(h, w, layout, dtype):
    """Any size and layout goes in and comes back in the same shape and dtype; with F(x) = x
    (one step restores x_0 = F) the pixels come back exactly (floats to fp32 precision); gray is
    replicated to RGB and comes back as the luma of three equal channels, the gray value."""
    frame = random_frame(np.random.default_rng(h * 100 + w), (h, w) + layout, dtype)
    out = Restorer(identity, steps=1, tile=0).run(frame)
    assert out.shape == frame.shape and out.dtype == frame.dtype
    if np.dtype(dtype).kind == "f":
        np.testing.assert_allclose(out, frame, atol=1e-6)
    else:
        np.testing.assert_array_equal(out, frame)


def test_uint8_bgr_reaches_the_model_as_rgb_in_minus_one_to_one():
    frame = np.zeros((4, 6, 3), np.uint8)
    frame[..., 0] = 255  # blue
    x, layout = frames.to_tensor(frame, multiple=4)
    assert x.shape == (1, 3, 4, 8) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 2], 1.0)   # B is the last RGB channel
    np.testing.assert_allclose(x[0, :2], -1.0)
    assert layout == frames.FrameLayout(4, 6, 3, False, np.dtype(np.uint8))


def test_bgra_alpha_passes_through_untouched():
    rng = np.random.default_rng(0)
    frame = random_frame(rng, (9, 7, 4), np.uint8)
    out = Restorer(lambda x, t: -x, steps=1).run(frame)  # colours change (negative), alpha must not
    np.testing.assert_array_equal(out[..., 3], frame[..., 3])
    np.testing.assert_array_equal(out[..., :3], 255 - frame[..., :3])


def test_gray_output_is_the_luma_of_the_restored_rgb():
    frame = np.full((5, 5), 100, np.uint8)
    boost_red = lambda x, t: x + np.array([0.5, 0, 0], np.float32)[None, :, None, None]
    out = Restorer(boost_red, steps=1).run(frame)
    # red +0.5 in [-1, 1] units is +63.75 levels; luma weight of red 0.299
    assert out.shape == (5, 5) and np.all(out == np.uint8(round(100 + 0.299 * 63.75)))


def test_values_out_of_range_are_clipped_for_each_dtype():
    for dtype, top in ((np.uint8, 255), (np.uint16, 65535), (np.float32, 1.0)):
        frame = np.full((3, 3, 3), top // 2 if top > 1 else 0.5, dtype)
        assert Restorer(lambda x, t: x + 5, steps=1).run(frame).max() == top
        assert Restorer(lambda x, t: x - 5, steps=1).run(frame).min() == 0


@pytest.mark.parametrize("frame, error, words", [
    (None, TypeError, "numpy array"),
    ([[1, 2], [3, 4]], TypeError, "numpy array"),
    (np.zeros((4, 4, 3, 1), np.uint8), ValueError, "HxW or HxWxC"),
    (np.zeros((4,), np.uint8), ValueError, "HxW or HxWxC"),
    (np.zeros((4, 4, 5), np.uint8), ValueError, "got 5"),
    (np.zeros((4, 4, 2), np.uint8), ValueError, "channels"),
    (np.zeros((0, 4, 3), np.uint8), ValueError, "at least 1x1"),
    (np.zeros((4, 0), np.uint8), ValueError, "at least 1x1"),
    (np.zeros((4, 4, 3), np.int32), TypeError, "uint8, uint16, float32 or float64"),
    (np.zeros((4, 4, 3), bool), TypeError, "uint8, uint16, float32 or float64"),
    (np.full((4, 4, 3), np.nan), ValueError, "NaN"),
    (np.array([[0.5, np.inf]]), ValueError, "NaN or inf"),
])
def test_bad_frames_say_what_was_expected(frame, error, words):
    restorer = Restorer(identity, steps=1)
    with pytest.raises(error, match=words):
        restorer.run(frame)


def test_run_batch_wants_a_list():
    restorer = Restorer(identity, steps=1)
    with pytest.raises(TypeError, match="list of frames"):
        restorer.run_batch(np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="at least 1x1"):
        restorer.run_batch([np.zeros((4, 4, 3), np.uint8), np.zeros((0, 4, 3), np.uint8)])
