"""The training loop: loss goes down, resume is exact, p(t) table, checkpoints are safetensors."""
import json

import cv2
import numpy as np
import pytest
import torch

from indi_edge.cpu_features import bf16_skip_reason
from indi_edge.model_info import ModelInfo
from indi_edge.training import nn as unet
from indi_edge.training.data.pairs import PairedFolder
from indi_edge.training.timesampling import P_T, sample_t
from indi_edge.training.train import TrainConfig, choose_amp, make_batch, make_device_batch, noise_scale, train
from indi_edge.training.train_config import learning_rate


@pytest.fixture(scope="module")
def pairs_dir(tmp_path_factory):
    """Tiny synthetic pair set: smooth random images and a blurred twin."""
    root = tmp_path_factory.mktemp("pairs")
    (root / "x").mkdir()
    (root / "y").mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        x = cv2.GaussianBlur((rng.random((48, 40, 3)) * 255).astype(np.uint8), (0, 0), 2)
        cv2.imwrite(str(root / "x" / f"{i}.png"), x)
        cv2.imwrite(str(root / "y" / f"{i}.png"), cv2.GaussianBlur(x, (0, 0), 2))
    return root


def config(**kw):
    base = dict(preset="edge-s", steps=40, batch=4, crop=32, lr=2e-3, save_every=20, seed=1)
    return TrainConfig(**{**base, **kw})


def read_log(run):
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_short_training_lowers_the_loss(pairs_dir, tmp_path):
    torch.set_num_threads(1)
    train(config(steps=80), PairedFolder(pairs_dir), tmp_path, progress=False)
    log = read_log(tmp_path)
    assert log[-1]["loss"] < 0.7 * log[0]["loss"]
    info = ModelInfo.from_metadata(unet.read_metadata(tmp_path / "weights.safetensors"))
    assert info.preset == "edge-s" and info.multiple == 16 and info.unet_config


