"""OpenVINO CPU backend: F(x, t) equals ONNX Runtime's on the same .onnx file (sizes, batches), the
per-shape compile cache, bad inputs, a full Restorer run, bf16 (only where the CPU has it natively),
the errors (unrolled graphs, no openvino package) and that it never imports torch.

Tests that run OpenVINO skip where the openvino package is missing; the missing-package error and
`import indi_edge` staying light are checked everywhere."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from indi_edge import metrics
from indi_edge.cpu_features import bf16_skip_reason
from indi_edge.restorer import Restorer

BF16_SKIP = bf16_skip_reason()


@pytest.fixture(scope="session")  # session: set up before the session fixture tiny_onnx, so a skip costs no export
def OpenVinoBackend():
    pytest.importorskip("openvino")
    from indi_edge.backends.openvino import OpenVinoBackend

    return OpenVinoBackend


@pytest.fixture(scope="module")
def ort_backend(tiny_onnx):
    from indi_edge.backends.onnx import open_onnx

    return open_onnx(tiny_onnx, threads=1)


def smooth(n: int, h: int, w: int) -> np.ndarray:
    """n smooth image-like inputs in [-1, 1], different per item."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    planes = [np.sin(xx / (4 + c) + k) * np.cos(yy / 6 - c) for k in range(n) for c in range(3)]
    return (0.9 * np.stack(planes).reshape(n, 3, h, w)).astype(np.float32)


def modules_after(code: str) -> set[str]:
    """Top-level module names loaded after running `code` in a fresh Python."""
    script = textwrap.dedent(code) + "\nimport sys\nprint(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


# --- F(x, t) against ONNX Runtime ------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 16, 16), (2, 32, 40), (3, 24, 10), (1, 2, 64)])
def test_fp32_matches_onnx_runtime_elementwise(OpenVinoBackend, ort_backend, tiny_onnx, shape):
    n, h, w = shape
    backend = OpenVinoBackend(tiny_onnx, precision="fp32", threads=1)
    x = smooth(n, h, w)
    t = np.linspace(1.0, 0.25, n).astype(np.float32)
    got, want = backend(x, t), ort_backend(x, t)
    assert got.dtype == np.float32 and got.shape == x.shape
    assert np.abs(got - want).max() <= 1e-4
    assert np.abs(want - x).mean() > 0.05  # the tiny net is not an identity: the comparison means something


def test_info_multiple_and_providers_are_read_like_onnx_runtime(OpenVinoBackend, ort_backend, tiny_onnx, tiny_info):
    backend = OpenVinoBackend(tiny_onnx, precision="fp32")
    assert backend.info == ort_backend.info
    assert backend.info.unet_config == tiny_info.unet_config and backend.info.steps == 3
    assert backend.multiple == ort_backend.multiple == 2
    assert backend.providers == ["openvino-cpu-fp32"]
    assert backend.dtypes == {"x": np.float32, "t": np.float32}


def test_multiple_comes_from_the_graph_dims_when_the_metadata_lacks_it(OpenVinoBackend, tiny_onnx, tmp_path):
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(tiny_onnx))
    kept = [p for p in model.metadata_props if p.key != "indi_edge.multiple"]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    path = tmp_path / "no_multiple.onnx"
    onnx.save(model, str(path))
    backend = OpenVinoBackend(path)
    assert backend.multiple == 2  # from the dim names ('2*h'), as the ONNX Runtime backend reads them
    with pytest.raises(ValueError, match="multiples of 2"):
        backend(np.zeros((1, 3, 16, 15), np.float32), np.ones(1, np.float32))


# --- the shape cache -------------------------------------------------------------------------------

def test_each_shape_compiles_once_and_the_least_recently_used_is_evicted(OpenVinoBackend, ort_backend, tiny_onnx):
    backend = OpenVinoBackend(tiny_onnx, threads=1, cache_size=2)
    a, b, c = (1, 3, 16, 16), (1, 3, 16, 24), (2, 3, 16, 16)  # c: same frame size, another batch
    t1, t2 = np.ones(1, np.float32), np.ones(2, np.float32)
    x_a = smooth(1, 16, 16)
    first = backend(x_a, t1)
    backend(x_a, t1)
    assert backend.compile_count == 1 and list(backend.compiled) == [a]
    backend(smooth(1, 16, 24), t1)
    assert backend.compile_count == 2 and list(backend.compiled) == [a, b]
    np.testing.assert_array_equal(backend(x_a, t1), first)  # cache hit: a becomes the most recent
    assert backend.compile_count == 2 and list(backend.compiled) == [b, a]
    backend(smooth(2, 16, 16), t2)
    assert backend.compile_count == 3 and list(backend.compiled) == [a, c]  # b evicted, not a
    got = backend(smooth(1, 16, 24), t1)  # b again: compiled anew, still right
    assert backend.compile_count == 4 and list(backend.compiled) == [c, b]
    assert np.abs(got - ort_backend(smooth(1, 16, 24), t1)).max() <= 1e-4


