"""The whole N-step InDI loop as one torch module, for a one-launch-per-frame graph (export --unroll).

The math is sampling.run itself, traced on torch tensors: the schedule, sampler and eps are
baked in, and the noise the loop draws comes in as an explicit input so runs are reproducible.
"""
from __future__ import annotations

import numpy as np
import torch

from indi_edge import sampling


def noise_draws(steps: int, sampler: str, eps: float, eps_schedule: str) -> int:
    """How many noise fields sampling.run draws for these settings (x_1's, then each noisy step)."""
    count = 0

    def counting_rng(x):
        nonlocal count
        count += 1
        return np.zeros_like(x)

    sampling.run(lambda x, t: x, np.zeros((1, 1), np.float32), steps, sampler=sampler, eps=eps,
                 eps_schedule=eps_schedule, rng=counting_rng)
    return count


class UnrolledInDI(torch.nn.Module):
    """forward(x [N, 3, H, W], noise [K, N, 3, H, W] when K > 0) -> x_0 after `steps` InDI steps."""

    def __init__(self, model: torch.nn.Module, steps: int, sampler: str = "indi", eps: float = 0.0,
                 eps_schedule: str = "constant"):
        super().__init__()
        self.model = model
        self.steps, self.sampler, self.eps, self.eps_schedule = steps, sampler, eps, eps_schedule
        self.draws = noise_draws(steps, sampler, eps, eps_schedule)

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        fields = iter(noise.unbind(0) if noise is not None else ())
        return sampling.run(self.model, x, self.steps, sampler=self.sampler, eps=self.eps,
                            eps_schedule=self.eps_schedule, rng=lambda like: next(fields))
