"""What one served request may hold: checked on the tensor's shape alone, before any pixel is read.

Triton itself refuses a wrong dtype, a wrong channel count or rank, and a batch over max_batch_size,
each with a one-line message; what its model config cannot say (a frame's size bounds) is checked
here. Pure functions, no Triton needed.
"""
from __future__ import annotations

import dataclasses

DEFAULT_MAX_PIXELS = 3840 * 2160  # one 4K UHD frame


@dataclasses.dataclass(frozen=True)
class RequestLimits:
    max_pixels: int = DEFAULT_MAX_PIXELS  # per frame, height x width
    max_batch: int = 8                    # frames per request, and per dynamic batch (Triton enforces it)

    def __post_init__(self):
        for field in ("max_pixels", "max_batch"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{field} must be an integer >= 1, got {value!r}")


def frames_problem(shape, limits: RequestLimits) -> str | None:
    """None if a request of frames [N, H, W, 3] is within the limits, else the one-line reason."""
    shape = tuple(int(s) for s in shape)
    if len(shape) != 4 or shape[3] != 3:
        return f"frames must be [N, H, W, 3] uint8 BGR, got shape {list(shape)}"
    n, height, width, _ = shape
    if n < 1 or n > limits.max_batch:
        return f"a request holds 1 to {limits.max_batch} frames (--max-batch), got {n}"
    if height < 1 or width < 1:
        return f"frame of {width}x{height} pixels: a frame needs at least 1x1"
    if height * width > limits.max_pixels:
        return (f"frame of {width}x{height} = {height * width} pixels is over the limit of {limits.max_pixels} "
                f"(--max-pixels; the default is one 3840x2160 frame)")
    return None
