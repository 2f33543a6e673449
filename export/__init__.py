"""Workstation toolchain: torch -> ONNX / .pt2. Installed as `indi_edge.export` (see pyproject.toml).

    from indi_edge.export import export_onnx, export_pt2, load_model, validate
    model, info = load_model("runs/motion")          # weights file or training run folder
    export_onnx(model, "motion.onnx", info)           # fp32; fp16=True, fp16_io=True, unroll=N
    export_pt2(model, "motion.pt2", info)             # AOTInductor package

Every export is validated against torch on a real held-out image before it is moved into place.
Needs torch, onnx, onnxscript (the `train` extra); the runtime never imports this package.
"""
from __future__ import annotations

from indi_edge.export.onnx_export import export_onnx
from indi_edge.export.pt2 import export_pt2
from indi_edge.export.source import load_model
from indi_edge.export.validate import Validation, validate

__all__ = ["export_onnx", "export_pt2", "load_model", "validate", "Validation"]
