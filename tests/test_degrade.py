"""Degradations: determinism per seed, kernel properties, shapes, dtypes and ranges."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from indi_edge.training.data import degrade


def image(seed=0, h=64, w=48):
    return np.random.default_rng(seed).random((h, w, 3), dtype=np.float32)


def centroid(kernel):
    ys, xs = np.mgrid[: kernel.shape[0], : kernel.shape[1]]
    return (kernel * xs).sum() / kernel.sum(), (kernel * ys).sum() / kernel.sum()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.sampled_from([9, 15, 31]))
def test_motion_kernel_is_a_centred_normalised_psf(seed, size):
    k = degrade.motion_blur_kernel(np.random.default_rng(seed), size)
    assert k.shape == (size, size) and k.dtype == np.float32
    assert k.min() >= 0
    assert k.sum() == pytest.approx(1.0, abs=1e-5)
    cx, cy = centroid(k)
    centre = (size - 1) / 2
    assert abs(cx - centre) < 0.01 and abs(cy - centre) < 0.01  # sub-pixel centring


def test_motion_kernel_deterministic_per_seed_and_differs_across_seeds():
    a = degrade.motion_blur_kernel(np.random.default_rng(3))
    b = degrade.motion_blur_kernel(np.random.default_rng(3))
    c = degrade.motion_blur_kernel(np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def support_extent(k, threshold=1e-6):
    ys, xs = np.nonzero(k > threshold)
    return max(np.ptp(xs), np.ptp(ys)) + 1


def test_motion_kernel_length_knob_sets_the_extent():
    rng = np.random.default_rng(0)
    small = degrade.motion_blur_kernel(rng, 31, length=3.0)
    large = degrade.motion_blur_kernel(rng, 31, length=25.0)
    assert support_extent(small) <= 3 + 2  # +1 bilinear spread on each side
    assert 20 <= support_extent(large) <= 27
    point = degrade.motion_blur_kernel(rng, 31, length=0.0)
    assert point[15, 15] == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [4, 1, 2.5, True])
def test_motion_kernel_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="odd integer"):
        degrade.motion_blur_kernel(np.random.default_rng(0), bad)


@pytest.mark.parametrize("radius", [0.0, 0.7, 1.5, 2.3, 4.0, 7.9])
def test_defocus_kernel_is_a_symmetric_normalised_disk(radius):
    k = degrade.defocus_kernel(radius)
    assert k.dtype == np.float32 and k.shape[0] == k.shape[1] and k.shape[0] % 2 == 1
    assert k.min() >= 0 and k.sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(k, k[::-1, :], atol=1e-7)
    np.testing.assert_allclose(k, k.T, atol=1e-7)
    c = k.shape[0] // 2
    assert k[c, c] == k.max()


def test_defocus_kernel_area_tracks_non_integer_radius():
    # Coverage of an unnormalised disk is its area: peak weight = 1 / (pi r^2) for interior pixels.
    for r in (2.3, 2.6, 5.5):
        k = degrade.defocus_kernel(r)
        assert 1.0 / k.max() == pytest.approx(np.pi * r * r, rel=0.01)
    assert not np.array_equal(degrade.defocus_kernel(2.3)[1:-1, 1:-1], degrade.defocus_kernel(2.6)[1:-1, 1:-1])


def test_blur_is_a_convolution_not_a_correlation():
    kernel = np.zeros((5, 5), np.float32)
    kernel[1, 3], kernel[2, 2] = 0.7, 0.3  # asymmetric
    impulse = np.zeros((21, 21, 3), np.float32)
    impulse[10, 10] = 1.0
    out = degrade.blur(impulse, kernel)
    np.testing.assert_allclose(out[8:13, 8:13, 0], kernel, atol=1e-6)  # the PSF appears as is


def test_blur_keeps_shape_dtype_range_and_constants():
    img = image()
    out = degrade.blur(img, degrade.defocus_kernel(3.0))
    assert out.shape == img.shape and out.dtype == np.float32
    assert out.min() >= -1e-6 and out.max() <= 1 + 1e-6
    flat = np.full((32, 32, 3), 0.4, np.float32)
    np.testing.assert_allclose(degrade.blur(flat, degrade.motion_blur_kernel(np.random.default_rng(1))), 0.4, atol=1e-5)


def test_jpeg_is_deterministic_quantised_and_better_at_higher_quality():
    img = image(1)
    a, b = degrade.jpeg(img, 20), degrade.jpeg(img, 20)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == img.shape
    assert a.min() >= 0 and a.max() <= 1
    np.testing.assert_allclose(a * 255, np.round(a * 255), atol=1e-4)  # 8-bit levels
    err = {q: np.mean((degrade.jpeg(img, q) - img) ** 2) for q in (10, 40, 95)}
    assert err[10] > err[40] > err[95]
    with pytest.raises(ValueError, match="quality"):
        degrade.jpeg(img, 0)


def test_sr4_input_antialiases_and_keeps_size():
    img = image(2, 64, 48)
    out = degrade.sr4_input(img)
    assert out.shape == img.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    checker = np.indices((64, 64)).sum(0) % 2
    checker = np.repeat(checker[:, :, None], 3, 2).astype(np.float32)
    # A 2-pixel period is above the low-resolution Nyquist limit: antialiasing removes it.
    np.testing.assert_allclose(degrade.sr4_input(checker)[8:-8, 8:-8], 0.5, atol=0.01)
    np.testing.assert_allclose(degrade.sr4_input(np.full((32, 32, 3), 0.3, np.float32)), 0.3, atol=1e-5)
    with pytest.raises(ValueError, match="multiples of 4"):
        degrade.sr4_input(image(0, 30, 32))


def test_downscale_matches_bicubic_resampling_of_a_linear_ramp():
    # Cubic interpolation is exact for linear functions: the mean over each 4x4 block centre.
    ramp = np.tile(np.arange(64, dtype=np.float32)[None, :, None], (64, 1, 1))
    small = degrade.downscale_bicubic(ramp, 4)
    np.testing.assert_allclose(small[4:-4, 4:-4, 0], (4 * np.arange(16) + 1.5)[4:-4][None, :].repeat(8, 0), atol=1e-4)


def test_gaussian_noise_statistics_determinism_and_no_clipping():
    img = np.zeros((128, 128, 3), np.float32)
    a = degrade.gaussian_noise(img, 0.1, np.random.default_rng(5))
    b = degrade.gaussian_noise(img, 0.1, np.random.default_rng(5))
    c = degrade.gaussian_noise(img, 0.1, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.float32
    assert a.std() == pytest.approx(0.1, rel=0.03) and abs(a.mean()) < 0.003
    assert a.min() < 0  # documented: not clipped


def test_compose_applies_in_order():
    img = image(3, 32, 32)
    out = degrade.compose(img, [lambda x: x * 0.5, lambda x: x + 0.25])
    np.testing.assert_allclose(out, img * 0.5 + 0.25)


@pytest.mark.parametrize("bad, error", [(np.zeros((8, 8)), ValueError), (np.zeros((8, 8, 3), np.uint8), TypeError),
                                        ([[0.0]], TypeError)])
def test_bad_images_are_rejected(bad, error):
    with pytest.raises(error):
        degrade.blur(bad, degrade.defocus_kernel(1.0))
