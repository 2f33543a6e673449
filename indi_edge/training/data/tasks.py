"""The five synthetic tasks (a degradation drawn per image), the training pairs they make from the
corpus, and the fixed held-out evaluation pairs.

Pairs handed to training and evaluation are float32 [H, W, 3] RGB in [-1, 1].
"""
from __future__ import annotations

import dataclasses
import math
import zlib
from typing import Callable, Sequence

import numpy as np

from indi_edge.training.data import degrade
from indi_edge.training.data.corpus import NamedImage, split_images, split_size, train_images

# --- tasks ----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Degradation:
    """One drawn degradation: apply(float32 [H, W, 3] in [0, 1]) -> same shape; the blur kernel
    for blur tasks (what non-blind baselines need), else None; a one-line description."""
    apply: Callable[[np.ndarray], np.ndarray]
    kernel: np.ndarray | None
    description: str


@dataclasses.dataclass(frozen=True)
class MotionDeblur:
    """Camera shake: kernels of `kernel_size`, trajectory extent drawn uniformly in `length` px."""
    kernel_size: int = 31
    length: tuple[float, float] = (3.0, 28.0)
    multiple = 1

    @property
    def margin(self) -> int:
        return self.kernel_size // 2

    def draw(self, rng: np.random.Generator, evaluation: bool = False) -> Degradation:
        length = rng.uniform(*self.length)
        kernel = degrade.motion_blur_kernel(rng, self.kernel_size, length=length)
        return Degradation(lambda img: degrade.blur(img, kernel), kernel, f"motion blur, extent {length:.1f} px")


@dataclasses.dataclass(frozen=True)
class Defocus:
    """Out-of-focus disk of radius drawn uniformly in `radius` px."""
    radius: tuple[float, float] = (1.0, 8.0)
    multiple = 1

    @property
    def margin(self) -> int:
        return math.ceil(self.radius[1])

    def draw(self, rng: np.random.Generator, evaluation: bool = False) -> Degradation:
        radius = rng.uniform(*self.radius)
        kernel = degrade.defocus_kernel(radius)
        return Degradation(lambda img: degrade.blur(img, kernel), kernel, f"defocus disk, radius {radius:.2f} px")


@dataclasses.dataclass(frozen=True)
class Jpeg:
    """JPEG at a quality drawn uniformly in `quality` (inclusive) for training; the held-out test
    uses the paper's fixed `eval_quality` = 15."""
    quality: tuple[int, int] = (10, 40)
    eval_quality: int = 15
    margin = 0
    multiple = 1

    def draw(self, rng: np.random.Generator, evaluation: bool = False) -> Degradation:
        q = self.eval_quality if evaluation else int(rng.integers(self.quality[0], self.quality[1] + 1))
        return Degradation(lambda img: degrade.jpeg(img, q), None, f"JPEG quality {q}")


@dataclasses.dataclass(frozen=True)
class SR4:
    """4x super-resolution: antialiased bicubic down, bilinear up (paper appendix B)."""
    margin = 8  # the bicubic support; a multiple of 4 so the crop stays on the 4x grid
    multiple = 4

    def draw(self, rng: np.random.Generator, evaluation: bool = False) -> Degradation:
        return Degradation(degrade.sr4_input, None, "bicubic x4 down, bilinear up")


@dataclasses.dataclass(frozen=True)
class Denoise:
    """Additive white Gaussian noise, sigma in [0, 1] units (25/255), not clipped."""
    sigma: float = 25.0 / 255.0
    margin = 0
    multiple = 1

    def draw(self, rng: np.random.Generator, evaluation: bool = False) -> Degradation:
        seed = int(rng.integers(2**63))  # the noise is drawn when applied, from this fixed seed
        return Degradation(lambda img: degrade.gaussian_noise(img, self.sigma, np.random.default_rng(seed)),
                           None, f"Gaussian noise sigma {self.sigma * 255:.0f}/255")


TASKS = {
    "motion-deblur": MotionDeblur(),
    "defocus": Defocus(),
    "jpeg": Jpeg(),
    "sr4": SR4(),
    "denoise": Denoise(),
}


def get_task(name: str):
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {sorted(TASKS)}")
    return TASKS[name]


def to_model_range(img: np.ndarray) -> np.ndarray:
    """[0, 1] -> [-1, 1], float32."""
    return (img * np.float32(2.0) - np.float32(1.0)).astype(np.float32, copy=False)


# --- training pairs -------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class SyntheticPair:
    x: np.ndarray            # clean, float32 [crop, crop, 3] in [-1, 1]
    y: np.ndarray            # degraded, same shape (denoise: may leave [-1, 1], noise is unclipped)
    source: str              # name of the corpus image the crop came from
    degradation: Degradation


