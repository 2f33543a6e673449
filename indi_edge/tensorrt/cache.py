"""Engine cache key and sidecar JSON.

An engine only runs on the TensorRT version and GPU that built it, for the shapes of its
profiles, so the key (as vs-mlrt's) is: ONNX sha256, profiles, precision, TensorRT version, GPU
name and compute capability. A cached engine is reused only when every field matches.

Beside every engine, `NAME.engine.json` carries the key and the model facts (ModelInfo: steps,
eps, sampler, multiple, ...) plus the engine's IO names and dtypes, so Restorer("x.engine")
needs nothing else. Pure Python: tested without TensorRT.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

from indi_edge import atomic
from indi_edge.model_info import ModelInfo
from indi_edge.tensorrt.profiles import Profile

SIDECAR_FORMAT = 1


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class EngineKey:
    onnx_sha256: str
    profiles: tuple[Profile, ...]
    precision: str                      # "fp16" | "fp32"
    tensorrt_version: str               # tensorrt.__version__, e.g. "10.3.0"
    gpu_name: str                       # e.g. "Orin", "NVIDIA H100 80GB HBM3"
    compute_capability: tuple[int, int]  # e.g. (8, 7)
    optimization_level: int = 3         # builder_optimization_level: another level, another engine
    workspace_mb: int = 0               # the workspace cap bounds the tactics TensorRT may pick

    def to_json(self) -> dict:
        raw = dataclasses.asdict(self)
        raw["profiles"] = [p.to_json() for p in self.profiles]
        raw["compute_capability"] = list(self.compute_capability)
        return raw

    @staticmethod
    def from_json(raw: dict) -> "EngineKey":
        fields = {f.name for f in dataclasses.fields(EngineKey)}
        if set(raw) != fields:
            raise ValueError(f"an engine key has the fields {sorted(fields)}, got {sorted(raw)}")
        return EngineKey(str(raw["onnx_sha256"]), tuple(Profile.from_json(p) for p in raw["profiles"]),
                         str(raw["precision"]), str(raw["tensorrt_version"]), str(raw["gpu_name"]),
                         tuple(int(v) for v in raw["compute_capability"]), int(raw["optimization_level"]),
                         int(raw["workspace_mb"]))

    def digest(self) -> str:
        """sha256 of the canonical JSON of every field: any change gives another digest."""
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()

    def mismatches(self, other: "EngineKey") -> list[str]:
        """Names of the fields that differ (why a cached engine cannot be used)."""
        return [f.name for f in dataclasses.fields(self) if getattr(self, f.name) != getattr(other, f.name)]


@dataclasses.dataclass(frozen=True)
class EngineSidecar:
    key: EngineKey
    info: ModelInfo
    inputs: dict[str, str]     # IO tensor name -> "float32" | "float16"
    outputs: dict[str, str]
    built_with: str = ""       # BuildMode.describe() and the build time

    def to_json(self) -> dict:
        return {"format": SIDECAR_FORMAT, "key": self.key.to_json(), "model": self.info.to_metadata(),
                "inputs": dict(self.inputs), "outputs": dict(self.outputs), "built_with": self.built_with}

    @staticmethod
    def from_json(raw: dict) -> "EngineSidecar":
        if raw.get("format") != SIDECAR_FORMAT:
            raise ValueError(f"engine sidecar format {raw.get('format')!r} is not {SIDECAR_FORMAT}; rebuild the engine")
        return EngineSidecar(EngineKey.from_json(raw["key"]), ModelInfo.from_metadata(raw["model"], "the engine sidecar"),
                             dict(raw["inputs"]), dict(raw["outputs"]), str(raw.get("built_with", "")))


def sidecar_path(engine: str | os.PathLike) -> Path:
    return Path(str(engine) + ".json")


def write_sidecar(engine: str | os.PathLike, sidecar: EngineSidecar) -> Path:
    path = sidecar_path(engine)
    return atomic.write_text(path, json.dumps(sidecar.to_json(), indent=2, sort_keys=True) + "\n")


def read_sidecar(engine: str | os.PathLike) -> EngineSidecar:
    """The sidecar of `engine`; ValueError when it is missing (the engine alone is not usable) or unreadable."""
    path = sidecar_path(engine)
    if not path.is_file():
        raise ValueError(f"no sidecar {path.name} beside {Path(engine).name}: TensorRT engines need it (model facts "
                         f"and build key); build engines with `indi-edge build-engine`, which writes both")
    try:
        return EngineSidecar.from_json(json.loads(path.read_text()))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path} is not a readable engine sidecar: {err}") from err


def cached_engine_path(cache_dir: str | os.PathLike, onnx: str | os.PathLike, key: EngineKey) -> Path:
    """Where the engine for `key` lives in `cache_dir`: the ONNX name and the key's digest."""
    return Path(cache_dir) / f"{Path(onnx).stem}-{key.precision}-{key.digest()[:16]}.engine"


def find_cached(path: str | os.PathLike, key: EngineKey) -> Path | None:
    """`path` when it and its sidecar exist and the sidecar's key matches `key` in every field."""
    path = Path(path)
    if not path.is_file() or not sidecar_path(path).is_file():
        return None
    try:
        stored = read_sidecar(path).key
    except ValueError:
        return None  # an unreadable sidecar is a cache miss: the engine is rebuilt
    return path if stored == key else None
