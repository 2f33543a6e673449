"""PSNR, SSIM and the detail ratio: reference values and properties."""
import math

import numpy as np
import pytest

from indi_edge import metrics
from indi_edge.training.data import degrade


def natural(seed=0, size=96):
    """A smooth-ish test image with edges: blurred noise plus a bright square, [0, 1]."""
    rng = np.random.default_rng(seed)
    img = degrade.blur(rng.random((size, size, 3), dtype=np.float32), degrade.defocus_kernel(1.5))
    img[size // 4: size // 2, size // 4: size // 2] = 0.9
    return img


def test_psnr_identical_is_infinite_and_known_error_gives_known_value():
    a = natural()
    assert metrics.psnr(a, a, 1.0) == math.inf
    b = a + 0.1
    assert metrics.psnr(a, b, 1.0) == pytest.approx(20.0, abs=1e-4)  # 10 log10(1 / 0.01)
    assert metrics.psnr(a * 2 - 1, b * 2 - 1, 2.0) == pytest.approx(20.0, abs=1e-4)  # scale-free
    noise = np.random.default_rng(0).standard_normal(a.shape) * 0.05
    assert metrics.psnr(a, a + noise, 1.0) == pytest.approx(-10 * math.log10(0.05**2), abs=0.1)


def test_ssim_is_one_for_identical_images_and_falls_with_noise():
    a = natural()
    assert metrics.ssim(a, a, 1.0) == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    scores = [metrics.ssim(a, a + s * rng.standard_normal(a.shape), 1.0) for s in (0.01, 0.05, 0.2)]
    assert 1.0 > scores[0] > scores[1] > scores[2]
    b = a[::-1].copy()
    assert metrics.ssim(a, b, 1.0) == pytest.approx(metrics.ssim(b, a, 1.0))  # symmetric


def test_ssim_matches_scikit_image_gaussian_ssim():
    structural_similarity = pytest.importorskip("skimage.metrics").structural_similarity
    a = natural(2)
    b = np.clip(a + 0.1 * np.random.default_rng(2).standard_normal(a.shape), 0, 1)
    ref = structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False, channel_axis=2)
    assert metrics.ssim(a, b, 1.0) == pytest.approx(ref, abs=1e-5)


def test_detail_ratio_is_one_for_clean_below_for_blur_above_for_noise():
    a = natural(3)
    assert metrics.detail_ratio(a, a) == pytest.approx(1.0)
    blurred = degrade.blur(a, degrade.defocus_kernel(3.0))
    noisy = a + 0.1 * np.random.default_rng(3).standard_normal(a.shape).astype(np.float32)
    assert metrics.detail_ratio(blurred, a) < 0.5
    assert metrics.detail_ratio(noisy, a) > 1.5
    assert metrics.detail_ratio(a + 0.3, a) == pytest.approx(1.0)  # a brightness shift adds no detail


def test_bad_inputs_are_rejected():
    a = natural()
    with pytest.raises(ValueError, match="same shape"):
        metrics.psnr(a, a[:-1], 1.0)
    with pytest.raises(ValueError, match="data_range"):
        metrics.psnr(a, a, 0.0)
    with pytest.raises(ValueError, match="at least"):
        metrics.ssim(a[:5, :5], a[:5, :5], 1.0)
    flat = np.zeros((16, 16, 3))
    with pytest.raises(ValueError, match="flat"):
        metrics.detail_ratio(flat, flat)
