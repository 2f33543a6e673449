"""Sources of (clean, degraded) training pairs.

A pair source (PairSource) is anything with

    sample(rng: np.random.Generator, crop: int) -> (x, y)

returning the clean image x and the degraded y, each float32 [crop, crop, 3] RGB in [-1, 1]. The training
loop only sees this method: paired folders (here) and synthetic degradations of the built-in corpus
(indi_edge.training.data.corpus) are interchangeable.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


class PairSource(Protocol):
    def sample(self, rng: np.random.Generator, crop: int) -> tuple[np.ndarray, np.ndarray]: ...


@runtime_checkable
class BatchSource(Protocol):
    """Makes a whole training batch at once on its own device (e.g. motion_batches.MotionDeblurBatches),
    a pure function of (seed, step), in two halves: plan (numpy, picklable: may run in DataLoader
    workers) and realise -> (x, y) torch float32 [size, 3, crop, crop] in [-1, 1] on the device."""

    def plan(self, seed: int, step: int, size: int, crop: int): ...

    def realise(self, plan): ...


def read_rgb(path: Path) -> np.ndarray:
    """An image file as float32 [H, W, 3] RGB in [-1, 1] (8- or 16-bit, gray or colour)."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f"cannot read image {path}")
    scale = 65535.0 if img.dtype == np.uint16 else 255.0
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    else:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return img.astype(np.float32) * np.float32(2.0 / scale) - 1.0


def random_crop_pair(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, crop: int):
    """The same random crop of two aligned images."""
    h, w = x.shape[:2]
    if h < crop or w < crop:
        raise ValueError(f"image of {h}x{w} is smaller than the crop size {crop}")
    top = int(rng.integers(0, h - crop + 1))
    left = int(rng.integers(0, w - crop + 1))
    return x[top:top + crop, left:left + crop], y[top:top + crop, left:left + crop]


class PairedFolder:
    """DIR/x/NAME (clean) and DIR/y/NAME (degraded), same names and sizes; loaded once into memory."""

    def __init__(self, root: str | Path):
        root = Path(root)
        clean_dir, degraded_dir = root / "x", root / "y"
        for d in (clean_dir, degraded_dir):
            if not d.is_dir():
                raise FileNotFoundError(f"paired folder {root} needs sub-folders x/ (clean) and y/ (degraded); missing {d}")
        names = sorted(p.name for p in clean_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not names:
            raise ValueError(f"no images in {clean_dir}")
        missing = [n for n in names if not (degraded_dir / n).is_file()]
        if missing:
            raise ValueError(f"{len(missing)} clean images have no degraded twin in {degraded_dir}, e.g. {missing[0]}")
        self.names = names
        self.pairs = []
        for n in names:
            x, y = read_rgb(clean_dir / n), read_rgb(degraded_dir / n)
            if x.shape != y.shape:
                raise ValueError(f"{n}: clean {x.shape[:2]} and degraded {y.shape[:2]} sizes differ")
            self.pairs.append((x, y))

    def sample(self, rng: np.random.Generator, crop: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.pairs[int(rng.integers(len(self.pairs)))]
        return random_crop_pair(x, y, rng, crop)
