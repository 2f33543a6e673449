"""Build a TensorRT engine from an exported ONNX model, on the device that will run it.

    from indi_edge.tensorrt import BuildOptions, build_engine
    build_engine("motion.onnx", "motion.engine", BuildOptions(precision="fp16", workspace_mb=1024))

Writes NAME.engine and its sidecar NAME.engine.json (key + model facts); when both exist with the
same key (ONNX sha256, profiles, precision, TensorRT version, GPU) the build is skipped. The
timing cache persists between builds. Written against the TensorRT 10/11 Python API; see
docs/GPU.md for what has and has not run on real TensorRT.
"""
from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from indi_edge import atomic, cuda_runtime
from indi_edge.model_info import ModelInfo
from indi_edge.tensorrt.cache import EngineKey, EngineSidecar, find_cached, sha256_file, write_sidecar
from indi_edge.tensorrt.log import BuildLog, trt_logger, trt_progress_monitor
from indi_edge.tensorrt.profiles import Profile, profiles_from_args
from indi_edge.tensorrt.version import BuildMode, build_mode, tensorrt_module

STEP_INPUTS = ("x", "t")


@dataclasses.dataclass(frozen=True)
class BuildOptions:
    precision: str = "fp16"                 # "fp16" | "fp32"
    profiles: tuple[Profile, ...] = ()      # () : profiles_from_args' default (a tile .. 1080p, one frame)
    workspace_mb: int = 0                   # builder workspace limit (Jetson memory is shared); 0: TensorRT's
    timing_cache: Path | None = None        # None: default_timing_cache(); persists kernel timings
    optimization_level: int = 3             # builder_optimization_level 0..5 (higher: slower build)
    device: int = 0                         # the GPU to build on (an engine is tuned for the GPU it is built on)


@dataclasses.dataclass(frozen=True)
class OnnxFacts:
    path: Path
    sha256: str
    info: ModelInfo
    precision: str      # what the export computes in (indi_edge.precision metadata): "fp16" | "fp32"


def read_onnx(path: str | os.PathLike) -> OnnxFacts:
    """Model facts of a step-network ONNX export, read with ONNX Runtime on the CPU."""
    from indi_edge.backends.onnx import open_onnx

    path = Path(path)
    backend = open_onnx(path, providers=["CPUExecutionProvider"], threads=1)
    if backend.info.unrolled_steps:
        raise ValueError(f"{path.name} is an unrolled {backend.info.unrolled_steps}-step graph; the TensorRT "
                         f"backend runs the step network (x, t -> x0) and the loop itself: build from an "
                         f"export without --unroll")
    meta = backend.session.get_modelmeta().custom_metadata_map
    precision = meta.get("indi_edge.precision", "fp32")
    return OnnxFacts(path, sha256_file(path), backend.info, precision)


