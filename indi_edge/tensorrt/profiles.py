"""Optimisation profiles: the input shapes [N, 3, H, W] an engine accepts, from --min/--opt/--max
(one dynamic profile) or --shape (one static profile per shape, e.g. per tile size).

H and W must be multiples of the model's size multiple (frames are padded up to it), so a shape
that is not is refused with the padded size to use instead. Pure Python: tested without TensorRT.
"""
from __future__ import annotations

import dataclasses
import re

Shape = tuple[int, int, int, int]

# Default: one frame from a small tile up to 1080p, tuned for 720p (rounded up to the multiple).
DEFAULT_MIN, DEFAULT_OPT, DEFAULT_MAX = (1, 3, 256, 256), (1, 3, 720, 1280), (1, 3, 1080, 1920)


def parse_shape(text: str) -> Shape:
    """"NxCxHxW" (e.g. "1x3x720x1280") or "HxW" (N=1, C=3) -> (N, C, H, W)."""
    if not isinstance(text, str) or not re.fullmatch(r"\d+(x\d+){1,3}", text.strip()):
        raise ValueError(f"a shape is NxCxHxW (e.g. 1x3x720x1280) or HxW (e.g. 720x1280), got {text!r}")
    dims = tuple(int(v) for v in text.strip().split("x"))
    if len(dims) == 2:
        return (1, 3) + dims
    if len(dims) != 4:
        raise ValueError(f"a shape is NxCxHxW or HxW, got {len(dims)} dimensions in {text!r}")
    return dims


def format_shape(shape) -> str:
    return "x".join(str(int(v)) for v in shape)


def round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def check_shape(shape, multiple: int, name: str = "shape") -> Shape:
    """(N, 3, H, W) with N >= 1 and H, W positive multiples of `multiple`, else ValueError."""
    shape = tuple(int(v) for v in shape)
    if len(shape) != 4 or shape[1] != 3 or min(shape) < 1:
        raise ValueError(f"{name} must be N x 3 x H x W with every dimension >= 1, got {format_shape(shape)}")
    n, c, h, w = shape
    if h % multiple or w % multiple:
        padded = format_shape((n, c, round_up(h, multiple), round_up(w, multiple)))
        raise ValueError(f"{name} {format_shape(shape)}: H and W must be multiples of the model's size "
                         f"multiple {multiple} (frames are padded to it); use {padded}")
    return shape


@dataclasses.dataclass(frozen=True)
class Profile:
    """Shapes of x from min to max, tuned for opt; t is [N] with the same N range."""
    min: Shape
    opt: Shape
    max: Shape

    def contains(self, shape) -> bool:
        shape = tuple(shape)
        return len(shape) == 4 and all(lo <= v <= hi for lo, v, hi in zip(self.min, shape, self.max))

    def describe(self) -> str:
        if self.min == self.max:
            return format_shape(self.min)
        return f"{format_shape(self.min)} .. {format_shape(self.max)} (opt {format_shape(self.opt)})"

    def to_json(self) -> dict:
        return {"min": list(self.min), "opt": list(self.opt), "max": list(self.max)}

    @staticmethod
    def from_json(raw: dict) -> "Profile":
        return Profile(*(tuple(int(v) for v in raw[k]) for k in ("min", "opt", "max")))


def make_profile(min_shape, opt_shape, max_shape, multiple: int) -> Profile:
    """A validated profile: each shape checked, and min <= opt <= max in every dimension."""
    lo, hi, opt = (check_shape(s, multiple, name) for s, name in
                   ((min_shape, "--min"), (max_shape, "--max"), (opt_shape, "--opt")))
    if not all(a <= b <= c for a, b, c in zip(lo, opt, hi)):
        raise ValueError(f"profile shapes must satisfy min <= opt <= max in every dimension, got "
                         f"--min {format_shape(lo)} --opt {format_shape(opt)} --max {format_shape(hi)}")
    return Profile(lo, opt, hi)


def profiles_from_args(min_text: str | None, opt_text: str | None, max_text: str | None,
                       shape_texts: list[str] | None, multiple: int) -> list[Profile]:
    """The profiles asked for on the command line.

    --shape S (repeatable): one static profile per shape. --min/--opt/--max: one dynamic profile
    (--opt defaults to --max). Neither: DEFAULT_MIN .. DEFAULT_MAX, rounded up to the multiple.
    """
    dynamic = [v for v in (min_text, opt_text, max_text) if v is not None]
    if shape_texts and dynamic:
        raise ValueError("give either --shape (static profiles) or --min/--opt/--max (one dynamic profile), not both")
    if shape_texts:
        shapes = [check_shape(parse_shape(s), multiple, "--shape") for s in shape_texts]
        return [Profile(s, s, s) for s in dict.fromkeys(shapes)]
    if dynamic:
        if min_text is None or max_text is None:
            raise ValueError("a dynamic profile needs both --min and --max (--opt defaults to --max)")
        return [make_profile(parse_shape(min_text), parse_shape(opt_text or max_text), parse_shape(max_text), multiple)]
    padded = [(n, c, round_up(h, multiple), round_up(w, multiple)) for n, c, h, w in (DEFAULT_MIN, DEFAULT_OPT, DEFAULT_MAX)]
    return [make_profile(*padded, multiple)]


def select_profile(profiles: list[Profile], shape) -> int:
    """Index of the first profile that accepts `shape`, else ValueError listing what the engine takes."""
    for index, profile in enumerate(profiles):
        if profile.contains(shape):
            return index
    accepted = "; ".join(p.describe() for p in profiles)
    raise ValueError(f"input {format_shape(shape)} is outside this engine's optimisation profiles ({accepted}); "
                     f"restore with a tile size inside them (Restorer(tile=...)) or rebuild the engine with "
                     f"indi-edge build-engine --min/--opt/--max covering it")
