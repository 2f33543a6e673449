"""Training loop for F(x_t, t) -> x0 (paper eq. 9): L1 (or L2) between F((1-t)x + t y + t eps_t n, t) and x.

Every batch is a pure function of (seed, step): a resumed run sees exactly the batches the
uninterrupted run would have seen, whatever the number of data workers.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

from indi_edge.cpu_features import bf16_skip_reason, cpu_features
from indi_edge.model_info import ModelInfo
from indi_edge.training import nn as unet
from indi_edge.training.checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from indi_edge.training.data.pairs import BatchSource, PairSource
from indi_edge.training.losses import restoration_loss
from indi_edge.training.timesampling import sample_t
from indi_edge.training.train_config import TrainConfig, learning_rate

WEIGHTS = "weights.safetensors"  # EMA weights + ModelInfo: what export and fine-tuning read
LOG = "log.jsonl"
# What a resumed run may change: its length, and the precision, chosen per CPU (--amp auto): a campaign moves
# between machines, and one without native bf16 trains in fp32 the weights another trained in bf16.
RESUMABLE_CHANGES = ("steps", "save_every", "amp", "moments")
# ... and a lower lr: a long constant-rate campaign steps its rate down once its curve is flat, and a run that
# diverged goes on from its last checkpoint at a lower rate. Never a higher one, so an old recipe run by mistake
# cannot undo the step.
LOWERABLE = ("lr",)


def augment(x: np.ndarray, y: np.ndarray, rng: np.random.Generator):
    """The same random flip and 90-degree rotation of both images (HWC)."""
    k = int(rng.integers(4))
    flip = bool(rng.integers(2))
    x, y = np.rot90(x, k), np.rot90(y, k)
    if flip:
        x, y = x[:, ::-1], y[:, ::-1]
    return x, y


def noise_scale(t: np.ndarray, eps: float, schedule: str) -> np.ndarray:
    """t * eps_t: the std of the noise on x_t (constant: t eps; brownian: eps sqrt(t), finite at t=0)."""
    return (t * eps if schedule == "constant" else eps * np.sqrt(t)).astype(np.float32)


def forward_process(x, y, t: np.ndarray, noise, config: TrainConfig):
    """x_t = (1-t) x + t y + t eps_t n (paper eq. 1 with noise) for numpy arrays or torch tensors
    [N, C, H, W]; t is numpy [N], noise an array like x or 0."""
    tb = t[:, None, None, None]
    scale = noise_scale(tb, config.eps, config.eps_schedule)
    if not isinstance(x, np.ndarray):  # torch: the per-sample factors go to x's device
        tb, scale = torch.from_numpy(tb).to(x.device), torch.from_numpy(scale).to(x.device)
    return (1 - tb) * x + tb * y + scale * noise


def make_batch(source: PairSource, config: TrainConfig, step: int) -> dict[str, np.ndarray]:
    """The batch of training step `step` from a per-sample source: x, x_t as float32 NCHW and t as [N]."""
    rng = np.random.default_rng([config.seed, step])
    clean, degraded = [], []
    for _ in range(config.batch):
        x, y = augment(*source.sample(rng, config.crop), rng)
        clean.append(x)
        degraded.append(y)
    x = np.stack(clean).transpose(0, 3, 1, 2)
    y = np.stack(degraded).transpose(0, 3, 1, 2)
    t = sample_t(config.p_t, rng, config.batch, config.p_t_a)
    n = rng.standard_normal(x.shape, dtype=np.float32)
    x_t = forward_process(x, y, t, n, config)
    return {"x": np.ascontiguousarray(x, np.float32), "x_t": np.ascontiguousarray(x_t, np.float32), "t": t}


def make_device_batch(x: torch.Tensor, y: torch.Tensor, config: TrainConfig, step: int) -> dict[str, torch.Tensor]:
    """The batch of training step `step` from pairs (x, y) already on the training device."""
    rng = np.random.default_rng([config.seed, step, 1])
    t = sample_t(config.p_t, rng, config.batch, config.p_t_a)
    noise = torch.from_numpy(rng.standard_normal(x.shape, dtype=np.float32)).to(x.device) if config.eps else 0.0
    return {"x": x, "x_t": forward_process(x, y, t, noise, config), "t": torch.from_numpy(t).to(x.device)}


def tensors(batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v) for k, v in batch.items()}


class StepStream(torch.utils.data.IterableDataset):
    """make(step) for steps start+1 .. stop, split across DataLoader workers in step order."""

    def __init__(self, make, start: int, stop: int):
        self.make, self.start, self.stop = make, start, stop

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        for step in range(self.start + 1 + worker, self.stop + 1, workers):
            yield self.make(step)


def as_is(item):
    return item


def per_sample_batch(source: PairSource, config: TrainConfig, step: int) -> dict[str, torch.Tensor]:
    # Optimisation step s has always used make_batch(s - 1): kept, so older runs resume on the same data.
    return tensors(make_batch(source, config, step - 1))


def batches(source, config: TrainConfig, start: int, workers: int, pin_memory: bool):
    """The batches of steps start+1 .. config.steps, as dicts of tensors.

    A per-sample PairSource runs entirely in `workers` DataLoader processes (0: this one). A
    BatchSource plans there and realises its pixels here, on the training device."""
    planned = isinstance(source, BatchSource)
    if planned:
        make = functools.partial(source.plan, config.seed, size=config.batch, crop=config.crop)
    else:
        make = functools.partial(per_sample_batch, source, config)
    if workers:
        items = iter(torch.utils.data.DataLoader(StepStream(make, start, config.steps), batch_size=None,
                                                 collate_fn=as_is, num_workers=workers, pin_memory=pin_memory))
    else:
        items = (make(step) for step in range(start + 1, config.steps + 1))
    if planned:
        return (make_device_batch(*source.realise(plan), config, plan.step) for plan in items)
    return items


def append_line(path: Path, line: str) -> None:
    """Append one line by path, opened and closed each time: a log file replaced under a long run
    (a checkout, a stash) then gets the run's later lines instead of an unlinked file swallowing them."""
    with path.open("a") as f:
        f.write(line + "\n")


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its finished child processes: the compilers that
    torch.compile runs, and data-loader workers once they end, count toward a run's CPU budget too."""
    times = os.times()
    return time.process_time() + times.children_user + times.children_system


