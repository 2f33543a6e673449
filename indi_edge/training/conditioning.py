"""What every network F(x_t, t) shares: the t embedding and the check of its inputs (needs torch)."""
from __future__ import annotations

import math

import torch
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of t in [0, 1], computed in fp32 whatever the model dtype."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = (t.float() * 1000.0)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def check_input(x: torch.Tensor, t: torch.Tensor, in_channels: int, multiple: int, levels: int) -> None:
    """A clear error for x that is not [N, in_channels, H, W] with H, W multiples of `multiple`, or t not [N]."""
    if x.dim() != 4 or x.shape[1] != in_channels:
        raise ValueError(f"x must be [N, {in_channels}, H, W], got {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if h % multiple or w % multiple:
        raise ValueError(
            f"H and W must be multiples of {multiple} for this {levels}-level U-Net, "
            f"got {h}x{w}; pad the input (reflect) to {-(-h // multiple) * multiple}x{-(-w // multiple) * multiple}")
    if t.dim() != 1 or t.shape[0] != x.shape[0]:
        raise ValueError(f"t must be [N] = [{x.shape[0]}], got {tuple(t.shape)}")


class TimeConditioned(nn.Module):
    """What both U-Nets share around their bodies: the size multiple and input check of their config,
    and the t embedding through their `time_mlp`, in the dtype of x (bf16 under autocast)."""

    config: object       # UNetConfig or NAFConfig: multiple, in_channels, multipliers, channels
    time_mlp: nn.Module

    @property
    def multiple(self) -> int:
        return self.config.multiple

    def check_input(self, x: torch.Tensor, t: torch.Tensor) -> None:
        check_input(x, t, self.config.in_channels, self.multiple, len(self.config.multipliers))

    def embed_time(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Checks the inputs (outside compilation), then the t embedding for F(x, t)."""
        if not torch.compiler.is_compiling():
            self.check_input(x, t)
        return self.time_mlp(timestep_embedding(t, self.config.channels).to(x.dtype))
