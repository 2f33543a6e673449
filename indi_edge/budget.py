"""A latency budget: the perception-distortion knob turned at run time.

More InDI steps bring back more detail for a little PSNR; each costs one network call. Given a
per-frame budget (e.g. 33.3 ms for 30 fps), StepBudget picks for each frame size the largest step
count N in STEP_CHOICES whose measured per-frame latency (p90 over a few frames) fits:

0. warm-up: the first `warmup` frames of a size are not measured (a runtime compiles or caches
   for a new shape then: OpenVINO's first 720p frame took ~1 s here, the next ones ~0.15 s a step);
1. probe: the next `probe` frames of a size run at N=1; their p90 frame time and p90 time inside
   the InDI loop give the per-step cost and the fixed cost (conversion, padding) of a frame;
2. the largest N whose predicted time (fixed + N x per-step) fits is tried for `probe` frames;
3. if its p90 fits, it is kept; else the next smaller N is tried, down to N=1.

If even N=1 does not fit, it warns once (per size) and runs N=1. A new frame size, or a new
backend, starts again at 1. The clock is injectable, so tests need no wall-clock timing.
"""
from __future__ import annotations

import dataclasses
import math
import time
import warnings
from typing import Callable, Hashable

import numpy as np

STEP_CHOICES = (1, 2, 3, 4, 6, 8)


def p90(values: list[float]) -> float:
    """The 90th percentile (nearest rank) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


@dataclasses.dataclass
class SizePlan:
    """What StepBudget knows about one frame size: the N being measured and its samples."""
    steps: int = 1
    frame_s: list[float] = dataclasses.field(default_factory=list)
    loop_s: list[float] = dataclasses.field(default_factory=list)
    settled: bool = False
    warm: int = 0                 # frames seen before measuring
    p90_ms: float | None = None   # of the settled N
    probe_s: float | None = None  # p90 frame time at the smallest N (the probe)


class StepBudget:
    """steps(key) -> the N for the next frame of that key; record(key, steps, frame_s, loop_s) after it.

    budget_ms: per-frame latency budget; choices: allowed step counts; probe: frames measured per
    candidate N; warmup: first frames of a size not measured; clock: seconds, monotonic
    (time.perf_counter unless a test injects one)."""

    def __init__(self, budget_ms: float, *, choices: tuple[int, ...] = STEP_CHOICES, probe: int = 5,
                 warmup: int = 1, clock: Callable[[], float] = time.perf_counter):
        if not (isinstance(budget_ms, (int, float)) and math.isfinite(budget_ms) and budget_ms > 0):
            raise ValueError(f"budget_ms must be a positive number of milliseconds, got {budget_ms!r}")
        if not choices or sorted(set(choices)) != list(choices) or choices[0] < 1:
            raise ValueError(f"choices must be increasing step counts >= 1, got {choices!r}")
        if probe < 1 or warmup < 0:
            raise ValueError(f"probe must be >= 1 frame and warmup >= 0, got {probe!r}, {warmup!r}")
        self.budget_s = budget_ms / 1e3
        self.choices, self.probe, self.warmup, self.clock = tuple(choices), probe, warmup, clock
        self.plans: dict[Hashable, SizePlan] = {}

    def steps(self, key: Hashable) -> int:
        return self.plans.setdefault(key, SizePlan(steps=self.choices[0])).steps

    def record(self, key: Hashable, steps: int, frame_s: float, loop_s: float) -> None:
        """One frame of `key` took frame_s seconds in all, loop_s of them inside the InDI loop."""
        plan = self.plans.setdefault(key, SizePlan(steps=self.choices[0]))
        if plan.settled or steps != plan.steps:
            return
        if plan.warm < self.warmup:
            plan.warm += 1
            return
        plan.frame_s.append(frame_s)
        plan.loop_s.append(loop_s)
        if len(plan.frame_s) < self.probe:
            return
        measured = p90(plan.frame_s)
        if measured <= self.budget_s and plan.steps != self.choices[0]:
            self._settle(plan, measured)
        elif plan.steps == self.choices[0]:
            self._after_probe(key, plan, measured)
        else:  # the predicted N did not fit: try the next smaller one (the smallest fitted in the probe)
            plan.steps = max(n for n in self.choices if n < plan.steps)
            plan.frame_s, plan.loop_s = [], []
            if plan.steps == self.choices[0]:
                self._settle(plan, plan.probe_s)

    def _after_probe(self, key: Hashable, plan: SizePlan, measured: float) -> None:
        plan.probe_s = measured
        if measured > self.budget_s:
            warnings.warn(f"{key}: even {plan.steps} InDI step takes {1e3 * measured:.1f} ms per frame (p90), over "
                          f"the {1e3 * self.budget_s:.1f} ms budget; running {plan.steps} step", RuntimeWarning,
                          stacklevel=4)
            self._settle(plan, measured)
            return
        per_step = p90(plan.loop_s) / plan.steps
        fixed = max(measured - per_step * plan.steps, 0.0)
        fitting = [n for n in self.choices if fixed + n * per_step <= self.budget_s]
        best = max(fitting)
        if best == plan.steps:
            self._settle(plan, measured)
        else:
            plan.steps, plan.frame_s, plan.loop_s = best, [], []

    @staticmethod
    def _settle(plan: SizePlan, measured: float) -> None:
        plan.settled, plan.p90_ms = True, 1e3 * measured

    def chosen(self) -> dict[Hashable, dict]:
        """Per key: the N in use, whether it is settled, and the p90 ms it was settled on."""
        return {k: {"steps": p.steps, "settled": p.settled, "p90_ms": p.p90_ms} for k, p in self.plans.items()}


def calibrate(restorer, sizes: list[tuple[int, int]], max_frames: int = 60) -> dict[str, dict]:
    """Run a budgeted Restorer on stand-in frames of each (width, height) until its step count for
    that size is settled (at most max_frames frames a size); returns restorer.budget_choices().
    The network's time does not depend on what the frame shows, so noise frames will do."""
    if restorer.budget is None:
        raise ValueError("calibrate needs a Restorer made with budget_ms")
    rng = np.random.default_rng(0)
    for width, height in sizes:
        frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        for _ in range(max_frames):
            restorer.run(frame)
            if all(choice["settled"] for choice in restorer.budget.chosen().values()):
                break
    return restorer.budget_choices()


def parse_size(text: str) -> tuple[int, int]:
    """'1280x720' -> (1280, 720)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"a frame size is WIDTHxHEIGHT, e.g. 1280x720; got {text!r}") from None
    if width < 1 or height < 1:
        raise ValueError(f"a frame size must be positive, got {text!r}")
    return width, height
