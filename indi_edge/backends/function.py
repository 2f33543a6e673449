"""Any Python callable f(x, t) -> x0 on numpy arrays as a backend (oracles, tests, custom models).

(Not named callable.py: a submodule becomes an attribute of the package and would shadow the builtin.)
"""
from __future__ import annotations

import numpy as np

from indi_edge.backends import StepLoop, check_batch
from indi_edge.model_info import ModelInfo


class CallableBackend(StepLoop):
    """Wraps f(x [N, 3, H, W] float32, t [N] float32) -> x0 [N, 3, H, W].

    The object's own `info` (a ModelInfo) and `multiple` attributes are used when it has them.
    """

    def __init__(self, fn, info: ModelInfo | None = None):
        self.fn = fn
        self.info = info if info is not None else getattr(fn, "info", ModelInfo())
        if not isinstance(self.info, ModelInfo):
            raise TypeError(f"the callable's info must be an indi_edge.ModelInfo, got {type(self.info).__name__}")
        self.multiple = int(getattr(fn, "multiple", self.info.multiple))

    def __call__(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        check_batch(x, t, self.multiple)
        x0 = np.ascontiguousarray(self.fn(x, t), dtype=np.float32)
        if x0.shape != x.shape:
            raise ValueError(f"the model returned shape {x0.shape}; expected x0 shaped like x {x.shape}")
        return x0
