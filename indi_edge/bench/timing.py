"""Timing one frame's way through the SDK, split into its parts.

Paths are timed interleaved (see measure). A frame's time = preprocess (frames.to_tensor) + restore (Restorer.restore_array) + postprocess
(frames.from_tensor), the same calls Restorer.run_batch makes. TimedBackend sits between the
Restorer and the real backend and measures the network inside restore; the rest of restore is
the InDI update (the fused kernel plus the loop around it). A backend holding the whole loop in
one graph counts entirely as network.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from indi_edge import frames
from indi_edge.backends import StepLoop

PARTS = ("preprocess", "network", "update", "postprocess")


class TimedBackend(StepLoop):
    """A Backend that forwards to `inner` and adds the seconds spent in it to `network`."""

    def __init__(self, inner):
        self.inner = inner
        self.info, self.multiple = inner.info, inner.multiple
        self.network = 0.0
        self.providers = list(getattr(inner, "providers", [type(inner).__name__]))

    def __call__(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        x0 = self.inner(x, t)
        self.network += time.perf_counter() - start
        return x0

    def restore(self, y: np.ndarray, steps: int, **kwargs) -> np.ndarray:
        if isinstance(self.inner, StepLoop):  # one network call per step: time the calls, not the loop
            return StepLoop.restore(self, y, steps, **kwargs)
        start = time.perf_counter()  # the loop lives inside the backend's graph
        x = self.inner.restore(y, steps, **kwargs)
        self.network += time.perf_counter() - start
        return x


def run_timed(restorer, batch: list[np.ndarray]) -> tuple[list[np.ndarray], dict[str, float]]:
    """Restore `batch` (same-shape uint8 BGR frames) as Restorer.run_batch does, timing each part.

    restorer.backend must be a TimedBackend. Returns (restored frames, {part: seconds for the batch})."""
    backend = restorer.backend
    if not isinstance(backend, TimedBackend):
        raise TypeError("run_timed needs a Restorer built on a TimedBackend")
    start = time.perf_counter()
    tensors, layouts = zip(*(frames.to_tensor(f, restorer.multiple) for f in batch))
    y = np.concatenate(tensors)
    pre_end = time.perf_counter()
    backend.network = 0.0
    x = restorer.restore_array(y)
    restore_end = time.perf_counter()
    out = [frames.from_tensor(x[i], layout) for i, layout in enumerate(layouts)]
    end = time.perf_counter()
    network = backend.network
    return out, {"preprocess": pre_end - start, "network": network,
                 "update": max(restore_end - pre_end - network, 0.0), "postprocess": end - restore_end}


def summarise(samples: list[dict[str, float]], batch: int) -> dict:
    """Per-frame statistics in ms from per-batch samples: total median/p90/p99/mean, each part's median."""
    totals = np.array([sum(s.values()) for s in samples]) * 1e3 / batch
    parts = {p: 1e3 * statistics.median(s[p] for s in samples) / batch for p in PARTS}
    return {"frames": len(samples) * batch, "median_ms": float(np.median(totals)),
            "p90_ms": float(np.percentile(totals, 90)), "p99_ms": float(np.percentile(totals, 99)),
            "mean_ms": float(totals.mean()), "min_ms": float(totals.min()),
            "parts_ms": parts, "overhead_share": 1.0 - parts["network"] / max(sum(parts.values()), 1e-12)}


def measure(restorers: dict, frame: np.ndarray, batch: int, repeats: int, warmup: int) -> dict[str, dict]:
    """Time `repeats` batches of `batch` copies of `frame` on every restorer, interleaved (one batch
    each in turn), so a slow spell of a shared machine hits every path alike; `warmup` untimed
    batches each first. Returns {name: summarise() + peak RSS (MB) of the process during its batches}."""
    frames_in = [frame] * batch
    for restorer in restorers.values():
        for _ in range(warmup):
            run_timed(restorer, frames_in)
    samples: dict[str, list] = {name: [] for name in restorers}
    peaks: dict[str, list] = {name: [] for name in restorers}
    for _ in range(repeats):
        for name, restorer in restorers.items():
            reset_peak_rss()
            samples[name].append(run_timed(restorer, frames_in)[1])
            peaks[name].append(peak_rss_mb())
    return {name: {**summarise(samples[name], batch),
                   "peak_rss_mb": None if None in peaks[name] else max(peaks[name])} for name in restorers}


# --- memory ------------------------------------------------------------------------------------

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


def peak_rss_mb() -> float | None:
    """The process's peak resident set (VmHWM, Linux) in MB since the last reset_peak_rss(); None elsewhere."""
    if not STATUS.exists():
        return None
    for line in STATUS.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def reset_peak_rss() -> None:
    """Start a new peak-RSS window (Linux: writing 5 to clear_refs resets VmHWM); no-op elsewhere."""
    if CLEAR_REFS.exists():
        CLEAR_REFS.write_text("5")
