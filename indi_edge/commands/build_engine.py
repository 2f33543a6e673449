"""indi-edge build-engine: an exported ONNX model -> a TensorRT engine for this machine's GPU."""
from __future__ import annotations

from pathlib import Path

HELP = "Build a TensorRT engine (.engine + .engine.json sidecar) from an exported ONNX model, on the GPU that will run it."

EPILOG = """\
shapes are NxCxHxW (1x3x720x1280) or HxW (720x1280, one frame); H and W must be multiples of the
model's size multiple (e.g. 1088, not 1080, for 1080p with a multiple of 16).
TensorRT 10 (JetPack 6): --precision fp16 builds the fp32 ONNX with BuilderFlag.FP16.
TensorRT 11: fp16 engines need the fp16 ONNX: indi-edge export --fp16 --fp16-io.
The engine is reused when its sidecar's key (ONNX sha256, profiles, precision, TensorRT, GPU) matches."""


def add_arguments(parser) -> None:
    import argparse

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("onnx", help="step-network ONNX from `indi-edge export` (not --unroll)")
    parser.add_argument("-o", "--output", required=True, help="engine file to write (.engine)")
    parser.add_argument("--precision", choices=("fp16", "fp32"), default="fp16", help="engine precision (default fp16)")
    shapes = parser.add_argument_group("optimisation profiles (default: 1x3x256x256 .. 1x3x1080x1920, opt 720p, "
                                       "rounded up to the multiple)")
    shapes.add_argument("--min", metavar="SHAPE", help="smallest input of the dynamic profile")
    shapes.add_argument("--opt", metavar="SHAPE", help="the input TensorRT tunes for (default: --max)")
    shapes.add_argument("--max", metavar="SHAPE", help="largest input of the dynamic profile")
    shapes.add_argument("--shape", metavar="SHAPE", action="append",
                        help="a static profile (repeat for several, e.g. one per tile size)")
    parser.add_argument("--workspace", type=int, default=0, metavar="MB",
                        help="builder workspace limit in MB (Jetson memory is shared with the CPU; 0: TensorRT's)")
    parser.add_argument("--timing-cache", type=Path, metavar="PATH",
                        help="timing cache file (default ~/.cache/indi_edge/tensorrt-VERSION-sm_XY.timing)")
    parser.add_argument("--optimization-level", type=int, default=3, choices=range(6), metavar="0-5",
                        help="builder optimisation level (higher: longer build, maybe faster engine; default 3)")
    parser.add_argument("--device", type=int, default=0, help="the GPU to build on and for (default %(default)s)")
    parser.add_argument("--force", action="store_true", help="rebuild even when a matching engine exists")
    parser.add_argument("--no-check", action="store_true",
                        help="skip the accuracy check against the ONNX on the CPU (>= 40 dB fp16, >= 60 dB fp32)")
    parser.add_argument("--verbose", action="store_true", help="print TensorRT's info messages too")


def main(args) -> int:
    from indi_edge.tensorrt import BuildOptions, build_engine, profiles_from_args, read_onnx
    from indi_edge.tensorrt.log import BuildLog
    from indi_edge.tensorrt.version import tensorrt_module

    output = Path(args.output)
    if output.suffix != ".engine":
        raise ValueError(f"--output must end in .engine, got {output}")
    if args.workspace < 0:
        raise ValueError(f"--workspace must be >= 0 MB, got {args.workspace}")
    facts = read_onnx(args.onnx)  # a bad file or shape is reported before TensorRT is looked for
    profiles = profiles_from_args(args.min, args.opt, args.max, args.shape, facts.info.multiple)
    tensorrt_module()
    options = BuildOptions(precision=args.precision, profiles=tuple(profiles), workspace_mb=args.workspace,
                           timing_cache=args.timing_cache, optimization_level=args.optimization_level,
                           device=args.device)
    log = BuildLog(verbose=args.verbose)
    build_engine(args.onnx, output, options, log=log, reuse=not args.force)
    if not args.no_check:
        from indi_edge.tensorrt.accuracy import check_engine

        check_engine(output, Path(args.onnx), args.precision, log, device=args.device)  # removes it if off
    return 0
