"""The build, logged as it goes: TensorRT's messages and its optimiser's phases with elapsed time
(a build can take minutes on a Jetson, and silence looks like a hang).

BuildLog is plain Python (tested without TensorRT); trt_logger() and trt_progress_monitor()
wrap it in the TensorRT interfaces (trt.ILogger, trt.IProgressMonitor) when a build runs.
"""
from __future__ import annotations

import time

SEVERITIES = ("INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE")  # most to least severe


class BuildLog:
    """Timestamped lines through `write`: messages at WARNING and above (all with verbose), every
    optimiser phase's start and end, and progress of phases with many steps about every 10%."""

    def __init__(self, write=print, verbose: bool = False, clock=time.monotonic):
        self.write, self.verbose, self.clock = write, verbose, clock
        self.start = clock()
        self.phases: dict[str, tuple[int, int, float]] = {}  # name -> (depth, steps, started)
        self.errors: list[str] = []

    def line(self, text: str, depth: int = 0) -> None:
        self.write(f"[{self.clock() - self.start:7.1f} s] {'  ' * depth}{text}")

    def message(self, severity: str, text: str) -> None:
        rank = SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)
        if rank <= SEVERITIES.index("ERROR"):
            self.errors.append(text)
        if rank <= SEVERITIES.index("WARNING") or self.verbose:
            self.line(f"TensorRT {severity.lower()}: {text}")

    def phase_start(self, name: str, parent: str | None, steps: int) -> None:
        depth = self.phases[parent][0] + 1 if parent in self.phases else 0
        self.phases[name] = (depth, int(steps), self.clock())
        self.line(f"{name} ({steps} step{'s' if steps != 1 else ''})", depth)

    def step_complete(self, name: str, step: int) -> bool:
        """Report progress; returning True lets the build go on (False would cancel it)."""
        depth, steps, _ = self.phases.get(name, (0, 0, self.clock()))
        every = max(1, steps // 10)
        if steps >= 10 and (step + 1) % every == 0 and step + 1 < steps:
            self.line(f"{name}: {step + 1}/{steps}", depth + 1)
        return True

    def phase_finish(self, name: str) -> None:
        depth, _, started = self.phases.pop(name, (0, 0, self.clock()))
        self.line(f"{name} done in {self.clock() - started:.1f} s", depth)


def trt_logger(trt, log: BuildLog):
    """A trt.ILogger forwarding to `log` (TensorRT keeps a reference: keep this object alive)."""

    class Logger(trt.ILogger):
        def __init__(self):
            trt.ILogger.__init__(self)

        def log(self, severity, msg):
            log.message(getattr(severity, "name", str(severity)), msg)

    return Logger()


def trt_progress_monitor(trt, log: BuildLog):
    """A trt.IProgressMonitor forwarding to `log` (its lifetime must outlast the build)."""

    class Monitor(trt.IProgressMonitor):
        def __init__(self):
            trt.IProgressMonitor.__init__(self)

        def phase_start(self, phase_name, parent_phase, num_steps):
            log.phase_start(phase_name, parent_phase, num_steps)

        def step_complete(self, phase_name, step):
            return log.step_complete(phase_name, step)

        def phase_finish(self, phase_name):
            log.phase_finish(phase_name)

    return Monitor()
