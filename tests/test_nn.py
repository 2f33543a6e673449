"""The t-conditioned U-Net: sizes, batch, t-dependence, errors, presets, weights round trip."""
import numpy as np
import pytest
import torch

from indi_edge.model_info import ModelInfo
from indi_edge.training import nn as unet

TINY = unet.UNetConfig(8, (1, 2, 2), res_blocks=1)


def randomised(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Zero-initialised layers would hide t-dependence: give every weight a random value."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return model.eval()


@pytest.mark.parametrize("size", [(4, 4), (12, 20), (36, 4)])
@pytest.mark.parametrize("batch", [1, 3])
def test_runs_at_valid_sizes_and_batches(size, batch):
    model = randomised(unet.UNet(TINY))
    x = torch.rand(batch, 3, *size) * 2 - 1
    out = model(x, torch.full((batch,), 0.5))
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_output_depends_on_t():
    model = randomised(unet.UNet(TINY))
    x = torch.rand(2, 3, 8, 8)
    a, b = model(x, torch.tensor([1.0, 1.0])), model(x, torch.tensor([0.2, 0.2]))
    assert (a - b).abs().max() > 1e-3


def test_batch_items_are_independent():
    model = randomised(unet.UNet(TINY))
    x = torch.rand(2, 3, 8, 8)
    both = model(x, torch.tensor([1.0, 0.3]))
    torch.testing.assert_close(both[1:], model(x[1:], torch.tensor([0.3])), atol=1e-5, rtol=1e-5)


def test_fresh_model_is_identity():
    """Zero-initialised output conv + global residual: an untrained model returns x_t (x0 = x_t)."""
    model = unet.UNet(TINY).eval()
    x = torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(model(x, torch.ones(1)), x)


@pytest.mark.parametrize("shape, match", [((1, 3, 6, 8), "multiples of 4"), ((1, 3, 8, 10), "pad"),
                                          ((1, 1, 8, 8), r"\[N, 3, H, W\]"), ((3, 8, 8), r"\[N, 3, H, W\]")])
def test_rejected_sizes_say_why(shape, match):
    model = unet.UNet(TINY)
    with pytest.raises(ValueError, match=match):
        model(torch.zeros(shape), torch.ones(shape[0] if len(shape) == 4 else 1))


def test_t_shape_checked():
    with pytest.raises(ValueError, match="t must be"):
        unet.UNet(TINY)(torch.zeros(2, 3, 8, 8), torch.ones(3))


def test_multiple_accounts_for_stem():
    assert unet.UNetConfig(8, (1, 2, 2)).multiple == 4
    assert unet.PRESETS["edge-s"].multiple == 16


def test_paper_presets_within_5_percent():
    for name, paper in unet.PAPER_PARAMS.items():
        n = sum(np.prod(p.shape) for p in unet.build(name).parameters())
        assert abs(n / paper - 1) < 0.05, (name, n, paper)


def test_edge_presets_fit_their_budgets():
    s, m = unet.build("edge-s"), unet.build("edge-m")
    assert unet.count_parameters(s) <= 1_000_000
    assert unet.macs_per_pixel(s, size=64) <= 40_000
    assert unet.count_parameters(m) <= 4_000_000


def test_unknown_preset():
    with pytest.raises(ValueError, match="edge-s"):
        unet.build("huge")


def test_fp16_forward_is_finite_and_close():
    model = randomised(unet.UNet(TINY))
    x = torch.rand(1, 3, 8, 8) * 2 - 1
    ref = model(x, torch.ones(1))
    half = model.half()(x.half(), torch.ones(1))
    assert torch.isfinite(half).all()
    torch.testing.assert_close(half.float(), ref, atol=2e-2, rtol=0)


def test_save_load_round_trip(tmp_path):
    model = randomised(unet.UNet(TINY))
    info = ModelInfo(task="denoise", multiple=model.multiple, steps=3)
    unet.save(model, tmp_path / "w.safetensors", info.to_metadata())
    loaded = unet.load(tmp_path / "w.safetensors")
    assert loaded.config == TINY
    x = torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(loaded(x, torch.ones(1)), model(x, torch.ones(1)))
    assert ModelInfo.from_metadata(unet.read_metadata(tmp_path / "w.safetensors")) == info.replace(unet_config=TINY.to_json())


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_weights_and_checkpoints_get_a_new_files_mode(tmp_path, umask, mode):
    # safetensors creates its files 0600: a model written so is unreadable to a server run as another user
    import os
    import stat

    from indi_edge.training.checkpoint import save_checkpoint

    model = unet.UNet(TINY)
    optimizer = torch.optim.Adam(model.parameters())
    old = os.umask(umask)
    try:
        unet.save(model, tmp_path / "w.safetensors")
        save_checkpoint(tmp_path, model, unet.UNet(TINY), optimizer, 1, {}, 0.0)
    finally:
        os.umask(old)
    for name in ("w.safetensors", "checkpoint.safetensors"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.safetensors", "w.safetensors"]  # no leftovers


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        unet.load(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="safetensors"):
        unet.load(tmp_path / "junk.safetensors")


def test_dynamo_onnx_export_with_dynamic_sizes(tmp_path):
    """Exportable by the dynamo exporter with dynamic N/H/W; ONNX Runtime matches torch."""
    ort = pytest.importorskip("onnxruntime")
    model = randomised(unet.UNet(TINY))
    m = model.multiple
    dims = {"x": {0: torch.export.Dim("n", min=1, max=64), 2: m * torch.export.Dim("h", min=1, max=256),
                  3: m * torch.export.Dim("w", min=1, max=256)}, "t": {0: torch.export.Dim("n", min=1, max=64)}}
    path = tmp_path / "tiny.onnx"
    torch.onnx.export(model, (torch.rand(2, 3, 8, 8), torch.ones(2)), str(path), dynamo=True,
                      input_names=["x", "t"], output_names=["x0"], dynamic_shapes=dims, external_data=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).uniform(-1, 1, (3, 3, 12, 20)).astype(np.float32)
    t = np.array([1.0, 0.5, 0.1], np.float32)
    (out,) = session.run(None, {"x": x, "t": t})
    np.testing.assert_allclose(out, model(torch.from_numpy(x), torch.from_numpy(t)).detach().numpy(), atol=1e-5)


def test_grown_network_starts_as_the_trained_smaller_one(tmp_path):
    """extra_up / mid_blocks start as the identity: load_grown gives the small network's output."""
    small = randomised(unet.UNet(TINY))
    unet.save(small, tmp_path / "small.safetensors")
    grown_config = unet.UNetConfig(8, (1, 2, 2), res_blocks=1, mid_blocks=3, extra_up=(0, 1, 2))
    grown = unet.UNet(grown_config)
    added = unet.load_grown(grown, tmp_path / "small.safetensors")
    assert added and all(k.startswith(("mid.2", "extra_up")) for k in added)
    x, t = torch.rand(2, 3, 8, 8) * 2 - 1, torch.tensor([1.0, 0.4])
    torch.testing.assert_close(grown.eval()(x, t), small(x, t))
    assert unet.UNetConfig.from_json(grown_config.to_json()) == grown_config
    with pytest.raises(ValueError, match="only more mid_blocks / extra_up"):
        unet.load_grown(unet.UNet(unet.UNetConfig(16, (1, 2, 2), res_blocks=1)), tmp_path / "small.safetensors")
