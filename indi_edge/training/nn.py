"""The t-conditioned, fully convolutional U-Net F(x_t, t) -> x0 (paper appendix B).

SR3/DvSR-style U-Net with the self-attention and GroupNorm removed, as the paper does, so it
runs at any size that is a multiple of 2**(levels-1) and has no variance sums to overflow in
FP16. The network predicts x0 through a global residual: x0 = x_t + body(x_t, t).

Needs torch; `import indi_edge` does not import this module.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from indi_edge.atomic import atomic_write
from indi_edge.training import naf
from indi_edge.training.conditioning import TimeConditioned
from indi_edge.training.naf import NAFConfig, NAFUNet


@dataclasses.dataclass(frozen=True)
class UNetConfig:
    channels: int = 32                     # base channel count
    multipliers: tuple[int, ...] = (1, 2, 4)  # channels per level = channels * multiplier
    res_blocks: int = 2                    # residual blocks per level on the way down
    in_channels: int = 3
    time_dim_mult: int = 4                 # width of the t embedding MLP = channels * this
    stem: int = 1                          # pixel-unshuffle factor at the input (2 = work at half size)
    mid_blocks: int = 2                    # residual blocks at the lowest resolution
    # Extra (c -> c) residual blocks per level on the way up, after that level's usual blocks:
    # depth at the 1/8 and 1/16 levels costs few multiply-adds per output pixel but widens the
    # receptive field that large blurs need. They start as the identity, so a network grown this
    # way can start from a trained smaller one (load_grown).
    extra_up: tuple[int, ...] = ()

    @property
    def multiple(self) -> int:
        """H and W must be a multiple of this (one 2x downsampling between levels)."""
        return self.stem * 2 ** (len(self.multipliers) - 1)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @staticmethod
    def from_json(text: str) -> "UNetConfig":
        raw = json.loads(text)
        raw["multipliers"] = tuple(raw["multipliers"])
        raw["extra_up"] = tuple(raw.get("extra_up", ()))
        return UNetConfig(**raw)


# Presets: the paper's Table 2 networks and two sized for video on Jetson Orin.
PRESETS: dict[str, UNetConfig] = {
    "paper-motion": UNetConfig(64, (1, 2, 3, 4), res_blocks=3),
    "paper-defocus": UNetConfig(64, (1, 2, 4, 4), res_blocks=3),
    "paper-jpeg": UNetConfig(64, (1, 2, 4, 4), res_blocks=3),
    "paper-sr4": UNetConfig(96, (1, 2, 3, 4), res_blocks=3),
    # Edge presets work at half size behind a pixel-unshuffle stem: 4x fewer multiply-adds.
    "edge-s": UNetConfig(16, (1, 2, 3, 4), res_blocks=1, stem=2),
    "edge-m": UNetConfig(32, (1, 2, 3, 4), res_blocks=1, stem=2),
    # edge-s with 4 more blocks at 1/16 and 2 at 1/8 (the "deep-low" candidate of the motion-deblur study)
    "edge-s-deep": UNetConfig(16, (1, 2, 3, 4), res_blocks=1, stem=2, mid_blocks=4, extra_up=(0, 0, 2, 2)),
    # NAFNet-style (naf.py): normalised blocks that train at lr 1e-3. Sized so a training checkpoint
    # (weights, EMA, Adam's two moments: 16 bytes a parameter) stays under 30 MB.
    "naf-s": NAFConfig(24, (1, 2, 4, 8), enc_blocks=(1, 1, 2), middle_blocks=2, dec_blocks=(1, 1, 1)),
    "naf-s-dense": NAFConfig(24, (1, 2, 3, 5), enc_blocks=(1, 1, 2), middle_blocks=2, dec_blocks=(1, 1, 1), dense=True),
    # naf-s-dense with 2 more blocks at 1/16 size (where NAFNet's own deblurring nets put their depth): 1.5x
    # the parameters for ~1.1x the 720p latency (fp32 torch, 2 threads, EPYC Zen 4: 505 against 450 ms);
    # grown from a trained naf-s-dense (nn.load_grown). Its checkpoint fits 30 MB with Adam's moments in
    # bf16 (--checkpoint-moments bf16: 12 bytes a parameter).
    "naf-s-dense-deep": NAFConfig(24, (1, 2, 3, 5), enc_blocks=(1, 1, 2), middle_blocks=4, dec_blocks=(1, 1, 1),
                                  dense=True),
}
PAPER_PARAMS = {"paper-motion": 27.68e6, "paper-defocus": 33.57e6, "paper-jpeg": 33.57e6, "paper-sr4": 62.25e6}


class ResBlock(nn.Module):
    """conv-act-(t scale/shift)-conv with a skip; the last conv starts at zero so depth starts as identity."""

    def __init__(self, c_in: int, c_out: int, t_dim: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.t_proj = nn.Linear(t_dim, 2 * c_out)  # FiLM: per-channel scale and shift from t
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(x))
        scale, shift = self.t_proj(temb)[:, :, None, None].chunk(2, dim=1)
        h = h * (1.0 + scale) + shift
        h = self.conv2(F.silu(h))
        return self.skip(x) + h


class Downsample(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class UNet(TimeConditioned):
    """F(x_t, t): x [N, 3, H, W] in [-1, 1], t [N] float -> x0 [N, 3, H, W]."""

    def __init__(self, config: UNetConfig = UNetConfig()):
        super().__init__()
        self.config = config
        ch, mults, nres = config.channels, config.multipliers, config.res_blocks
        t_dim = ch * config.time_dim_mult
        self.time_mlp = nn.Sequential(nn.Linear(ch, t_dim), nn.SiLU(), nn.Linear(t_dim, t_dim))
        c_io = config.in_channels * config.stem**2
        self.conv_in = nn.Conv2d(c_io, ch, 3, padding=1)

        self.down = nn.ModuleList()
        skip_channels = [ch]
        c = ch
        for level, m in enumerate(mults):
            for _ in range(nres):
                self.down.append(ResBlock(c, ch * m, t_dim))
                c = ch * m
                skip_channels.append(c)
            if level < len(mults) - 1:
                self.down.append(Downsample(c))
                skip_channels.append(c)

        self.mid = nn.ModuleList([ResBlock(c, c, t_dim) for _ in range(config.mid_blocks)])

        extra = tuple(config.extra_up) + (0,) * (len(mults) - len(config.extra_up))
        self.up = nn.ModuleList()
        self.extra_up = nn.ModuleDict()  # keyed by the index in self.up they follow: old keys stay put
        for level, m in reversed(list(enumerate(mults))):
            for _ in range(nres + 1):
                self.up.append(ResBlock(c + skip_channels.pop(), ch * m, t_dim))
                c = ch * m
            if extra[level]:
                self.extra_up[str(len(self.up) - 1)] = nn.ModuleList([ResBlock(c, c, t_dim) for _ in range(extra[level])])
            if level > 0:
                self.up.append(Upsample(c))

        self.conv_out = nn.Conv2d(c, c_io, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb = self.embed_time(x, t)
        s = self.config.stem
        h = self.conv_in(F.pixel_unshuffle(x, s) if s > 1 else x)
        skips = [h]
        for block in self.down:
            h = block(h, temb) if isinstance(block, ResBlock) else block(h)
            skips.append(h)
        for block in self.mid:
            h = block(h, temb)
        for index, block in enumerate(self.up):
            if isinstance(block, ResBlock):
                h = block(torch.cat([h, skips.pop()], dim=1), temb)
            else:
                h = block(h)
            if str(index) in self.extra_up:
                for extra in self.extra_up[str(index)]:
                    h = extra(h, temb)
        out = self.conv_out(F.silu(h))
        return x + (F.pixel_shuffle(out, s) if s > 1 else out)


NetConfig = UNetConfig | NAFConfig
Network = UNet | NAFUNet
NETWORKS = {UNetConfig: UNet, NAFConfig: NAFUNet}  # each config type builds its network


def build(preset: str | NetConfig) -> Network:
    """A network from a preset name (see PRESETS) or a config (UNetConfig, NAFConfig)."""
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
        preset = PRESETS[preset]
    return NETWORKS[type(preset)](preset)


def config_from_json(text: str) -> NetConfig:
    """The config a model file carries: NAFConfig JSON names its "arch"; UNetConfig JSON (every
    file written before NAFConfig existed) does not."""
    if json.loads(text).get("arch") == naf.ARCH:
        return NAFConfig.from_json(text)
    return UNetConfig.from_json(text)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def macs_per_pixel(model: Network, size: int = 64) -> float:
    """Multiply-adds per output pixel, counted from the convolutions of a forward pass."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        w = module.weight
        total += output.numel() // output.shape[0] * (w.shape[1] * w.shape[2] * w.shape[3])

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            model(torch.zeros(1, model.config.in_channels, size, size), torch.ones(1))
    finally:
        for h in handles:
            h.remove()
    return total / (size * size)


