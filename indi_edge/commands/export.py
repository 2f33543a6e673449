"""indi-edge export: a trained model -> ONNX (fp32 / fp16, optionally the unrolled loop) or .pt2."""
from __future__ import annotations

from pathlib import Path

HELP = "Export weights (a .safetensors file or a training run folder) to ONNX or an AOTInductor .pt2."


def add_arguments(parser) -> None:
    parser.add_argument("ckpt", help="weights file from indi_edge.training.nn.save, or a training run folder")
    parser.add_argument("-o", "--output", help="output file: .onnx (or .pt2 with --pt2); not with --triton")
    parser.add_argument("--fp16", action="store_true", help="FP16 weights and compute (IO stays fp32)")
    parser.add_argument("--fp16-io", action="store_true", help="with --fp16: fp16 image IO (TensorRT 11 FP16 engines)")
    parser.add_argument("--unroll", type=int, default=0, metavar="N",
                        help="bake the whole N-step loop (schedule, sampler, eps) into one graph; noise is an input")
    parser.add_argument("--pt2", action="store_true", help="write an AOTInductor package for this CPU (~30-50 s)")
    parser.add_argument("--bf16", action="store_true", help="with --pt2: bfloat16 compute behind fp32 IO (AMX/AVX512-BF16 CPUs)")
    triton = parser.add_argument_group("a Triton Inference Server model repository (export/triton.py)")
    triton.add_argument("--triton", metavar="REPO", help="write REPO/NAME/config.pbtxt and REPO/NAME/1/model.onnx: "
                        "uint8 frames in and out, the whole --steps loop in one graph")
    triton.add_argument("--name", help="model name in the repository (default: the task name)")
    triton.add_argument("--max-batch", type=int, default=8, help="max_batch_size for dynamic batching (default %(default)s)")
    triton.add_argument("--instances", type=int, default=1, help="model instances per device (default %(default)s)")
    triton.add_argument("--kind", choices=("gpu", "cpu"), default="gpu",
                        help="instance kind; gpu also asks ONNX Runtime's TensorRT accelerator for FP16 (default %(default)s)")
    facts = parser.add_argument_group("model facts stored in the file (default: the checkpoint's)")
    facts.add_argument("--steps", type=int, help="default number of InDI steps")
    facts.add_argument("--eps", type=float, help="noise level eps in [-1, 1] units")
    facts.add_argument("--eps-schedule", choices=("constant", "brownian"))
    facts.add_argument("--sampler", choices=("indi", "naive", "cold"))
    facts.add_argument("--task", help="task name, e.g. motion-deblur")


def main(args) -> int:
    from indi_edge.export import export_onnx, export_pt2, load_model

    if args.triton:
        return triton_main(args, load_model)
    if args.output is None:
        raise ValueError("give -o OUTPUT (.onnx or .pt2), or --triton REPO")
    out = Path(args.output)
    want = ".pt2" if args.pt2 else ".onnx"
    if out.suffix != want:
        raise ValueError(f"--output must end in {want}{' (--pt2)' if args.pt2 else ''}, got {out}")
    if args.bf16 and not args.pt2:
        raise ValueError("--bf16 applies to --pt2 packages (ONNX's Conv has no bfloat16 type); use --fp16 for ONNX")
    if args.pt2 and (args.fp16 or args.fp16_io or args.unroll):
        raise ValueError("--pt2 exports the step network (fp32, or --bf16); --fp16, --fp16-io and --unroll apply to ONNX")
    model, info = load_model(args.ckpt)
    overrides = {k: getattr(args, k) for k in ("steps", "eps", "eps_schedule", "sampler", "task")
                 if getattr(args, k) is not None}
    info = info.replace(**overrides)
    if args.pt2:
        path = export_pt2(model, out, info, bf16=args.bf16)
    else:
        path = export_onnx(model, out, info, fp16=args.fp16, fp16_io=args.fp16_io, unroll=args.unroll)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def triton_main(args, load_model) -> int:
    from indi_edge.export.triton import write_repository

    if args.output or args.pt2 or args.unroll or args.fp16 or args.fp16_io:
        raise ValueError("--triton writes its own fp32 model.onnx (on GPUs its config asks TensorRT for FP16): "
                         "drop -o, --pt2, --unroll, --fp16 and --fp16-io")
    if args.steps is None:
        raise ValueError("--triton needs --steps N: the graph holds the whole N-step loop")
    model, info = load_model(args.ckpt)
    overrides = {k: getattr(args, k) for k in ("eps", "eps_schedule", "sampler", "task") if getattr(args, k) is not None}
    info = info.replace(**overrides)
    name = args.name or (info.task if info.task != "custom" else "indi")
    folder = write_repository(args.triton, name, model, info, args.steps, max_batch=args.max_batch,
                              instances=args.instances, kind=f"KIND_{args.kind.upper()}", fp16=True)
    print(f"wrote {folder}/config.pbtxt and {folder}/1/model.onnx ({args.steps} steps, uint8 frames in and out)")
    return 0
