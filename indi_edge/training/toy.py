"""The 2-D toy of the paper's Fig. 1 (section 4): a closed-form InDI model, no training.

p(x) is a mixture of deltas at centers c_i with weights w_i, and y = H x + n, n ~ N(0, sigma^2 I).
On the path x_t = (1-t) x + t y we have x_t = H_t x + t n with H_t = (1-t) I + t H and
sigma_t = t sigma, so the posterior mean is a softmax over the modes:

    E[x | x_t] = sum_i c_i softmax_i( log w_i - |x_t - H_t c_i|^2 / (2 sigma_t^2) )

`ToyProblem.posterior_mean(x_t, t)` has the model signature of indi_edge.sampling, so the toy is
restored by sampling.run / sampling.iterate themselves: it checks the sampler exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# sigma_t is floored here so 1/(2 sigma_t^2) stays finite (~5e299): below it the softmax is already
# a hard argmax, and t = 0 (sigma_t = 0) gives the nearest mode instead of 0/0.
_MIN_SIGMA_T = 1e-150


@dataclass
class ToyProblem:
    """A mixture of deltas observed through y = H x + N(0, sigma^2 I).

    centers: [d, 2] mode positions; weights: [d] positive, summing to 1; H: [2, 2]; sigma >= 0.
    Arrays are stored as float64.
    """

    centers: np.ndarray
    weights: np.ndarray
    H: np.ndarray
    sigma: float

    def __post_init__(self) -> None:
        self.centers = np.asarray(self.centers, dtype=np.float64)
        self.weights = np.asarray(self.weights, dtype=np.float64)
        self.H = np.asarray(self.H, dtype=np.float64)
        if self.centers.ndim != 2 or self.centers.shape[1] != 2 or len(self.centers) == 0:
            raise ValueError(f"centers must have shape [d, 2] with d >= 1, got {self.centers.shape}")
        if self.weights.shape != (len(self.centers),):
            raise ValueError(f"weights must have shape [{len(self.centers)}] (one per center), got {self.weights.shape}")
        if not (np.all(self.weights > 0) and abs(self.weights.sum() - 1.0) < 1e-9):
            raise ValueError(f"weights must be positive and sum to 1, got {self.weights.tolist()}")
        if self.H.shape != (2, 2):
            raise ValueError(f"H must have shape [2, 2], got {self.H.shape}")
        if not all(np.all(np.isfinite(a)) for a in (self.centers, self.H)):
            raise ValueError("centers and H must be finite")
        if not (np.isfinite(self.sigma) and self.sigma >= 0):
            raise ValueError(f"sigma must be a finite number >= 0, got {self.sigma!r}")
        self.sigma = float(self.sigma)

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """n pairs: clean x [n, 2] (each a center) and observed y = H x + sigma n [n, 2], float64."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        x = self.centers[rng.choice(len(self.centers), size=n, p=self.weights)]
        y = x @ self.H.T + self.sigma * rng.standard_normal((n, 2))
        return x, y

    def posterior_mean(self, x_t, t) -> np.ndarray:
        """E[x | x_t] for x_t [N, 2] at times t ([N], or a scalar for all) in [0, 1].

        Returns [N, 2] in x_t's float dtype (float64 for integer input). Finite for any finite
        x_t, down to t = 0 where it is the nearest mode (ties averaged by weight).
        """
        x_t = np.asarray(x_t)
        if x_t.ndim != 2 or x_t.shape[1] != 2:
            raise ValueError(f"x_t must have shape [N, 2], got {x_t.shape}")
        if not np.all(np.isfinite(x_t)):
            raise ValueError("x_t must be finite")
        t = np.asarray(t, dtype=np.float64)
        if t.ndim == 0:
            t = np.full(len(x_t), float(t))
        if t.shape != (len(x_t),):
            raise ValueError(f"t must be a scalar or have shape [{len(x_t)}], got {t.shape}")
        if not np.all((t >= 0) & (t <= 1)):
            raise ValueError("t must lie in [0, 1]")

        H_t = (1.0 - t)[:, None, None] * np.eye(2) + t[:, None, None] * self.H  # [N, 2, 2]
        projected = np.einsum("nab,db->nda", H_t, self.centers)                  # H_t c_i: [N, d, 2]
        # -|x_t - H_t c_i|^2 / 2 up to a per-row constant, written linearly in x_t so |x_t|^2 never
        # overflows or cancels; shifting by the row max leaves the likeliest mode at exactly 0.
        energy = np.einsum("na,nda->nd", x_t.astype(np.float64), projected) - 0.5 * np.sum(projected**2, axis=-1)
        energy -= energy.max(axis=1, keepdims=True)
        sigma_t = np.maximum(t * self.sigma, _MIN_SIGMA_T)
        with np.errstate(over="ignore"):  # far modes going to -inf is the hard-argmax limit
            logits = np.log(self.weights) + energy / (sigma_t**2)[:, None]
        logits -= logits.max(axis=1, keepdims=True)
        posterior = np.exp(logits)
        posterior /= posterior.sum(axis=1, keepdims=True)
        out_dtype = x_t.dtype if np.issubdtype(x_t.dtype, np.floating) else np.float64
        return (posterior @ self.centers).astype(out_dtype, copy=False)


def square_modes(half_side: float = 1.0) -> np.ndarray:
    """The 4 corners (+-half_side, +-half_side) of a square: [4, 2] float64."""
    s = half_side
    return np.array([[s, s], [-s, s], [-s, -s], [s, -s]], dtype=np.float64)


def denoising_problem() -> ToyProblem:
    """Fig. 1(a): strong Gaussian noise (sigma = 1, half the mode spacing), H = I."""
    return ToyProblem(square_modes(), np.full(4, 0.25), np.eye(2), sigma=1.0)


def missing_information_problem() -> ToyProblem:
    """Fig. 1(b): the second coordinate is dropped, H = [[1, 0], [0, 0]], moderate noise sigma = 0.3."""
    return ToyProblem(square_modes(), np.full(4, 0.25), np.array([[1.0, 0.0], [0.0, 0.0]]), sigma=0.3)


def distance_to_nearest_mode(problem: ToyProblem, x) -> np.ndarray:
    """Euclidean distance from each point of x [N, 2] to its nearest center: [N] float64."""
    x = np.asarray(x, dtype=np.float64)
    return np.min(np.linalg.norm(x[:, None, :] - problem.centers[None], axis=-1), axis=1)
