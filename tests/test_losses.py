"""The training losses: the base L1/L2 and the per-sample no-harm hinge."""
import math

import pytest
import torch

from indi_edge.training.losses import NO_HARM_FLOOR, no_harm_hinge, restoration_loss
from indi_edge.training.train_config import TrainConfig


def images(seed=0, n=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 8, 8, generator=g) * 2 - 1
    x_t = x + 0.1 * torch.randn(n, 3, 8, 8, generator=g)
    return x, x_t


def test_hinge_is_zero_when_every_output_is_no_worse_than_its_input():
    x, x_t = images()
    better = x + 0.5 * (x_t - x)
    assert no_harm_hinge(better, x, x_t).item() == 0.0
    assert no_harm_hinge(x_t, x, x_t).item() == 0.0


def test_hinge_counts_each_harmed_sample_in_log_error():
    x, x_t = images()
    worse = x_t.clone()
    worse[1] = x[1] + 2.0 * (x_t[1] - x[1])  # sample 1 only: error x2, MSE x4
    before = (x_t[1] - x[1]).pow(2).mean().item()
    expected = math.log((4 * before + NO_HARM_FLOOR) / (before + NO_HARM_FLOOR)) / 3
    assert no_harm_hinge(worse, x, x_t).item() == pytest.approx(expected, rel=1e-5)


def test_hinge_gradient_reaches_only_harmed_samples():
    x, x_t = images()
    prediction = x_t.clone()
    prediction[0] = x[0] + 3.0 * (x_t[0] - x[0])
    prediction[2] = x[2]
    prediction.requires_grad_(True)
    no_harm_hinge(prediction, x, x_t).backward()
    assert prediction.grad[0].abs().sum() > 0
    assert prediction.grad[1].abs().sum() == 0 and prediction.grad[2].abs().sum() == 0


def test_a_sharp_input_asks_for_pass_through():
    """x_t == x (identity kernel): any change costs, measured against the 46 dB floor."""
    x, _ = images()
    assert no_harm_hinge(x, x, x).item() == 0.0
    assert no_harm_hinge(x + 0.05, x, x).item() > 1.0


def test_restoration_loss_adds_the_weighted_hinge():
    x, x_t = images()
    prediction = x + 2.0 * (x_t - x)
    base = torch.nn.functional.mse_loss(prediction, x)
    assert restoration_loss(prediction, x, x_t, "l2").item() == pytest.approx(base.item())
    assert restoration_loss(prediction, x, x_t, "l2", no_harm=0.5).item() == pytest.approx(
        base.item() + 0.5 * no_harm_hinge(prediction, x, x_t).item())
    assert restoration_loss(prediction, x, x_t, "l1").item() == pytest.approx(
        torch.nn.functional.l1_loss(prediction, x).item())


def test_no_harm_weight_is_validated():
    with pytest.raises(ValueError, match="no_harm"):
        TrainConfig(no_harm=-1.0).validate()
    with pytest.raises(ValueError, match="no_harm"):
        TrainConfig(no_harm=float("nan")).validate()


def test_psnr_loss_weighs_every_sample_the_same_in_db():
    """Halving one sample's error lowers the loss by the same amount whether its error was large or small."""
    from indi_edge.training.losses import psnr_loss

    x, _ = images(n=2)
    offsets = torch.tensor([0.2, 0.02]).view(2, 1, 1, 1)
    base = psnr_loss(x + offsets, x)
    halved_big = psnr_loss(x + offsets * torch.tensor([0.5, 1.0]).view(2, 1, 1, 1), x)
    halved_small = psnr_loss(x + offsets * torch.tensor([1.0, 0.5]).view(2, 1, 1, 1), x)
    # with the 1e-4 floor the small sample gains a little less; an L2 loss would give it 1% of the big one's gain
    assert (base - halved_small) > 0.6 * (base - halved_big) > 0
    assert restoration_loss(x + offsets, x, x, "psnr").item() == pytest.approx(base.item())
    with pytest.raises(ValueError, match="loss"):
        TrainConfig(loss="ssim").validate()
