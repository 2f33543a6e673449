"""AOTInductor backend: a .pt2 package from `indi-edge export --pt2`, run through torch.

Needs torch (imported here, when a .pt2 is opened, never by `import indi_edge`). The model facts
(ModelInfo) travel in the package's AOTInductor metadata.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from indi_edge.backends import StepLoop, check_batch
from indi_edge.model_info import PREFIX, ModelInfo


class Pt2Backend(StepLoop):
    """F(x, t) -> x0 through a compiled AOTInductor package (CPU)."""

    def __init__(self, path: Path):
        import torch
        from torch._inductor import aoti_load_package

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no .pt2 package at {path}")
        try:
            self.runner = aoti_load_package(str(path))
        except (RuntimeError, ValueError, OSError) as err:  # zip, version and platform errors
            raise ValueError(f"{path} is not a loadable AOTInductor (.pt2) package: {err}") from err
        meta = self.runner.get_metadata()
        if PREFIX + "multiple" not in meta:
            raise ValueError(f"{path} has no indi_edge model facts in its metadata; was it written by "
                             f"`indi-edge export --pt2`?")
        self._torch = torch
        self.path = path
        self.info = ModelInfo.from_metadata(meta, str(path))
        self.multiple = self.info.multiple
        self.providers = ["torch-aotinductor-" + meta.get("AOTI_DEVICE_KEY", "cpu")]

    def __call__(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        check_batch(x, t, self.multiple)
        torch = self._torch
        with torch.inference_mode():
            x0 = self.runner(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
                             torch.from_numpy(np.ascontiguousarray(t, dtype=np.float32)))
        return x0.numpy()
