"""Batch-at-once motion-deblur pairs: FFT blur equals degrade.blur, batches are a pure function of
(seed, step), identity kernels leave sharp samples unchanged, the dead-leaves pool resumes exactly."""
import dataclasses

import numpy as np
import pytest
import torch

from indi_edge.training.data import batch_ops, corpus, degrade
from indi_edge.training.data.dead_leaves import DeadLeavesPool
from indi_edge.training.data.motion_batches import MotionDeblurBatches
from indi_edge.training.data.pairs import BatchSource
from indi_edge.training.data.tasks import SyntheticPairs


@pytest.fixture(scope="module")
def source():
    return MotionDeblurBatches("cpu", pool_slots=4, pool_size=96)


@pytest.mark.parametrize("shape", [(70, 70), (64, 90), (79, 81)])
def test_fft_blur_is_the_true_convolution_in_the_inner_part(shape):
    rng = np.random.default_rng(1)
    img = rng.random((*shape, 3)).astype(np.float32)
    kernels = degrade.motion_blur_kernels(rng, np.array([5.0, 20.0]), 31)
    windows = torch.from_numpy(np.stack([img, img[::-1].copy()]).transpose(0, 3, 1, 2).copy())
    out = batch_ops.blur_valid(windows, torch.from_numpy(kernels)).numpy().transpose(0, 2, 3, 1)
    assert out.shape == (2, shape[0] - 30, shape[1] - 30, 3)
    for i, source in enumerate((img, img[::-1].copy())):
        expected = degrade.blur(source, kernels[i])[15:-15, 15:-15]
        np.testing.assert_allclose(out[i], expected, atol=1e-5)


def test_fft_size_is_smooth_and_not_smaller():
    for n in (1, 7, 79, 158, 161, 1000):
        m = batch_ops.fft_size(n)
        r = m
        for p in (2, 3, 5):
            while r % p == 0:
                r //= p
        assert m >= n and r == 1 and m < 2 * n + 2


def test_batches_are_a_pure_function_of_seed_and_step(source):
    assert isinstance(source, BatchSource)
    x, y = source.batch(0, 5, 6, 32)
    assert x.shape == y.shape == (6, 3, 32, 32) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1 and y.min() >= -1 - 1e-5 and y.max() <= 1 + 1e-5
    fresh = MotionDeblurBatches("cpu", pool_slots=4, pool_size=96)
    x2, y2 = fresh.batch(0, 5, 6, 32)  # a resumed run: a new source asked for the same step
    assert torch.equal(x, x2) and torch.equal(y, y2)
    x3, _ = source.batch(0, 6, 6, 32)
    assert not torch.equal(x, x3)


def test_identity_kernels_keep_sharp_samples_and_others_blur():
    sharp_only = MotionDeblurBatches("cpu", sharp_share=1.0, pool_slots=2, pool_size=96)
    x, y = sharp_only.batch(0, 1, 4, 32)
    torch.testing.assert_close(x, y, atol=1e-5, rtol=0)
    blurred = MotionDeblurBatches("cpu", sharp_share=0.0, length=(10.0, 20.0), pool_slots=2, pool_size=96)
    x, y = blurred.batch(0, 1, 4, 32)
    assert ((x - y).abs().mean(dim=(1, 2, 3)) > 1e-3).all()


def test_dead_leaves_pool_after_steps_equals_a_fresh_pool_at_that_step():
    stepped = DeadLeavesPool(seed=3, slots=4, size=32)
    for step in range(1, 8):
        images = stepped.at(step)
    jumped = DeadLeavesPool(seed=3, slots=4, size=32).at(7)
    assert all(np.array_equal(a, b) for a, b in zip(images, jumped))
    assert not np.array_equal(images[0], images[1])


def test_batched_kernels_match_single_kernels_and_sum_to_one():
    lengths = np.array([0.0, 3.0, 27.0])
    kernels = degrade.motion_blur_kernels(np.random.default_rng(2), lengths, 31)
    assert kernels.shape == (3, 31, 31)
    np.testing.assert_allclose(kernels.sum(axis=(1, 2)), 1.0, atol=1e-5)
    assert kernels[0][15, 15] == pytest.approx(1.0)  # extent 0: the identity
    single = degrade.motion_blur_kernels(np.random.default_rng(2), lengths[:1], 31)
    np.testing.assert_array_equal(single[0], degrade.motion_blur_kernel(np.random.default_rng(2), 31, length=0.0))


