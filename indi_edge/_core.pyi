"""indi_edge._core: native kernels (csrc/), private. Use indi_edge.ops, which validates and re-exports.

numpy entry points write into `out` (or acc/wsum) in place, without copies, with the GIL released.
Arrays must be C-contiguous; float buffers are float32 or float16 (computed in float32).
Errors: TypeError for a wrong dtype, ValueError for a wrong shape, layout or argument.

CUDA entry points take raw device pointers as integers (torch: tensor.data_ptr(); cupy: a.data.ptr;
cuda-python: int(CUdeviceptr)) and a stream handle as an integer (torch:
torch.cuda.current_stream().cuda_stream; cupy: cupy.cuda.get_current_stream().ptr; 0: the legacy
default stream). They enqueue work on that stream and return without synchronising. Buffers must be
C-contiguous device memory of the stated size; pointers 16-byte aligned (and row lengths a multiple
of 4 floats / 8 halves) take the 16-byte vector path, any others a scalar path with the same results.
`dtype` is "float32" or "float16" (IEEE binary16 storage, float32 arithmetic). The CUDA runtime is
linked statically: without a GPU or driver every cuda_* call raises RuntimeError ("no CUDA device is
visible"); in a build without CUDA they raise RuntimeError ("built without CUDA").
"""

import numpy as np

def update(sampler: str, x: np.ndarray, x0: np.ndarray, y: np.ndarray | None, z: np.ndarray | None,
           out: np.ndarray, t: float, d: float, noise_std: float) -> None:
    """out = one InDI step (sampler "indi" | "naive" | "cold") + noise_std * z, elementwise, same shape/dtype.

    Bit-identical in float32 to indi_edge.sampling.apply_step. y may be None for "indi", z when
    noise_std == 0. out may be one of the inputs (in place) but must not overlap one partially.
    """

def preprocess(frame: np.ndarray, out: np.ndarray) -> None:
    """frame uint8 [H, W, 3] BGR -> out float32/float16 [1, 3, Hp, Wp] or [3, Hp, Wp] RGB in [-1, 1].

    Hp >= H, Wp >= W; the extra rows/columns are reflect-101 padding.
    """

def postprocess(x: np.ndarray, out: np.ndarray) -> None:
    """x float32/float16 [1, 3, Hp, Wp] or [3, Hp, Wp] -> out uint8 [h, w, 3] BGR, the top-left crop (h <= Hp, w <= Wp)."""

def blend_accumulate(acc: np.ndarray, wsum: np.ndarray, tile: np.ndarray, weight: np.ndarray,
                     top: int, left: int) -> None:
    """acc float32 [C, H, W] += weight[None] * tile at (top, left); wsum float32 [H, W] += weight.

    tile float32/float16 [C, h, w], weight float32 [h, w]; the tile must lie inside acc.
    """

def set_num_threads(n: int) -> None:
    """Threads for the CPU kernels; n <= 0 restores the default (INDI_EDGE_NUM_THREADS or all cores)."""

def get_num_threads() -> int: ...

def build_info() -> dict[str, object]:
    """{"cuda": built with CUDA, "cuda_archs": e.g. "87-real,89-real,90", "compiler": ..., "fp_contract": "off"}."""

def cuda_available() -> bool:
    """True when built with CUDA and the runtime sees a GPU (never raises)."""

def cuda_device_info() -> str:
    """The GPU, the kernel binary it runs (sm_XY or PTX JIT), runtime and driver versions."""

def cuda_update(sampler: str, x: int, x0: int, y: int, z: int, out: int, n: int, dtype: str,
                t: float, d: float, noise_std: float = 0.0, stream: int = 0) -> None:
    """out[i] = update of n elements on the device, same math as update(). y may be 0 for "indi",
    z may be 0 when noise_std == 0; out may equal x."""

def cuda_preprocess(frame: int, out: int, height: int, width: int, out_height: int, out_width: int,
                    dtype: str = "float32", stream: int = 0) -> None:
    """frame uint8 [height, width, 3] BGR -> out [3, out_height, out_width] RGB (reflect-101 padding)."""

def cuda_postprocess(x: int, out: int, in_height: int, in_width: int, height: int, width: int,
                     dtype: str = "float32", stream: int = 0) -> None:
    """x [3, in_height, in_width] RGB -> out uint8 [height, width, 3] BGR, the top-left crop."""

def cuda_blend_accumulate(acc: int, wsum: int, tile: int, weight: int, channels: int, height: int, width: int,
                          tile_height: int, tile_width: int, top: int, left: int,
                          tile_dtype: str = "float32", stream: int = 0) -> None:
    """acc float32 [channels, height, width] += weight * tile at (top, left); wsum float32 [height, width] += weight.

    tile [channels, tile_height, tile_width] of tile_dtype, weight float32 [tile_height, tile_width].
    Launches on one stream run in order, so overlapping tiles may be blended one after another.
    """