def compiled(model):
    """torch.compile'd forward, compiled in this process (not in a pool of worker processes) so that a
    run's CPU time, and --cpu-limit, include the compilation."""
    import torch._inductor.config as inductor

    inductor.compile_threads = 1
    return torch.compile(model)


class MixedPrecision:
    """Autocast for the forward pass (bf16 or fp16) and, for fp16, loss scaling against underflow.
    The weights, Adam state, EMA and loss stay fp32; the network keeps its t embedding in fp32."""

    def __init__(self, amp: str, device: str):
        self.device_type = torch.device(device).type
        if amp == "fp16" and self.device_type != "cuda":
            raise ValueError("amp fp16 needs a CUDA device; on a CPU use --amp bf16 (fast with AMX / AVX512-BF16)")
        if amp == "bf16" and self.device_type == "cpu" and bf16_skip_reason():
            raise ValueError(f"amp bf16 refused: {bf16_skip_reason()}; train with --amp off (or auto)")
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
        self.scaler = torch.amp.GradScaler(self.device_type) if amp == "fp16" else None

    def autocast(self):
        return torch.autocast(self.device_type, dtype=self.dtype, enabled=self.dtype is not None)

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, clip: float = 0.0) -> float:
        """Backward, optional clipping of the gradients' global norm to `clip` (0: none), optimizer step.
        Returns the gradient norm before clipping (nan when not clipping)."""
        params = [p for group in optimizer.param_groups for p in group["params"]]
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()
        if self.scaler is not None and clip:
            self.scaler.unscale_(optimizer)
        norm = float(torch.nn.utils.clip_grad_norm_(params, clip)) if clip else math.nan
        if self.scaler is None:
            optimizer.step()
        else:
            self.scaler.step(optimizer)
            self.scaler.update()
        return norm


def choose_amp(amp: str, device: str) -> str:
    """'auto' -> bf16 where it runs natively (CPUs with AMX / AVX512-BF16 / Arm BF16, CUDA GPUs that
    support bf16), else 'off'; any other value is returned as given."""
    if amp != "auto":
        return amp
    if torch.device(device).type == "cuda":
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "off"
    return "off" if bf16_skip_reason() else "bf16"


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p, 1.0 - decay)


def model_info(config: TrainConfig, model: unet.UNet, command: str, elapsed_s: float, device: str, step: int) -> ModelInfo:
    return ModelInfo(
        task=config.task, multiple=model.multiple, steps=config.default_steps, eps=config.eps,
        eps_schedule=config.eps_schedule, sampler="indi", preset=config.preset,
        unet_config=model.config.to_json(), train_command=command,
        train_data=config.task if config.task != "custom" else "paired folder",
        train_time=f"{elapsed_s / 60:.1f} min, {step} steps on {device_name(device)}",
    )


