"""Full-reference image metrics in numpy: PSNR, SSIM and a detail ratio that shows regression
to the mean.

Images are [H, W, C] (or [H, W]) float arrays on a common scale; pass its span as data_range
(2.0 for the models' [-1, 1], 1.0 for [0, 1]).
"""
from __future__ import annotations

import math

import numpy as np


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"images must have the same shape, got {a.shape} and {b.shape}")
    if a.ndim not in (2, 3):
        raise ValueError(f"images must be [H, W] or [H, W, C], got shape {a.shape}")
    return a, b


def psnr(a: np.ndarray, b: np.ndarray, data_range: float) -> float:
    """10 log10(data_range^2 / MSE) in dB over all pixels and channels; inf when a == b."""
    a, b = _pair(a, b)
    if not data_range > 0:
        raise ValueError(f"data_range must be > 0, got {data_range!r}")
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(data_range**2 / mse)


def gaussian_window(sigma: float = 1.5, truncate: float = 3.5) -> np.ndarray:
    """Normalised 1-D Gaussian taps, radius int(truncate*sigma + 0.5) (11 taps for sigma 1.5)."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def _filter_valid(img: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Separable filtering of [H, W, ...] keeping only the 'valid' region (no border handling)."""
    k = len(taps)
    h, w = img.shape[0] - k + 1, img.shape[1] - k + 1
    rows = sum(t * img[i:i + h] for i, t in enumerate(taps))
    return sum(t * rows[:, i:i + w] for i, t in enumerate(taps))


def ssim(a: np.ndarray, b: np.ndarray, data_range: float, sigma: float = 1.5) -> float:
    """Structural similarity (Wang et al. 2004): Gaussian window (sigma 1.5, 11x11), K1=0.01,
    K2=0.03, population statistics, averaged over the valid region and over channels.
    1.0 for identical images; matches skimage.metrics.structural_similarity(gaussian_weights=True,
    use_sample_covariance=False) away from the border (which skimage keeps out of the mean too)."""
    a, b = _pair(a, b)
    if not data_range > 0:
        raise ValueError(f"data_range must be > 0, got {data_range!r}")
    taps = gaussian_window(sigma)
    if min(a.shape[:2]) < len(taps):
        raise ValueError(f"SSIM needs images of at least {len(taps)}x{len(taps)} px, got {a.shape[:2]}")
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_a, mu_b = _filter_valid(a, taps), _filter_valid(b, taps)
    var_a = _filter_valid(a * a, taps) - mu_a**2
    var_b = _filter_valid(b * b, taps) - mu_b**2
    cov = _filter_valid(a * b, taps) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())


def laplacian_energy(img: np.ndarray) -> float:
    """Mean squared 5-point Laplacian of the channel mean (interior pixels): high-frequency energy."""
    img = np.asarray(img, dtype=np.float64)
    gray = img.mean(axis=2) if img.ndim == 3 else img
    lap = gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:] - 4 * gray[1:-1, 1:-1]
    return float(np.mean(lap**2))


def detail_ratio(restored: np.ndarray, clean: np.ndarray) -> float:
    """High-frequency energy of the restoration over that of the clean image (Laplacian energy):
    1.0 is right, < 1 is too smooth (blur, regression to the mean), > 1 is noise or artefacts."""
    restored, clean = _pair(restored, clean)
    reference = laplacian_energy(clean)
    if reference == 0.0:
        raise ValueError("the clean image has no high-frequency energy (it is flat): the detail ratio is undefined")
    return laplacian_energy(restored) / reference
