"""Tiles with blended overlap: coverage, weights, and tiled == untiled."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from indi_edge import metrics, tiling
from indi_edge.restorer import Restorer


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 200), w=st.integers(1, 200), tile=st.integers(2, 64), data=st.data())
def test_plan_covers_every_pixel_with_positive_weight(h, w, tile, data):
    overlap = data.draw(st.integers(0, tile - 1))
    tiles = tiling.plan(h, w, tile, overlap)
    wsum = np.zeros((h, w))
    for t in tiles:
        assert t.top + t.height <= h and t.left + t.width <= w
        assert t.weight.shape == (t.height, t.width) and t.weight.min() > 0 and t.weight.max() <= 1
        wsum[t.top:t.top + t.height, t.left:t.left + t.width] += t.weight
    assert wsum.min() > 0
    # neighbours share at least `overlap` pixels
    for starts, size in ((sorted({t.top for t in tiles}), tiles[0].height), (sorted({t.left for t in tiles}), tiles[0].width)):
        assert all(b - a <= size - overlap for a, b in zip(starts, starts[1:]))


def test_ramp_falls_only_at_interior_edges():
    w = tiling.ramp(10, 4, rise=False, fall=True)
    assert np.all(w[:6] == 1) and np.all(np.diff(w[6:]) < 0) and w[-1] > 0
    assert np.all(tiling.ramp(10, 4, rise=False, fall=False) == 1)


def test_plan_rejects_bad_sizes():
    with pytest.raises(ValueError, match="tile > overlap"):
        tiling.plan(10, 10, 8, 8)


def pointwise(x, t):
    """F acting on each pixel alone: tiles see exactly what the whole image sees."""
    return np.tanh(1.5 * x) + 0.1 * t[:, None, None, None]


@pytest.mark.parametrize("eps, schedule", [(0.0, "constant"), (0.2, "brownian")])
def test_tiled_equals_untiled_for_a_pointwise_model(eps, schedule):
    """The blend weights form a partition of unity and every tile takes its window of one noise
    field, so with no receptive field to cut, tiling changes nothing (to fp32 rounding)."""
    y = np.random.default_rng(0).uniform(-1, 1, (2, 3, 50, 70)).astype(np.float32)
    kwargs = dict(steps=4, eps=eps, eps_schedule=schedule, seed=3)
    whole = Restorer(pointwise, tile=0, **kwargs).restore_array(y)
    tiled = Restorer(pointwise, tile=16, overlap=6, **kwargs).restore_array(y)
    np.testing.assert_allclose(tiled, whole, atol=2e-6)


def test_tiled_matches_untiled_on_the_tiny_unet(tiny_onnx, bgr_frame):
    """A real network sees less context at tile edges; the overlap ramp keeps the result close."""
    big = np.tile(bgr_frame, (2, 3, 1))  # 96 x 120
    whole = Restorer(tiny_onnx, tile=0, threads=1).run(big)
    tiled = Restorer(tiny_onnx, tile=48, overlap=16, threads=1).run(big)
    assert whole.shape == tiled.shape == big.shape
    assert metrics.psnr(tiled.astype(np.float32), whole.astype(np.float32), 255.0) > 40.0
    assert not np.array_equal(whole, big)  # the model did change the image


def test_large_frames_are_tiled_automatically(monkeypatch):
    calls = []

    def record(x, t):
        calls.append(x.shape)
        return x

    monkeypatch.setattr(tiling, "AUTO_TILE_PIXELS", 64 * 64)
    monkeypatch.setattr(tiling, "DEFAULT_TILE", 32)
    out = Restorer(record, steps=1, overlap=8).run(np.zeros((80, 80, 3), np.uint8))  # no reach measured
    assert out.shape == (80, 80, 3)
    assert len(calls) > 1 and all(s[2] <= 32 and s[3] <= 32 for s in calls)
    calls.clear()
    Restorer(record, steps=1, overlap=8).run(np.zeros((60, 60, 3), np.uint8))
    assert calls == [(1, 3, 60, 60)]


@pytest.mark.parametrize("model", ["motion-deblur", "denoise"])
def test_default_tiles_of_the_bundled_models_stay_45_db_from_untiled(model):
    """Default tile and the overlap derived from the measured edge reach: the seams cost < 45 dB
    nowhere on a held-out photo (a fixed 32-px overlap gave 40.3 dB with small tiles on edge-s; the
    naf-s-dense denoiser's reach is within the 32-px floor)."""
    import cv2

    from indi_edge import metrics
    from indi_edge.training.data import corpus, degrade

    _, image = corpus.heldout_images()[1]
    photo = cv2.resize(degrade.to_uint8(image)[..., ::-1], (1024, 768))
    untiled = Restorer(model, tile=0, backend="onnxruntime").run(photo).astype(np.float32)
    tiled_restorer = Restorer(model, tile=tiling.DEFAULT_TILE, backend="onnxruntime")
    tiled = tiled_restorer.run(photo).astype(np.float32)
    assert tiled_restorer._reach is not None  # derived from the measured reach (the floor where the reach is short)
    assert metrics.psnr(tiled, untiled, 255.0) >= 45.0


def test_edge_reach_of_a_pointwise_and_a_blurring_network():
    identity = lambda x: x  # noqa: E731 - a network with no spatial reach
    assert tiling.edge_reach(identity, 8) == 0

    def box_blur(x):  # reaches 4 px: a 9x9 mean, zero-padded like a convolution
        import cv2
        return np.stack([np.stack([cv2.boxFilter(c, -1, (9, 9), borderType=cv2.BORDER_CONSTANT) for c in f])
                         for f in x])

    assert 3 <= tiling.edge_reach(box_blur, 8) <= 5
    assert tiling.overlap_for_reach(0, 512, 8) == tiling.DEFAULT_OVERLAP
    assert tiling.overlap_for_reach(1000, 512, 8) == 256  # never more than half a tile
