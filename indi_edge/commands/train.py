"""indi-edge train: fit F(x_t, t) on paired folders or on a built-in synthetic task."""
from __future__ import annotations

HELP = "Train an InDI U-Net on paired folders (--pairs) or a built-in synthetic task (--task)."


def add_arguments(parser) -> None:
    from indi_edge.training.train_config import TrainConfig

    d = TrainConfig()
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--pairs", metavar="DIR", help="folder with x/ (clean) and y/ (degraded) images of the same names")
    data.add_argument("--task", help="built-in synthetic task: motion-deblur, defocus, jpeg, sr4, denoise")
    parser.add_argument("--dead-leaves-share", type=float, metavar="F",
                        help="motion-deblur: the share of training windows cut from fresh dead-leaves images "
                             "rather than the photos (default 0.3); the photos are few, the dead leaves endless")
    parser.add_argument("--photo-scales", type=numbers, metavar="S,S,...",
                        help="every built-in task: also train on the photos shrunk by these factors, e.g. 1,0.7,0.5 "
                             "(default 1: as they are); more scales, less memorising of the few photos")
    parser.add_argument("--soft-radii", type=numbers, metavar="R,R,...",
                        help="motion-deblur: also train on defocused copies of the photos (lens disks of these "
                             "radii in px, e.g. 2,5), so soft, out-of-focus content is kept soft, not sharpened")
    parser.add_argument("--soft-leaves-share", type=float, metavar="F",
                        help="motion-deblur: the share of dead-leaves images with a shallow depth of field "
                             "(sharp disks before a defocused background; default 0)")
    parser.add_argument("--soft-leaves-radii", type=numbers, metavar="LO,HI",
                        help="motion-deblur: the range of those backgrounds' lens-disk radii in px (default 2,12); "
                             "wider for footage with strong bokeh")
    parser.add_argument("--debian-photos", action="store_true", default=None,
                        help="every built-in task: add the 22 Debian photographs (fetch them first: indi-edge fetch-photos)")
    parser.add_argument("--channel-shuffle", action="store_true", default=None,
                        help="motion-deblur: put each sample's RGB channels in a random order")
    parser.add_argument("--out", required=True, metavar="DIR", help="run folder: checkpoint, weights, log")
    parser.add_argument("--preset", default=d.preset, help=f"U-Net preset (default {d.preset}; see `indi-edge presets`)")
    parser.add_argument("--steps", type=int, default=d.steps, help="total optimisation steps")
    parser.add_argument("--batch", type=int, default=d.batch)
    parser.add_argument("--crop", type=int, default=d.crop, help="training crop size in pixels")
    parser.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate (peak, with --lr-schedule)")
    parser.add_argument("--lr-schedule", choices=("constant", "cosine"), default=d.lr_schedule,
                        help="constant, or cosine decay to lr/100 at --steps (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=d.warmup, help="steps of linear lr warm-up (default %(default)s)")
    parser.add_argument("--ema", type=float, default=d.ema_decay, help="EMA decay of the weights")
    parser.add_argument("--grad-clip", type=float, default=d.grad_clip,
                        help="clip the gradients' global norm to this (0: off; default %(default)s)")
    parser.add_argument("--loss", choices=("l1", "l2", "psnr"), default=d.loss,
                        help="l1 (the paper's), l2 (the conditional mean), or psnr (per-sample log MSE: every "
                             "sample weighs the same in dB, as a mean-PSNR score does; default %(default)s)")
    parser.add_argument("--no-harm", type=float, default=d.no_harm, metavar="W",
                        help="add W x a per-sample hinge on the output's error in dB over its input's, so the "
                             "network holds back where it cannot restore (0: off; default %(default)s)")
    parser.add_argument("--p-t", default=d.p_t, help="p(t): linear_0, linear_a, bias_t1, bias_t0, bias_t0_t1")
    parser.add_argument("--p-t-a", type=float, default=d.p_t_a, help="a of linear_a (mass at t=1)")
    parser.add_argument("--eps", type=float, default=d.eps, help="noise level on y in [-1,1] units")
    parser.add_argument("--eps-schedule", choices=("constant", "brownian"), default=d.eps_schedule)
    parser.add_argument("--default-steps", type=int, default=d.default_steps, help="InDI steps recorded as the model's default")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--save-every", type=int, default=d.save_every)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--amp", choices=("auto", "off", "bf16", "fp16"), default="auto",
                        help="mixed precision for the forward pass: bf16 (CPUs with native bf16: AMX, "
                             "AVX512-BF16, Arm BF16; Ampere+ GPUs), fp16 (CUDA, with loss scaling); weights stay "
                             "fp32. auto: bf16 where it runs natively, else off (default %(default)s)")
    parser.add_argument("--checkpoint-moments", choices=("fp32", "bf16"), default=d.moments,
                        help="Adam's two moments in the checkpoint: fp32 (resume is exact) or bf16 (12 bytes a "
                             "parameter instead of 16, for a bigger net under a size limit; a resume then differs "
                             "by bf16 rounding of the moments; default %(default)s)")
    parser.add_argument("--workers", type=int, default=0, help="data loader processes (0: in the training process)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--compile", action="store_true",
                        help="run the network's training step through torch.compile (same results; on the CPUs "
                             "here 2-2.6x fewer CPU-seconds per step with bf16; the first step compiles, in this "
                             "process so --cpu-limit counts it)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    parser.add_argument("--init", metavar="WEIGHTS", help="start from these weights (fine-tune), e.g. a bundled model's safetensors")
    parser.add_argument("--time-limit", type=float, default=None, metavar="MIN",
                        help="stop (after saving) once this many minutes have passed; resume later with --resume")
    parser.add_argument("--cpu-limit", type=float, default=None, metavar="MIN",
                        help="stop (after saving) once this process has used this many CPU minutes (all threads): "
                             "an equal compute budget for runs compared on a shared machine")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def numbers(text: str) -> tuple[float, ...]:
    import argparse

    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, e.g. 1,0.7,0.5; got {text!r}") from None


def pair_source(args):
    motion_options = {"dead_leaves_share": args.dead_leaves_share, "photo_scales": args.photo_scales,
                      "channel_shuffle": args.channel_shuffle, "soft_radii": args.soft_radii,
                      "soft_leaves_share": args.soft_leaves_share, "soft_leaves_radii": args.soft_leaves_radii,
                      "debian_photos": args.debian_photos}
    if args.pairs:
        from indi_edge.training.data.pairs import PairedFolder
        from indi_edge.training.data.sources import refuse_motion_options

        refuse_motion_options(motion_options, "to --pairs")
        return PairedFolder(args.pairs)
    from indi_edge.training.data.sources import pair_source as task_source

    return task_source(args.task, args.device, **motion_options)


def main(args) -> int:
    import torch

    from indi_edge.training.train import choose_amp, train
    from indi_edge.training.train_config import TrainConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    config = TrainConfig(
        preset=args.preset, steps=args.steps, batch=args.batch, crop=args.crop, lr=args.lr, ema_decay=args.ema,
        lr_schedule=args.lr_schedule, warmup=args.warmup,
        loss=args.loss, no_harm=args.no_harm, grad_clip=args.grad_clip, p_t=args.p_t, p_t_a=args.p_t_a, eps=args.eps, eps_schedule=args.eps_schedule,
        seed=args.seed, task=args.task or "custom", default_steps=args.default_steps, save_every=args.save_every,
        amp=choose_amp(args.amp, args.device), moments=args.checkpoint_moments,
    )
    summary = train(config, pair_source(args), args.out, resume=args.resume, device=args.device,
                    workers=args.workers, command=args.command_line, progress=not args.quiet,
                    time_limit_s=None if args.time_limit is None else 60 * args.time_limit,
                    cpu_limit_s=None if args.cpu_limit is None else 60 * args.cpu_limit, init=args.init,
                    compile=args.compile)
    print(f"trained to step {summary['step']} in {summary['elapsed_s']:.0f} s, loss {summary['loss']:.4f}; "
          f"weights in {args.out}/weights.safetensors")
    return 0
