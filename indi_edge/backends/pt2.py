"""AOTInductor backend: a .pt2 package from `indi-edge export --pt2`, run through torch.

Needs torch (imported here, when a .pt2 is opened, never by `import indi_edge`). The model facts
(ModelInfo) travel in the package's AOTInductor metadata.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from indi_edge.backends import StepLoop, check_batch
from indi_edge.model_info import PREFIX, ModelInfo


class UntrustedModel(ValueError):
    """A model file whose loading runs code from the file, opened without trust=True."""


def require_trust(path: Path, trust: bool) -> None:
    """A .pt2 package is code: torch's loader unpickles archive members and loads the compiled
    library inside it. Opening one from an untrusted source is running that source's program."""
    if not trust:
        raise UntrustedModel(f"{path} is a .pt2 package: opening it runs code from the file (torch unpickles its "
                             f"members and loads its compiled library). Open only packages you built or trust: "
                             f"Restorer(path, trust=True) or --trust-model. ONNX models and TensorRT engines need "
                             f"no such flag.")


class Pt2Backend(StepLoop):
    """F(x, t) -> x0 through a compiled AOTInductor package (CPU). trust=True is required: see require_trust."""

    def __init__(self, path: Path, *, trust: bool = False):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no .pt2 package at {path}")
        require_trust(path, trust)
        import torch
        from torch._inductor import aoti_load_package

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
