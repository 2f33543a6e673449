"""motion-deblur training pairs made a whole batch at a time on the training device.

Per sample: a window of a natural training photo or of a fresh dead-leaves image, a new camera-shake
kernel (some of them the identity, so the network learns to leave sharp frames alone), an FFT
blur on the device, the same flip/rotation of both images. Every batch is a pure function of
(seed, step), so a resumed run sees the batches the uninterrupted one would have. Needs torch.
"""
from __future__ import annotations

import numpy as np
import torch

from indi_edge import batch_ops, degrade
from indi_edge.data import MotionDeblur, train_images
from indi_edge.dead_leaves import DeadLeavesPool, palette_from


class MotionDeblurBatches:
    """batch(seed, step, size, crop) -> (x clean, y blurred), float32 [size, 3, crop, crop] in [-1, 1]
    on `device`.

    length: blur extents (trajectory bounding box, px) drawn uniformly from this range;
    sharp_share: the share of samples blurred by the identity (extent 0);
    dead_leaves_share: the share of windows cut from the rolling dead-leaves pool (one fresh
    image per step) rather than from the natural photos.
    """

    def __init__(self, device: str | torch.device = "cpu", task: MotionDeblur = MotionDeblur(),
                 length: tuple[float, float] = (1.0, 28.0), sharp_share: float = 0.1,
                 dead_leaves_share: float = 0.3, pool_slots: int = 64, pool_size: int = 192):
        if not (0 <= sharp_share <= 1 and 0 <= dead_leaves_share <= 1):
            raise ValueError("sharp_share and dead_leaves_share must lie in [0, 1]")
        self.device = torch.device(device)
        self.task, self.length = task, length
        self.sharp_share, self.dead_leaves_share = sharp_share, dead_leaves_share
        photos = [img for _, img in train_images(dead_leaves_count=0)]
        self.photos = [self.to_device(img) for img in photos]
        self.palette = palette_from(photos)
        self.pool_slots, self.pool_size = pool_slots, pool_size
        self.pools: dict[int, DeadLeavesPool] = {}  # one per seed

    def to_device(self, img: np.ndarray) -> torch.Tensor:
        """float32 [H, W, 3] in [0, 1] -> [3, H, W] on the device."""
        return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).to(self.device)

    def pool(self, seed: int) -> DeadLeavesPool:
        if seed not in self.pools:
            self.pools[seed] = DeadLeavesPool(seed, self.pool_slots, self.pool_size, self.palette, self.to_device)
        return self.pools[seed]

    def batch(self, seed: int, step: int, size: int, crop: int) -> tuple[torch.Tensor, torch.Tensor]:
        margin = self.task.margin
        window = crop + 2 * margin
        if window > self.pool_size:
            raise ValueError(f"crop {crop} + 2 x {margin} margin exceeds the dead-leaves size {self.pool_size}")
        rng = np.random.default_rng([seed, step, 0xB10B])
        leaves = int(round(size * self.dead_leaves_share))
        windows = [batch_ops.random_windows(self.photos, rng, size - leaves, window)] if size > leaves else []
        if leaves:
            windows.append(batch_ops.random_windows(self.pool(seed).at(step), rng, leaves, window))
        clean = torch.cat(windows)
        lengths = rng.uniform(*self.length, size)
        lengths[rng.random(size) < self.sharp_share] = 0.0
        kernels = degrade.motion_blur_kernels(rng, lengths, self.task.kernel_size)
        blurred = batch_ops.blur_valid(clean, torch.from_numpy(kernels).to(self.device))
        sharp = clean[..., margin:margin + crop, margin:margin + crop]
        sharp, blurred = batch_ops.flip_rotate((sharp, blurred), rng)
        return sharp * 2.0 - 1.0, blurred * 2.0 - 1.0
