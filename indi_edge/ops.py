"""Fused per-frame kernels: InDI update, frame conversion, tile blending.

Each function validates its arrays, then runs the native kernel of `indi_edge._core` when that
module was built, else the numpy reference in `ops.reference` (same results, bit for bit). The
CUDA entry points (`cuda_update`, ...) take raw device pointers and a stream handle; see
indi_edge/_core.pyi for their signatures.

Arrays: frames are uint8 [H, W, 3] BGR; model tensors are float32 or float16 [1, 3, H, W] RGB in
[-1, 1]; every array must be C-contiguous. Arithmetic is float32 even for float16 storage.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from indi_edge.sampling import SAMPLERS, apply_step

try:
    from indi_edge import _core
except ImportError as err:  # pure-Python install: the numpy reference runs instead
    _core = None
    NATIVE_IMPORT_ERROR: str | None = f"{type(err).__name__}: {err}"
else:
    NATIVE_IMPORT_ERROR = None

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float16))
BYTE_TO_UNIT = np.float32(2 / 255)  # v * float32(2/255) - 1 maps 0..255 onto [-1, 1]


def backend() -> str:
    """"cuda" (built with CUDA and a GPU visible), "cpu-native" (_core loaded) or "numpy"."""
    if _core is None:
        return "numpy"
    return "cuda" if _core.cuda_available() else "cpu-native"


def cuda_available() -> bool:
    """True when _core was built with CUDA and the runtime sees at least one GPU."""
    return _core is not None and _core.cuda_available()


def build_info() -> dict:
    """What the native module holds ({"cuda": bool, "cuda_archs": str, ...}); {} without it."""
    return dict(_core.build_info()) if _core is not None else {}


def set_num_threads(n: int) -> None:
    """Threads for the CPU kernels (n <= 0: all cores; default INDI_EDGE_NUM_THREADS or all)."""
    if _core is not None:
        _core.set_num_threads(int(n))


def get_num_threads() -> int:
    """Threads the CPU kernels use (1 for the numpy reference)."""
    return _core.get_num_threads() if _core is not None else 1


# --- validation (shared by the native and the numpy path) -----------------------------------

def _describe(a) -> str:
    return f"{a.dtype} array of shape {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__


def _require_array(a, name: str, dtypes: tuple, expected: str) -> np.ndarray:
    if not isinstance(a, np.ndarray) or a.dtype not in dtypes:
        raise TypeError(f"{name} must be a {expected} numpy array, got {_describe(a)}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (np.ascontiguousarray), got a strided {_describe(a)}")
    return a


def _require_out(out, name: str, shape: tuple, dtype) -> np.ndarray:
    if out is None:
        return np.empty(shape, dtype)
    _require_array(out, name, (np.dtype(dtype),), str(np.dtype(dtype)))
    if out.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {out.shape}")
    if not out.flags.writeable:
        raise ValueError(f"{name} must be writeable")
    return out


def _float_dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float16, got {dt}")
    return dt


def _planes_hw(x, name: str) -> tuple[int, int]:
    if not (x.ndim == 3 or (x.ndim == 4 and x.shape[0] == 1)) or x.shape[-3] != 3:
        raise ValueError(f"{name} must have shape [1, 3, H, W] or [3, H, W], got {x.shape}")
    return x.shape[-2], x.shape[-1]


def _check_frame(frame) -> tuple[int, int]:
    _require_array(frame, "frame", (np.dtype(np.uint8),), "uint8")
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] < 1 or frame.shape[1] < 1:
        raise ValueError(f"frame must have shape [H, W, 3] (BGR) with H, W >= 1, got {frame.shape}")
    return frame.shape[0], frame.shape[1]


def _round_up(n: int, multiple) -> int:
    if isinstance(multiple, bool) or not isinstance(multiple, (int, np.integer)) or multiple < 1:
        raise ValueError(f"multiple must be an integer >= 1, got {multiple!r}")
    return -(-n // int(multiple)) * int(multiple)


def _check_preprocess(frame, multiple, dtype, out) -> np.ndarray:
    h, w = _check_frame(frame)
    return _require_out(out, "out", (1, 3, _round_up(h, multiple), _round_up(w, multiple)), _float_dtype(dtype))


def _check_postprocess(x, height, width, out) -> np.ndarray:
    _require_array(x, "x", FLOAT_DTYPES, "float32 or float16")
    hp, wp = _planes_hw(x, "x")
    for name, v, limit in (("height", height, hp), ("width", width, wp)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 1 <= v <= limit:
            raise ValueError(f"{name} must be an integer in [1, {limit}] for x of shape {x.shape}, got {v!r}")
    return _require_out(out, "out", (int(height), int(width), 3), np.uint8)


def _step_scalars(t, d, noise_std) -> tuple[float, float, float]:
    """Python floats, so numpy applies them as float32 weak scalars exactly as apply_step does."""
    scalars = []
    for name, v in (("t", t), ("d", d), ("noise_std", noise_std)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) or not math.isfinite(v):
            raise ValueError(f"{name} must be a finite number, got {v!r}")
        scalars.append(float(v))
    return tuple(scalars)


def _check_update(sampler, x, x0, y, t, d, noise_std, z, out) -> np.ndarray:
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    if sampler == "indi" and t == 0:
        raise ValueError("the indi sampler divides by t: t must be != 0")
    if noise_std < 0:
        raise ValueError(f"noise_std must be >= 0, got {noise_std!r}")
    _require_array(x, "x", FLOAT_DTYPES, "float32 or float16")
    inputs = [("x0", x0)] + ([("y", y)] if sampler != "indi" else []) + ([("z", z)] if noise_std > 0 else [])
    for name, a in inputs:
        if a is None:
            raise ValueError(f"{name} is required here (sampler {sampler!r}, noise_std {noise_std})")
        _require_array(a, name, (x.dtype,), f"{x.dtype} (x's dtype)")
        if a.shape != x.shape:
            raise ValueError(f"{name} must have x's shape {x.shape}, got {a.shape}")
    out = _require_out(out, "out", x.shape, x.dtype)
    for name, a in [("x", x)] + inputs:
        if out is not a and out.ctypes.data != a.ctypes.data and np.may_share_memory(out, a):
            raise ValueError(f"out overlaps {name} partially (it may only be the very same array)")
    return out


def _check_blend(acc, wsum, tile, weight, top, left) -> None:
    _require_array(acc, "acc", FLOAT_DTYPES[:1], "float32")
    _require_array(wsum, "wsum", FLOAT_DTYPES[:1], "float32")
    _require_array(tile, "tile", FLOAT_DTYPES, "float32 or float16")
    _require_array(weight, "weight", FLOAT_DTYPES[:1], "float32")
    if (acc.ndim, wsum.ndim, tile.ndim, weight.ndim) != (3, 2, 3, 2):
        raise ValueError("expected acc [C, H, W], wsum [H, W], tile [C, h, w], weight [h, w]; got "
                         f"{acc.shape}, {wsum.shape}, {tile.shape}, {weight.shape}")
    if wsum.shape != acc.shape[1:] or tile.shape[0] != acc.shape[0] or weight.shape != tile.shape[1:]:
        raise ValueError(f"shapes disagree: acc {acc.shape}, wsum {wsum.shape}, tile {tile.shape}, weight {weight.shape}")
    for name, v in (("top", top), ("left", left)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an integer, got {v!r}")
    if top < 0 or left < 0 or top + tile.shape[1] > acc.shape[1] or left + tile.shape[2] > acc.shape[2]:
        raise ValueError(f"tile {tile.shape} at ({top}, {left}) does not fit in acc {acc.shape}")
    for name, a in (("acc", acc), ("wsum", wsum)):
        if not a.flags.writeable:
            raise ValueError(f"{name} must be writeable")


# --- numpy reference ------------------------------------------------------------------------

def _update_numpy(sampler, x, x0, y, t, d, noise_std, z, out):
    if x.dtype == np.float32:  # apply_step itself is the definition
        out[...] = apply_step(sampler, x, x0, y, t, d, noise_std, z)
        return out
    up = [None if a is None else a.astype(np.float32) for a in (x, x0, y, z)]
    with np.errstate(over="ignore"):  # float16: computed in float32, rounded once; overflow gives inf
        out[...] = apply_step(sampler, up[0], up[1], up[2], t, d, noise_std, up[3]).astype(np.float16)
    return out


def _preprocess_numpy(frame, out):
    h, w = frame.shape[:2]
    x = frame[..., ::-1].transpose(2, 0, 1).astype(np.float32) * BYTE_TO_UNIT - 1
    hp, wp = out.shape[-2:]
    out.reshape(3, hp, wp)[...] = np.pad(x, ((0, 0), (0, hp - h), (0, wp - w)), mode="reflect")
    return out


def _postprocess_numpy(x, out):
    h, w = out.shape[:2]
    v = (x.reshape(x.shape[-3:])[:, :h, :w].astype(np.float32) + 1) * np.float32(127.5)
    v = np.fmin(np.fmax(v, np.float32(0)), np.float32(255))  # fmax maps NaN to 0, as the kernels do
    out[...] = np.rint(v).astype(np.uint8).transpose(1, 2, 0)[..., ::-1]
    return out


def _blend_numpy(acc, wsum, tile, weight, top, left):
    h, w = weight.shape
    acc[:, top:top + h, left:left + w] += weight[None] * tile.astype(np.float32)
    wsum[top:top + h, left:left + w] += weight


# --- public API -------------------------------------------------------------------------------

def preprocess(frame: np.ndarray, multiple: int = 1, dtype=np.float32, out: np.ndarray | None = None) -> np.ndarray:
    """uint8 [H, W, 3] BGR -> [1, 3, Hp, Wp] RGB float32/float16, x = v * float32(2/255) - 1 in fp32.

    Hp, Wp are H, W rounded up to `multiple`; the extra bottom rows and right columns are
    reflect-101 copies (np.pad mode="reflect", cv2.BORDER_REFLECT_101).
    """
    out = _check_preprocess(frame, multiple, dtype, out)
    if _core is None:
        return _preprocess_numpy(frame, out)
    _core.preprocess(frame, out)
    return out


def postprocess(x: np.ndarray, height: int, width: int, out: np.ndarray | None = None) -> np.ndarray:
    """float32/float16 [1, 3, Hp, Wp] or [3, Hp, Wp] RGB in [-1, 1] -> uint8 [height, width, 3] BGR.

    Top-left crop; v = clip(rint((x + 1) * 127.5), 0, 255) in fp32, rint rounding half to even; NaN -> 0.
    """
    out = _check_postprocess(x, height, width, out)
    if _core is None:
        return _postprocess_numpy(x, out)
    _core.postprocess(x, out)
    return out


def update(sampler: str, x: np.ndarray, x0: np.ndarray, y: np.ndarray | None, t: float, d: float,
           noise_std: float = 0.0, z: np.ndarray | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """One InDI step x_t -> x_{t-d} (+ noise_std * z), fused into one pass.

    Same signature and, in float32, bit-identical results as indi_edge.sampling.apply_step; float16
    arrays are computed in float32 and rounded once. `out` may be x (in place). y is unused by "indi",
    z unused when noise_std == 0.
    """
    t, d, noise_std = _step_scalars(t, d, noise_std)
    out = _check_update(sampler, x, x0, y, t, d, noise_std, z, out)
    if _core is None:
        return _update_numpy(sampler, x, x0, y, t, d, noise_std, z, out)
    _core.update(sampler, x, x0, y, z, out, t, d, noise_std)
    return out


def blend_accumulate(acc: np.ndarray, wsum: np.ndarray, tile: np.ndarray, weight: np.ndarray,
                     top: int, left: int) -> None:
    """acc[:, top:top+h, left:left+w] += weight[None] * tile; wsum[top:top+h, left:left+w] += weight.

    acc float32 [C, H, W], wsum float32 [H, W], tile float32/float16 [C, h, w], weight float32 [h, w].
    """
    _check_blend(acc, wsum, tile, weight, top, left)
    if _core is None:
        _blend_numpy(acc, wsum, tile, weight, top, left)
    else:
        _core.blend_accumulate(acc, wsum, tile, weight, int(top), int(left))


def _update_reference(sampler, x, x0, y, t, d, noise_std=0.0, z=None, out=None):
    t, d, noise_std = _step_scalars(t, d, noise_std)
    return _update_numpy(sampler, x, x0, y, t, d, noise_std, z, _check_update(sampler, x, x0, y, t, d, noise_std, z, out))


def _preprocess_reference(frame, multiple=1, dtype=np.float32, out=None):
    return _preprocess_numpy(frame, _check_preprocess(frame, multiple, dtype, out))


def _postprocess_reference(x, height, width, out=None):
    return _postprocess_numpy(x, _check_postprocess(x, height, width, out))


def _blend_reference(acc, wsum, tile, weight, top, left):
    _check_blend(acc, wsum, tile, weight, top, left)
    _blend_numpy(acc, wsum, tile, weight, top, left)


# The numpy reference behind the same checks, with the public signatures: reference.update(...), ...
reference = SimpleNamespace(update=_update_reference, preprocess=_preprocess_reference,
                            postprocess=_postprocess_reference, blend_accumulate=_blend_reference)


# --- CUDA entry points on raw device pointers (documented in indi_edge/_core.pyi) ---------------

def _needs_native(name: str):
    def unavailable(*args, **kwargs):
        raise RuntimeError(f"indi_edge.ops.{name} needs the native module indi_edge._core, which did not "
                           f"import ({NATIVE_IMPORT_ERROR}); reinstall with a C++ compiler (and nvcc for CUDA)")

    unavailable.__name__ = name
    return unavailable


cuda_update = _core.cuda_update if _core is not None else _needs_native("cuda_update")
cuda_preprocess = _core.cuda_preprocess if _core is not None else _needs_native("cuda_preprocess")
cuda_postprocess = _core.cuda_postprocess if _core is not None else _needs_native("cuda_postprocess")
cuda_blend_accumulate = _core.cuda_blend_accumulate if _core is not None else _needs_native("cuda_blend_accumulate")
cuda_device_info = _core.cuda_device_info if _core is not None else _needs_native("cuda_device_info")
