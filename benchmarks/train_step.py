"""CPU-seconds per training step, eager against torch.compile (what `indi-edge train --compile` changes).

The network's forward and backward and an Adam step on a fixed batch under bf16 autocast (fp32 where the CPU has
no native bf16), as the training loop runs them; the batch making is left out (the campaign logs' data_share
gives that part). Process CPU time, so a busy second core inflates it less than wall time.

    python benchmarks/train_step.py eager      # then: python benchmarks/train_step.py compile
    python benchmarks/train_step.py compile --preset naf-s-dense --batch 16 --crop 128 --threads 1
    python benchmarks/train_step.py eager --preset '{"arch": "naf", "width": 24, "multipliers": [1, 2, 4, 6], ...}'
"""
from __future__ import annotations

import argparse
import time


def main() -> None:
    import torch

    from indi_edge.cpu_features import cpu_features
    from indi_edge.training import nn as unet
    from indi_edge.training.train import choose_amp

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("eager", "compile"))
    parser.add_argument("--preset", default="naf-s-dense", help="a preset name, or a network config as JSON "
                        "(a candidate not yet a preset; the config JSON that model files carry)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=15, help="timed steps, twice")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    preset = unet.config_from_json(args.preset) if args.preset.startswith("{") else args.preset
    model = unet.build(preset).to(memory_format=torch.channels_last)
    print(f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    forward = torch.compile(model) if args.mode == "compile" else model
    x = torch.rand(args.batch, 3, args.crop, args.crop) * 2 - 1
    x_t = (x + 0.1 * torch.randn_like(x)).contiguous(memory_format=torch.channels_last)
    t = torch.rand(args.batch)
    bf16 = choose_amp("auto", "cpu") == "bf16"

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            prediction = forward(x_t, t)
        loss = (prediction.float() - x).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    start = time.process_time()
    for _ in range(3):
        step()
    print(f"{args.mode}: first 3 steps (with any compile in this process) {time.process_time() - start:.1f} CPU-s")
    for _ in range(2):
        start = time.process_time()
        for _ in range(args.steps):
            step()
        print(f"{args.mode}: {(time.process_time() - start) / args.steps:.3f} CPU-s per step ({args.preset}, batch "
              f"{args.batch}, crop {args.crop}, {'bf16' if bf16 else 'fp32'}, {args.threads} thread(s), "
              f"{cpu_features().model})", flush=True)


if __name__ == "__main__":
    main()
