"""Check an exported artifact against the torch model on a real held-out image.

A step graph is compared on F(x, t) at t = 1 and t = 0.5 (a batch of two, so the dynamic batch
is exercised too); an unrolled graph on the whole loop with the same noise fed to both sides.

FP16: ONNX Runtime on CPU has few fp16 kernels and runs most fp16 nodes in fp32 behind Casts (it
then removes Cast pairs), so the artifact check alone under-reports what fp16 compute on a GPU
costs. half_precision() measures that on the same image with the network run in torch fp16.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from indi_edge.model_info import ModelInfo

FP32_MAX_ABS = 1e-3   # ONNX Runtime / AOTInductor match torch to ~1e-6 in fp32
FP16_MIN_PSNR = 40.0  # below this an fp16 export is visibly worse than fp32: warn loudly
BROKEN_PSNR = 20.0    # below this the artifact is wrong, whatever its precision


@dataclasses.dataclass(frozen=True)
class Validation:
    artifact: str
    image: str
    shape: tuple[int, ...]
    max_abs: float
    psnr: float  # dB, on the models' [-1, 1] range (peak-to-peak 2)

    def summary(self) -> str:
        return (f"validated {self.artifact} against torch on held-out image {self.image!r} {list(self.shape)}: "
                f"max |diff| = {self.max_abs:.3g}, PSNR = {self.psnr:.1f} dB")


def real_image(size: int, multiple: int) -> tuple[str, np.ndarray]:
    """(name, [1, 3, S, S] float32 RGB in [-1, 1]): the centre crop of the first held-out image."""
    from indi_edge.training.data import corpus

    name, img = corpus.heldout_images()[0]
    s = max(multiple, min(size, img.shape[0], img.shape[1]) // multiple * multiple)
    top, left = (img.shape[0] - s) // 2, (img.shape[1] - s) // 2
    crop = img[top:top + s, left:left + s]
    return name, np.ascontiguousarray(crop.transpose(2, 0, 1)[None] * 2.0 - 1.0, dtype=np.float32)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    from indi_edge import metrics

    return metrics.psnr(a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1]), data_range=2.0)


def validate(artifact: str | Path, model, info: ModelInfo, *, size: int = 128, seed: int = 0,
             label: str | None = None) -> Validation:
    """Run `artifact` (.onnx or .pt2) and the torch `model` on the same real image and compare.
    label: the name to report (default the file name)."""
    import torch

    from indi_edge import sampling
    from indi_edge.backends import open_backend

    # trust: the exporter validates the package it has just written itself
    backend = open_backend(Path(artifact), providers=["CPUExecutionProvider"], trust=True)
    name, y = real_image(size, info.multiple)
    model = model.float().eval()
    if info.unrolled_steps > 0:
        y = y.repeat(2, axis=0)
        draws: list[np.ndarray] = []
        rng = np.random.default_rng(seed)

        def numpy_rng(like):  # records the draws so torch gets the very same ones
            draws.append(rng.standard_normal(like.shape, dtype=np.float32))
            return draws[-1]

        got = backend.restore(y, info.unrolled_steps, sampler=info.sampler, eps=info.eps,
                              eps_schedule=info.eps_schedule, rng=numpy_rng)
        replay = iter(draws)
        with torch.no_grad():
            want = sampling.run(model, torch.from_numpy(y), info.unrolled_steps, sampler=info.sampler,
                                eps=info.eps, eps_schedule=info.eps_schedule,
                                rng=lambda like: torch.from_numpy(next(replay))).numpy()
    else:
        y = y.repeat(2, axis=0)
        t = np.array([1.0, 0.5], dtype=np.float32)
        got = backend(y, t)
        with torch.no_grad():
            want = model(torch.from_numpy(y), torch.from_numpy(t)).numpy()
    max_abs = float(np.max(np.abs(got.astype(np.float64) - want))) if np.isfinite(got).all() else math.inf
    return Validation(label or Path(artifact).name, name, tuple(y.shape), max_abs,
                      psnr(got, want) if math.isfinite(max_abs) else -math.inf)


def half_precision(model, info: ModelInfo, *, size: int = 128) -> Validation:
    """F(x, t) computed in fp16 (torch, weights and activations) against fp32, on a real image:
    the precision an FP16 engine has, whatever the runtime here does with fp16 graphs."""
    import copy

    import torch

    name, y = real_image(size, info.multiple)
    x = torch.from_numpy(y.repeat(2, axis=0))
    t = torch.tensor([1.0, 0.5])
    with torch.no_grad():
        want = model.float().eval()(x, t).numpy()
        got = copy.deepcopy(model).half()(x.half(), t).float().numpy()
    max_abs = float(np.max(np.abs(got.astype(np.float64) - want))) if np.isfinite(got).all() else math.inf
    return Validation("the network in torch fp16", name, tuple(x.shape), max_abs,
                      psnr(got, want) if math.isfinite(max_abs) else -math.inf)
