"""Images: read with depth and alpha kept, written whole or not at all, restored one by one."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from indi_edge.video.paths import partial_path, refuse_overwriting_inputs

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def side_by_side(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """[H, W(, C)] before | after -> [H, 2W(, C)], for --compare."""
    return np.concatenate([before, after], axis=1)


def read_image(path: str | Path) -> np.ndarray:
    """An image as OpenCV holds it, depth and alpha kept (uint8/uint16, gray/BGR/BGRA)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no image at {path}")
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f"{path} is not an image OpenCV can read")
    return img


# The sample types each format stores (OpenCV): anything else is converted, not saturated.
DEPTHS = {".png": (np.uint8, np.uint16), ".tif": (np.uint8, np.uint16, np.float32),
          ".tiff": (np.uint8, np.uint16, np.float32)}
EIGHT_BIT = (np.uint8,)  # .jpg, .jpeg, .bmp, .webp


def fit_depth(img: np.ndarray, suffix: str) -> np.ndarray:
    """img in a sample type the format stores, scaled to keep its meaning: a 16-bit frame written
    to .jpg becomes 8-bit (/257) instead of saturating to white, a float [0, 1] frame written to
    .png becomes 16-bit instead of rounding to black."""
    allowed = DEPTHS.get(suffix.lower(), EIGHT_BIT)
    if img.dtype.type in allowed:
        return img
    unit = img.astype(np.float32) / (65535.0 if img.dtype == np.uint16 else 255.0 if img.dtype == np.uint8 else 1.0)
    target = np.uint16 if np.uint16 in allowed else np.uint8
    top = 65535.0 if target == np.uint16 else 255.0
    return np.clip(np.rint(unit * top), 0, top).astype(target)


def write_image(path: str | Path, img: np.ndarray) -> Path:
    """Write via a temporary file and rename, so the destination is whole or absent; the sample type
    is fitted to the format (fit_depth)."""
    path = Path(path)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise ValueError(f"{path}: expected an image extension {IMAGE_SUFFIXES}")
    img = fit_depth(img, path.suffix)
    tmp = partial_path(path)
    try:
        if not cv2.imwrite(str(tmp), img):
            raise ValueError(f"OpenCV could not write {path} ({img.dtype} {img.shape})")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def restore_image(restorer, src: str | Path, dst: str | Path, *, compare: bool = False) -> Path:
    src, dst = Path(src), Path(dst)
    refuse_overwriting_inputs([(src, dst)])
    if dst.suffix.lower() not in IMAGE_SUFFIXES:  # before the restore runs, not after
        raise ValueError(f"{dst}: expected an image extension {IMAGE_SUFFIXES}")
    if not dst.parent.is_dir():
        raise FileNotFoundError(f"no folder {dst.parent} to write {dst.name} into")
    before = read_image(src)
    after = restorer.run(before)
    return write_image(dst, side_by_side(before, after) if compare else after)
