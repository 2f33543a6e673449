"""The InDI loop as a fixed plan, for backends that run it on a GPU and capture it once as a
CUDA graph (TensorRT, torch CUDA): every t, d, noise std and noise draw is known before the
first step, so the same sequence of kernels can be replayed frame after frame.

run_plan() executes a plan with any model and any update that has indi_edge.ops.update's
signature; on numpy arrays with ops.update it reproduces sampling.run bit for bit (tested), and
the GPU backends call it with their device buffers and the fused CUDA update.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from indi_edge import sampling


@dataclasses.dataclass(frozen=True)
class Step:
    index: int          # 0 .. steps-1
    t: float            # x_t -> x_{t-d}
    d: float
    noise_std: float    # std of the noise this step adds (0: none)
    draw: int           # which noise draw it adds (-1: none)


@dataclasses.dataclass(frozen=True)
class LoopPlan:
    sampler: str
    start_std: float            # x_1 = y + start_std * draw 0 (0: x_1 = y, no draw)
    steps: tuple[Step, ...]
    draws: int                  # standard-normal draws of the frame's shape the loop consumes

    @property
    def needs_anchor(self) -> bool:
        """naive and cold anchor every step on x_1: it needs a buffer of its own."""
        return self.sampler != "indi"


def plan_loop(steps: int, sampler: str, eps: float, eps_schedule: str) -> LoopPlan:
    """The plan sampling.iterate follows, draws numbered in the order it makes them."""
    grid = sampling.time_grid(steps)
    if sampler not in sampling.SAMPLERS:
        raise ValueError(f"sampler must be one of {sampling.SAMPLERS}, got {sampler!r}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    d = 1.0 / steps
    start_std = sampling.eps_at(1.0, eps, eps_schedule) if eps > 0 else 0.0
    draws = 1 if eps > 0 else 0
    plan = []
    for index, t in enumerate(grid):
        std = sampling.step_noise_std(t, d, eps, eps_schedule) if sampler == "indi" else 0.0
        plan.append(Step(index, t, d, std, draws if std > 0 else -1))
        draws += std > 0
    return LoopPlan(sampler, start_std, tuple(plan), draws)


def draw_noise(y: np.ndarray, rng, draws: int) -> np.ndarray:
    """[draws, *y.shape] float32 standard-normal draws from rng (see sampling.normal_like), in order."""
    if draws == 0:
        return np.zeros((0, *y.shape), np.float32)
    return np.stack([np.asarray(sampling.normal_like(y, rng), dtype=np.float32) for _ in range(draws)])


def run_plan(plan: LoopPlan, model, update, y, x, anchor, noise):
    """Run the loop into the state buffer x and return it (x_0).

    model(x, step) -> x0 like x; update: indi_edge.ops.update's signature, writing `out`;
    y: the observation; anchor: a buffer like y for x_1 when plan.needs_anchor, else None;
    noise(k) -> draw k like y. The start x_1 = y + start_std * z is one "indi" update with t=1,
    d=0 (0 * y + 1 * y + std * z), so it is exact and runs as the same kernel.
    """
    if plan.needs_anchor and anchor is None:
        raise ValueError(f"the {plan.sampler!r} sampler needs an anchor buffer for x_1")
    first = anchor if plan.needs_anchor else x
    update("indi", y, y, None, 1.0, 0.0, plan.start_std, noise(0) if plan.start_std > 0 else None, out=first)
    if plan.needs_anchor:
        update("indi", anchor, anchor, None, 1.0, 0.0, 0.0, None, out=x)  # x = x_1, kept apart from it
    for step in plan.steps:
        x0 = model(x, step)
        z = noise(step.draw) if step.draw >= 0 else None
        update(plan.sampler, x, x0, anchor, step.t, step.d, step.noise_std, z, out=x)
    return x


def check_finite(x: np.ndarray, source: str, remedy: str) -> np.ndarray:
    """x unchanged, or RuntimeError when it holds NaN or Inf: the usual sign of fp16 overflow.

    The GPU backends call it on every float output they return (every frame); the Restorer checks
    every frame of every backend on its own as well (with fp16_fallback where a backend has one)."""
    finite = np.isfinite(x)
    if finite.all():
        return x
    nan = int(np.isnan(x).sum())
    inf = int(x.size - finite.sum()) - nan
    frames = ""
    if x.ndim == 4 and x.shape[0] > 1:  # every frame of a batch is checked: say which ones failed
        bad = np.flatnonzero(~finite.reshape(x.shape[0], -1).all(axis=1))
        frames = f" (frames {[int(j) for j in bad]} of {x.shape[0]})"
    raise RuntimeError(f"{source} produced {nan} NaN and {inf} Inf values in its output of {x.size}{frames}: the "
                       f"likely cause is fp16 overflow inside the network (activations beyond 65504). "
                       f"Remedy: {remedy}")
