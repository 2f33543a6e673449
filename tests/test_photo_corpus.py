"""The Debian photo corpus: read from a cache of tiny stand-in files (never the download), clear errors."""
import cv2
import numpy as np
import pytest

from indi_edge.training.data import photo_corpus


@pytest.fixture
def tiny_cache(tmp_path, monkeypatch):
    """A cache laid out as fetch() writes it, with small real JPEGs in place of the photographs."""
    rng = np.random.default_rng(0)
    for package, path in photo_corpus.PHOTOS:
        target = photo_corpus.cached_path(tmp_path, package, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target), rng.integers(0, 256, (200, 240, 3), dtype=np.uint8))
    monkeypatch.setenv(photo_corpus.CACHE_ENV, str(tmp_path))
    return tmp_path


def test_the_list_is_the_22_photographs_with_unique_names():
    names = [photo_corpus.photo_name(pkg, path) for pkg, path in photo_corpus.PHOTOS]
    assert len(names) == 22 and len(set(names)) == 22
    assert sum(pkg == "mate-backgrounds" for pkg, _ in photo_corpus.PHOTOS) == 12
    assert "BytheWater" in names and "Aqua" in names


def test_read_photos_from_the_cache(tiny_cache):
    photos = photo_corpus.read_photos()
    assert len(photos) == 22
    name, img = photos[0]
    assert name.startswith("debian_") and img.shape == (200, 240, 3) and img.dtype == np.float32
    assert 0.0 <= img.min() and img.max() <= 1.0


def test_missing_corpus_names_the_fetch_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="indi-edge fetch-photos"):
        photo_corpus.read_photos(tmp_path)


def test_fetch_without_apt_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get, no dpkg
    with pytest.raises(RuntimeError, match="needs apt-get"):
        photo_corpus.fetch(tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_motion_batches_draw_from_the_debian_photos(tiny_cache):
    torch = pytest.importorskip("torch")
    from indi_edge.training.data.motion_batches import MotionDeblurBatches

    plain = MotionDeblurBatches("cpu", dead_leaves_share=0.0)
    more = MotionDeblurBatches("cpu", dead_leaves_share=0.0, debian_photos=True)
    assert len(more.photos) == len(plain.photos) + 22
    x, y = more.batch(seed=0, step=1, size=4, crop=64)
    assert x.shape == (4, 3, 64, 64) and torch.isfinite(y).all()


def test_the_other_tasks_draw_from_the_debian_photos_too(tiny_cache):
    from indi_edge.training.data.sources import pair_source

    pairs = pair_source("denoise", "cpu", debian_photos=True, photo_scales=(1.0, 0.5))
    names = pairs.names
    assert sum(name.startswith("debian_") and "@" not in name for name in names) == len(photo_corpus.PHOTOS)
    assert any(name.startswith("debian_") and name.endswith("@0.5") for name in names)
    assert any(name.startswith("dead_leaves") for name in names)
