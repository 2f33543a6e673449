"""The Restorer: backends agree (torch, ONNX fp32/fp16, unrolled ONNX, .pt2), sampler properties,
determinism, frozen noise, batching, and every bad engine/argument."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from indi_edge import metrics, sampling
from indi_edge.model_info import ModelInfo
from indi_edge.restorer import Restorer


@pytest.fixture(scope="module")
def y() -> np.ndarray:
    """Two 32x40 inputs in [-1, 1] (smooth, so the network sees image-like data)."""
    yy, xx = np.mgrid[0:32, 0:40].astype(np.float32)
    planes = [np.sin(xx / (4 + c) + n) * np.cos(yy / 6 - c) for n in range(2) for c in range(3)]
    return np.stack(planes).reshape(2, 3, 32, 40).astype(np.float32) * 0.9


def torch_loop(model, y, steps, **kwargs) -> np.ndarray:
    import torch

    with torch.no_grad():
        return sampling.run(model, torch.from_numpy(y), steps, **kwargs).numpy()


def test_onnx_fp32_matches_torch(tiny_unet, tiny_onnx, y):
    restorer = Restorer(tiny_onnx, threads=1, backend="onnxruntime")
    assert (restorer.steps, restorer.multiple) == (3, 2)  # defaults from the file's metadata
    got = restorer.restore_array(y)
    want = torch_loop(tiny_unet, y, 3)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert np.abs(want - y).mean() > 0.05  # the weights are not an identity


@pytest.mark.parametrize("fp16_io", [False, True])
def test_onnx_fp16_matches_torch_within_tolerance(tiny_unet, tiny_info, exports, y, fp16_io):
    from indi_edge.export import export_onnx

    path = export_onnx(tiny_unet, exports / f"tiny16_{fp16_io}.onnx", tiny_info, fp16=True, fp16_io=fp16_io)
    restorer = Restorer(path, threads=1)
    assert restorer.backend.dtypes == {"x": np.float16 if fp16_io else np.float32, "t": np.float32}
    got = restorer.restore_array(y)
    assert got.dtype == np.float32
    want = torch_loop(tiny_unet, y, 3)
    assert metrics.psnr(got.reshape(-1, 40), want.reshape(-1, 40), 2.0) > 50.0
    assert not np.array_equal(got, want)  # it really computed in fp16


def test_unrolled_graph_equals_the_python_loop_given_the_same_noise(tiny_unet, tiny_info, exports, y):
    from indi_edge.export import export_onnx

    info = tiny_info.replace(eps=0.1, eps_schedule="brownian")
    path = export_onnx(tiny_unet, exports / "tiny_unrolled.onnx", info, unroll=3)
    unrolled = Restorer(path, seed=5, threads=1)
    assert unrolled.info.unrolled_steps == 3 and unrolled.steps == 3
    assert unrolled.backend.draws == 3  # x_1's noise and two noisy steps (the last adds none)
    stepwise = Restorer(tiny_onnx_path(exports), steps=3, eps=0.1, eps_schedule="brownian", seed=5, threads=1,
                        backend="onnxruntime")
    got, want = unrolled.restore_array(y), stepwise.restore_array(y)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert np.abs(got - Restorer(path, seed=6, threads=1).restore_array(y)).max() > 1e-3  # noise matters
    with pytest.raises(ValueError, match="unrolled with steps"):
        Restorer(path, steps=2).restore_array(y)
    with pytest.raises(TypeError, match="whole 3-step loop"):
        unrolled.backend(y, np.ones(2, np.float32))


def tiny_onnx_path(exports):
    return exports / "tiny.onnx"  # written by the session fixture tiny_onnx


@pytest.mark.slow
def test_pt2_matches_torch(tiny_unet, tiny_info, exports, y, tiny_onnx):
    """AOTInductor compile takes ~30-50 s on 2 cores."""
    from indi_edge.export import export_pt2

    path = export_pt2(tiny_unet, exports / "tiny.pt2", tiny_info)
    with pytest.raises(ValueError, match="runs code from the file.*trust=True"):
        Restorer(path)  # a .pt2 is code: never opened without the caller saying it trusts the file
    restorer = Restorer(path, trust=True)
    assert restorer.info == ModelInfo.from_metadata(tiny_info.to_metadata())
    np.testing.assert_allclose(restorer.restore_array(y), torch_loop(tiny_unet, y, 3), atol=1e-4)
    np.testing.assert_allclose(restorer.restore_array(y[:1, :, :6, :10]),
                               Restorer(tiny_onnx, backend="onnxruntime").restore_array(y[:1, :, :6, :10]), atol=1e-4)


# --- sampler properties on the Restorer's loop ----------------------------------------------------

@pytest.mark.parametrize("steps", [1, 2, 5])
@pytest.mark.parametrize("sampler", ["indi", "naive", "cold"])
def test_an_oracle_restores_the_clean_frame_exactly(bgr_frame, steps, sampler):
    """F = the clean image: InDI and naive end on exactly F; cold sums d (F - y) steps (fp32 rounding)."""
    from indi_edge import frames

    clean = bgr_frame
    clean_x, _ = frames.to_tensor(clean)
    oracle = lambda x, t: np.broadcast_to(clean_x, x.shape)
    out = Restorer(oracle, steps=steps, sampler=sampler).run((clean // 2).astype(np.uint8))
    if sampler == "cold":
        assert np.abs(out.astype(int) - clean).max() <= 1
    else:
        np.testing.assert_array_equal(out, clean)


def test_an_identity_model_leaves_the_input_unchanged(bgr_frame):
    np.testing.assert_array_equal(Restorer(lambda x, t: x, steps=4).run(bgr_frame), bgr_frame)


# --- determinism and noise ------------------------------------------------------------------------

def noisy(path, **kw):
    return Restorer(path, steps=3, eps=0.2, eps_schedule="brownian", threads=1, **kw)


def test_same_seed_gives_bit_identical_output(tiny_onnx, bgr_frame):
    a = noisy(tiny_onnx, seed=7).run(bgr_frame)
    b = noisy(tiny_onnx, seed=7).run(bgr_frame)
    c = noisy(tiny_onnx, seed=8).run(bgr_frame)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_frozen_noise_reuses_one_field_across_frames(tiny_onnx, bgr_frame):
    frozen = noisy(tiny_onnx, frozen_noise=True)
    np.testing.assert_array_equal(frozen.run(bgr_frame), frozen.run(bgr_frame))
    fresh = noisy(tiny_onnx)
    assert not np.array_equal(fresh.run(bgr_frame), fresh.run(bgr_frame))  # new noise per frame


def test_run_batch_equals_frame_by_frame(tiny_onnx, bgr_frame):
    """Noise is per frame number, so batching does not change what a frame gets."""
    other = np.ascontiguousarray(bgr_frame[::-1])
    small = bgr_frame[:17, :9]
    batch = noisy(tiny_onnx).run_batch([bgr_frame, other, small])
    one_by_one = noisy(tiny_onnx)
    singles = [one_by_one.run(f) for f in (bgr_frame, other, small)]
    for got, want in zip(batch, singles):
        assert got.shape == want.shape and np.abs(got.astype(int) - want).max() <= 1


# --- bad engines and arguments --------------------------------------------------------------------

def test_a_file_that_is_not_a_model(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a protobuf")
    with pytest.raises(ValueError, match="not a readable ONNX model"):
        Restorer(junk)
    fake_package = tmp_path / "junk.pt2"
    fake_package.write_bytes(b"not a zip archive")
    with pytest.raises(ValueError, match="not a loadable AOTInductor"):
        Restorer(fake_package, trust=True)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="expected .onnx or .pt2"):
        Restorer(text)
    with pytest.raises(ValueError, match="folder"):
        Restorer(tmp_path)


def test_a_model_without_our_io_names(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["image"], ["out"])], "other",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, 8, 8])])
    path = tmp_path / "other.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    with pytest.raises(ValueError, match=r"expected float inputs \['t', 'x'\] and output \['x0'\]"):
        Restorer(path)


def test_missing_files_engines_and_names(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        Restorer(tmp_path / "absent.onnx")
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"\0")
    with pytest.raises(ValueError, match="TensorRT engines"):
        Restorer(engine)
    with pytest.raises(ValueError, match="no bundled model 'no-such-model'"):
        Restorer("no-such-model")
    with pytest.raises(TypeError, match="engine must be"):
        Restorer(42)


def test_a_bundled_name_resolves_through_models_path(tiny_onnx, monkeypatch):
    from indi_edge import models

    asked = []
    monkeypatch.setattr(models, "path", lambda name, kind="onnx": asked.append(name) or tiny_onnx)
    assert Restorer("motion-deblur").multiple == 2 and asked == ["motion-deblur"]


@pytest.mark.parametrize("kwargs, words", [
    ({"steps": 0}, "steps"), ({"steps": 1.5}, "steps"), ({"eps": -0.1}, "eps"),
    ({"eps": float("nan")}, "eps"), ({"sampler": "ddim"}, "sampler"), ({"eps_schedule": "cosine"}, "eps_schedule"),
    ({"seed": -1}, "seed"), ({"tile": -8}, "tile"), ({"tile": 16, "overlap": 16}, "overlap"),
    ({"overlap": -1}, "overlap"), ({"strength": 0.0}, "strength"), ({"strength": 1.5}, "strength"),
    ({"strength": float("nan")}, "strength"),
])
def test_bad_arguments_say_what_was_expected(kwargs, words):
    with pytest.raises(ValueError, match=words):
        Restorer(lambda x, t: x, **kwargs)


def test_strength_stops_part_way_along_the_path_from_the_input():
    """strength s returns y + s (x0 - y): InDI's x_t at t = 1 - s, whatever the step count."""
    rng = np.random.default_rng(3)
    y = rng.uniform(-0.8, 0.8, (2, 3, 8, 8)).astype(np.float32)
    target = rng.uniform(-0.8, 0.8, (2, 3, 8, 8)).astype(np.float32)
    oracle = lambda x, t: target  # noqa: E731  (x0 = target at every step)
    for steps in (1, 3):
        full = Restorer(oracle, steps=steps).restore_array(y)
        np.testing.assert_allclose(full, target, atol=1e-6)
        gentle = Restorer(oracle, steps=steps, strength=0.25).restore_array(y)
        np.testing.assert_allclose(gentle, y + 0.25 * (target - y), atol=1e-6)


