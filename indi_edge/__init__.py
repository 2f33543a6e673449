"""indi_edge: InDI (Inversion by Direct Iteration) image restoration for the edge.

The runtime needs numpy, OpenCV and ONNX Runtime only; torch is imported lazily by the
network, training and export modules and never by `import indi_edge`.
"""
from __future__ import annotations

__version__ = "0.1.0"

from indi_edge import sampling

__all__ = ["sampling", "Restorer", "ModelInfo", "models", "ops", "__version__"]

# Loaded on first use so `import indi_edge` stays light (no ONNX Runtime, no OpenCV, no torch).
_LAZY = {"Restorer": "indi_edge.restorer", "ModelInfo": "indi_edge.model_info"}
_LAZY_MODULES = {"models", "ops"}  # torch-free submodules reachable as indi_edge.models.path(...)


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _LAZY_MODULES:
        return importlib.import_module(f"indi_edge.{name}")
    raise AttributeError(f"module 'indi_edge' has no attribute {name!r}")