def default_timing_cache(tensorrt_version: str, device: cuda_runtime.DeviceInfo) -> Path:
    """~/.cache/indi_edge/tensorrt-VERSION-sm_XY.timing (XDG_CACHE_HOME honoured)."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "indi_edge" / f"tensorrt-{tensorrt_version}-{device.sm}.timing"


def engine_key(facts: OnnxFacts, profiles, precision: str, tensorrt_version: str,
               device: cuda_runtime.DeviceInfo, optimization_level: int = 3, workspace_mb: int = 0) -> EngineKey:
    return EngineKey(facts.sha256, tuple(profiles), precision, tensorrt_version, device.name,
                     device.compute_capability, int(optimization_level), int(workspace_mb))


def scalar_path_layers(layers, root: str = "t") -> list[str]:
    """Names of the layers computed from `root` and constants only: the t embedding and time MLP.

    layers: (name, input tensor names, output tensor names) in network order (topological).
    Layers without inputs (constants) count as derived but are not listed: they hold data, not math.
    """
    derived = {root}
    names = []
    for name, inputs, outputs in layers:
        if all(i in derived for i in inputs):
            derived.update(outputs)
            if inputs:
                names.append(name)
    return names


def pin_t_path_fp32(trt, network, root: str = "t") -> int:
    """Keep the layers fed only by t in fp32 (sin(1000 t) in fp16 is ~0.5 rad off); returns how many."""
    layers = [network.get_layer(i) for i in range(network.num_layers)]
    described = [(layer.name, [layer.get_input(j).name for j in range(layer.num_inputs) if layer.get_input(j) is not None],
                  [layer.get_output(j).name for j in range(layer.num_outputs)]) for layer in layers]
    chosen = set(scalar_path_layers(described, root))
    floats = (trt.float32, trt.float16)
    pinned = 0
    for layer in layers:
        outputs = [layer.get_output(j) for j in range(layer.num_outputs)]
        if layer.name not in chosen or not all(o.dtype in floats for o in outputs):
            continue  # shape and index arithmetic has no precision to pin
        layer.precision = trt.float32
        for j in range(layer.num_outputs):
            layer.set_output_type(j, trt.float32)
        pinned += 1
    return pinned


def build_engine(onnx: str | os.PathLike, output: str | os.PathLike, options: BuildOptions = BuildOptions(),
                 *, log: BuildLog | None = None, reuse: bool = True) -> Path:
    """Build (or reuse, when the key matches) OUTPUT.engine and its sidecar from ONNX; returns OUTPUT."""
    log = log or BuildLog()
    output = Path(output)
    if output.suffix != ".engine":
        raise ValueError(f"the engine file must end in .engine, got {output}")
    facts = read_onnx(onnx)
    profiles = options.profiles or tuple(profiles_from_args(None, None, None, None, facts.info.multiple))
    trt = tensorrt_module()
    mode = build_mode(trt.__version__, options.precision, facts.precision)
    cuda_runtime.set_device(options.device)  # the builder works on the current device
    device = cuda_runtime.device_info(options.device)
    key = engine_key(facts, profiles, mode.precision, trt.__version__, device, options.optimization_level,
                     options.workspace_mb)
    if reuse and find_cached(output, key):
        log.line(f"{output} is up to date (same ONNX, profiles, precision, TensorRT and GPU): reused")
        return output
    log.line(f"building {output.name} from {facts.path.name} on {device.name} ({device.sm}): {mode.describe()}")
    log.line("profiles: " + "; ".join(p.describe() for p in profiles))
    timing_cache = options.timing_cache or default_timing_cache(trt.__version__, device)
    started = time.monotonic()
    engine, io = _build(trt, facts, mode, profiles, options, timing_cache, log)
    seconds = time.monotonic() - started
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(output, engine)  # a unique temporary name: concurrent builds do not collide
    inputs = {k: v for k, v in io.items() if k in STEP_INPUTS}
    outputs = {k: v for k, v in io.items() if k not in STEP_INPUTS}
    write_sidecar(output, EngineSidecar(key, facts.info, inputs, outputs,
                                        f"{mode.describe()}; built in {seconds:.0f} s"))
    log.line(f"wrote {output} ({len(engine) / 1e6:.1f} MB) in {seconds:.1f} s; timing cache {timing_cache}")
    return output


def _build(trt, facts: OnnxFacts, mode: BuildMode, profiles, options: BuildOptions, timing_cache: Path,
           log: BuildLog) -> tuple[bytes, dict[str, str]]:
    """Parse, configure and build; returns the serialized engine and its IO {name: dtype}."""
    import numpy as np

    logger = trt_logger(trt, log)
    builder = trt.Builder(logger)
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if mode.strongly_typed else 0
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(facts.path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {facts.path.name}: {errors}")
    config = builder.create_builder_config()
    if options.workspace_mb:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(options.workspace_mb) << 20)
    config.builder_optimization_level = int(options.optimization_level)
    if mode.fp16_flag:
        config.set_flag(trt.BuilderFlag.FP16)
    if mode.precision == "fp32" or mode.pin_t_path_fp32:
        # TF32 is on by default in TensorRT: an "fp32" engine (and the fp32-pinned t path) would run
        # its matrix math with 10-bit mantissas.
        config.clear_flag(trt.BuilderFlag.TF32)
    if mode.pin_t_path_fp32:
        log.line(f"{pin_t_path_fp32(trt, network)} layers of the t path kept in fp32")
        config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
    for p in profiles:
        profile = builder.create_optimization_profile()
        profile.set_shape("x", p.min, p.opt, p.max)
        profile.set_shape("t", (p.min[0],), (p.opt[0],), (p.max[0],))
        config.add_optimization_profile(profile)
    cache = config.create_timing_cache(timing_cache.read_bytes() if timing_cache.is_file() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    monitor = trt_progress_monitor(trt, log)  # referenced until the build returns
    config.progress_monitor = monitor
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT could not build an engine from {facts.path.name}: "
                           f"{'; '.join(log.errors) or 'see the log above'}")
    timing_cache.parent.mkdir(parents=True, exist_ok=True)
    # Shared by later builds: an interrupted write must not leave it corrupt.
    atomic.write_bytes(timing_cache, bytes(memoryview(config.get_timing_cache().serialize())))
    tensors = [network.get_input(i) for i in range(network.num_inputs)] + \
              [network.get_output(i) for i in range(network.num_outputs)]
    io = {tensor.name: np.dtype(trt.nptype(tensor.dtype)).name for tensor in tensors}
    return bytes(memoryview(serialized)), io
