"""p(t), the training distribution of t (paper section 6.3, Figure 10a). numpy only."""
from __future__ import annotations

import numpy as np

P_T = ("linear_0", "linear_a", "bias_t1", "bias_t0", "bias_t0_t1")


def sample_t(kind: str, rng: np.random.Generator, n: int, a: float = 0.5) -> np.ndarray:
    """n draws of t in [0, 1] as float32.

    linear_0: U[0,1]; linear_a: (1-a) U[0,1] + a delta_1; bias_t1: sin(s pi/2);
    bias_t0: sin((s-1) pi/2) + 1; bias_t0_t1: sin(s pi/2)^2, with s ~ U[0,1].
    """
    s = rng.random(n)
    if kind == "linear_0":
        t = s
    elif kind == "linear_a":
        if not 0.0 <= a <= 1.0:
            raise ValueError(f"linear_a needs 0 <= a <= 1, got a={a}")
        t = np.where(rng.random(n) < a, 1.0, s)
    elif kind == "bias_t1":
        t = np.sin(s * np.pi / 2)
    elif kind == "bias_t0":
        t = np.sin((s - 1) * np.pi / 2) + 1
    elif kind == "bias_t0_t1":
        t = np.sin(s * np.pi / 2) ** 2
    else:
        raise ValueError(f"p(t) must be one of {P_T}, got {kind!r}")
    return t.astype(np.float32)
