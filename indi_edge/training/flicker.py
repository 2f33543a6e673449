"""Flicker of restored video: how much the output changes from frame to frame against the input.

A per-frame restorer can add temporal noise that no single frame shows (fresh eps noise each frame,
or a network that reacts to small input changes). The measure: the mean absolute frame-to-frame
change of the output over that of the input, on the same clip. 1 means the output changes as
much as the input; well above 1 is visible flicker; below 1 is smoothing (a denoiser removing the
input's own noise). Changes are in 8-bit grey levels.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def frame_change(frames: list[np.ndarray]) -> float:
    """Mean absolute change between consecutive frames, in 8-bit grey levels."""
    if len(frames) < 2:
        raise ValueError("flicker needs at least 2 frames")
    scale = 255.0 / (65535.0 if frames[0].dtype == np.uint16 else 255.0)
    return float(np.mean([np.mean(np.abs(b.astype(np.float32) - a.astype(np.float32)))
                          for a, b in zip(frames, frames[1:])]) * scale)


def read_clip(path: str | Path, limit: int | None = None) -> list[np.ndarray]:
    """A video file's frames (BGR) through PyAV."""
    from indi_edge.video.sources import Frame, PyAvSource

    source = PyAvSource(path)
    try:
        return [item.image for item in source.items(limit) if isinstance(item, Frame)]
    finally:
        source.close()


def flicker(restorer, frames: list[np.ndarray]) -> dict:
    """{input_change, output_change, ratio} of restorer.run over the clip's frames, in order."""
    before = frame_change(frames)
    after = frame_change([restorer.run(frame) for frame in frames])
    return {"input_change": round(before, 4), "output_change": round(after, 4),
            "ratio": round(after / before, 4) if before > 0 else float("inf")}


def flicker_rows(make_restorer, frames: list[np.ndarray], steps: list[int], eps: float) -> list[dict]:
    """Per step count: flicker with fresh noise per frame and, where eps > 0, with --frozen-noise.
    make_restorer(steps, frozen_noise) -> a Restorer."""
    rows = []
    for n in steps:
        for frozen in ((False, True) if eps > 0 else (False,)):
            rows.append({"steps": n, "frozen_noise": frozen, **flicker(make_restorer(n, frozen), frames)})
    return rows


def flicker_table(rows: list[dict]) -> str:
    lines = ["| N | noise | input change | output change | ratio |", "|---:|---|---:|---:|---:|"]
    for row in rows:
        noise = "frozen" if row["frozen_noise"] else "per frame"
        lines.append(f"| {row['steps']} | {noise} | {row['input_change']:.3f} | {row['output_change']:.3f} | "
                     f"{row['ratio']:.3f} |")
    return "\n".join(lines)
