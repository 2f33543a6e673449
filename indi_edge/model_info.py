"""Model facts that travel inside every model file (safetensors metadata, ONNX metadata_props,
engine sidecar JSON), so a Restorer needs nothing but the file to restore correctly.

All values are stored as strings under keys prefixed "indi_edge."; lists/dicts as JSON.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any

PREFIX = "indi_edge."


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    task: str = "custom"            # motion-deblur, denoise, ... or custom
    multiple: int = 1               # H and W must be multiples of this
    steps: int = 1                  # default number of InDI steps
    eps: float = 0.0                # noise level in [-1, 1] units
    eps_schedule: str = "constant"  # constant | brownian
    sampler: str = "indi"           # indi | naive | cold
    preset: str = ""                # U-Net preset name (or "" for a custom config)
    unet_config: str = ""           # indi_edge.nn.UNetConfig as JSON
    train_command: str = ""         # the exact command that trained it
    train_data: str = ""            # what it was trained on
    train_time: str = ""            # wall time and machine
    metrics: str = ""               # held-out metrics as JSON
    unrolled_steps: int = 0         # > 0: the graph holds the whole N-step loop (export --unroll)

    def to_metadata(self) -> dict[str, str]:
        """Flat str -> str mapping for safetensors / ONNX metadata_props."""
        return {PREFIX + f.name: str(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @staticmethod
    def from_metadata(meta: dict[str, str]) -> "ModelInfo":
        """Read the fields present in `meta` (unknown keys are ignored, missing ones default)."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(ModelInfo):
            raw = meta.get(PREFIX + f.name)
            if raw is None:
                continue
            kind = type(f.default)
            try:
                values[f.name] = kind(raw)
            except ValueError as err:
                raise ValueError(f"model metadata {PREFIX + f.name}={raw!r} is not a valid {kind.__name__}") from err
        return ModelInfo(**values)

    def replace(self, **changes) -> "ModelInfo":
        return dataclasses.replace(self, **changes)

    def metrics_dict(self) -> dict:
        return json.loads(self.metrics) if self.metrics else {}
