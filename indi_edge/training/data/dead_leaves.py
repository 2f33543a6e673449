"""Procedural dead-leaves images: scale-invariant occlusion scenes that train restoration networks
nearly as well as natural photos (the DeadLeavesPlus line of work), at any quantity, with no licence.

Images are float32 [size, size, 3] RGB in [0, 1]. `DeadLeavesPool` keeps a rolling set of fresh ones
for training: one new image per training step, so a long run sees tens of thousands of them, and the
pool at step s is a pure function of (seed, s) so a resumed run sees the same images.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import cv2
import numpy as np

from indi_edge.training.data import degrade


def dead_leaves(rng: np.random.Generator, size: int = 512, r_min: float = 2.0, coverage: float = 6.0,
                palette: np.ndarray | None = None, striped_share: float = 0.0,
                defocus_radii: tuple[float, float] | None = None) -> np.ndarray:
    """One dead-leaves image: float32 [size, size, 3] RGB in [0, 1].

    Opaque disks with radii of density ~ r^-3 in [r_min, size/4] (the scale-invariant law of natural
    images), anti-aliased, each painted over the previous ones; `coverage` is the expected number of
    disks over each pixel. Colours are uniform in RGB, or drawn from `palette` (uint8 [n, 3] RGB,
    e.g. pixels of natural photos, whose colour statistics are closer to what a camera sees).

    striped_share: the share of disks of radius >= STRIPE_MIN_RADIUS painted with a grating between
    two colours instead of one flat colour (`striped_disk`). Flat disks have no periodic texture,
    and a deblurring network that never saw fine stripes under blur may sharpen a blurred band of
    them into something else (the bundled model made one of barbara's into a white bar), doing worse
    than leaving the blur; with share 0 the image is
    the plain dead-leaves one, draw for draw.

    defocus_radii (lo, hi): a shallow depth of field. The disks painted first lie behind the later
    ones, so after a random 70-99% of them the canvas is defocused by a lens disk of radius uniform in
    [lo, hi] px and the rest are painted sharp over it: sharp objects before a soft background, as in
    footage. A network that saw only sharp scenes sharpens every soft edge it meets.
    """
    r_max = size / 4
    mean_r2 = 2 * r_min**2 * math.log(r_max / r_min) / (1 - (r_min / r_max) ** 2)
    count = int(coverage * size * size / (math.pi * mean_r2))
    u = rng.random(count)
    radii = (r_min**-2 - u * (r_min**-2 - r_max**-2)) ** -0.5  # inverse CDF of the r^-3 law
    centres = rng.random((count, 2)) * size
    if palette is None:
        colours = rng.integers(0, 256, (count, 3))
    else:
        colours = palette[rng.integers(0, len(palette), count)]
    striped = np.zeros(count, bool)
    if striped_share > 0:  # drawn after the plain image's draws, so share 0 changes nothing
        striped = (radii >= STRIPE_MIN_RADIUS) & (rng.random(count) < striped_share)
        stripes = iter([Grating.draw(rng, palette) for _ in range(int(striped.sum()))])
    focus_at, defocus = -1, None
    if defocus_radii is not None:  # drawn last too: without it the image is unchanged, draw for draw
        focus_at = int(count * rng.uniform(0.7, 0.99))
        defocus = degrade.defocus_kernel(rng.uniform(*defocus_radii))
    canvas = np.zeros((size, size, 3), np.uint8)
    frac = 16  # cv2 draws with 4 fractional bits: sub-pixel centres and radii
    for i, ((cx, cy), r, colour) in enumerate(zip(centres, radii, colours)):
        if i == focus_at:
            soft = degrade.blur(canvas.astype(np.float32), defocus)
            canvas = np.clip(np.rint(soft), 0, 255).astype(np.uint8)
        if striped[i]:
            striped_disk(canvas, cx, cy, r, colour, next(stripes))
            continue
        cv2.circle(canvas, (int(cx * frac), int(cy * frac)), int(r * frac), tuple(map(int, colour)),
                   thickness=-1, lineType=cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) / np.float32(255.0)


DEFOCUS_RADII = (2.0, 12.0)        # px: from a soft background to the bokeh of a fast lens
STRIPE_MIN_RADIUS = 4.0            # smaller disks hold too few periods to read as a texture
STRIPE_PERIODS = (2.5, 16.0)       # px, log-uniform: from near Nyquist (fabric) to coarse blinds


@dataclasses.dataclass
class Grating:
    """A periodic stripe pattern: a second colour, period (px), angle, phase and edge hardness."""
    colour: np.ndarray
    period: float
    angle: float
    phase: float
    hardness: float   # 1: a sinusoid; larger: closer to a square wave

    @classmethod
    def draw(cls, rng: np.random.Generator, palette: np.ndarray | None) -> "Grating":
        colour = rng.integers(0, 256, 3) if palette is None else palette[rng.integers(0, len(palette))]
        period = math.exp(rng.uniform(math.log(STRIPE_PERIODS[0]), math.log(STRIPE_PERIODS[1])))
        return cls(np.asarray(colour, np.float32), period, rng.uniform(0, math.pi), rng.uniform(0, 2 * math.pi),
                   rng.uniform(1.0, 4.0))

    def mix(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """The weight of the second colour at pixel coordinates xs, ys (broadcast), in [0, 1]."""
        wave = np.sin(2 * math.pi * (xs * math.cos(self.angle) + ys * math.sin(self.angle)) / self.period + self.phase)
        return np.clip(0.5 + 0.5 * self.hardness * wave, 0.0, 1.0)


def striped_disk(canvas: np.ndarray, cx: float, cy: float, r: float, colour: np.ndarray, grating: Grating) -> None:
    """Paint an anti-aliased disk filled with `grating` (between `colour` and the grating's) over uint8 canvas."""
    h, w = canvas.shape[:2]
    x0, x1 = max(0, int(cx - r) - 1), min(w, int(cx + r) + 2)
    y0, y1 = max(0, int(cy - r) - 1), min(h, int(cy + r) + 2)
    if x0 >= x1 or y0 >= y1:
        return
    frac = 16
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.circle(mask, (int((cx - x0) * frac), int((cy - y0) * frac)), int(r * frac), 255,
               thickness=-1, lineType=cv2.LINE_AA, shift=4)
    alpha = mask.astype(np.float32)[..., None] / 255.0
    weight = grating.mix(np.arange(x0, x1, dtype=np.float32)[None, :], np.arange(y0, y1, dtype=np.float32)[:, None])[..., None]
    fill = (1 - weight) * np.asarray(colour, np.float32) + weight * grating.colour
    patch = canvas[y0:y1, x0:x1].astype(np.float32)
    canvas[y0:y1, x0:x1] = np.clip(np.rint(patch + alpha * (fill - patch)), 0, 255).astype(np.uint8)


def palette_from(images: list[np.ndarray], count: int = 4096, seed: int = 0) -> np.ndarray:
    """`count` random pixels of float [H, W, 3] images in [0, 1], as uint8 [count, 3] RGB."""
    rng = np.random.default_rng(seed)
    picks = []
    for i in rng.integers(0, len(images), count):
        img = images[i]
        picks.append(img[rng.integers(img.shape[0]), rng.integers(img.shape[1])])
    return np.clip(np.rint(np.array(picks) * 255.0), 0, 255).astype(np.uint8)


class DeadLeavesPool:
    """The `slots` most recent dead-leaves images of a training run, one rendered per step.

    `at(step)` returns the pool as of `step`: slot s % slots holds the image of the latest step s'
    <= step with s' % slots == slot, drawn from a generator seeded by (seed, s'). Stepping forward
    renders one image; jumping (a resume) renders the whole pool again. `put` stores a step's image
    rendered elsewhere (by a DataLoader worker, with `render`).
    """

    def __init__(self, seed: int, slots: int = 64, size: int = 256, palette: np.ndarray | None = None,
                 convert: Callable[[np.ndarray], Any] = lambda img: img, striped_share: float = 0.0,
                 defocus_share: float = 0.0, defocus_radii: tuple[float, float] = DEFOCUS_RADII):
        """`convert` turns each rendered image into what the pool holds (e.g. a tensor on a GPU);
        striped_share: see dead_leaves; defocus_share: the share of images with a shallow depth of
        field (dead_leaves' defocus_radii)."""
        if slots < 1 or size < 16:
            raise ValueError(f"DeadLeavesPool needs slots >= 1 and size >= 16, got {slots}, {size}")
        self.seed, self.slots, self.size, self.palette, self.convert = seed, slots, size, palette, convert
        self.striped_share, self.defocus_share, self.defocus_radii = striped_share, defocus_share, defocus_radii
        self.images: list[Any] = [None] * slots
        self.step: int | None = None

    def render(self, step: int) -> np.ndarray:
        # step may be as low as 1 - slots (a young pool): shifted, the seed entry stays >= 0
        rng = np.random.default_rng([self.seed, 0xDEAD, step + self.slots])
        # its own generator, so share 0 renders the images of older runs, draw for draw
        soft = self.defocus_share > 0 and np.random.default_rng([self.seed, 0xD0F, step + self.slots]).random() < self.defocus_share
        return dead_leaves(rng, self.size, palette=self.palette, striped_share=self.striped_share,
                           defocus_radii=self.defocus_radii if soft else None)

    def at(self, step: int) -> list[Any]:
        if self.step is not None and 0 <= step - self.step <= self.slots // 2:
            fresh = range(self.step + 1, step + 1)
        else:
            fresh = range(step - self.slots + 1, step + 1)
        for s in fresh:
            self.images[s % self.slots] = self.convert(self.render(s))
        self.step = step
        return self.images

    def put(self, step: int, image: Any) -> None:
        """Store the (converted) image of `step`, rendered elsewhere; the pool must be at step - 1."""
        if self.step != step - 1:
            raise ValueError(f"the pool is at step {self.step}; put() needs step {self.step + 1 if self.step is not None else 'at() first'}")
        self.images[step % self.slots] = image
        self.step = step
