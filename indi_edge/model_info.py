"""Model facts that travel inside every model file (safetensors metadata, ONNX metadata_props,
engine sidecar JSON), so a Restorer needs nothing but the file to restore correctly.

All values are stored as strings under keys prefixed "indi_edge."; lists/dicts as JSON.
"""
from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from indi_edge.sampling import EPS_SCHEDULES, SAMPLERS

PREFIX = "indi_edge."
MAX_MULTIPLE = 64  # 2**levels of the U-Net; more is no network this project makes
MAX_STEPS = 64     # InDI restores in a few steps; 64 is already far past any measured gain


def valid_strength(strength) -> bool:
    """A strength is a number in (0, 1]: 1 is the full restoration, smaller holds it back toward the input."""
    return not isinstance(strength, bool) and isinstance(strength, (int, float)) and 0.0 < strength <= 1.0


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    task: str = "custom"            # motion-deblur, denoise, ... or custom
    multiple: int = 1               # H and W must be multiples of this
    steps: int = 1                  # default number of InDI steps
    eps: float = 0.0                # noise level in [-1, 1] units
    eps_schedule: str = "constant"  # constant | brownian
    sampler: str = "indi"           # indi | naive | cold
    preset: str = ""                # U-Net preset name (or "" for a custom config)
    unet_config: str = ""           # indi_edge.training.nn.UNetConfig as JSON
    train_command: str = ""         # the exact command that trained it
    train_data: str = ""            # what it was trained on
    train_time: str = ""            # wall time and machine
    metrics: str = ""               # held-out metrics as JSON
    unrolled_steps: int = 0         # > 0: the graph holds the whole N-step loop (export --unroll)
    strength: float = 1.0           # default Restorer strength: y + strength * (x0 - y), in (0, 1]

    def to_metadata(self) -> dict[str, str]:
        """Flat str -> str mapping for safetensors / ONNX metadata_props."""
        return {PREFIX + f.name: str(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def problems(self) -> list[str]:
        """What is wrong with these facts (empty: nothing). A file's facts drive sizes and loops, so
        a bad one would crash later (multiple=0: ZeroDivisionError) or exhaust memory (huge steps)."""
        found = []
        m = self.multiple
        if not (isinstance(m, int) and 1 <= m <= MAX_MULTIPLE and m & (m - 1) == 0):
            found.append(f"multiple={m!r} must be a power of two from 1 to {MAX_MULTIPLE}")
        if not (isinstance(self.steps, int) and 1 <= self.steps <= MAX_STEPS):
            found.append(f"steps={self.steps!r} must be from 1 to {MAX_STEPS}")
        if not (isinstance(self.eps, (int, float)) and math.isfinite(self.eps) and self.eps >= 0):
            found.append(f"eps={self.eps!r} must be a finite number >= 0")
        if self.sampler not in SAMPLERS:
            found.append(f"sampler={self.sampler!r} must be one of {SAMPLERS}")
        if self.eps_schedule not in EPS_SCHEDULES:
            found.append(f"eps_schedule={self.eps_schedule!r} must be one of {EPS_SCHEDULES}")
        if not (isinstance(self.unrolled_steps, int) and 0 <= self.unrolled_steps <= MAX_STEPS):
            found.append(f"unrolled_steps={self.unrolled_steps!r} must be from 0 to {MAX_STEPS}")
        if not valid_strength(self.strength):
            found.append(f"strength={self.strength!r} must be a number in (0, 1]")
        return found

    def validate(self, source: str = "the model") -> "ModelInfo":
        """self, or a ValueError naming the source (a file) and every bad field."""
        found = self.problems()
        if found:
            raise ValueError(f"{source} has invalid model facts: " + "; ".join(PREFIX + p for p in found))
        return self

    @staticmethod
    def from_metadata(meta: dict[str, str], source: str = "model metadata") -> "ModelInfo":
        """Read and validate the fields present in `meta` (unknown keys are ignored, missing ones
        default); errors name `source` (the file) and the field."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(ModelInfo):
            raw = meta.get(PREFIX + f.name)
            if raw is None:
                continue
            kind = type(f.default)
            try:
                values[f.name] = kind(raw)
            except ValueError as err:
                raise ValueError(f"{source}: {PREFIX + f.name}={raw!r} is not a valid {kind.__name__}") from err
        return ModelInfo(**values).validate(source)

    def replace(self, **changes) -> "ModelInfo":
        return dataclasses.replace(self, **changes)

    def metrics_dict(self) -> dict:
        return json.loads(self.metrics) if self.metrics else {}
