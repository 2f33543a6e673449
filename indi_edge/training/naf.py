"""A NAFNet-style t-conditioned U-Net F(x_t, t) -> x0: normalised blocks that take a useful learning rate.

The block follows NAFNet (Chen et al. 2022, `NAFNet_arch.py`): LayerNorm over channels, a 1x1
expansion, a 3x3 convolution, SimpleGate (the product of the two channel halves), simplified channel
attention (global mean -> 1x1 -> per-channel scale), a 1x1 projection, and a gated feed-forward half;
each half is added back through a learned per-channel factor that starts at zero, so every block
starts as the identity and a deep net trains from the first step. t enters through FiLM on the
normalised features (scale and shift from the t embedding, zero at the start).

Two flavours of the 3x3 convolution (NAFConfig.dense):
- depthwise (NAFNet's own): few multiply-adds, but memory-bound on CPUs;
- dense: one full 3x3 convolution c -> 2c in place of the 1x1 expansion and the depthwise 3x3;
  more multiply-adds, which CPUs (oneDNN, AMX) and TensorRT run far better per operation.

As in edge-s, a pixel-unshuffle stem works at half size. The LayerNorm keeps its statistics in fp32
(the mean of squares of activations in the hundreds overflows fp16); its graph nodes are named so
the FP16 export keeps them fp32 (export/fp16.py).

Needs torch; `import indi_edge` does not import this module.
"""
from __future__ import annotations

import dataclasses
import json

import torch
import torch.nn.functional as F
from torch import nn

from indi_edge.training.conditioning import TimeConditioned

ARCH = "naf"


@dataclasses.dataclass(frozen=True)
class NAFConfig:
    width: int = 16                            # channels at the first level
    multipliers: tuple[int, ...] = (1, 2, 4, 8)  # channels per level = width * multiplier; the last is the middle
    enc_blocks: tuple[int, ...] = (1, 1, 1)    # blocks per level on the way down (one entry per level but the last)
    middle_blocks: int = 1                     # blocks at the lowest resolution
    dec_blocks: tuple[int, ...] = (1, 1, 1)    # blocks per level on the way up (same order as enc_blocks)
    dense: bool = False                        # dense 3x3 (c -> 2c) in place of 1x1 + depthwise 3x3
    stem: int = 2                              # pixel-unshuffle factor at the input
    in_channels: int = 3
    time_dim_mult: int = 4                     # width of the t embedding MLP = width * this

    def __post_init__(self):
        levels = len(self.multipliers) - 1
        if len(self.enc_blocks) != levels or len(self.dec_blocks) != levels:
            raise ValueError(f"enc_blocks and dec_blocks need one entry per level but the last ({levels}), "
                             f"got {self.enc_blocks} and {self.dec_blocks}")

    @property
    def multiple(self) -> int:
        return self.stem * 2 ** (len(self.multipliers) - 1)

    @property
    def channels(self) -> int:  # the name edge-s's config uses for the first level's width
        return self.width

    def to_json(self) -> str:
        return json.dumps({"arch": ARCH, **dataclasses.asdict(self)})

    @staticmethod
    def from_json(text: str) -> "NAFConfig":
        raw = json.loads(text)
        raw.pop("arch", None)
        for key in ("multipliers", "enc_blocks", "dec_blocks"):
            raw[key] = tuple(raw[key])
        return NAFConfig(**raw)


class ChannelNorm(nn.Module):
    """LayerNorm over the channels of NCHW features, statistics in fp32, no affine (FiLM follows)."""

    def __init__(self, eps: float = 1e-6):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        mean = xf.mean(1, keepdim=True)
        centred = xf - mean
        variance = (centred * centred).mean(1, keepdim=True)
        return (centred * torch.rsqrt(variance + self.eps)).to(x.dtype)


