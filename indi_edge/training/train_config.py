"""The settings of a training run (torch-free, so the CLI can show defaults without importing torch)."""
from __future__ import annotations

import dataclasses
import math

from indi_edge.sampling import EPS_SCHEDULES
from indi_edge.training.timesampling import P_T

AMP = ("off", "bf16", "fp16")
LR_SCHEDULES = ("constant", "cosine")
MOMENTS = ("fp32", "bf16")


@dataclasses.dataclass
class TrainConfig:
    preset: str = "edge-s"
    steps: int = 1000
    batch: int = 16
    crop: int = 128
    lr: float = 1e-4
    ema_decay: float = 0.999
    loss: str = "l1"                 # l1 (the paper's p=1), l2, or psnr (per-sample log MSE: losses.py)
    no_harm: float = 0.0             # weight of the per-sample "no worse than the input" hinge (losses.py)
    p_t: str = "bias_t1"             # see indi_edge.training.timesampling.P_T
    p_t_a: float = 0.5               # a of linear_a
    eps: float = 0.0                 # noise on y, in [-1, 1] units
    eps_schedule: str = "constant"
    seed: int = 0
    task: str = "custom"
    default_steps: int = 4           # InDI steps a Restorer uses by default
    save_every: int = 500
    amp: str = "off"                 # mixed precision: off, bf16 (CPU AMX/AVX512-BF16, Ampere+), fp16 (CUDA)
    grad_clip: float = 0.0           # clip the gradients' global norm to this (0: off)
    lr_schedule: str = "constant"    # cosine: from lr down to lr/100 at the last of `steps`
    warmup: int = 0                  # steps of linear learning-rate warm-up from 0
    moments: str = "fp32"            # Adam's moments in the checkpoint: fp32 (exact resume) or bf16 (see checkpoint.py)

    def validate(self) -> None:
        if self.loss not in ("l1", "l2", "psnr"):
            raise ValueError(f"loss must be l1, l2 or psnr, got {self.loss!r}")
        if self.p_t not in P_T:
            raise ValueError(f"p_t must be one of {P_T}, got {self.p_t!r}")
        if self.amp not in AMP:
            raise ValueError(f"amp must be one of {AMP}, got {self.amp!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if not self.no_harm >= 0.0:
            raise ValueError(f"no_harm must be >= 0 (0: off), got {self.no_harm}")
        if self.moments not in MOMENTS:
            raise ValueError(f"moments must be one of {MOMENTS}, got {self.moments!r}")
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup}")
        if self.eps_schedule not in EPS_SCHEDULES:
            raise ValueError(f"eps_schedule must be one of {EPS_SCHEDULES}, got {self.eps_schedule!r}")
        for name in ("steps", "batch", "crop", "save_every", "default_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.grad_clip >= 0.0:
            raise ValueError(f"grad_clip must be >= 0 (0: off), got {self.grad_clip}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")


def learning_rate(config: TrainConfig, step: int) -> float:
    """The learning rate of 1-based `step`: linear warm-up, then constant or cosine decay to lr/100.

    Warm-up keeps the first Adam steps (whose moment estimates are still noisy) small; a decay to
    the end of `steps` lets a long fine-tune settle instead of ending on the noise of a fixed lr.
    """
    if step <= config.warmup:
        return config.lr * step / config.warmup
    if config.lr_schedule == "constant":
        return config.lr
    progress = min(1.0, (step - config.warmup) / max(1, config.steps - config.warmup))
    floor = config.lr / 100
    return floor + (config.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