def test_striped_share_zero_is_the_plain_dead_leaves_image():
    from indi_edge.training.data.dead_leaves import dead_leaves

    plain = dead_leaves(np.random.default_rng(4), 96)
    np.testing.assert_array_equal(dead_leaves(np.random.default_rng(4), 96, striped_share=0.0), plain)
    striped = dead_leaves(np.random.default_rng(4), 96, striped_share=1.0)
    assert striped.shape == plain.shape and striped.dtype == np.float32
    assert 0.0 <= striped.min() and striped.max() <= 1.0
    np.testing.assert_array_equal(dead_leaves(np.random.default_rng(4), 96, striped_share=1.0), striped)
    assert not np.array_equal(striped, plain)


def test_a_striped_disk_holds_its_grating_period():
    """A lone large striped disk: the dominant frequency inside it is the grating's."""
    from indi_edge.training.data.dead_leaves import Grating, striped_disk

    canvas = np.zeros((128, 128, 3), np.uint8)
    grating = Grating(colour=np.array([255, 255, 255], np.float32), period=8.0, angle=0.0, phase=0.0, hardness=1.0)
    striped_disk(canvas, 64.0, 64.0, 60.0, np.zeros(3, np.float32), grating)
    row = canvas[64, 24:104, 0].astype(np.float64)  # angle 0: stripes vary along x
    spectrum = np.abs(np.fft.rfft(row - row.mean()))
    assert np.argmax(spectrum) == round(len(row) / 8.0)
    assert canvas[0, 0].max() == 0  # outside the disk nothing is painted


def test_motion_batches_use_striped_leaves_by_default(source):
    assert source.striped_share > 0 and source.leaves_pool(0).striped_share == source.striped_share
    with pytest.raises(ValueError, match="striped_share"):
        MotionDeblurBatches("cpu", striped_share=1.5)


def test_dead_leaves_share_reaches_the_motion_deblur_source_only():
    from indi_edge.training.data.sources import pair_source

    assert pair_source("motion-deblur", "cpu", dead_leaves_share=0.6).dead_leaves_share == 0.6
    assert pair_source("motion-deblur", "cpu", dead_leaves_share=None).dead_leaves_share == 0.3
    with pytest.raises(ValueError, match="--dead-leaves-share applies to --task motion-deblur only"):
        pair_source("denoise", "cpu", dead_leaves_share=0.5)
    with pytest.raises(ValueError, match="--channel-shuffle applies to --task motion-deblur only"):
        pair_source("jpeg", "cpu", photo_scales=(1.0, 0.5), channel_shuffle=True)
    shrunk = pair_source("denoise", "cpu", photo_scales=(1.0, 0.5))
    assert len(shrunk.images) > len(corpus.train_images()) and "astronaut@0.5" in shrunk.names
    assert sum(name.startswith("dead_leaves") for name in shrunk.names) == corpus.DEAD_LEAVES
    with pytest.raises(ValueError, match="--soft-radii applies to"):
        pair_source("sr4", "cpu", soft_radii=(2.0,))
    assert len(pair_source("motion-deblur", "cpu", soft_radii=(3.0,)).photos) == 2 * len(corpus.TRAIN_FILES)
    assert isinstance(pair_source("jpeg", "cpu", dead_leaves_share=None, channel_shuffle=None), SyntheticPairs)


def test_shrunk_photo_copies_add_windows_and_drop_the_small_ones():
    plain = MotionDeblurBatches("cpu", pool_slots=2, pool_size=96)
    pyramid = MotionDeblurBatches("cpu", pool_slots=2, pool_size=96, photo_scales=(1.0, 0.5, 0.1))
    assert len(plain.photos) < len(pyramid.photos) < 3 * len(plain.photos)  # 0.1x copies are all under 96 px
    assert all(min(shape) >= 96 for shape in pyramid.photo_shapes)
    np.testing.assert_array_equal(plain.palette, pyramid.palette)  # colours from the photos as they are
    x, y = pyramid.batch(0, 3, 8, 32)
    assert x.shape == y.shape == (8, 3, 32, 32)
    for bad in ((), (1.0, 1.5), (0.0,)):
        with pytest.raises(ValueError, match="photo_scales"):
            MotionDeblurBatches("cpu", photo_scales=bad)


