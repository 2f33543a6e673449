"""Restorer: OpenCV frames in, restored frames out, through any backend.

    restorer = Restorer("motion-deblur")          # or "model.onnx", "model.pt2", a callable
    out = restorer.run(cv2.imread("photo.png"))   # uint8 HxWx3 BGR in, the same out

One frame's way through: frame -> RGB [-1, 1] tensor padded to the model's multiple -> [tiles] ->
backend.restore (the InDI loop: sampling.run with the fused update) -> crop -> frame.
"""
from __future__ import annotations

import itertools
import math
import threading
import time
import warnings
from typing import NamedTuple

import numpy as np

from indi_edge import frames, sampling, tiling
from indi_edge.backends import Backend, open_backend
from indi_edge.budget import StepBudget
from indi_edge.model_info import MAX_STEPS, ModelInfo, valid_strength


class BudgetKey(NamedTuple):
    """What a frame's latency depends on: its layout, how many frames share a call, the backend."""
    layout: frames.FrameLayout
    batch: int
    backend: int  # id() of the backend

    def __str__(self) -> str:
        return f"{self.layout.width}x{self.layout.height}" + (f" x{self.batch}" if self.batch > 1 else "")


NOISE_BLOCK = 128  # noise is drawn per block of this many pixels square, each from its own seed