def device_name(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return f"{cpu_features().model} CPU x{torch.get_num_threads()} threads"


def train(config: TrainConfig, source: PairSource | BatchSource, out_dir: str | Path, *, resume: bool = False,
          device: str = "cpu", workers: int = 0, command: str = "", progress: bool = True,
          time_limit_s: float | None = None, cpu_limit_s: float | None = None,
          init: str | Path | None = None, compile: bool = False) -> dict:
    """Train (or resume) into out_dir; returns a summary with the last logged loss.

    time_limit_s / cpu_limit_s stop early (after saving) once that much wall time / process CPU
    time (all threads) has passed in this call; the run can be resumed. The CPU limit gives runs
    an equal compute budget on a shared machine. init starts a new run from existing weights
    (fine-tuning); they must have this preset's config, or one that only adds blocks to it
    (nn.load_grown). compile runs the forward (and so its backward) through torch.compile: the same
    losses to ~1e-5, a fraction of the CPU time per step (elementwise work fused around the convolutions).
    """
    from tqdm import tqdm

    config.validate()
    out_dir = Path(out_dir)
    if not resume and (out_dir / CHECKPOINT).exists():
        raise ValueError(f"{out_dir} already holds a training run: continue it with --resume, or choose a new --out "
                         f"(starting over here would overwrite its checkpoint and weights)")
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    # NHWC: what oneDNN's and cuDNN's fast convolutions want (1.1x fp32, 1.3x bf16 on the dev box CPU)
    model = unet.build(config.preset).to(device, memory_format=torch.channels_last)
    if config.crop % model.multiple:
        raise ValueError(f"crop {config.crop} must be a multiple of {model.multiple} for preset {config.preset}")
    if init is not None:
        try:
            unet.load_grown(model, init)  # the same config, or this one with blocks added (they start as identity)
        except ValueError as err:
            raise ValueError(f"--init weights do not fit preset {config.preset}: {err}") from err
    ema = copy.deepcopy(model).eval()
    forward = compiled(model) if compile else model  # the same parameters: checkpoints save `model`
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    start, elapsed = 0, 0.0
    if resume:
        start, saved, elapsed = load_checkpoint(out_dir, model, ema, optimizer)
        defaults = dataclasses.asdict(TrainConfig())  # a key older runs did not record had its default then
        differing = {k for k, v in dataclasses.asdict(config).items()
                     if k not in RESUMABLE_CHANGES and saved.get(k, defaults[k]) != v
                     and not (k in LOWERABLE and v < saved.get(k, defaults[k]))}
        if differing:
            raise ValueError(f"resume with a different config ({sorted(differing)}); use a new --out or the same settings")
    (out_dir / "train_config.json").write_text(json.dumps({**dataclasses.asdict(config), "command": command}, indent=2))

    stream = batches(source, config, start, workers, pin_memory=device.startswith("cuda"))
    precision = MixedPrecision(config.amp, device)
    bar = tqdm(total=config.steps, initial=start, disable=not progress, unit="step", dynamic_ncols=True)
    t0, running, grad_norms, last = time.perf_counter() - elapsed, [], [], math.nan
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    data_s, interval_start = 0.0, wall0  # time spent making batches since the last log line (the rest: network)
    step = start
    model.train()
    for step in range(start + 1, config.steps + 1):
        fetch = time.perf_counter()
        batch = next(stream)
        data_s += time.perf_counter() - fetch
        x = batch["x"].to(device, non_blocking=True)
        x_t = batch["x_t"].to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        t = batch["t"].to(device, non_blocking=True)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, step)
        with precision.autocast():
            prediction = forward(x_t, t)
        loss = restoration_loss(prediction.float(), x, x_t, config.loss, config.no_harm)
        if not torch.isfinite(loss):
            raise RuntimeError(f"the loss became {loss.item()} at step {step}: stopped without saving, so the "
                               f"last checkpoint and weights in {out_dir} are kept; resume with a lower --lr "
                               f"or --grad-clip")
        optimizer.zero_grad(set_to_none=True)
        grad_norms.append(precision.step(loss, optimizer, config.grad_clip))
        update_ema(ema, model, config.ema_decay)
        running.append(loss.item())
        out_of_time = (time_limit_s is not None and time.perf_counter() - wall0 > time_limit_s) or \
                      (cpu_limit_s is not None and cpu_seconds() - cpu0 > cpu_limit_s)
        if step % 20 == 0 or step == config.steps or out_of_time:
            last = float(np.mean(running))
            now = time.perf_counter()
            entry = {"step": step, "loss": last, "elapsed_s": now - t0, "cpu_s": cpu_seconds() - cpu0,
                     "data_share": round(data_s / (now - interval_start), 4)}
            if config.grad_clip:
                entry["grad_norm_max"] = max(grad_norms)
            append_line(out_dir / LOG, json.dumps(entry))
            running.clear()
            grad_norms.clear()
            data_s, interval_start = 0.0, now
            bar.set_postfix(loss=f"{last:.4f}")
        bar.update(1)
        if step % config.save_every == 0 or step == config.steps or out_of_time:
            if not all(torch.isfinite(p).all() for p in ema.parameters()):
                raise RuntimeError(f"the weights hold NaN/Inf at step {step}: stopped without saving, so the "
                                   f"last checkpoint and weights in {out_dir} are kept; resume with a lower "
                                   f"--lr or --grad-clip")
            elapsed = time.perf_counter() - t0
            save_checkpoint(out_dir, model, ema, optimizer, step, dataclasses.asdict(config), elapsed,
                            moments=config.moments)
            info = model_info(config, ema, command, elapsed, device, step)
            unet.save(ema, out_dir / WEIGHTS, info.to_metadata())
        if out_of_time:
            break
    bar.close()
    return {"step": step, "loss": last, "elapsed_s": time.perf_counter() - t0, "out": str(out_dir)}
