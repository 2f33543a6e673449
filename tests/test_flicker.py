"""The video flicker measure of `indi-edge eval --flicker`."""
from __future__ import annotations

import json

import numpy as np
import pytest

from indi_edge import cli
from indi_edge.restorer import Restorer
from indi_edge.training import flicker


def clip(count: int = 6) -> list[np.ndarray]:
    """A slow horizontal pan over a smooth ramp: small, real frame-to-frame change."""
    ramp = np.tile(np.linspace(0, 200, 96, dtype=np.float32), (32, 1))
    return [np.repeat(np.roll(ramp, k, axis=1)[..., None], 3, axis=2).astype(np.uint8) for k in range(count)]


def test_frame_change_is_in_8_bit_grey_levels():
    a = np.zeros((4, 4, 3), np.uint8)
    assert flicker.frame_change([a, a + 3, a]) == pytest.approx(3.0)
    assert flicker.frame_change([a.astype(np.uint16), (a + 3).astype(np.uint16) * 257]) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="at least 2 frames"):
        flicker.frame_change([a])


def test_identity_has_ratio_one_and_fresh_noise_flickers_more_than_frozen_noise():
    frames = clip()
    assert flicker.flicker(Restorer(lambda x, t: x, steps=1), frames)["ratio"] == pytest.approx(1.0)

    def make(steps, frozen):
        return Restorer(lambda x, t: x, steps=steps, eps=0.2, frozen_noise=frozen)

    rows = flicker.flicker_rows(make, frames, [2], eps=0.2)
    fresh, frozen = (r["ratio"] for r in rows)
    assert [r["frozen_noise"] for r in rows] == [False, True]
    assert fresh > 2.0 * frozen  # fresh noise each frame is temporal noise; a frozen field moves with nothing


def test_eval_flicker_cli_writes_its_table(tiny_weights, tmp_path, capsys):
    pytest.importorskip("av", reason="video files need PyAV (the [video] extra)")
    from indi_edge import video

    src = video.write_frames(tmp_path / "pan.mkv", clip(), 12.0)
    assert cli.main(["eval", str(tiny_weights), "--flicker", str(src), "--steps", "1", "2", "--frames", "5",
                     "--out", str(tmp_path / "ev"), "--quiet"]) == 0
    said = capsys.readouterr().out
    assert "Flicker on" in said and "| 2 | per frame |" in said
    saved = json.loads((tmp_path / "ev" / "flicker_pan.json").read_text())
    assert saved["frames"] == 5 and [r["steps"] for r in saved["rows"]][:1] == [1]