def test_default_cache_holds_four_shapes(OpenVinoBackend, tiny_onnx):
    backend = OpenVinoBackend(tiny_onnx, threads=1)
    sizes = [(16, 16), (16, 18), (18, 16), (18, 18), (20, 20)]
    for h, w in sizes:
        backend(smooth(1, h, w), np.ones(1, np.float32))
    assert backend.compile_count == 5
    assert list(backend.compiled) == [(1, 3, h, w) for h, w in sizes[1:]]


# --- bad inputs and options ------------------------------------------------------------------------

@pytest.mark.parametrize("x, t, match", [
    (np.zeros((3, 16, 16), np.float32), np.ones(1, np.float32), r"\[N, 3, H, W\]"),
    (np.zeros((1, 1, 16, 16), np.float32), np.ones(1, np.float32), r"\[N, 3, H, W\]"),
    ([[0.0]], np.ones(1, np.float32), r"\[N, 3, H, W\] numpy array"),
    (np.zeros((1, 3, 16, 15), np.float32), np.ones(1, np.float32), "multiples of 2"),
    (np.zeros((2, 3, 16, 16), np.float32), np.ones(1, np.float32), r"t must be a \[N\] = \[2\]"),
    (np.zeros((1, 3, 16, 16), np.float32), 1.0, r"t must be a \[N\]"),
])
def test_bad_inputs_are_refused_before_compiling(OpenVinoBackend, tiny_onnx, x, t, match):
    backend = OpenVinoBackend(tiny_onnx)
    with pytest.raises(ValueError, match=match):
        backend(x, t)
    assert backend.compile_count == 0


def test_float64_inputs_are_cast(OpenVinoBackend, ort_backend, tiny_onnx):
    x, t = smooth(1, 16, 16), np.ones(1, np.float32)
    got = OpenVinoBackend(tiny_onnx, threads=1)(x.astype(np.float64), t.astype(np.float64))
    assert got.dtype == np.float32 and np.abs(got - ort_backend(x, t)).max() <= 1e-4


@pytest.mark.parametrize("kwargs, error, match", [
    ({"precision": "fp16"}, ValueError, "precision must be one of"),
    ({"threads": -1}, ValueError, "threads must be an integer >= 0"),
    ({"cache_size": 0}, ValueError, "cache_size must be an integer >= 1"),
])
def test_bad_options_are_refused(OpenVinoBackend, tiny_onnx, kwargs, error, match):
    with pytest.raises(error, match=match):
        OpenVinoBackend(tiny_onnx, **kwargs)


def test_bad_paths_are_refused(OpenVinoBackend, tiny_onnx, tmp_path):
    with pytest.raises(FileNotFoundError, match="no ONNX model"):
        OpenVinoBackend(tmp_path / "missing.onnx")
    (tmp_path / "weights.pt2").write_bytes(b"x")
    with pytest.raises(ValueError, match="reads .onnx models"):
        OpenVinoBackend(tmp_path / "weights.pt2")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a readable ONNX model"):
        OpenVinoBackend(tmp_path / "junk.onnx")


def test_unrolled_graphs_are_refused_with_advice(OpenVinoBackend, tiny_unet, tiny_info, exports):
    from indi_edge.export import export_onnx

    path = export_onnx(tiny_unet, exports / "tiny_unrolled_ov.onnx", tiny_info, unroll=2, check=False)
    with pytest.raises(ValueError, match=r"unrolled graph.*without --unroll.*ONNX Runtime"):
        OpenVinoBackend(path)