class NoiseField:
    """The standard-normal draws one restoration makes, defined block by block over the padded
    frame: block (by, bx) of draw k for frame i comes from its own generator seeded with
    (seed, frame number, k, by, bx). Any window can be made without the rest of the frame, so a
    tile holds only its own noise (memory bounded by the tile, not by frame x draws), and every tile
    sees the very noise the whole frame would (tiled matches untiled).

    seeds[i] = (seed, frame number) of frame i of the batch: a frame's noise does not depend on
    what it was batched with. cache=True keeps the blocks made (frozen noise: one field reused
    frame after frame).
    """

    def __init__(self, seeds: list[tuple[int, int]], shape: tuple[int, int, int, int], cache: bool = False):
        self.seeds, self.shape = list(seeds), tuple(shape)
        self.blocks: dict[tuple[int, int, int, int], np.ndarray] | None = {} if cache else None

    def _block(self, i: int, k: int, by: int, bx: int) -> np.ndarray:
        key = (i, k, by, bx)
        if self.blocks is not None and key in self.blocks:
            return self.blocks[key]
        seed, frame = self.seeds[i]
        block = np.random.default_rng([seed, frame, k, by, bx]).standard_normal(
            (self.shape[1], NOISE_BLOCK, NOISE_BLOCK), dtype=np.float32)
        if self.blocks is not None:
            self.blocks[key] = block
        return block

    def draw(self, k: int, top: int = 0, left: int = 0, height: int | None = None,
             width: int | None = None) -> np.ndarray:
        """Draw k over the window [top, top+height) x [left, left+width) (default: the whole frame)."""
        height = self.shape[2] - top if height is None else height
        width = self.shape[3] - left if width is None else width
        out = np.empty((len(self.seeds), self.shape[1], height, width), np.float32)
        for by in range(top // NOISE_BLOCK, (top + height - 1) // NOISE_BLOCK + 1):
            y0, y1 = max(top, by * NOISE_BLOCK), min(top + height, (by + 1) * NOISE_BLOCK)
            for bx in range(left // NOISE_BLOCK, (left + width - 1) // NOISE_BLOCK + 1):
                x0, x1 = max(left, bx * NOISE_BLOCK), min(left + width, (bx + 1) * NOISE_BLOCK)
                for i in range(len(self.seeds)):
                    block = self._block(i, k, by, bx)
                    out[i, :, y0 - top:y1 - top, x0 - left:x1 - left] = \
                        block[:, y0 - by * NOISE_BLOCK:y1 - by * NOISE_BLOCK, x0 - bx * NOISE_BLOCK:x1 - bx * NOISE_BLOCK]
        return out

    def window(self, top: int, left: int):
        """rng(x) -> the next draw's window at (top, left), sized like x: what sampling.run calls."""
        counter = itertools.count()

        def rng(x: np.ndarray) -> np.ndarray:
            h, w = x.shape[-2:]
            return self.draw(next(counter), top, left, h, w)

        return rng


class Restorer:
    """Restore frames with an InDI model.

    engine: a .onnx or .pt2 path, a bundled model name ("motion-deblur"), a Backend, or any
        callable f(x [N,3,H,W] float32 in [-1,1], t [N] float32) -> x0 on numpy arrays.
    steps, eps, sampler, eps_schedule: default to the model's metadata (ModelInfo).
    seed: frames are restored with noise from (seed, frame number): the same seed and frame
        sequence give bit-identical output on the same backend.
    tile: tile size in pixels; None tiles automatically above tiling.AUTO_TILE_PIXELS, 0 never.
    overlap: pixels shared by neighbouring tiles (default: the network's measured edge reach,
        tiling.edge_reach, at least tiling.DEFAULT_OVERLAP and at most half a tile).
    frozen_noise: reuse one noise field for every frame of the same size (no flicker in video).
    backend: how an .onnx model runs on the CPU: "auto" (the fastest path for this CPU and the
        installed packages, backends/choice.py), "onnxruntime", "openvino", "openvino-bf16",
        "torch-bf16" or "torch-fp32"; `providers` says which one was taken.
    providers, threads: ONNX Runtime execution providers and intra-op threads (0: its default).
    budget_ms: a per-frame latency budget: `run`/`run_batch` then choose, per frame size, the largest
        step count that fits (indi_edge.budget.StepBudget, measured on the first frames of each
        size); `steps` is then ignored by them. budget: a StepBudget to use instead (e.g. with
        its own clock).
    fp16_fallback: a frame whose output holds NaN/Inf (an FP16/bf16 overflow) is recomputed on
        the backend's fp32 path (OpenVINO bf16 -> fp32, torch bf16 -> fp32) with a warning; without
        it, or on a backend with no fp32 path, such a frame raises NonFiniteOutput naming the frame
        and the step. Every frame of every backend is checked: NaN never becomes black pixels.

    strength: in (0, 1]; below 1 the output is the point 1 - strength of the way back from the
        restoration to the input, y + strength * (x0 - y): InDI's own path x_t = (1 - t) x0 + t y at
        t = 1 - strength. None: the model's own default (its metadata's strength, 1 when absent;
        the bundled motion-deblur model's was chosen on video frames, indi_edge/models/README.md).
        For footage unlike the training data, where a full-strength restoration may overshoot.

    trust: needed (True) to open a .pt2 package: loading one runs code from the file. ONNX models
        and TensorRT engines are data and need no trust.

    Threads: calls are serialised by a lock, so one Restorer may be shared; each call still uses
    the runtime's own threads. close() (or `with Restorer(...) as r:`) frees the backend.
    """

    def __init__(self, engine, *, steps: int | None = None, eps: float | None = None,
                 sampler: str | None = None, eps_schedule: str | None = None, seed: int = 0,
                 tile: int | None = None, overlap: int | None = None, frozen_noise: bool = False,
                 providers=None, threads: int = 0, backend: str = "auto", budget_ms: float | None = None,
                 budget: StepBudget | None = None, fp16_fallback: bool = False, trust: bool = False,
                 strength: float | None = None):
        self.backend: Backend = open_backend(engine, providers=providers, threads=threads, backend=backend,
                                             trust=trust)
        if budget_ms is not None and budget is not None:
            raise ValueError("pass budget_ms or budget, not both")
        self.budget = StepBudget(budget_ms) if budget_ms is not None else budget
        info = self.backend.info
        self.steps = info.steps if steps is None else steps
        self.eps = info.eps if eps is None else eps
        self.sampler = info.sampler if sampler is None else sampler
        self.eps_schedule = info.eps_schedule if eps_schedule is None else eps_schedule
        sampling.time_grid(self.steps)  # validates steps
        if self.steps > MAX_STEPS:
            raise ValueError(f"steps must be at most {MAX_STEPS}, got {self.steps}")
        if self.sampler not in sampling.SAMPLERS:
            raise ValueError(f"sampler must be one of {sampling.SAMPLERS}, got {self.sampler!r}")
        if self.eps_schedule not in sampling.EPS_SCHEDULES:
            raise ValueError(f"eps_schedule must be one of {sampling.EPS_SCHEDULES}, got {self.eps_schedule!r}")
        if isinstance(self.eps, bool) or not isinstance(self.eps, (int, float)) or not math.isfinite(self.eps) or self.eps < 0:
            raise ValueError(f"eps must be a finite number >= 0, got {self.eps!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        m = self.multiple
        if tile is not None and (isinstance(tile, bool) or not isinstance(tile, (int, np.integer)) or tile < 0):
            raise ValueError(f"tile must be None (automatic), 0 (never) or a size in pixels, got {tile!r}")
        self.tile = tile if tile is None or tile == 0 else tiling.round_up(int(tile), m)
        if overlap is not None and (isinstance(overlap, bool) or not isinstance(overlap, (int, np.integer)) or overlap < 0):
            raise ValueError(f"overlap must be an integer >= 0, got {overlap!r}")
        self.overlap = None if overlap is None else tiling.round_up(int(overlap), m)  # None: from the reach
        if self.overlap is not None and self.tile != 0 and \
                self.overlap >= (self.tile if self.tile is not None else tiling.DEFAULT_TILE):
            raise ValueError(f"overlap ({self.overlap}) must be smaller than the tile "
                             f"({self.tile if self.tile is not None else tiling.DEFAULT_TILE})")
        strength = info.strength if strength is None else strength
        if not valid_strength(strength):
            raise ValueError(f"strength must be a number in (0, 1], got {strength!r}")
        self.strength = float(strength)
        self.seed = int(seed)
        self.frozen_noise = bool(frozen_noise)
        self.frame_count = 0
        self._frozen: NoiseField | None = None
        self.fp16_fallback = bool(fp16_fallback)
        self._twin = None
        self._reach: int | None = None  # pixels a tile edge changes the output by; measured when first tiled
        self._lock = threading.RLock()
        self._closed = False

    @property
    def info(self) -> ModelInfo:
        return self.backend.info

    @property
    def multiple(self) -> int:
        return self.backend.multiple

    @property
    def providers(self) -> list[str]:
        """Where the model really runs (ONNX Runtime's providers in use, or the backend's own name)."""
        return list(getattr(self.backend, "providers", [type(self.backend).__name__]))

    # --- frames -------------------------------------------------------------------------------

    def run(self, frame: np.ndarray) -> np.ndarray:
        """Restore one OpenCV frame (see indi_edge.frames for layouts); same shape and dtype out."""
        return self.run_batch([frame])[0]

    def run_batch(self, frames_in) -> list[np.ndarray]:
        """Restore a list of frames; frames of the same shape and dtype share backend calls.

        Frame k of the list takes noise number frame_count + k (input order), so a frame gets the
        same noise through run_batch as through run() one by one, however sizes interleave.
        Calls are serialised (one lock per Restorer): safe from several threads.
        """
        if isinstance(frames_in, np.ndarray) or frames_in is None:
            raise TypeError("run_batch expects a list of frames; use run(frame) for one frame")
        frames_in = list(frames_in)
        layouts = [frames.describe(f) for f in frames_in]
        with self._lock:
            if self._closed:
                raise ValueError("this Restorer is closed")
            first = self.frame_count
            self.frame_count += len(frames_in)
            out: list[np.ndarray | None] = [None] * len(frames_in)
            groups: dict[frames.FrameLayout, list[int]] = {}
            for i, layout in enumerate(layouts):
                groups.setdefault(layout, []).append(i)
            for layout, idx in groups.items():
                key = BudgetKey(layout, len(idx), id(self.backend))  # what the latency depends on
                steps = self.budget.steps(key) if self.budget else self.steps
                clock = self.budget.clock if self.budget else time.perf_counter
                start = clock()
                x = np.concatenate([frames.to_tensor(frames_in[i], self.multiple)[0] for i in idx])
                numbers = [first + i for i in idx]
                loop_start = clock()
                restored = self._restore(x, steps, numbers)
                loop_s = clock() - loop_start
                for j, i in enumerate(idx):
                    out[i] = frames.from_tensor(restored[j], layout, frames.alpha_of(frames_in[i], layout))
                if self.budget:
                    self.budget.record(key, steps, (clock() - start) / len(idx), loop_s / len(idx))
            return out

    def budget_choices(self) -> dict[str, dict]:
        """With a budget: per frame size seen ("WxH", batch), the step count in use and its p90 ms."""
        if not self.budget:
            return {}
        return {str(key): choice for key, choice in self.budget.chosen().items()}

    # --- tensors ------------------------------------------------------------------------------

    def restore_array(self, y: np.ndarray, steps: int | None = None) -> np.ndarray:
        """y [N, 3, H, W] float32 RGB in [-1, 1], H and W multiples of self.multiple -> x_0, same shape,
        in `steps` InDI steps (default self.steps).

        Consumes N frame numbers of noise (none with frozen_noise)."""
        if not isinstance(y, np.ndarray) or y.ndim != 4 or y.shape[1] != 3 or y.dtype != np.float32:
            raise ValueError(f"expected y as a [N, 3, H, W] float32 array, got "
                             f"{getattr(y, 'dtype', type(y).__name__)} {getattr(y, 'shape', '')}")
        if y.shape[2] % self.multiple or y.shape[3] % self.multiple or 0 in y.shape:
            raise ValueError(f"H and W must be non-zero multiples of {self.multiple}, got {y.shape[2]}x{y.shape[3]}; "
                             f"use frames.pad_to_multiple")
        with self._lock:
            if self._closed:
                raise ValueError("this Restorer is closed")
            first = self.frame_count
            self.frame_count += len(y)
            return self._restore(y, self.steps if steps is None else steps, list(range(first, first + len(y))))

    def _restore(self, y: np.ndarray, steps: int, numbers: list[int]) -> np.ndarray:
        """restore_array on a checked y with the frames' noise numbers given; every frame's output
        checked finite."""
        y = np.ascontiguousarray(y)  # the fused kernels take C-contiguous arrays
        noise = self._noise_field(y.shape, numbers)
        tile = self._tile_for(y.shape[2], y.shape[3])

        def restore_window(window: np.ndarray, top: int, left: int) -> np.ndarray:
            return self.backend.restore(window, steps, sampler=self.sampler, eps=self.eps,
                                        eps_schedule=self.eps_schedule, rng=noise.window(top, left))

        x0 = restore_window(y, 0, 0) if not tile else tiling.restore_tiled(restore_window, y, tile,
                                                                           self._overlap_for(tile))
        bad = [j for j in range(x0.shape[0]) if not np.isfinite(x0[j]).all()]
        if bad:
            x0 = self._non_finite(y, x0, bad, steps, numbers)
        if self.strength != 1.0:
            x0 = y + np.float32(self.strength) * (x0 - y)
        return x0

    def _overlap_for(self, tile: int) -> int:
        """The overlap given, or one derived from this network's edge reach (measured once, at N=1
        without noise, on the first tiled frame: two small restores)."""
        if self.overlap is not None:
            return self.overlap
        if self._reach is None:
            self._reach = tiling.edge_reach(
                lambda x: self.backend.restore(x, 1, sampler=self.sampler, eps=0.0, eps_schedule=self.eps_schedule,
                                               rng=None), self.multiple)
        return tiling.overlap_for_reach(self._reach, tile, self.multiple)

    def _tile_for(self, height: int, width: int) -> int:
        if self.tile is None:
            big = height * width > tiling.AUTO_TILE_PIXELS
            return tiling.round_up(tiling.DEFAULT_TILE, self.multiple) if big else 0
        return self.tile

    def _noise_field(self, shape: tuple[int, ...], numbers: list[int]) -> NoiseField:
        n = shape[0]
        if self.frozen_noise:
            if self._frozen is None or self._frozen.shape != tuple(shape):
                self._frozen = NoiseField([(self.seed, 0)] * n, tuple(shape), cache=True)
            return self._frozen
        return NoiseField([(self.seed, k) for k in numbers], tuple(shape))

    def _non_finite(self, y: np.ndarray, x0: np.ndarray, bad: list[int], steps: int, numbers: list[int]) -> np.ndarray:
        """NaN/Inf in the output of frames `bad`: recompute them on the backend's fp32 twin
        (fp16_fallback=True, where the backend has one) or raise naming the frame and the step."""
        twin = self._fp32_twin() if self.fp16_fallback else None
        if twin is not None:
            warnings.warn(f"frame {numbers[bad[0]]}: NaN/Inf from {self.providers[0]}; recomputed in fp32",
                          RuntimeWarning, stacklevel=4)
            fixed = Restorer(twin, steps=steps, eps=self.eps, sampler=self.sampler, eps_schedule=self.eps_schedule,
                             seed=self.seed, tile=self.tile, overlap=self.overlap)
            x0 = x0.copy()
            for j in bad:
                x0[j:j + 1] = fixed._restore(y[j:j + 1], steps, [numbers[j]])
            return x0
        j = bad[0]
        raise NonFiniteOutput(f"frame {numbers[j]}: the model's output holds NaN or Inf ({where_non_finite(self.backend, y[j:j + 1], steps, self.sampler)}; "
                              f"{self.providers[0]}). An FP16 model can overflow: use an fp32 model, or "
                              f"fp16_fallback=True where the backend has an fp32 path")

    def _fp32_twin(self):
        if self._twin is None and hasattr(self.backend, "fp32_twin"):
            self._twin = self.backend.fp32_twin()
        return self._twin

    # --- resources ----------------------------------------------------------------------------

    def close(self) -> None:
        """Free the backend's sessions and buffers (device memory on a GPU); the Restorer is unusable after."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for backend in (self.backend, self._twin):
                getattr(backend, "close", lambda: None)()
            self._frozen = self._twin = None

    def __enter__(self) -> "Restorer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class NonFiniteOutput(ValueError):
    """The network returned NaN or Inf for a frame: never written as black or white pixels."""


def where_non_finite(backend, y: np.ndarray, steps: int, sampler: str) -> str:
    """Which step first gave NaN/Inf, found by replaying the loop one network call at a time
    without noise (only on the failure path: the normal path pays one isfinite pass per frame)."""
    if not callable(backend) or backend.info.unrolled_steps:
        return f"in the {steps}-step loop"
    calls = itertools.count(1)

    class Found(Exception):
        pass

    def checked(x: np.ndarray, t: np.ndarray) -> np.ndarray:
        k, x0 = next(calls), backend(x, t)
        if not np.isfinite(x0).all():
            raise Found(f"first at step {k} of {steps}, t={float(t[0]):g}")
        return x0

    try:
        sampling.run(checked, y, steps, sampler=sampler)
    except Found as found:
        return str(found)
    except Exception:  # noqa: BLE001 - a diagnosis, not the error itself
        pass
    return f"in the {steps}-step loop"
