"""Synthetic degradations: camera-shake and defocus kernels, blur, JPEG, 4x SR input, Gaussian noise.

Images in this module are float32 [H, W, 3] RGB in [0, 1] (not the models' [-1, 1]): JPEG and the
8-bit codecs work in that range. Every random function takes an explicit np.random.Generator, so
a degradation is reproducible from its seed. Kernels are float32 [k, k], odd k, non-negative,
summing to 1, centred on the middle pixel, and applied as a true convolution (not correlation).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import cv2
import numpy as np

Image = np.ndarray  # float32 [H, W, 3] RGB in [0, 1]


def check_image(img: np.ndarray) -> np.ndarray:
    """`img` as float32 [H, W, 3]; raises TypeError/ValueError for anything else."""
    if not isinstance(img, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(img).__name__}")
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image must be [H, W, 3] RGB, got shape {img.shape}")
    if not np.issubdtype(img.dtype, np.floating):
        raise TypeError(f"image must be float in [0, 1], got {img.dtype}")
    return img.astype(np.float32, copy=False)


def _check_kernel(kernel: np.ndarray) -> np.ndarray:
    if not isinstance(kernel, np.ndarray) or kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1] \
            or kernel.shape[0] % 2 == 0:
        raise ValueError(f"kernel must be a square [k, k] array with odd k, got {getattr(kernel, 'shape', kernel)}")
    return kernel.astype(np.float32, copy=False)


# --- kernels --------------------------------------------------------------------------------

def shake_trajectories(rng: np.random.Generator, count: int, points: int = 2000,
                       path_length: float = 60.0) -> np.ndarray:
    """`count` camera-shake paths at once: complex positions [count, points] in pixels, constant
    speed, total length `path_length`.

    Random-walk model of Boracchi & Foi (2012), also used by DeblurGAN: the velocity keeps its
    speed, is jittered by Gaussian acceleration, pulled back towards the start (centripetal term:
    hands correct drift) and now and then turned around by an abrupt shake. `anxiety` (drawn
    log-uniformly) sets how much the direction wanders: low values give nearly straight strokes,
    high ones curls. The walk is sequential in time, so it runs vectorised over the paths
    (a batch of 32 costs about what one did). count=1 draws exactly what shake_trajectory draws.
    """
    shape = (count, points)
    anxiety = np.exp(rng.uniform(math.log(2e-4), math.log(5e-3), count))
    centripetal = 0.7 * rng.random(count)
    jitter = 10.0 * rng.random(count)
    shake_prob = 0.2 * rng.random(count)
    acc = jitter[:, None] * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
    shakes = rng.random(shape) < (shake_prob * anxiety)[:, None]
    shake_turn = np.exp(1j * (math.pi + rng.random(shape) - 0.5))
    speed = path_length / (points - 1)
    v = np.exp(1j * 2.0 * math.pi * rng.random(count)) * speed
    # Time-major copies: each step reads and writes one contiguous row.
    acc, shakes, shake_turn = acc.T.copy(), shakes.T.copy(), shake_turn.T.copy()
    shaking = shakes.any(axis=1)  # shakes are rare: most steps skip that term
    path = np.zeros((points, count), dtype=np.complex128)
    for i in range(points - 1):
        dv = anxiety * (acc[i] - centripetal * path[i]) * speed
        if shaking[i]:
            dv = np.where(shakes[i], dv + 2.0 * v * shake_turn[i], dv)
        v = v + dv
        v = v / np.abs(v) * speed
        np.add(path[i], v, out=path[i + 1])
    return path.T


def shake_trajectory(rng: np.random.Generator, points: int = 2000, path_length: float = 60.0) -> np.ndarray:
    """One camera-shake path: complex positions [points] (see shake_trajectories)."""
    return shake_trajectories(rng, 1, points, path_length)[0]


def splat_bilinear(xs: np.ndarray, ys: np.ndarray, size: int) -> np.ndarray:
    """Sub-pixel rasterisation: each point (x, y) in pixel units spreads unit mass over its
    4 neighbouring pixels with bilinear weights. xs, ys [..., points] -> float64 [..., size, size]
    (one image per leading index). Keeps the mass centroid exactly at the points' mean. Points
    must lie in [0, size-1]."""
    lead = xs.shape[:-1]
    batch = np.broadcast_to(np.arange(int(np.prod(lead))).reshape(lead + (1,)), xs.shape)
    x0, y0 = np.floor(xs).astype(np.int64), np.floor(ys).astype(np.int64)
    fx, fy = xs - x0, ys - y0
    x1, y1 = np.minimum(x0 + 1, size - 1), np.minimum(y0 + 1, size - 1)
    out = np.zeros((int(np.prod(lead)), size, size), dtype=np.float64)
    np.add.at(out, (batch, y0, x0), (1 - fx) * (1 - fy))
    np.add.at(out, (batch, y0, x1), fx * (1 - fy))
    np.add.at(out, (batch, y1, x0), (1 - fx) * fy)
    np.add.at(out, (batch, y1, x1), fx * fy)
    return out.reshape(lead + (size, size))


def _check_kernel_size(size) -> None:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 3 or size % 2 == 0:
        raise ValueError(f"size must be an odd integer >= 3, got {size!r}")


def motion_blur_kernels(rng: np.random.Generator, lengths: np.ndarray, size: int = 31) -> np.ndarray:
    """One camera-shake kernel per entry of `lengths` (trajectory extent in pixels, >= 0; 0 gives
    the identity): float32 [len(lengths), size, size], each >= 0, summing to 1, centroid at the
    centre. A random shake trajectory is scaled so that its larger bounding-box side is the
    length (shrunk further if needed to fit), centred on its mean position (the kernel's
    centroid, so blurring shifts no content) and splatted bilinearly."""
    _check_kernel_size(size)
    lengths = np.asarray(lengths, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(lengths) & (lengths >= 0)):
        raise ValueError(f"lengths must be finite numbers >= 0 (pixels), got {lengths!r}")
    path = shake_trajectories(rng, len(lengths))
    path = path - path.mean(axis=1, keepdims=True)
    extent = np.maximum(np.ptp(path.real, axis=1), np.ptp(path.imag, axis=1))
    centre = (size - 1) / 2
    # 1 px of margin keeps every splat inside the kernel, so no mass (and no centroid) is lost.
    reach = np.maximum(np.abs(path.real).max(axis=1), np.abs(path.imag).max(axis=1))
    scale = np.minimum(lengths / extent, (centre - 1) / reach)[:, None]
    kernels = splat_bilinear(centre + scale * path.real, centre + scale * path.imag, size)
    return (kernels / kernels.sum(axis=(1, 2), keepdims=True)).astype(np.float32)


def motion_blur_kernel(rng: np.random.Generator, size: int = 31, length: float | None = None,
                       min_length: float = 3.0) -> np.ndarray:
    """One camera-shake blur kernel: float32 [size, size] (see motion_blur_kernels). `length`
    is drawn uniformly in [min_length, size-3] when None: small kernels as likely as large ones."""
    _check_kernel_size(size)
    if length is None:
        length = rng.uniform(min(min_length, size - 3), size - 3)
    if not (math.isfinite(length) and length >= 0):
        raise ValueError(f"length must be a finite number >= 0 (pixels), got {length!r}")
    return motion_blur_kernels(rng, np.array([length]), size)[0]


def defocus_kernel(radius: float, supersample: int = 16) -> np.ndarray:
    """Anti-aliased disk (out-of-focus blur) of any radius in pixels: float32 [k, k] with
    k = 2*ceil(radius)+1, each pixel weighted by the fraction of it the disk covers (measured
    on a supersample x supersample grid), normalised to sum 1. radius 0 gives the identity."""
    if not (isinstance(radius, (int, float, np.floating)) and math.isfinite(radius) and radius >= 0):
        raise ValueError(f"radius must be a finite number >= 0 (pixels), got {radius!r}")
    half = math.ceil(radius)
    offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
    coords = (np.arange(-half, half + 1)[:, None] + offsets[None, :]).ravel()
    inside = (coords[:, None] ** 2 + coords[None, :] ** 2) <= radius**2
    k = 2 * half + 1
    coverage = inside.reshape(k, supersample, k, supersample).mean(axis=(1, 3))
    if coverage.sum() == 0:  # radius smaller than one sub-sample: the identity
        coverage[half, half] = 1.0
    return (coverage / coverage.sum()).astype(np.float32)


# --- degradations ---------------------------------------------------------------------------

def blur(img: Image, kernel: np.ndarray) -> Image:
    """Convolution with `kernel` (odd square), reflect border: float32 [H, W, 3], not clipped
    (a non-negative kernel summing to 1 keeps [0, 1] anyway)."""
    img, kernel = check_image(img), _check_kernel(kernel)
    # filter2D correlates; flipping the kernel makes it the convolution the deconvolution baselines assume.
    return cv2.filter2D(img, -1, np.ascontiguousarray(kernel[::-1, ::-1]), borderType=cv2.BORDER_REFLECT)


def to_uint8(img: Image) -> np.ndarray:
    """[0, 1] float -> uint8 [0, 255], clipped and rounded."""
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


def jpeg(img: Image, quality: int) -> Image:
    """JPEG round trip through OpenCV (libjpeg, 4:2:0 chroma) at `quality` in [1, 100]:
    quantised to 8 bits (so clipped to [0, 1]) and returned as float32 [H, W, 3] in [0, 1]."""
    img = check_image(img)
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be an integer in [1, 100], got {quality!r}")
    bgr = cv2.cvtColor(to_uint8(img), cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("OpenCV could not JPEG-encode the image")
    decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB).astype(np.float32) / np.float32(255.0)


def cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    """Keys cubic convolution kernel (a = -0.5, as MATLAB imresize)."""
    x = np.abs(x)
    return np.where(x <= 1, (a + 2) * x**3 - (a + 3) * x**2 + 1,
                    np.where(x < 2, a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a, 0.0))


def downscale_bicubic(img: np.ndarray, factor: int = 4) -> np.ndarray:
    """Antialiased bicubic downscaling by an even integer factor, as MATLAB imresize (the DIV2K
    LR protocol): the cubic kernel stretched by `factor`, symmetric border. [H, W, C] with H, W
    multiples of factor -> float32 [H/factor, W/factor, C], not clipped."""
    if factor < 2 or factor % 2:
        raise ValueError(f"factor must be an even integer >= 2, got {factor!r}")
    # Output pixel j is centred at input coordinate factor*j + (factor-1)/2; with an integer factor
    # every output pixel sees the same 4*factor taps, at input pixels factor*j - 3*factor/2 + m.
    taps = 4 * factor
    weights = cubic((np.arange(taps) - (taps - 1) / 2) / factor)
    weights = (weights / weights.sum()).astype(np.float32)
    pad = 2 * factor
    out = img.astype(np.float32)
    for axis in (0, 1):
        n = out.shape[axis] // factor
        widths = [(0, 0)] * out.ndim
        widths[axis] = (pad, pad)
        padded = np.pad(out, widths, mode="symmetric")
        start = pad - 3 * factor // 2
        acc = np.zeros_like(np.take(padded, np.arange(n), axis=axis))
        for m, w in enumerate(weights):
            acc += w * np.take(padded, start + m + factor * np.arange(n), axis=axis)
        out = acc
    return out


def sr4_input(img: Image) -> Image:
    """4x super-resolution input (paper appendix B): antialiased bicubic 4x down (clipped to
    [0, 1], as the saved low-resolution image would be), then bilinear up to the original size.
    H and W must be multiples of 4; returns float32 [H, W, 3] in [0, 1]."""
    img = check_image(img)
    h, w = img.shape[:2]
    if h % 4 or w % 4:
        raise ValueError(f"sr4 needs H and W multiples of 4, got {h}x{w}")
    small = np.clip(downscale_bicubic(img, 4), 0.0, 1.0)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def gaussian_noise(img: Image, sigma: float, rng: np.random.Generator) -> Image:
    """img + sigma * N(0, 1) per pixel and channel: float32 [H, W, 3], NOT clipped (values may
    leave [0, 1]), as in the usual additive white Gaussian noise benchmarks."""
    img = check_image(img)
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    return img + np.float32(sigma) * rng.standard_normal(img.shape, dtype=np.float32)


def compose(img: Image, fns: Sequence[Callable[[Image], Image]]) -> Image:
    """Apply degradations in order: compose(img, [f, g]) = g(f(img))."""
    for fn in fns:
        img = fn(img)
    return img
