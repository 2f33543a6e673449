"""Which TensorRT is here, and how an FP16 engine is built with it.

TensorRT 10 (JetPack 6 on Jetson Orin): weakly typed networks; FP16 comes from BuilderFlag.FP16
on the fp32 ONNX, with the t path pinned to fp32 (as the fp16 export does). TensorRT 11: strongly
typed only, BuilderFlag.FP16 is gone; FP16 engines are built from the fp16 ONNX of the export
toolchain (`indi-edge export --fp16 --fp16-io`). Below 10: refused.

Pure Python apart from tensorrt_module(); build_mode() is tested on version strings.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import re

MIN_MAJOR = 10
PRECISIONS = ("fp16", "fp32")
INSTALL_HINT = ("on a Jetson it comes with JetPack 6 (apt install python3-libnvinfer); on a desktop with "
                "an NVIDIA GPU: pip install tensorrt (TensorRT 10 or newer)")


def tensorrt_module():
    """The tensorrt module, or RuntimeError saying how to get it; versions below 10 are refused."""
    if importlib.util.find_spec("tensorrt") is None:
        raise RuntimeError(f"TensorRT is not installed, so engines can be neither built nor run here; {INSTALL_HINT}. "
                           f"Without it, restore with the .onnx model (ONNX Runtime)")
    import tensorrt

    parse_version(tensorrt.__version__)  # refuses < 10 before anything else is tried
    return tensorrt


def parse_version(text: str) -> tuple[int, int, int]:
    """"10.3.0" or "10.3.0.26" -> (10, 3, 0); ValueError for an unreadable or unsupported (< 10) version."""
    match = re.match(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?", str(text))
    if not match:
        raise ValueError(f"cannot read a TensorRT version from {text!r}")
    version = (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))
    if version[0] < MIN_MAJOR:
        raise ValueError(f"TensorRT {text} is too old: indi_edge builds and runs engines with TensorRT "
                         f"{MIN_MAJOR} or newer (its I/O-tensor API: set_tensor_address, execute_async_v3). "
                         f"Upgrade: {INSTALL_HINT}")
    return version


@dataclasses.dataclass(frozen=True)
class BuildMode:
    """How the network is created and configured for one build."""
    version: tuple[int, int, int]
    precision: str            # "fp16" | "fp32": what the engine computes in
    strongly_typed: bool      # NetworkDefinitionCreationFlag.STRONGLY_TYPED (always on from TensorRT 11)
    fp16_flag: bool           # BuilderFlag.FP16 (TensorRT 10, weakly typed fp32 ONNX)
    pin_t_path_fp32: bool     # layers fed only by t stay fp32 (OBEY_PRECISION_CONSTRAINTS)

    def describe(self) -> str:
        how = ("strongly typed (precision from the ONNX)" if self.strongly_typed else
               "BuilderFlag.FP16, t path pinned to fp32" if self.fp16_flag else "fp32")
        return f"TensorRT {'.'.join(map(str, self.version))}, {self.precision}: {how}"


def build_mode(version_text: str, precision: str, onnx_precision: str) -> BuildMode:
    """The build for `precision` from an ONNX computing in `onnx_precision` ("fp16" | "fp32",
    the export's indi_edge.precision metadata) on TensorRT `version_text`."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if onnx_precision not in PRECISIONS:
        raise ValueError(f"the ONNX precision must be one of {PRECISIONS}, got {onnx_precision!r}")
    version = parse_version(version_text)
    if onnx_precision == "fp16":
        if precision == "fp32":
            raise ValueError("this ONNX is an fp16 export; an fp32 engine needs the fp32 ONNX "
                             "(indi-edge export without --fp16)")
        return BuildMode(version, "fp16", strongly_typed=True, fp16_flag=False, pin_t_path_fp32=False)
    if version[0] >= 11:
        if precision == "fp16":
            raise ValueError(f"TensorRT {version_text} builds strongly typed networks only (BuilderFlag.FP16 was "
                             f"removed in TensorRT 11): export the fp16 ONNX with `indi-edge export --fp16 "
                             f"--fp16-io` and build the engine from it, or build --precision fp32")
        return BuildMode(version, "fp32", strongly_typed=True, fp16_flag=False, pin_t_path_fp32=False)
    fp16 = precision == "fp16"
    return BuildMode(version, precision, strongly_typed=False, fp16_flag=fp16, pin_t_path_fp32=fp16)
