"""Restore a large image as overlapping tiles blended with a smooth ramp, so memory stays bounded
and no seam shows.

Tiles are laid out on a grid with at least `overlap` pixels shared between neighbours (the last
tile of a row/column is aligned to the image edge). Each tile's weight is 1 inside and falls off
as a raised cosine over the `overlap` pixels next to an interior edge (never at the image border);
the result is sum(weight * tile) / sum(weight), which is continuous across tile edges.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np

from indi_edge import ops

# Above this many pixels a frame is tiled unless the caller says otherwise (1080p still runs whole).
AUTO_TILE_PIXELS = 1920 * 1088
DEFAULT_TILE = 512
DEFAULT_OVERLAP = 32


@dataclasses.dataclass(frozen=True)
class Tile:
    top: int
    left: int
    height: int
    width: int
    weight: np.ndarray  # [height, width] float32 in (0, 1]


def round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def starts(size: int, tile: int, overlap: int) -> list[int]:
    """Tile origins along one axis: stride tile-overlap, the last one flush with the end."""
    if tile >= size:
        return [0]
    stride = tile - overlap
    count = math.ceil((size - tile) / stride) + 1
    return sorted({min(k * stride, size - tile) for k in range(count)})


def ramp(length: int, overlap: int, rise: bool, fall: bool) -> np.ndarray:
    """[length] float32 weights: 1, with a raised-cosine rise/fall over `overlap` samples at either
    end when asked. Strictly positive so every pixel keeps some weight."""
    w = np.ones(length, dtype=np.float32)
    n = min(overlap, length)
    if n > 0:
        edge = np.sin(0.5 * np.pi * (np.arange(n, dtype=np.float64) + 0.5) / n) ** 2
        if rise:
            w[:n] = np.minimum(w[:n], edge)
        if fall:
            w[length - n:] = np.minimum(w[length - n:], edge[::-1])
    return w


def plan(height: int, width: int, tile: int, overlap: int) -> list[Tile]:
    """The tiles covering a height x width image (sizes already padded to the model's multiple)."""
    if tile <= 0 or overlap < 0 or overlap >= tile:
        raise ValueError(f"expected tile > overlap >= 0, got tile={tile}, overlap={overlap}")
    th, tw = min(tile, height), min(tile, width)
    tops, lefts = starts(height, th, overlap), starts(width, tw, overlap)
    tiles = []
    for top in tops:
        rows = ramp(th, overlap, rise=top > 0, fall=top + th < height)
        for left in lefts:
            cols = ramp(tw, overlap, rise=left > 0, fall=left + tw < width)
            tiles.append(Tile(top, left, th, tw, np.outer(rows, cols)))
    return tiles


def restore_tiled(restore: Callable[[np.ndarray, int, int], np.ndarray], y: np.ndarray,
                  tile: int, overlap: int) -> np.ndarray:
    """Blend restore(y_window, top, left) over the tiles of y.

    y: [N, C, H, W] float32; restore returns the restored window with the window's shape.
    Returns [N, C, H, W] float32.
    """
    n, c, h, w = y.shape
    tiles = plan(h, w, tile, overlap)
    if len(tiles) == 1:
        return restore(y, 0, 0)
    acc = np.zeros((n, c, h, w), dtype=np.float32)
    wsum = np.zeros((n, h, w), dtype=np.float32)
    for t in tiles:
        window = np.ascontiguousarray(y[:, :, t.top:t.top + t.height, t.left:t.left + t.width])
        out = restore(window, t.top, t.left)
        for i in range(n):
            ops.blend_accumulate(acc[i], wsum[i], np.ascontiguousarray(out[i], dtype=np.float32),
                                 t.weight, t.top, t.left)
    return acc / wsum[:, None]
