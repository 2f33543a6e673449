"""Batch-at-once image operations for making training pairs on the training device (CPU or GPU).

Images here are torch float32 [B, C, H, W]. Needs torch; imported only by training code.
"""
from __future__ import annotations

import numpy as np
import torch


def blur_valid(windows: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Convolve each window with its own kernel by FFT and keep the part untouched by wrap-around.

    windows [B, C, H, W], kernels [B, k, k] (odd k) on the same device -> [B, C, H-k+1, W-k+1]: the
    true convolution (as degrade.blur) at the centres of the windows' inner H-k+1 x W-k+1 pixels.
    """
    b, _, h, w = windows.shape
    k = kernels.shape[-1]
    if kernels.shape != (b, k, k) or k % 2 == 0 or k > min(h, w):
        raise ValueError(f"kernels must be [{b}, k, k] with odd k <= {min(h, w)}, got {tuple(kernels.shape)}")
    # Zero-padding to a fast FFT size (158 = 2 x 79 is slow) keeps the kept part free of wrap-around.
    size = (fft_size(h), fft_size(w))
    spectrum = torch.fft.rfft2(windows.float(), s=size)
    transfer = torch.fft.rfft2(kernels.float(), s=size)[:, None]
    full = torch.fft.irfft2(spectrum * transfer, s=size)
    return full[..., k - 1:h, k - 1:w]


def fft_size(n: int) -> int:
    """The smallest m >= n whose only prime factors are 2, 3 and 5 (fast for every FFT library)."""
    m = n
    while True:
        r = m
        for p in (2, 3, 5):
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += 1


def flip_rotate(batches: tuple[torch.Tensor, ...], turns: np.ndarray, flips: np.ndarray) -> tuple[torch.Tensor, ...]:
    """Sample i of every batch turned by turns[i] quarter turns, then mirrored where flips[i]:
    one of the 8 symmetries of the square, the same for every batch."""
    out = []
    for batch in batches:
        samples = [torch.rot90(s, int(k), dims=(1, 2)) for s, k in zip(batch, turns)]
        out.append(torch.stack([s.flip(2) if f else s for s, f in zip(samples, flips)]))
    return tuple(out)
