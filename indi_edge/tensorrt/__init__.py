"""TensorRT engines for the device that runs them (Jetson Orin, desktop GPUs).

    version   which TensorRT is here; how FP16 is built with it (10: BuilderFlag.FP16, 11: fp16 ONNX)
    profiles  optimisation profiles from --min/--opt/--max or static --shape, and their checks
    cache     engine cache key and the sidecar JSON (model facts + key) beside every engine
    log       the build logged as it goes (messages, optimiser phases, elapsed time)
    builder   build_engine(onnx, output, BuildOptions(...)): parse, configure, build, write

Nothing here imports tensorrt (or cuda-python) until a build or an engine needs it; then a
missing TensorRT is a RuntimeError saying how to install it. The backend that runs engines is
indi_edge.backends.tensorrt (Restorer("model.engine")).
"""
from __future__ import annotations

from indi_edge.tensorrt.builder import BuildOptions, build_engine, read_onnx
from indi_edge.tensorrt.cache import EngineKey, EngineSidecar, read_sidecar
from indi_edge.tensorrt.profiles import Profile, profiles_from_args, select_profile
from indi_edge.tensorrt.version import build_mode, parse_version, tensorrt_module

__all__ = ["BuildOptions", "build_engine", "read_onnx", "EngineKey", "EngineSidecar", "read_sidecar",
           "Profile", "profiles_from_args", "select_profile", "build_mode", "parse_version", "tensorrt_module"]
