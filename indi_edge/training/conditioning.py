"""What every network F(x_t, t) shares: the t embedding and the check of its inputs (needs torch)."""
from __future__ import annotations

import math

import torch


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