# --- weights with their config (safetensors, never pickle) -----------------------------------

CONFIG_KEY = "indi_edge.unet_config"  # the same key as ModelInfo.unet_config


def save(model: Network, path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """Write weights as safetensors with the network config (and any model facts) inside."""
    from safetensors.torch import save_file

    meta = {**(metadata or {}), CONFIG_KEY: model.config.to_json()}  # the model's own config wins
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(state, str(tmp), metadata=meta))


def load(path: str | Path, device: str | torch.device = "cpu") -> Network:
    """Rebuild the network saved by `save` (its config travels inside the file)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}")
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as err:  # safetensors raises its own error types for corrupt files
        raise ValueError(f"{path} is not a readable safetensors weights file: {err}") from err
    if CONFIG_KEY not in meta:
        raise ValueError(f"{path} has no {CONFIG_KEY!r} metadata; was it written by indi_edge.training.nn.save?")
    model = build(config_from_json(meta[CONFIG_KEY]))
    model.load_state_dict(state)
    return model.to(device).eval()


# The config fields that may grow: each adds blocks that start as the identity (a zero last convolution in
# the U-Net's ResBlock, zero beta and gamma in a NAFBlock) after the ones a smaller net already has.
GROWABLE = {UNetConfig: ("mid_blocks", "extra_up"), NAFConfig: ("middle_blocks", "enc_blocks", "dec_blocks")}


def load_grown(model: Network, path: str | Path) -> list[str]:
    """Copy the weights of a smaller trained network (`path`) into `model`, whose config differs
    from it only by more blocks (GROWABLE); those start as the identity, so `model` computes exactly
    what the smaller one did. Returns the new keys."""
    small = load(path)
    if small.config == model.config:  # the same network (any architecture): a plain copy
        model.load_state_dict(small.state_dict())
        return []
    if type(small.config) is not type(model.config):
        raise ValueError(f"cannot grow {small.config} into {model.config}: another architecture")
    grown_fields = GROWABLE[type(model.config)]
    refusal = f"cannot grow {small.config} into {model.config}: only more {' / '.join(grown_fields)} may grow"
    a, b = dataclasses.asdict(small.config), dataclasses.asdict(model.config)
    if any(a[k] != b[k] for k in a if k not in grown_fields):
        raise ValueError(refusal)
    state = model.state_dict()
    smaller = small.state_dict()
    missing = [k for k in state if k not in smaller]
    # blocks are numbered per stage, so a stage with fewer blocks than the small net's leaves keys unmatched
    if any(k not in state or state[k].shape != v.shape for k, v in smaller.items()):
        raise ValueError(refusal)
    model.load_state_dict(smaller, strict=False)
    return missing


def read_metadata(path: str | Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})