def test_resume_continues_where_it_stopped(pairs_dir, tmp_path):
    torch.set_num_threads(1)
    source = PairedFolder(pairs_dir)
    train(config(steps=40), source, tmp_path / "full", progress=False)
    train(config(steps=20), source, tmp_path / "split", progress=False)
    train(config(steps=40), source, tmp_path / "split", resume=True, progress=False)
    full, split = unet.load(tmp_path / "full" / "weights.safetensors"), unet.load(tmp_path / "split" / "weights.safetensors")
    for a, b in zip(full.state_dict().values(), split.state_dict().values()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    assert [r["step"] for r in read_log(tmp_path / "split")] == [20, 40]


@pytest.mark.skipif(bf16_skip_reason() is not None, reason=str(bf16_skip_reason()))
def test_bf16_mixed_precision_lowers_the_loss_and_keeps_fp32_weights(pairs_dir, tmp_path):
    torch.set_num_threads(1)
    train(config(steps=80, amp="bf16"), PairedFolder(pairs_dir), tmp_path, progress=False)
    log = read_log(tmp_path)
    assert log[-1]["loss"] < 0.7 * log[0]["loss"]
    weights = unet.load(tmp_path / "weights.safetensors").state_dict().values()
    assert {w.dtype for w in weights} == {torch.float32}


def test_fp16_needs_cuda_and_amp_is_validated(pairs_dir, tmp_path):
    with pytest.raises(ValueError, match="amp fp16 needs a CUDA device"):
        train(config(steps=1, amp="fp16"), PairedFolder(pairs_dir), tmp_path, progress=False, device="cpu")
    with pytest.raises(ValueError, match="amp must be one of"):
        config(amp="int8").validate()


def edit_recorded_config(run, edit) -> None:
    """Rewrite the train config a run's checkpoint recorded (as an older version or another machine left it)."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from indi_edge.training import checkpoint

    path = run / checkpoint.CHECKPOINT
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    recorded = json.loads(meta["config"])
    edit(recorded)
    save_file(load_file(str(path)), str(path), metadata={**meta, "config": json.dumps(recorded)})


def test_a_run_recorded_before_a_setting_existed_still_resumes(pairs_dir, tmp_path):
    """train_config keys added later (warmup) take their default when the checkpoint lacks them."""
    source = PairedFolder(pairs_dir)
    train(config(steps=20), source, tmp_path, progress=False)
    edit_recorded_config(tmp_path, lambda recorded: recorded.pop("warmup"))
    train(config(steps=40), source, tmp_path, resume=True, progress=False)
    assert [r["step"] for r in read_log(tmp_path)] == [20, 40]
    edit_recorded_config(tmp_path, lambda recorded: recorded.pop("warmup"))
    with pytest.raises(ValueError, match="warmup"):  # a default that differs is still a different config
        train(config(steps=60, warmup=5), source, tmp_path, resume=True, progress=False)


def test_a_run_resumes_in_another_precision(pairs_dir, tmp_path):
    """A campaign moves between CPUs: one trained in bf16 on AMX goes on in fp32 where bf16 is slow."""
    source = PairedFolder(pairs_dir)
    train(config(steps=20), source, tmp_path, progress=False)
    edit_recorded_config(tmp_path, lambda recorded: recorded.update(amp="bf16"))
    train(config(steps=40, amp="off"), source, tmp_path, resume=True, progress=False)
    assert [r["step"] for r in read_log(tmp_path)] == [20, 40]


def test_resume_refuses_a_different_config(pairs_dir, tmp_path):
    train(config(steps=20), PairedFolder(pairs_dir), tmp_path, progress=False)
    with pytest.raises(ValueError, match="crop"):
        train(config(steps=40, crop=48), PairedFolder(pairs_dir), tmp_path, resume=True, progress=False)


def test_resume_may_step_the_lr_down_but_never_up(pairs_dir, tmp_path):
    """A campaign's next phase at a lower constant rate; the checkpoint then records it, so a later resume at
    the old, higher rate (an outdated recipe) is refused."""
    source = PairedFolder(pairs_dir)
    train(config(steps=20), source, tmp_path, progress=False)
    train(config(steps=40, lr=1e-3), source, tmp_path, resume=True, progress=False)
    assert [r["step"] for r in read_log(tmp_path)] == [20, 40]
    with pytest.raises(ValueError, match="lr"):
        train(config(steps=60), source, tmp_path, resume=True, progress=False)


def test_batches_depend_only_on_seed_and_step(pairs_dir):
    source = PairedFolder(pairs_dir)
    a, b = make_batch(source, config(), 5), make_batch(source, config(), 5)
    c = make_batch(source, config(), 6)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["x"], c["x"])
    assert a["x"].shape == (4, 3, 32, 32) and a["t"].shape == (4,) and a["x"].dtype == np.float32


class HalfSource:
    """y = x / 2, so x_t = (1 - t) x + t y = x (1 - t/2) exactly."""

    def sample(self, rng, crop):
        x = rng.uniform(-1, 1, (crop, crop, 3)).astype(np.float32)
        return x, x / 2


@pytest.mark.parametrize("kind", ["linear_0", "bias_t1"])
def test_x_t_interpolates_clean_and_degraded(kind):
    batch = make_batch(HalfSource(), config(p_t=kind), 0)
    t = batch["t"][:, None, None, None]
    np.testing.assert_allclose(batch["x_t"], batch["x"] * (1 - t / 2), atol=1e-6)


def test_x_t_noise_level(kind="linear_a"):
    cfg = config(p_t=kind, p_t_a=1.0, eps=0.1, batch=8)  # every t = 1: x_t = y + eps n
    batch = make_batch(HalfSource(), cfg, 0)
    assert np.all(batch["t"] == 1.0)
    assert (batch["x_t"] - batch["x"] / 2).std() == pytest.approx(0.1, rel=0.05)


@pytest.mark.parametrize("kind", P_T)
def test_p_t_in_unit_interval(kind):
    t = sample_t(kind, np.random.default_rng(0), 20000, a=0.3)
    assert t.dtype == np.float32 and t.min() >= 0 and t.max() <= 1


def test_p_t_biases():
    rng = np.random.default_rng(0)
    assert sample_t("bias_t1", rng, 20000).mean() > 0.6  # E[sin(s pi/2)] = 2/pi
    assert sample_t("bias_t0", rng, 20000).mean() < 0.4
    assert sample_t("linear_0", rng, 20000).mean() == pytest.approx(0.5, abs=0.02)
    assert np.mean(sample_t("linear_a", rng, 20000, a=0.3) == 1.0) == pytest.approx(0.3, abs=0.02)
    with pytest.raises(ValueError):
        sample_t("cosine", rng, 4)


def test_noise_scale_matches_eq_9():
    t = np.array([0.0, 0.25, 1.0], np.float32)
    np.testing.assert_allclose(noise_scale(t, 0.1, "constant"), [0.0, 0.025, 0.1])
    np.testing.assert_allclose(noise_scale(t, 0.1, "brownian"), [0.0, 0.05, 0.1])


def test_checkpoint_is_not_a_pickle(pairs_dir, tmp_path):
    train(config(steps=20), PairedFolder(pairs_dir), tmp_path, progress=False)
    from safetensors import safe_open

    with safe_open(str(tmp_path / "checkpoint.safetensors"), framework="pt") as f:
        keys = list(f.keys())
        assert json.loads(f.metadata()["config"])["preset"] == "edge-s"
    assert any(k.startswith("optim.") for k in keys) and any(k.startswith("ema.") for k in keys)


def test_paired_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="x/"):
        PairedFolder(tmp_path)
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    cv2.imwrite(str(tmp_path / "x" / "a.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="degraded twin"):
        PairedFolder(tmp_path)


def test_invalid_config():
    with pytest.raises(ValueError, match="p_t"):
        config(p_t="uniform").validate()
    with pytest.raises(ValueError, match="loss"):
        config(loss="l3").validate()


def test_init_starts_from_given_weights(pairs_dir, tmp_path):
    source = PairedFolder(pairs_dir)
    train(config(steps=20), source, tmp_path / "a", progress=False)
    train(config(steps=1, lr=1e-12, ema_decay=0.0), source, tmp_path / "b", progress=False,
          init=tmp_path / "a" / "weights.safetensors")
    a, b = unet.load(tmp_path / "a" / "weights.safetensors"), unet.load(tmp_path / "b" / "weights.safetensors")
    # EMA weights of run a were loaded as the start of run b: a near-zero lr keeps them.
    first_conv = "conv_in.weight"
    assert torch.allclose(a.state_dict()[first_conv], b.state_dict()[first_conv], atol=1e-6)
    with pytest.raises(ValueError, match="preset"):
        train(config(steps=1, preset="edge-m"), source, tmp_path / "c", progress=False,
              init=tmp_path / "a" / "weights.safetensors")


def test_amp_auto_follows_the_cpu(pairs_dir, tmp_path):
    """auto picks bf16 only where it runs natively; bf16 is refused where it would run emulated."""
    assert choose_amp("auto", "cpu") == ("off" if bf16_skip_reason() else "bf16")
    assert choose_amp("off", "cpu") == "off"
    if bf16_skip_reason():
        with pytest.raises(ValueError, match="no native bf16"):
            train(config(steps=1, amp="bf16"), PairedFolder(pairs_dir), tmp_path, progress=False)


def test_a_checkpoint_with_bf16_moments_is_smaller_and_resumes_close(pairs_dir, tmp_path):
    """bf16 moments: a resume is within bf16 rounding of the uninterrupted run, not exact (fp32 moments are)."""
    from safetensors import safe_open

    torch.set_num_threads(1)
    source = PairedFolder(pairs_dir)
    train(config(steps=40), source, tmp_path / "full", progress=False)
    train(config(steps=20, moments="bf16"), source, tmp_path / "split", progress=False)
    with safe_open(str(tmp_path / "split" / "checkpoint.safetensors"), framework="pt") as f:
        dtypes = {k.rsplit(".", 1)[-1]: f.get_slice(k).get_dtype() for k in f.keys() if k.startswith("optim.")}
    assert dtypes["exp_avg"] == dtypes["exp_avg_sq"] == "BF16"
    train(config(steps=40), source, tmp_path / "split", resume=True, progress=False)  # back to fp32: resumable
    full, split = unet.load(tmp_path / "full" / "weights.safetensors"), unet.load(tmp_path / "split" / "weights.safetensors")
    gaps = [(a - b).abs().max().item() for a, b in zip(full.state_dict().values(), split.state_dict().values())]
    assert 0 < max(gaps) < 2e-3  # bf16-rounded moments change each later step by under 0.4%; an exact resume gives 0


def test_batch_source_training_resumes_exactly(tmp_path):
    """A source that makes whole batches (motion-deblur) trains, logs its data share and resumes exactly."""
    from indi_edge.training.data.motion_batches import MotionDeblurBatches

    torch.set_num_threads(1)
    source = MotionDeblurBatches("cpu", pool_slots=4, pool_size=96)
    cfg = dict(batch=2, crop=32)
    train(config(steps=6, save_every=3, **cfg), source, tmp_path / "full", progress=False)
    train(config(steps=3, save_every=3, **cfg), source, tmp_path / "split", progress=False)
    train(config(steps=6, save_every=3, **cfg), MotionDeblurBatches("cpu", pool_slots=4, pool_size=96),
          tmp_path / "split", resume=True, progress=False)
    full, split = unet.load(tmp_path / "full" / "weights.safetensors"), unet.load(tmp_path / "split" / "weights.safetensors")
    for a, b in zip(full.state_dict().values(), split.state_dict().values()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    assert 0 <= read_log(tmp_path / "full")[-1]["data_share"] <= 1
    train(config(steps=6, save_every=3, **cfg), source, tmp_path / "workers", progress=False, workers=2)
    with_workers = unet.load(tmp_path / "workers" / "weights.safetensors")
    for a, b in zip(full.state_dict().values(), with_workers.state_dict().values()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)  # planning in worker processes changes nothing


def test_device_batch_x_t_interpolates(tmp_path):
    from indi_edge.training.data.motion_batches import MotionDeblurBatches

    source = MotionDeblurBatches("cpu", pool_slots=2, pool_size=96)
    x, y = source.batch(1, 4, 3, 32)
    batch = make_device_batch(x, y, config(batch=3, crop=32), 4)
    t = batch["t"][:, None, None, None]
    torch.testing.assert_close(batch["x_t"], (1 - t) * x + t * y)


def test_cpu_limit_stops_and_saves(pairs_dir, tmp_path):
    summary = train(config(steps=1000), PairedFolder(pairs_dir), tmp_path, progress=False, cpu_limit_s=0.5)
    assert summary["step"] < 1000 and (tmp_path / "weights.safetensors").is_file()


def test_grad_clip_bounds_the_gradient_norm_and_logs_it(pairs_dir, tmp_path):
    from indi_edge.training.train import MixedPrecision

    layer = torch.nn.Linear(4, 3)
    optimizer = torch.optim.Adam(layer.parameters(), lr=1e-3)
    loss = 100.0 * layer(torch.ones(2, 4)).sum()
    before = MixedPrecision("off", "cpu").step(loss, optimizer, clip=0.5)
    after = torch.cat([p.grad.flatten() for p in layer.parameters()]).norm().item()
    assert before > 10 and after == pytest.approx(0.5, rel=1e-4)  # clipped to the bound, the raw norm returned

    torch.set_num_threads(1)
    train(config(steps=20, grad_clip=1.0), PairedFolder(pairs_dir), tmp_path / "clipped", progress=False)
    train(config(steps=20), PairedFolder(pairs_dir), tmp_path / "free", progress=False)
    assert read_log(tmp_path / "clipped")[-1]["grad_norm_max"] > 0
    assert "grad_norm_max" not in read_log(tmp_path / "free")[-1]
    with pytest.raises(ValueError, match="grad_clip"):
        config(grad_clip=-1.0).validate()


def test_learning_rate_warms_up_then_decays_to_a_hundredth():
    config = TrainConfig(lr=1e-3, steps=1000, warmup=100, lr_schedule="cosine")
    rates = [learning_rate(config, step) for step in range(1, 1001)]
    assert rates[0] == pytest.approx(1e-5) and rates[99] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(rates[99:], rates[100:]))  # never rises after the warm-up
    assert rates[-1] == pytest.approx(1e-5)
    assert learning_rate(TrainConfig(lr=1e-3, steps=1000), 1000) == 1e-3  # constant stays the default
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainConfig(lr_schedule="step").validate()


def test_training_into_an_existing_run_without_resume_is_refused(pairs_dir, tmp_path):
    settings = config(steps=2, save_every=1)
    train(settings, PairedFolder(pairs_dir), tmp_path / "run", progress=False)
    before = (tmp_path / "run" / "weights.safetensors").read_bytes()
    with pytest.raises(ValueError, match="already holds a training run: continue it with --resume"):
        train(settings, PairedFolder(pairs_dir), tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "weights.safetensors").read_bytes() == before


def test_a_run_that_goes_nan_stops_before_saving_anything_bad(pairs_dir, tmp_path):
    run = tmp_path / "run"
    with pytest.raises(RuntimeError, match=r"(loss became nan|weights hold NaN/Inf) at step \d: stopped without saving"):
        train(config(steps=6, save_every=10, lr=1e30), PairedFolder(pairs_dir), run, progress=False)
    assert not (run / "weights.safetensors").exists() and not (run / "checkpoint.safetensors").exists()
