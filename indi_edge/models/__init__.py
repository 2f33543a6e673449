"""Default models bundled with the package: NAME.onnx (for the runtime) and NAME.safetensors
(EMA weights with their config, for fine-tuning and re-export). See models/README.md for how
each was trained and what it scores on held-out images."""
from __future__ import annotations

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
KINDS = {"onnx": ".onnx", "weights": ".safetensors"}


def list_models() -> list[str]:
    """Names of the bundled models (those shipped with an ONNX file)."""
    return sorted(p.stem for p in MODELS_DIR.glob("*.onnx"))


def path(name: str, kind: str = "onnx") -> Path:
    """The file of bundled model `name`: kind "onnx" (runtime) or "weights" (safetensors)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    available = list_models()
    if name not in available:
        raise ValueError(f"no bundled model {name!r}; bundled models: {available or 'none'}")
    file = MODELS_DIR / f"{name}{KINDS[kind]}"
    if not file.is_file():
        raise FileNotFoundError(f"bundled model {name!r} has no {kind} file at {file}")
    return file


list = list_models  # the documented name: indi_edge.models.list()
