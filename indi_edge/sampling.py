"""InDI restoration (paper Algorithm 1) as small pure functions.

Every function here is arithmetic on arrays, so the same code runs on numpy arrays and on
torch tensors. Conventions: t=1 is the degraded input, t=0 the clean image; `model(x, t)`
returns the clean-image prediction x0 for a batch, with `t` a float array of shape [N].

    x_1     = y + eps * n
    x_{t-d} = (d/t) F(x_t, t) + (1 - d/t) x_t + (t-d) sqrt(eps_{t-d}^2 - eps_t^2) z    (eq. 10)
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterator

import numpy as np

SAMPLERS = ("indi", "naive", "cold")
EPS_SCHEDULES = ("constant", "brownian")

Model = Callable[[Any, Any], Any]


# --- schedules ---------------------------------------------------------------------------

def time_grid(steps: int) -> list[float]:
    """t = 1, 1-1/N, ..., 1/N (N values), computed as (N-k)/N so the last one is exact."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    return [(steps - k) / steps for k in range(steps)]


def eps_at(t: float, eps: float, schedule: str) -> float:
    """eps_t: constant eps, or the Brownian eps/sqrt(t) (paper section 4)."""
    if schedule == "constant":
        return eps
    if schedule == "brownian":
        return eps / math.sqrt(t)
    raise ValueError(f"eps_schedule must be one of {EPS_SCHEDULES}, got {schedule!r}")


def step_noise_std(t: float, d: float, eps: float, schedule: str) -> float:
    """(t-d) * sqrt(eps_{t-d}^2 - eps_t^2), the std of the noise added by one InDI step.

    Constant eps adds nothing after x_1. Brownian eps_t = eps/sqrt(t) gives
    eps * sqrt(d (t-d) / t), written so the last step (t = d) is exactly 0, never inf*0.
    """
    if eps == 0.0 or schedule == "constant":
        eps_at(t, eps, schedule)  # validates the schedule name
        return 0.0
    if schedule == "brownian":
        return eps * math.sqrt(max(d * (t - d) / t, 0.0))
    raise ValueError(f"eps_schedule must be one of {EPS_SCHEDULES}, got {schedule!r}")


# --- update rules, written as the paper's equations ---------------------------------------

def indi_step(x, x0, y, t: float, d: float):
    """Eq. 5: x_{t-d} = (d/t) F + (1 - d/t) x_t."""
    return (d / t) * x0 + (1.0 - d / t) * x


def naive_step(x, x0, y, t: float, d: float):
    """Eq. 11: x_{t-d} = (1 - t + d) F + (t - d) y."""
    return (1.0 - t + d) * x0 + (t - d) * y


def cold_step(x, x0, y, t: float, d: float):
    """Eq. 15 (Cold Diffusion's improved sampler): x_{t-d} = x_t + d (F - y)."""
    return x + d * (x0 - y)


STEP_RULES = {"indi": indi_step, "naive": naive_step, "cold": cold_step}


def apply_step(sampler: str, x, x0, y, t: float, d: float, noise_std: float = 0.0, z=None):
    """One update x_t -> x_{t-d} plus noise_std * z: the reference the native kernels
    (indi_edge.ops.update, same signature) reproduce bit for bit in fp32."""
    x_next = STEP_RULES[sampler](x, x0, y, t, d)
    return x_next + noise_std * z if noise_std > 0.0 else x_next


# --- array helpers that work for numpy and torch alike ------------------------------------

def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def batch_times(x, t: float):
    """A [N] float32 array of t on x's backend (and device)."""
    if _is_torch(x):
        return x.new_full((x.shape[0],), t, dtype=_torch().float32)
    return np.full((x.shape[0],), t, dtype=np.float32)


def normal_like(x, rng):
    """Standard normal noise of x's shape and dtype from the caller's generator.

    `rng` is a numpy Generator, a torch.Generator, or a callable `rng(x) -> noise`.
    """
    if rng is None:
        raise ValueError("eps > 0 needs a random generator: pass rng=np.random.default_rng(seed)")
    if hasattr(rng, "standard_normal"):  # numpy Generator
        z = rng.standard_normal(tuple(x.shape), dtype=np.float32)
        return _torch().from_numpy(z).to(device=x.device, dtype=x.dtype) if _is_torch(x) else z.astype(x.dtype, copy=False)
    if _is_torch(x) and type(rng).__module__.startswith("torch"):
        return _torch().randn(x.shape, generator=rng, device=x.device, dtype=x.dtype)
    if callable(rng):
        return rng(x)
    raise TypeError(f"rng must be a numpy Generator, a torch.Generator or a callable, got {type(rng).__name__}")


def _torch():
    import torch  # only reached when the caller already works with torch tensors

    return torch


# --- the loop -----------------------------------------------------------------------------

def _check(sampler: str, eps: float) -> None:
    if sampler not in STEP_RULES:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")


def iterate(model: Model, y, steps: int, *, sampler: str = "indi", eps: float = 0.0,
            eps_schedule: str = "constant", rng=None, update=apply_step) -> Iterator[tuple[float, Any]]:
    """Yield (t, x_t) from (1, x_1) down to (0, x_0): the restoration path.

    `update` has apply_step's signature; the runtime passes the fused native kernel.
    """
    grid = time_grid(steps)
    _check(sampler, eps)
    d = 1.0 / steps
    x = y + eps_at(1.0, eps, eps_schedule) * normal_like(y, rng) if eps > 0 else y
    y_start = x  # naive and cold samplers anchor on the (noised) observation
    yield 1.0, x
    for t in grid:
        x0 = model(x, batch_times(x, t))
        # Only InDI (eq. 10) carries the per-step noise; naive and cold anchor on y instead.
        std = step_noise_std(t, d, eps, eps_schedule) if sampler == "indi" else 0.0
        x = update(sampler, x, x0, y_start, t, d, std, normal_like(x, rng) if std > 0.0 else None)
        yield t - d, x


def run(model: Model, y, steps: int, *, sampler: str = "indi", eps: float = 0.0,
        eps_schedule: str = "constant", rng=None, update=apply_step):
    """Restore a batch y ([N, ...], values in [-1, 1]) in `steps` InDI steps; returns x_0."""
    x = y
    for _, x in iterate(model, y, steps, sampler=sampler, eps=eps, eps_schedule=eps_schedule,
                        rng=rng, update=update):
        pass
    return x
