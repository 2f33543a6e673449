"""The NAFNet-style U-Net: identity at the start, t-dependence, sizes, fp32 norm statistics, weights round trip."""
import pytest
import torch

from indi_edge.training import nn as networks
from indi_edge.training.naf import ChannelNorm, NAFConfig, NAFUNet

TINY = NAFConfig(8, (1, 2, 2), enc_blocks=(1, 1), middle_blocks=1, dec_blocks=(1, 1))
TINY_DENSE = NAFConfig(8, (1, 2, 2), enc_blocks=(1, 1), middle_blocks=1, dec_blocks=(1, 1), dense=True)


def randomised(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Zero-started layers (residual scales, FiLM, last conv) would hide everything: random weights."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return model.eval()


@pytest.mark.parametrize("config", [TINY, TINY_DENSE])
def test_fresh_network_is_identity(config):
    model = NAFUNet(config).eval()
    x = torch.rand(2, 3, 16, 24) * 2 - 1
    torch.testing.assert_close(model(x, torch.tensor([1.0, 0.3])), x)


@pytest.mark.parametrize("config", [TINY, TINY_DENSE])
def test_output_depends_on_t_and_batch_items_are_independent(config):
    model = randomised(NAFUNet(config))
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    both = model(x, torch.tensor([1.0, 0.3]))
    assert (both[0] - model(x[:1], torch.tensor([0.3]))).abs().max() > 1e-3
    torch.testing.assert_close(both[1:], model(x[1:], torch.tensor([0.3])), atol=1e-4, rtol=1e-4)  # batched convolutions may sum in another order


def test_sizes_are_checked():
    model = NAFUNet(TINY)
    assert model.multiple == 8
    with pytest.raises(ValueError, match="multiples of 8"):
        model(torch.zeros(1, 3, 12, 16), torch.ones(1))


def test_config_needs_one_block_count_per_level():
    with pytest.raises(ValueError, match="one entry per level"):
        NAFConfig(8, (1, 2, 2), enc_blocks=(1,), dec_blocks=(1, 1))


def test_channel_norm_keeps_fp32_statistics_in_bf16():
    """Values whose squares overflow fp16 and lose everything in bf16 sums still normalise."""
    x = torch.randn(1, 64, 4, 4) * 300 + 1000
    out = ChannelNorm()(x.to(torch.bfloat16)).float()
    reference = ChannelNorm()(x)
    assert (out - reference).abs().max() < 0.05
    assert torch.allclose(reference.mean(1), torch.zeros(1, 4, 4), atol=1e-4)


def test_presets_fit_a_30_mb_checkpoint():
    for name in ("naf-s", "naf-s-dense"):
        params = networks.count_parameters(networks.build(name))
        assert 16 * params < 30e6, name  # weights + EMA + Adam's two moments, fp32


def test_the_deep_preset_fits_a_30_mb_checkpoint_with_bf16_moments(tmp_path):
    """Written for real: one Adam step, then the checkpoint the campaign would commit."""
    import copy

    from indi_edge.training.checkpoint import save_checkpoint

    model = networks.build("naf-s-dense-deep")
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.rand(1, 3, 32, 32), torch.ones(1)).mean().backward()
    optimizer.step()
    size = {moments: save_checkpoint(tmp_path / moments, model, copy.deepcopy(model), optimizer, 1, {}, 0.0,
                                     moments=moments).stat().st_size for moments in ("bf16", "fp32")}
    assert size["bf16"] < 30e6
    assert size["bf16"] < 0.8 * size["fp32"]  # 12 / 16 bytes a parameter


