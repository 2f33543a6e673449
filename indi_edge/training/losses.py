"""Training losses for F(x_t, t) -> x0.

The base loss is the paper's L1, L2, or the per-sample log MSE (`psnr_loss`). `no_harm` adds a hinge on each sample's error against the
error of the network's own input: a restoration that is further from the clean image than x_t was
costs extra. On ill-posed inputs (fine stripes under blur, whose phase the blur erased) a network
trained only on the mean loss may confidently invent detail that makes that image worse; the
hinge teaches it to hold back there. The hinge is on the log of the per-sample MSE, i.e. in
decibels, because "no frame worse than its input" is a per-frame PSNR promise: a sharp frame
losing 3 dB counts as much as a heavily blurred one.
"""
from __future__ import annotations

import torch

# Floor of the per-sample MSE (in [-1, 1] units) in the hinge: 1e-4 is 46 dB, so sharp inputs
# (x_t == x, error 0) ask for pass-through to about that level, not to infinity.
NO_HARM_FLOOR = 1e-4


def per_sample_mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).pow(2).flatten(1).mean(1)


def no_harm_hinge(prediction: torch.Tensor, x: torch.Tensor, x_t: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of max(0, ln((mse(pred, x) + floor) / (mse(x_t, x) + floor)))."""
    after = per_sample_mse(prediction, x) + NO_HARM_FLOOR
    before = per_sample_mse(x_t.float(), x) + NO_HARM_FLOOR
    return torch.relu(torch.log(after / before)).mean()


def psnr_loss(prediction: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ln(mse + floor): minus the mean per-sample PSNR, up to scale.

    A batch-mean L2 weighs samples by their squared error, so the large blurs take the gradient and
    small blurs (errors ten times smaller, the same weight in a mean-dB score) are left to drift;
    the log gives every sample the same weight in decibels, as the held-out score does."""
    return torch.log(per_sample_mse(prediction, x) + NO_HARM_FLOOR).mean()


LOSSES = ("l1", "l2", "psnr")


def restoration_loss(prediction: torch.Tensor, x: torch.Tensor, x_t: torch.Tensor, kind: str = "l1",
                     no_harm: float = 0.0) -> torch.Tensor:
    """kind: l1, l2 or psnr (per-sample log MSE) between prediction and x; plus no_harm x the hinge above (0: off)."""
    if kind == "psnr":
        loss = psnr_loss(prediction, x)
    else:
        loss = (torch.nn.functional.l1_loss if kind == "l1" else torch.nn.functional.mse_loss)(prediction, x)
    if no_harm:
        loss = loss + no_harm * no_harm_hinge(prediction, x, x_t)
    return loss