def test_bf16_is_refused_where_the_cpu_lacks_it_and_auto_falls_back(OpenVinoBackend, tiny_onnx, monkeypatch):
    from indi_edge import cpu_features

    monkeypatch.setattr(cpu_features, "bf16_skip_reason", lambda: "Test CPU has no native bf16")
    with pytest.raises(ValueError, match="precision='bf16' refused: Test CPU has no native bf16"):
        OpenVinoBackend(tiny_onnx, precision="bf16")
    assert OpenVinoBackend(tiny_onnx, precision="auto").providers == ["openvino-cpu-fp32"]
    monkeypatch.setattr(cpu_features, "bf16_skip_reason", lambda: None)
    assert OpenVinoBackend(tiny_onnx, precision="auto").precision == "bf16"


# --- the whole loop --------------------------------------------------------------------------------

def test_restorer_on_openvino_matches_onnx_runtime_on_a_frame(OpenVinoBackend, tiny_onnx, bgr_frame):
    restorer = Restorer(OpenVinoBackend(tiny_onnx, threads=1))
    assert restorer.providers == ["openvino-cpu-fp32"] and (restorer.steps, restorer.multiple) == (3, 2)
    got = restorer.run(bgr_frame)
    want = Restorer(tiny_onnx, threads=1, backend="onnxruntime").run(bgr_frame)
    assert got.dtype == np.uint8 and got.shape == bgr_frame.shape
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1  # uint8 rounding at most
    assert np.abs(want.astype(int) - bgr_frame.astype(int)).mean() > 2  # the restore changed the frame


def test_restorer_with_tiles_and_noise_matches_onnx_runtime(OpenVinoBackend, tiny_onnx):
    y = smooth(1, 48, 40)
    kwargs = dict(steps=3, eps=0.1, eps_schedule="brownian", seed=3, tile=16, overlap=4)
    got = Restorer(OpenVinoBackend(tiny_onnx, threads=1), **kwargs).restore_array(y)
    want = Restorer(tiny_onnx, threads=1, backend="onnxruntime", **kwargs).restore_array(y)
    assert np.abs(got - want).max() <= 1e-4


@pytest.mark.skipif(BF16_SKIP is not None, reason=BF16_SKIP or "")
def test_bf16_is_close_to_fp32(OpenVinoBackend, tiny_onnx):
    fp32 = OpenVinoBackend(tiny_onnx, precision="fp32", threads=1)
    bf16 = OpenVinoBackend(tiny_onnx, precision="bf16", threads=1)
    assert bf16.providers == ["openvino-cpu-bf16"]
    assert OpenVinoBackend(tiny_onnx, precision="auto").precision == "bf16"
    x, t = smooth(2, 32, 40), np.array([1.0, 0.5], np.float32)
    want, got = fp32(x, t), bf16(x, t)
    assert got.dtype == np.float32
    assert metrics.psnr(got.reshape(-1, 40), want.reshape(-1, 40), 2.0) > 35.0
    assert not np.array_equal(got, want)  # it really computed in bf16
    restored32 = Restorer(fp32).restore_array(x)
    restored16 = Restorer(bf16).restore_array(x)
    assert metrics.psnr(restored16.reshape(-1, 40), restored32.reshape(-1, 40), 2.0) > 35.0


# --- packaging -------------------------------------------------------------------------------------

def test_missing_openvino_says_how_to_install(monkeypatch):
    from indi_edge import models
    from indi_edge.backends.openvino import OpenVinoBackend

    monkeypatch.setitem(sys.modules, "openvino", None)  # `import openvino` now fails as if not installed
    with pytest.raises(ImportError, match=r'pip install "indi-edge\[openvino\]"'):
        OpenVinoBackend(models.path("motion-deblur"))


def test_import_indi_edge_does_not_load_openvino():
    loaded = modules_after("import indi_edge, indi_edge.backends, indi_edge.backends.openvino")
    assert "openvino" not in loaded and "torch" not in loaded


def test_running_openvino_never_imports_torch_or_onnxruntime(OpenVinoBackend, tiny_onnx):
    loaded = modules_after(f"""
        import numpy as np
        import indi_edge
        from indi_edge.backends.openvino import OpenVinoBackend
        restorer = indi_edge.Restorer(OpenVinoBackend({str(tiny_onnx)!r}, threads=1))
        assert restorer.run(np.zeros((20, 30, 3), np.uint8)).shape == (20, 30, 3)
    """)
    assert "openvino" in loaded
    assert "torch" not in loaded and "onnxruntime" not in loaded
