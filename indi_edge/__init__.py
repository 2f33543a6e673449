"""indi_edge: InDI (Inversion by Direct Iteration) image restoration for the edge.

The runtime needs numpy, OpenCV and ONNX Runtime only; torch is imported lazily by the
network, training and export modules and never by `import indi_edge`.
"""
from __future__ import annotations

__version__ = "0.1.0"

from indi_edge import sampling

__all__ = ["sampling", "__version__"]
