"""The physical limit next to every figure: multiply-adds counted from the ONNX graph, this
machine's measured matrix-product peak, and datasheet peaks of named targets.

floor = max(compute floor, memory floor): 2 * MACs / peak FLOP/s, and the activation bytes every
convolution must at least write and read back / memory bandwidth. A measured time t achieves
floor / t of the device's limit.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
import time
from pathlib import Path

COUNTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}


@dataclasses.dataclass(frozen=True)
class GraphCost:
    """What one evaluation of a graph costs at one input size (batch 1)."""

    height: int
    width: int
    macs: int                 # multiply-adds of Conv/ConvTranspose/Gemm/MatMul nodes
    activations: int          # elements written by those nodes (each written once, read back once)

    @property
    def macs_per_pixel(self) -> float:
        return self.macs / (self.height * self.width)

    def flops(self) -> float:
        return 2.0 * self.macs

    @staticmethod
    def from_per_pixel(height: int, width: int, macs_per_pixel: float, activations_per_pixel: float) -> "GraphCost":
        """The cost at another size of a fully convolutional graph counted at one size."""
        pixels = height * width
        return GraphCost(height, width, round(macs_per_pixel * pixels), round(activations_per_pixel * pixels))

    def min_bytes(self, precision: str) -> float:
        """The activation traffic no fusion can avoid: every conv output written and read once."""
        return 2.0 * self.activations * BYTES[precision]


# --- counting from the graph ---------------------------------------------------------------

def _fix_input_shapes(model, height: int, width: int) -> None:
    """Give every input concrete dims: batch 1, image inputs [.., 3, height, width]."""
    for value in model.graph.input:
        dims = value.type.tensor_type.shape.dim
        concrete = {4: [1, 3, height, width], 5: [None, 1, 3, height, width], 1: [1]}.get(len(dims))
        if concrete is None:
            raise ValueError(f"input {value.name!r} has rank {len(dims)}; expected x [N, 3, H, W], "
                             f"t [N] or noise [K, N, 3, H, W]")
        for dim, v in zip(dims, concrete):
            if v is not None:
                dim.Clear()
                dim.dim_value = v


def _node_macs(node, shape) -> int:
    """Multiply-adds of one counted node from its (inferred) input/output and weight shapes."""
    out = shape(node.output[0])
    if node.op_type == "Conv":  # weight [Cout, Cin/groups, kh, kw]: each output element sums Cin/g*kh*kw
        return math.prod(out) * math.prod(shape(node.input[1])[1:])
    if node.op_type == "ConvTranspose":  # weight [Cin, Cout/groups, kh, kw]: each input element scatters
        return math.prod(shape(node.input[0])) * math.prod(shape(node.input[1])[1:])
    a = shape(node.input[0])  # Gemm/MatMul: [..., M, K] x [K, N] -> [..., M, N], K summed per output
    k = a[-2] if node.op_type == "Gemm" and _attr(node, "transA") else a[-1]
    return math.prod(out) * k


def _attr(node, name: str) -> int:
    return next((a.i for a in node.attribute if a.name == name), 0)


def count_graph(onnx_path: str | Path, height: int, width: int) -> GraphCost:
    """MACs and conv activation elements of one run of the graph at batch 1, height x width
    (multiples of the model's size multiple). Shapes come from ONNX Runtime's symbolic shape
    inference, which follows the Shape/Reshape arithmetic of dynamic exports."""
    import onnx
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    path = Path(onnx_path)
    if not path.is_file():
        raise FileNotFoundError(f"no ONNX model at {path}")
    model = onnx.load(str(path))
    _fix_input_shapes(model, height, width)
    inferred = SymbolicShapeInference.infer_shapes(model, auto_merge=False)
    shapes = {v.name: [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
              for v in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)}
    shapes.update({i.name: list(i.dims) for i in inferred.graph.initializer})

    def shape(name: str) -> list[int]:
        dims = shapes.get(name)
        if dims is None or any(d is None for d in dims):
            raise ValueError(f"{path.name}: could not infer the shape of {name!r} at {height}x{width} ({dims})")
        return dims

    macs = activations = 0
    for node in _all_nodes(inferred.graph):
        if node.op_type in COUNTED_OPS:
            macs += _node_macs(node, shape)
            activations += math.prod(shape(node.output[0]))
    return GraphCost(height, width, int(macs), int(activations))


def _all_nodes(graph):
    """Nodes of the graph (dynamo exports of the U-Net have no subgraphs; refuse ones that do)."""
    for node in graph.node:
        if any(a.type in (a.GRAPH, a.GRAPHS) for a in node.attribute):
            raise ValueError(f"node {node.name!r} ({node.op_type}) holds a subgraph; only flat graphs are counted")
        yield node


# --- this machine's peak --------------------------------------------------------------------

def measure_matmul_peak(dtype: str, threads: int, size: int | None = None, repeats: int = 10) -> dict:
    """Median FLOP/s of torch.matmul on two square size x size matrices (after 3 warm-ups).

    dtype "fp32" or "bf16" (AMX/AVX512-BF16 through oneDNN where the CPU has them).
    Returns {"dtype", "size", "threads", "median_tflops", "best_tflops", "repeats"}."""
    import torch

    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    if dtype not in dtypes:
        raise ValueError(f"dtype must be one of {sorted(dtypes)}, got {dtype!r}")
    size = size or (2048 if dtype == "fp32" else 4096)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(0)
        a, b = (torch.randn(size, size, generator=gen).to(dtypes[dtype]) for _ in range(2))
        c = torch.empty(size, size, dtype=dtypes[dtype])
        times = []
        for i in range(3 + repeats):
            start = time.perf_counter()
            torch.matmul(a, b, out=c)
            if i >= 3:
                times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)
    flop = 2.0 * size**3
    return {"dtype": dtype, "size": size, "threads": threads, "repeats": repeats,
            "median_tflops": flop / statistics.median(times) / 1e12, "best_tflops": flop / min(times) / 1e12}


def measure_copy_bandwidth(threads: int, megabytes: int = 256, repeats: int = 10) -> dict:
    """Median memory bandwidth of a torch copy of `megabytes` (counted as read + write), in GB/s."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a = torch.ones(megabytes << 18)  # float32: 4 bytes each
        b = torch.empty_like(a)
        times = []
        for i in range(2 + repeats):
            start = time.perf_counter()
            b.copy_(a)
            if i >= 2:
                times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)
    moved = 2.0 * a.numel() * 4
    return {"megabytes": megabytes, "threads": threads, "repeats": repeats,
            "median_gbs": moved / statistics.median(times) / 1e9, "best_gbs": moved / min(times) / 1e9}


