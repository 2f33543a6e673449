"""The offline corpus, the train/held-out split, synthetic pair sources and held-out pairs."""
import socket

import numpy as np
import pytest

from indi_edge.training.data import corpus, degrade, sources, tasks
from indi_edge.training.data.dead_leaves import dead_leaves


@pytest.fixture
def offline(monkeypatch):
    """No network: any connection attempt fails loudly, proxies point nowhere, caches are empty."""
    def refuse(*args, **kwargs):
        raise OSError("network access attempted during an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    corpus._load.cache_clear()
    yield
    corpus._load.cache_clear()


def check_rgb01(img):
    assert img.dtype == np.float32 and img.ndim == 3 and img.shape[2] == 3
    assert img.min() >= 0 and img.max() <= 1


def test_corpus_loads_offline_and_splits_are_disjoint(offline):
    with pytest.raises(OSError, match="offline"):
        socket.create_connection(("127.0.0.1", 80))  # the guard is active
    train, heldout = corpus.train_images(), corpus.heldout_images()
    assert len(train) == len(corpus.TRAIN_FILES) + corpus.DEAD_LEAVES
    assert len(heldout) == len(corpus.HELDOUT_FILES) == 7
    for _, img in train + heldout:
        check_rgb01(img)
        assert min(img.shape[:2]) >= 128
    train_names, heldout_names = {n for n, _ in train}, {n for n, _ in heldout}
    assert len(train_names) == len(train) and not train_names & heldout_names
    train_hashes = {corpus.image_hash(img) for _, img in train}
    heldout_hashes = {corpus.image_hash(img) for _, img in heldout}
    assert len(train_hashes) == len(train) and not train_hashes & heldout_hashes
    assert not {f[3] for f in corpus.TRAIN_FILES} & {f[3] for f in corpus.HELDOUT_FILES}


def test_grayscale_files_become_three_equal_channels():
    images = dict(corpus.train_images(dead_leaves_count=0))
    for name in ("camera", "moon", "aero", "ascent"):
        img = images[name]
        np.testing.assert_array_equal(img[..., 0], img[..., 1])
        np.testing.assert_array_equal(img[..., 0], img[..., 2])
    assert not np.array_equal(images["astronaut"][..., 0], images["astronaut"][..., 2])


def test_corpus_arrays_are_read_only():
    _, img = corpus.heldout_images()[0]
    with pytest.raises(ValueError):
        img[0, 0, 0] = 0.0


def test_missing_package_names_the_pip_package():
    with pytest.raises(FileNotFoundError, match="pip install not-a-package"):
        corpus.package_file("no_such_module_xyz", "not-a-package", "data/x.png")


def test_dead_leaves_is_seeded_and_varied():
    a = dead_leaves(np.random.default_rng(1), 96)
    b = dead_leaves(np.random.default_rng(1), 96)
    c = dead_leaves(np.random.default_rng(2), 96)
    check_rgb01(a)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert len(np.unique(a.reshape(-1, 3), axis=0)) > 50  # many disks of many colours


@pytest.mark.parametrize("task", sorted(tasks.TASKS))
def test_synthetic_pairs_shapes_ranges_and_determinism(task):
    source = tasks.SyntheticPairs(task)  # every task also has the per-sample source (--workers, custom code)
    x, y = source.sample(np.random.default_rng(7), 64)
    x2, y2 = source.sample(np.random.default_rng(7), 64)
    _, y3 = source.sample(np.random.default_rng(8), 64)
    for arr in (x, y):
        assert arr.shape == (64, 64, 3) and arr.dtype == np.float32
    assert x.min() >= -1 and x.max() <= 1
    if task != "denoise":  # denoise noise is unclipped by design
        assert y.min() >= -1 - 1e-6 and y.max() <= 1 + 1e-6
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(y, y3)
    assert not np.array_equal(x, y)


def test_synthetic_pairs_never_draw_from_the_heldout_split():
    source = tasks.SyntheticPairs("jpeg")
    heldout_hashes = {corpus.image_hash(img) for _, img in corpus.heldout_images()}
    assert not {corpus.image_hash(img) for _, img in source.images} & heldout_hashes
    assert not set(source.names) & {n for n, _ in corpus.heldout_images()}
    rng = np.random.default_rng(0)
    drawn = {source.draw(rng, 32).source for _ in range(200)}
    assert drawn <= set(source.names) and len(drawn) > 10


def test_blur_pairs_use_real_pixels_beyond_the_crop_border():
    source = tasks.SyntheticPairs("motion-deblur")
    pair = source.draw(np.random.default_rng(3), 96)
    k = pair.degradation.kernel
    assert k is not None and k.shape == (31, 31)
    x, y = (pair.x + 1) / 2, (pair.y + 1) / 2
    reblurred = degrade.blur(x, k)
    m = 15
    # Inside, y is exactly the blur of x; at the border it is not (y saw the real neighbours, not a reflection).
    np.testing.assert_allclose(y[m:-m, m:-m], reblurred[m:-m, m:-m], atol=1e-5)
    assert np.abs(y - reblurred)[:m].max() > 1e-3


def test_denoise_pairs_have_the_documented_noise_level():
    source = tasks.SyntheticPairs("denoise")
    x, y = source.sample(np.random.default_rng(0), 128)
    assert (y - x).std() == pytest.approx(2 * 25 / 255, rel=0.05)  # [-1, 1] units


def test_sr4_crop_must_be_a_multiple_of_4_and_custom_images_work():
    img = np.random.default_rng(0).random((100, 90, 3), dtype=np.float32)
    source = tasks.SyntheticPairs("sr4", images=[("noise", img)])
    x, y = source.sample(np.random.default_rng(0), 64)
    assert x.shape == y.shape == (64, 64, 3)
    with pytest.raises(ValueError, match="multiple of 4"):
        source.sample(np.random.default_rng(0), 62)
    with pytest.raises(ValueError, match="smaller crop"):
        source.sample(np.random.default_rng(0), 96)


def test_unknown_task_is_rejected():
    with pytest.raises(ValueError, match="unknown task"):
        sources.pair_source("inpaint")


@pytest.mark.parametrize("task", sorted(tasks.TASKS))
def test_heldout_pairs_are_fixed_and_documented(task):
    pairs = tasks.heldout_pairs(task, seed=0, size=64)
    again = tasks.heldout_pairs(task, seed=0, size=64, limit=3)
    assert [p.name for p in pairs] == [n for n, _ in corpus.heldout_images()]
    for p, q in zip(pairs, again):
        np.testing.assert_array_equal(p.degraded, q.degraded)  # limit does not change an image's degradation
    for p in pairs:
        assert p.clean.shape == p.degraded.shape == (64, 64, 3)
        assert p.clean.dtype == p.degraded.dtype == np.float32
        assert p.clean.min() >= -1 and p.clean.max() <= 1
        assert (p.kernel is not None) == (task in ("motion-deblur", "defocus"))
        assert p.description
    if task in ("motion-deblur", "denoise"):
        other_seed = tasks.heldout_pairs(task, seed=1, size=64, limit=1)[0]
        assert not np.array_equal(other_seed.degraded, pairs[0].degraded)


def test_heldout_size_must_be_a_multiple_of_16():
    with pytest.raises(ValueError, match="multiple of 16"):
        tasks.heldout_pairs("jpeg", size=100)


def test_training_loop_batches_come_from_the_synthetic_source():
    pytest.importorskip("torch")
    from indi_edge.training.train import TrainConfig, make_batch

    config = TrainConfig(batch=3, crop=32, task="sr4")
    batch = make_batch(sources.pair_source("sr4"), config, step=0)
    assert batch["x"].shape == batch["x_t"].shape == (3, 3, 32, 32)
    assert batch["x"].dtype == np.float32 and batch["t"].shape == (3,)
    assert batch["x"].min() >= -1 and batch["x"].max() <= 1


def test_video_split_is_real_footage_apart_from_both_other_splits():
    frames = corpus.video_frames()
    assert [name for name, _ in frames] == [f"{clip[0]}_{n:03d}" for clip in corpus.VIDEO_FILES for n in clip[4]]
    for _, img in frames:
        check_rgb01(img)
    assert {img.shape for _, img in frames} == {(272, 640, 3), (360, 640, 3)}  # bikes as is, bigbuckbunny halved
    hashes = {corpus.image_hash(img) for _, img in frames}
    others = {corpus.image_hash(img) for _, img in corpus.train_images() + corpus.heldout_images()}
    assert len(hashes) == len(frames) and not hashes & others
    pairs = tasks.heldout_pairs("motion-deblur", split="video", limit=2)  # the split's own crop size
    assert [p.clean.shape for p in pairs] == [(corpus.SPLIT_SIZES["video"],) * 2 + (3,)] * 2
    with pytest.raises(ValueError, match="too small"):
        tasks.heldout_pairs("motion-deblur", split="video", size=256, limit=1)