def test_a_crop_larger_than_some_photos_draws_only_the_photos_it_fits():
    source = MotionDeblurBatches("cpu", pool_slots=2, pool_size=512)
    sides = sorted(min(shape) for shape in source.photo_shapes)
    window = sides[len(sides) // 2]  # half the photos are smaller than this window
    crop = window - 2 * source.task.margin
    plan = source.plan(0, 1, 64, crop)
    drawn = {source.photo_shapes[s] for s in plan.sources if s >= 0}
    assert drawn and all(min(shape) >= window for shape in drawn)
    x, _ = source.realise(plan)
    assert x.shape == (64, 3, crop, crop)
    photos_only = MotionDeblurBatches("cpu", pool_slots=2, pool_size=sides[-1] + 1, dead_leaves_share=0.0)
    with pytest.raises(ValueError, match="no training photo"):
        photos_only.plan(0, 1, 8, sides[-1] + 1 - 2 * source.task.margin)


def test_channel_shuffle_permutes_both_images_alike():
    plain = MotionDeblurBatches("cpu", pool_slots=2, pool_size=96)
    shuffled = MotionDeblurBatches("cpu", pool_slots=2, pool_size=96, channel_shuffle=True)
    plan = shuffled.plan(0, 4, 8, 32)
    assert plan.channels is not None and plain.plan(0, 4, 8, 32).channels is None
    assert any(list(order) != [0, 1, 2] for order in plan.channels)
    x_plain, y_plain = plain.realise(dataclasses.replace(plan, channels=None))
    x, y = shuffled.realise(plan)
    for i, order in enumerate(plan.channels):
        torch.testing.assert_close(x[i], x_plain[i][order], atol=0, rtol=0)
        torch.testing.assert_close(y[i], y_plain[i][order], atol=0, rtol=0)


def test_defocused_photo_copies_are_soft_targets_of_each_photo():
    plain = MotionDeblurBatches("cpu", pool_slots=2, pool_size=96)
    soft = MotionDeblurBatches("cpu", pool_slots=2, pool_size=96, soft_radii=(2.0, 5.0))
    n = len(plain.photos)
    assert len(soft.photos) == 2 * n and soft.photo_shapes == plain.photo_shapes * 2
    for i in (0, 1):  # copy i is photo i under a lens disk of radius 2, then 5: detail falls with the radius
        sharp, blurred = plain.photos[i], soft.photos[n + i]
        expected = degrade.blur(sharp.permute(1, 2, 0).numpy(), degrade.defocus_kernel((2.0, 5.0)[i]))
        np.testing.assert_allclose(blurred.permute(1, 2, 0).numpy(), expected, atol=1e-6)
    detail = [float(img.diff(dim=2).abs().mean()) for img in (plain.photos[0], soft.photos[n])]
    assert detail[1] < 0.8 * detail[0]
    x, y = soft.batch(0, 3, 8, 32)
    assert x.shape == y.shape == (8, 3, 32, 32)
    for bad in ((0.0,), (2.0, 20.0)):
        with pytest.raises(ValueError, match="soft_radii"):
            MotionDeblurBatches("cpu", soft_radii=bad)


def test_soft_leaves_are_the_same_disks_before_a_defocused_background():
    plain, soft = DeadLeavesPool(0, 4, 96), DeadLeavesPool(0, 4, 96, defocus_share=1.0)
    np.testing.assert_array_equal(plain.render(5), DeadLeavesPool(0, 4, 96, defocus_share=0.0).render(5))
    a, b = plain.render(5), soft.render(5)
    assert not np.array_equal(a, b)
    detail = [float(np.abs(np.diff(img, axis=1)).mean()) for img in (a, b)]
    assert detail[1] < detail[0]  # the background lost its edges; the disks painted after the focus kept theirs
    source = MotionDeblurBatches("cpu", pool_slots=2, pool_size=96, soft_leaves_share=0.5)
    assert source.leaves_pool(0).defocus_share == 0.5
    with pytest.raises(ValueError, match="soft_leaves_share"):
        MotionDeblurBatches("cpu", soft_leaves_share=2.0)


def test_soft_leaves_radii_set_how_far_the_background_is_defocused():
    source = MotionDeblurBatches("cpu", pool_slots=2, pool_size=96, soft_leaves_share=1.0, soft_leaves_radii=(16.0, 20.0))
    assert source.leaves_pool(0).defocus_radii == (16.0, 20.0)
    mild_source = MotionDeblurBatches("cpu", pool_slots=2, pool_size=96, soft_leaves_share=1.0, soft_leaves_radii=(2.0, 2.0))
    mild, strong = mild_source.leaves_pool(0).render(5), source.leaves_pool(0).render(5)  # the same disks, another lens
    detail = [float(np.abs(np.diff(img, axis=1)).mean()) for img in (mild, strong)]
    assert detail[1] < detail[0]
    for bad in ((0.0, 4.0), (8.0, 4.0), (2.0, 30.0), (4.0,)):
        with pytest.raises(ValueError, match="soft_leaves_radii"):
            MotionDeblurBatches("cpu", soft_leaves_radii=bad)