class SyntheticPairs:
    """Random crops of corpus images degraded on the fly by one task's random degradation.

    The crop is cut with `task.margin` extra pixels on every side, degraded, then centre-cropped,
    so blur near the crop border comes from real neighbouring pixels, not from padding.
    `images` defaults to the training split (corpus files + dead leaves)."""

    def __init__(self, task: str, images: Sequence[NamedImage] | None = None):
        self.task_name = task
        self.task = get_task(task)
        self.images = list(train_images() if images is None else images)
        if not self.images:
            raise ValueError("SyntheticPairs needs at least one image")
        for _, img in self.images:
            degrade.check_image(img)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.images]

    def draw(self, rng: np.random.Generator, crop: int) -> SyntheticPair:
        """One pair with where it came from and how it was degraded."""
        multiple = self.task.multiple
        if isinstance(crop, bool) or not isinstance(crop, (int, np.integer)) or crop < 1 or crop % multiple:
            raise ValueError(f"crop must be a positive multiple of {multiple} for task {self.task_name}, got {crop!r}")
        window = crop + 2 * self.task.margin
        fitting = [(n, im) for n, im in self.images if min(im.shape[:2]) >= window]
        if not fitting:
            raise ValueError(f"no image is at least {window}x{window} px (crop {crop} + margin); use a smaller crop")
        name, img = fitting[int(rng.integers(len(fitting)))]
        top = int(rng.integers(img.shape[0] - window + 1))
        left = int(rng.integers(img.shape[1] - window + 1))
        patch = np.array(img[top:top + window, left:left + window], dtype=np.float32)
        degradation = self.task.draw(rng)
        m = self.task.margin
        inner = (slice(m, m + crop), slice(m, m + crop))
        y = degradation.apply(patch)[inner]
        return SyntheticPair(to_model_range(patch[inner]), to_model_range(y), name, degradation)

    def sample(self, rng: np.random.Generator, crop: int) -> tuple[np.ndarray, np.ndarray]:
        """(x clean, y degraded), each float32 [crop, crop, 3] RGB in [-1, 1]."""
        pair = self.draw(rng, crop)
        return pair.x, pair.y


# --- held-out evaluation pairs --------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class HeldoutPair:
    name: str
    clean: np.ndarray            # float32 [size, size, 3] RGB in [-1, 1]
    degraded: np.ndarray         # same shape (denoise: unclipped noise may leave [-1, 1])
    kernel: np.ndarray | None    # the true blur kernel (motion-deblur, defocus), else None
    description: str


def heldout_pairs(task: str, seed: int = 0, size: int | None = None, limit: int | None = None,
                  spec=None, split: str = "heldout") -> list[HeldoutPair]:
    """The fixed evaluation protocol: the centre size x size crop of each held-out image
    (size a multiple of 16), degraded with the task's degradation drawn from a generator seeded
    by (seed, task, image name), so every image keeps its degradation whatever `limit` is.
    As in training, the crop is degraded with `margin` real pixels around it. See docs/DATA.md.
    `spec` replaces the task's settings (e.g. MotionDeblur(length=(8, 16)) for one blur-extent
    bucket); the seeds stay those of `task`, so each image keeps its shake shape across buckets.
    split "train" applies the same protocol to the training photos large enough for the crop, "video"
    to the video frames. size None: the split's SPLIT_SIZES (256; video 240)."""
    spec = get_task(task) if spec is None else spec
    size = split_size(split, size)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 16 or size % 16:
        raise ValueError(f"size must be a positive multiple of 16, got {size!r}")
    m = spec.margin
    images = split_images(split)
    if split == "train":
        images = [(name, img) for name, img in images if min(img.shape[:2]) >= size + 2 * m]
    images = images[:limit] if limit is not None else images
    pairs = []
    for name, img in images:
        h, w = img.shape[:2]
        if min(h, w) < size + 2 * m:
            raise ValueError(f"held-out image {name} ({h}x{w}) is too small for size {size} + margin {m}")
        top, left = (h - size) // 2 - m, (w - size) // 2 - m
        window = np.array(img[top:top + size + 2 * m, left:left + size + 2 * m], dtype=np.float32)
        rng = np.random.default_rng([seed, zlib.crc32(f"{task}/{name}".encode())])
        degradation = spec.draw(rng, evaluation=True)
        inner = (slice(m, m + size), slice(m, m + size))
        pairs.append(HeldoutPair(name, to_model_range(window[inner]), to_model_range(degradation.apply(window)[inner]),
                                 degradation.kernel, degradation.description))
    return pairs