def test_restore_array_checks_its_input():
    restorer = Restorer(lambda x, t: x, steps=1)
    restorer.backend.multiple = 4
    for bad in (np.zeros((3, 8, 8), np.float32), np.zeros((1, 3, 8, 8), np.float64),
                np.zeros((1, 3, 6, 8), np.float32), np.zeros((1, 4, 8, 8), np.float32)):
        with pytest.raises(ValueError, match="expected y|multiples of 4"):
            restorer.restore_array(bad)


def test_a_callable_returning_the_wrong_shape():
    with pytest.raises(ValueError, match="expected x0 shaped like x"):
        Restorer(lambda x, t: x[:, :1], steps=1).run(np.zeros((4, 4, 3), np.uint8))


def test_providers_are_checked_and_the_truth_is_told(tiny_onnx):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        restorer = Restorer(tiny_onnx, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert restorer.providers == ["CPUExecutionProvider"]
    assert any("could not use ['CUDAExecutionProvider']" in str(w.message) for w in caught)


def test_a_model_file_carries_its_default_strength(tiny_unet, tiny_info, tmp_path):
    """Restorer(strength=None) takes the file's strength; an explicit one wins; a bad one in a file is refused."""
    from indi_edge.export import export_onnx
    from indi_edge.model_info import ModelInfo

    plain = export_onnx(tiny_unet, tmp_path / "plain.onnx", tiny_info)
    held = export_onnx(tiny_unet, tmp_path / "held.onnx", tiny_info.replace(strength=0.3))
    y = np.random.default_rng(0).uniform(-0.8, 0.8, (1, 3, 16, 16)).astype(np.float32)
    x0 = Restorer(plain, steps=1, backend="onnxruntime").restore_array(y)
    restorer = Restorer(held, steps=1, backend="onnxruntime")
    assert restorer.strength == 0.3 and restorer.info.strength == 0.3
    np.testing.assert_allclose(restorer.restore_array(y), y + 0.3 * (x0 - y), atol=1e-6)
    assert Restorer(held, steps=1, backend="onnxruntime", strength=1.0).strength == 1.0
    with pytest.raises(ValueError, match="strength=1.5 must be a number in"):
        ModelInfo.from_metadata(tiny_info.replace(strength=1.5).to_metadata(), source="x.onnx")