def test_a_naf_net_grows_deeper_and_starts_as_the_smaller_one(tmp_path):
    """New NAF blocks start as the identity (zero beta and gamma): load_grown gives the small net's output."""
    small = randomised(NAFUNet(TINY_DENSE))
    networks.save(small, tmp_path / "small.safetensors")
    grown = NAFUNet(NAFConfig(8, (1, 2, 2), enc_blocks=(1, 2), middle_blocks=3, dec_blocks=(2, 1), dense=True))
    added = networks.load_grown(grown, tmp_path / "small.safetensors")
    assert added and all(k.startswith(("middle.blocks.1.", "middle.blocks.2.", "encoders.1.blocks.1.",
                                       "decoders.0.blocks.1.")) for k in added)
    x, t = torch.rand(2, 3, 16, 16) * 2 - 1, torch.tensor([1.0, 0.4])
    torch.testing.assert_close(grown.eval()(x, t), small(x, t))
    shallower = NAFUNet(NAFConfig(8, (1, 2, 2), enc_blocks=(1, 1), middle_blocks=1, dec_blocks=(1, 1), dense=True))
    networks.save(randomised(grown), tmp_path / "grown.safetensors")
    for other in (shallower, NAFUNet(TINY)):  # fewer blocks; depthwise instead of dense
        with pytest.raises(ValueError, match="only more middle_blocks / enc_blocks / dec_blocks"):
            networks.load_grown(other, tmp_path / ("grown.safetensors" if other is shallower else "small.safetensors"))


def test_weights_round_trip_rebuilds_the_naf_network(tmp_path):
    model = randomised(NAFUNet(TINY_DENSE))
    networks.save(model, tmp_path / "w.safetensors")
    loaded = networks.load(tmp_path / "w.safetensors")
    assert isinstance(loaded, NAFUNet) and loaded.config == TINY_DENSE
    x = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(loaded(x, torch.ones(1)), model(x, torch.ones(1)))


def test_older_config_json_still_means_the_unet():
    config = networks.UNetConfig(8, (1, 2), res_blocks=1)
    assert networks.config_from_json(config.to_json()) == config
    assert networks.config_from_json(TINY.to_json()) == TINY


@pytest.mark.parametrize("config", [TINY, TINY_DENSE], ids=["depthwise", "dense"])
def test_exported_naf_runs_alike_on_every_cpu_path(config, tmp_path):
    """The ONNX and FP16 ONNX exports of a (random) NAF net, restored through each CPU path installed
    here, against the torch network: what a shipped naf-s-dense model must do."""
    import numpy as np

    from indi_edge.backends.choice import CPU_PATHS, choose
    from indi_edge.export import export_onnx
    from indi_edge.model_info import ModelInfo
    from indi_edge.restorer import Restorer

    model = randomised(NAFUNet(config))
    info = ModelInfo(task="custom", steps=1, preset="")
    onnx_path = export_onnx(model, tmp_path / "naf.onnx", info)
    fp16_path = export_onnx(model, tmp_path / "naf_fp16.onnx", info, fp16=True)
    networks.save(model, tmp_path / "naf.safetensors", info.to_metadata())  # the torch paths read it
    frame = np.random.default_rng(0).integers(0, 256, (20, 28, 3), dtype=np.uint8)

    def torch_network(x, t):
        with torch.no_grad():
            return model(torch.from_numpy(x), torch.from_numpy(t)).numpy()

    torch_network.multiple = model.multiple
    reference = Restorer(torch_network).run(frame).astype(int)
    ran = []
    for backend in CPU_PATHS:
        try:
            choose(onnx_path, backend)
        except ValueError:  # not installed, or no native bf16 here: choice.py says why
            continue
        out = Restorer(onnx_path, backend=backend, threads=1).run(frame)
        error = out.astype(int) - reference
        if backend.endswith("bf16"):  # 8 bits of mantissa: close on the whole, not pixel for pixel
            assert 10 * np.log10(255**2 / np.mean(error.astype(float) ** 2)) > 35, backend
        else:
            assert np.abs(error).max() <= 1, backend
        ran.append(backend)
    assert "onnxruntime" in ran
    half = Restorer(fp16_path, backend="onnxruntime", threads=1).run(frame)
    assert np.abs(half.astype(int) - reference).max() <= 2
    assert np.abs(reference - frame).max() > 8  # the random network changes the frame: the agreement means something