def floor_ms(cost: GraphCost, evaluations: int, batch: int, peak_tflops: float,
             bandwidth_gbs: float | None = None, precision: str = "fp32") -> float:
    """The least time `evaluations` runs of the graph on `batch` frames can take on a device with
    this peak (and memory bandwidth, when given), in ms."""
    compute = evaluations * batch * cost.flops() / (peak_tflops * 1e12)
    memory = evaluations * batch * cost.min_bytes(precision) / (bandwidth_gbs * 1e9) if bandwidth_gbs else 0.0
    return 1e3 * max(compute, memory)


# --- named targets (DATASHEET numbers, not measurements) ------------------------------------

@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    fp16_dense_tflops: float   # tensor-core FP16, dense (no 2:4 sparsity)
    bandwidth_gbs: float       # DRAM bandwidth
    source: str


# Datasheet numbers, NOT measured here. FP16 dense = what the vendor's sheet gives, or, where it
# gives only sparse INT8 TOPS (Jetson), sparse INT8 / 4 (Ampere: dense = sparse / 2, FP16 = INT8 / 2).
TARGETS = (
    # Jetson Orin Nano 8GB data sheet (DS-11105): 40 sparse INT8 TOPS (GPU, 32 tensor cores, 625 MHz),
    # 128-bit LPDDR5 68 GB/s. (JetPack 6.1 "Super" mode: 67 TOPS, 102 GB/s.)
    Target("Jetson Orin Nano 8GB", 10.0, 68.0, "DS-11105 data sheet: 40 sparse INT8 TOPS / 4; 68 GB/s"),
    # Jetson AGX Orin 64GB data sheet / technical brief: GPU 170 sparse INT8 TOPS (64 tensor cores,
    # 1.3 GHz), 256-bit LPDDR5 204.8 GB/s.
    Target("Jetson AGX Orin 64GB", 42.5, 204.8, "AGX Orin data sheet: GPU 170 sparse INT8 TOPS / 4; 204.8 GB/s"),
    # NVIDIA Ada GPU architecture whitepaper, RTX 4090: 165.2 FP16 tensor TFLOPS with FP32 accumulate
    # (330.3 with FP16 accumulate), 1008 GB/s GDDR6X.
    Target("RTX 4090", 165.2, 1008.0, "Ada whitepaper: FP16 tensor, FP32 accumulate, dense; 1008 GB/s"),
    # NVIDIA H100 Tensor Core GPU datasheet, SXM5: 989.4 FP16 tensor TFLOPS dense (1979 sparse),
    # HBM3 3.35 TB/s.
    Target("H100 SXM5", 989.4, 3350.0, "H100 datasheet: FP16 tensor dense; 3.35 TB/s"),
)


def predicted_floors(costs: dict[str, dict[str, GraphCost]], steps: list[int]) -> list[dict]:
    """Per target, preset, resolution and N: the least ms per frame (batch 1, fp16) and the fps bound.

    costs: {preset: {resolution label: GraphCost of one step}}."""
    rows = []
    for target in TARGETS:
        for preset, by_size in costs.items():
            for label, cost in by_size.items():
                for n in steps:
                    ms = floor_ms(cost, n, 1, target.fp16_dense_tflops, target.bandwidth_gbs, "fp16")
                    rows.append({"target": target.name, "preset": preset, "resolution": label, "steps": n,
                                 "floor_ms": ms, "max_fps": 1e3 / ms if ms > 0 else math.inf,
                                 "bound": "memory" if cost.min_bytes("fp16") / (target.bandwidth_gbs * 1e9)
                                 > cost.flops() / (target.fp16_dense_tflops * 1e12) else "compute"})
    return rows


def targets_table() -> list[dict]:
    return [dataclasses.asdict(t) | {"kind": "datasheet (not measured)"} for t in TARGETS]


def fraction(floor: float, measured: float) -> float:
    """Achieved share of the device limit: floor / measured (1.0 = at the limit)."""
    return floor / measured if measured > 0 else float("nan")
