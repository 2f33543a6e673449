"""OpenCV frames <-> the model's tensors, and padding to the model's size multiple.

Frames are what OpenCV reads and writes: HxW gray, HxWx1 gray, HxWx3 BGR or HxWx4 BGRA, in uint8
[0, 255], uint16 [0, 65535] or float32/float64 [0, 1]. Models see [N, 3, H, W] float32 RGB in [-1, 1]
with H and W padded (reflect-101, bottom/right) to their size multiple.

What goes back out has the input's layout and dtype:
- gray in, gray out: the gray value feeds all three channels; the result is the BT.601 luma
  (0.299 R + 0.587 G + 0.114 B, as cv2.COLOR_BGR2GRAY) of the restored RGB;
- BGRA: the model restores BGR; alpha is passed through untouched;
- integer frames are rounded and clipped to their range; float frames must lie in [0, 1] (a
  rounding overshoot of FLOAT_SLACK is clipped; more is an error, not a silently white frame).
The uint8 BGR(A) path runs through indi_edge.ops (native kernels where built).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from indi_edge import ops

# Full-scale value of each supported dtype: v / scale is in [0, 1].
SCALES = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0,
          np.dtype(np.float32): 1.0, np.dtype(np.float64): 1.0}
CHANNELS = (1, 3, 4)
FLOAT_SLACK = 1e-3  # float frames may overshoot [0, 1] by rounding this much; they are clipped
LUMA_RGB = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # BT.601, the weights of cv2.COLOR_BGR2GRAY


@dataclasses.dataclass(frozen=True)
class FrameLayout:
    """What a frame looked like, so the restored one can be given back the same way."""

    height: int
    width: int
    channels: int          # 1 (gray), 3 (BGR) or 4 (BGRA)
    squeezed: bool         # gray given as HxW rather than HxWx1
    dtype: np.dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.height, self.width) if self.squeezed else (self.height, self.width, self.channels)


def describe(frame) -> FrameLayout:
    """Check a frame and return its layout; raises TypeError/ValueError saying what was expected."""
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"expected a frame as a numpy array (HxW, HxWx1, HxWx3 BGR or HxWx4 BGRA), "
                        f"got {type(frame).__name__}")
    if frame.ndim not in (2, 3):
        raise ValueError(f"expected a frame of shape HxW or HxWxC, got {frame.ndim} dimensions {frame.shape}")
    if frame.dtype not in SCALES:
        raise TypeError(f"expected a frame of dtype uint8, uint16, float32 or float64, got {frame.dtype}")
    channels = 1 if frame.ndim == 2 else frame.shape[2]
    if channels not in CHANNELS:
        raise ValueError(f"expected 1 (gray), 3 (BGR) or 4 (BGRA) channels, got {channels} (shape {frame.shape})")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"expected a frame of at least 1x1 pixels, got shape {frame.shape}")
    if frame.dtype.kind == "f":
        if not np.isfinite(frame).all():
            raise ValueError("expected finite pixel values, the float frame contains NaN or inf")
        low, high = float(frame.min()), float(frame.max())
        if low < -FLOAT_SLACK or high > 1.0 + FLOAT_SLACK:
            # A float frame in [0, 255] (or [-1, 1]) would be clipped to mostly white (or black).
            raise ValueError(f"float frames hold values in [0, 1]; this one spans [{low:g}, {high:g}] "
                             f"(divide 8-bit values by 255, 16-bit by 65535)")
    return FrameLayout(frame.shape[0], frame.shape[1], channels, frame.ndim == 2, frame.dtype)


# --- padding ---------------------------------------------------------------------------------

def padded_size(size: int, multiple: int) -> int:
    """The smallest multiple of `multiple` that is >= size."""
    return -(-size // multiple) * multiple


def pad_to_multiple(x: np.ndarray, multiple: int) -> np.ndarray:
    """Reflect-101 pad [..., H, W] at the bottom/right to multiples of `multiple` (a view if none needed)."""
    h, w = x.shape[-2:]
    ph, pw = padded_size(h, multiple) - h, padded_size(w, multiple) - w
    if ph == 0 and pw == 0:
        return x
    pads = [(0, 0)] * (x.ndim - 2) + [(0, ph), (0, pw)]
    return np.pad(x, pads, mode="reflect")  # numpy "reflect" is OpenCV's BORDER_REFLECT_101


def crop(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """The top-left height x width window of [..., H, W] (undoes pad_to_multiple)."""
    return x[..., :height, :width]


# --- frame -> tensor ------------------------------------------------------------------------

def to_tensor(frame: np.ndarray, multiple: int = 1) -> tuple[np.ndarray, FrameLayout]:
    """A frame -> ([1, 3, Hp, Wp] float32 RGB in [-1, 1], padded to `multiple`; its layout)."""
    layout = describe(frame)
    if layout.dtype == np.uint8 and layout.channels >= 3:
        bgr = np.ascontiguousarray(frame[..., :3])  # ROIs and BGRA are strided views; the kernel wants C order
        return ops.preprocess(bgr, multiple=multiple), layout
    unit = frame.astype(np.float32) / np.float32(SCALES[layout.dtype])
    if layout.channels == 1:
        rgb = np.broadcast_to(unit.reshape(layout.height, layout.width, 1), (layout.height, layout.width, 3))
    else:
        rgb = unit[..., 2::-1]  # BGR(A) -> RGB
    x = (rgb.transpose(2, 0, 1)[None] * np.float32(2.0) - np.float32(1.0)).astype(np.float32)
    return np.ascontiguousarray(pad_to_multiple(x, multiple)), layout


def alpha_of(frame: np.ndarray, layout: FrameLayout) -> np.ndarray | None:
    """The alpha plane of a BGRA frame (passed through restoration untouched), else None."""
    return frame[..., 3].copy() if layout.channels == 4 else None


# --- tensor -> frame ------------------------------------------------------------------------

def from_tensor(x: np.ndarray, layout: FrameLayout, alpha: np.ndarray | None = None) -> np.ndarray:
    """[1, 3, Hp, Wp] or [3, Hp, Wp] RGB in [-1, 1] -> a frame with `layout` (cropped to its size)."""
    if x.ndim == 4:
        if x.shape[0] != 1:
            raise ValueError(f"expected one image [1, 3, H, W], got {x.shape}")
        x = x[0]
    if x.ndim != 3 or x.shape[0] != 3 or x.shape[1] < layout.height or x.shape[2] < layout.width:
        raise ValueError(f"expected [3, >={layout.height}, >={layout.width}] RGB, got {x.shape}")
    if layout.dtype == np.uint8 and layout.channels >= 3:
        bgr = ops.postprocess(np.ascontiguousarray(x, dtype=np.float32), layout.height, layout.width)
        return bgr if alpha is None else np.dstack([bgr, alpha])
    unit = (crop(x, layout.height, layout.width).astype(np.float32) + np.float32(1.0)) * np.float32(0.5)
    if layout.channels == 1:
        planes = np.tensordot(LUMA_RGB, unit, axes=1)[..., None]
    else:
        planes = unit[::-1].transpose(1, 2, 0)  # RGB -> BGR, HWC
    out = _quantize(planes, layout.dtype)
    if alpha is not None:
        out = np.dstack([out, alpha])
    return out.reshape(layout.shape)


def _quantize(unit: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Values in [0, 1] (unclipped) -> dtype's range: rounded for integers, clipped for all."""
    scale = SCALES[dtype]
    if dtype.kind == "f":
        return np.clip(unit, 0.0, 1.0).astype(dtype)
    return np.clip(np.rint(unit * np.float32(scale)), 0, scale).astype(dtype)