class FiLM(nn.Module):
    """h * (1 + scale(t)) + shift(t), per channel; starts as the identity."""

    def __init__(self, t_dim: int, c: int):
        super().__init__()
        self.proj = nn.Linear(t_dim, 2 * c)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, h: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.proj(temb)[:, :, None, None].chunk(2, dim=1)
        return h * (1.0 + scale) + shift


def simple_gate(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=1)
    return a * b


class NAFBlock(nn.Module):
    """x + beta * mix(norm(x)), then + gamma * ffn(norm(.)); beta and gamma start at zero."""

    def __init__(self, c: int, t_dim: int, dense: bool):
        super().__init__()
        self.norm1, self.film1 = ChannelNorm(), FiLM(t_dim, c)
        if dense:
            self.spatial = nn.Conv2d(c, 2 * c, 3, padding=1)
        else:
            self.spatial = nn.Sequential(nn.Conv2d(c, 2 * c, 1), nn.Conv2d(2 * c, 2 * c, 3, padding=1, groups=2 * c))
        self.attention = nn.Conv2d(c, c, 1)      # simplified channel attention on the global mean
        self.project = nn.Conv2d(c, c, 1)
        self.norm2, self.film2 = ChannelNorm(), FiLM(t_dim, c)
        self.expand = nn.Conv2d(c, 2 * c, 1)
        self.shrink = nn.Conv2d(c, c, 1)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = simple_gate(self.spatial(self.film1(self.norm1(x), temb)))
        h = self.project(h * self.attention(h.mean((2, 3), keepdim=True)))
        y = x + h * self.beta
        h = self.shrink(simple_gate(self.expand(self.film2(self.norm2(y), temb))))
        return y + h * self.gamma


class Blocks(nn.Module):
    def __init__(self, count: int, c: int, t_dim: int, dense: bool):
        super().__init__()
        self.blocks = nn.ModuleList([NAFBlock(c, t_dim, dense) for _ in range(count)])

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, temb)
        return x


class NAFUNet(TimeConditioned):
    """F(x_t, t): x [N, 3, H, W] in [-1, 1], t [N] float -> x0 [N, 3, H, W] (global residual)."""

    def __init__(self, config: NAFConfig = NAFConfig()):
        super().__init__()
        self.config = config
        width, t_dim = config.width, config.width * config.time_dim_mult
        widths = [width * m for m in config.multipliers]
        self.time_mlp = nn.Sequential(nn.Linear(width, t_dim), nn.SiLU(), nn.Linear(t_dim, t_dim))
        c_io = config.in_channels * config.stem**2
        self.intro = nn.Conv2d(c_io, widths[0], 3, padding=1)
        self.encoders = nn.ModuleList([Blocks(n, c, t_dim, config.dense) for n, c in zip(config.enc_blocks, widths)])
        self.downs = nn.ModuleList([nn.Conv2d(c, c_next, 2, stride=2) for c, c_next in zip(widths, widths[1:])])
        self.middle = Blocks(config.middle_blocks, widths[-1], t_dim, config.dense)
        self.ups = nn.ModuleList([nn.Sequential(nn.Conv2d(c_next, 4 * c, 1), nn.PixelShuffle(2))
                                  for c, c_next in zip(widths, widths[1:])])
        self.decoders = nn.ModuleList([Blocks(n, c, t_dim, config.dense) for n, c in zip(config.dec_blocks, widths)])
        self.ending = nn.Conv2d(widths[0], c_io, 3, padding=1)
        nn.init.zeros_(self.ending.weight)  # starts as x0 = x_t: the identity, like edge-s
        nn.init.zeros_(self.ending.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb = self.embed_time(x, t)
        s = self.config.stem
        h = self.intro(F.pixel_unshuffle(x, s) if s > 1 else x)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            h = encoder(h, temb)
            skips.append(h)
            h = down(h)
        h = self.middle(h, temb)
        for decoder, up in zip(reversed(self.decoders), reversed(self.ups)):
            h = decoder(up(h) + skips.pop(), temb)
        out = self.ending(h)
        return x + (F.pixel_shuffle(out, s) if s > 1 else out)
