"""indi-edge info: what a model file says about itself, and where it would run."""
from __future__ import annotations

import json

HELP = "Print a model's metadata (task, steps, eps, sampler, training, metrics) and the providers in use."


def add_arguments(parser) -> None:
    from indi_edge.backends.choice import CPU_PATHS

    parser.add_argument("model", help="a .onnx or .pt2 file, or a bundled model name")
    parser.add_argument("--trust-model", action="store_true",
                        help="allow a .pt2 model: opening one runs code from the file (ONNX and engines need no trust)")
    parser.add_argument("--providers", nargs="+", help="ONNX Runtime execution providers to ask for")
    parser.add_argument("--backend", default="auto",
                        choices=("auto", *CPU_PATHS),
                        help="how an .onnx model runs on the CPU (auto: the fastest path for this CPU; default %(default)s)")
    parser.add_argument("--budget-ms", type=float, metavar="MS",
                        help="also measure, per frame size, the step count that fits this per-frame budget")
    parser.add_argument("--sizes", nargs="+", default=["256x256", "1280x720", "1920x1080"], metavar="WxH",
                        help="frame sizes for --budget-ms (default: %(default)s)")
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--full", action="store_true",
                       help="print every field whole (the training command chain, the metrics as JSON)")
    shown.add_argument("--json", action="store_true", help="print every field as one JSON object")


def main(args) -> int:
    import dataclasses

    from indi_edge import ops
    from indi_edge.budget import calibrate, parse_size
    from indi_edge.cpu_features import cpu_features
    from indi_edge.model_info import PREFIX
    from indi_edge.restorer import Restorer

    sizes = [parse_size(s) for s in args.sizes]
    restorer = Restorer(args.model, providers=args.providers, backend=args.backend, budget_ms=args.budget_ms,
                        trust=args.trust_model)
    backend = restorer.backend
    rows = [("cpu", cpu_features().summary()), ("native kernels", ops.backend()),
            ("model", getattr(backend, "path", args.model)), ("backend", type(backend).__name__),
            ("providers", ", ".join(restorer.providers))]
    session = getattr(backend, "session", None)  # ONNX Runtime backends: IO and extra metadata too
    if session is not None:
        rows += [(f"input {v.name}", f"{v.type} {list(v.shape)}") for v in session.get_inputs()]
        rows += [(f"output {v.name}", f"{v.type} {list(v.shape)}") for v in session.get_outputs()]
        known = {PREFIX + f.name for f in dataclasses.fields(restorer.info)}
        rows += [(k[len(PREFIX):], v) for k, v in sorted(session.get_modelmeta().custom_metadata_map.items())
                 if k.startswith(PREFIX) and k not in known]
    rows += [(f.name, getattr(restorer.info, f.name)) for f in dataclasses.fields(restorer.info)
             if getattr(restorer.info, f.name) != ""]
    if args.budget_ms is not None:
        for size, choice in calibrate(restorer, sizes).items():
            rows.append((f"budget {args.budget_ms:g} ms, {size}",
                         f"N={choice['steps']} (p90 {choice['p90_ms']:.1f} ms/frame)" if choice["settled"]
                         else f"N={choice['steps']} (not settled)"))
    if args.json:
        fields = {key: json.loads(value) if key == "metrics" and value else value for key, value in rows}
        print(json.dumps(fields, indent=2, default=str))
        return 0
    if not args.full:
        rows = readable(rows)
    width = max(len(k) for k, _ in rows if not k.startswith(TABLE)) + 2
    for key, value in rows:
        print(value if key.startswith(TABLE) else f"{key + ':':<{width}}{value}")
    return 0


TABLE = "\0table"  # rows printed as they are, without a key
SUMMARISED = {"train_command", "train_data", "train_time"}
HIDDEN = {"unet_config", "unrolled_steps"}  # in --full; the preset names the network


def one_line(text: str, width: int = 100) -> str:
    """`text` on one line, cut to `width` characters (with "..." where cut)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[:width - 3].rstrip() + "..."


def command_summary(command: str) -> str:
    """A chain of training commands (a && b && ...) as one line: how many, and the first's task and preset."""
    runs = [c.strip() for c in command.split(" && ") if c.strip()]
    if len(runs) <= 1:
        return one_line(command, 110)
    words = runs[0].split()
    named = [f"{flag} {words[words.index(flag) + 1]}" for flag in ("--task", "--preset") if flag in words[:-1]]
    return f"{len(runs)} runs chained, from `indi-edge train {' '.join(named)} ...` (--full prints them)"


def readable(rows: list[tuple[str, object]]) -> list[tuple[str, object]]:
    out = []
    for key, value in rows:
        if key in HIDDEN or value in ("", None):
            continue
        if key == "train_command":
            out.append(("training", command_summary(str(value))))
        elif key in SUMMARISED:
            out.append((key.replace("train_", "training ").replace("_", " "), one_line(str(value))))
        elif key == "metrics":
            out += metrics_rows(str(value))
        else:
            out.append((key, value))
    return out


def metrics_rows(text: str) -> list[tuple[str, str]]:
    """The held-out metrics as a small table (method, steps, PSNR, SSIM, detail) and, for deblurring,
    the N=1 gain per blur-extent bucket and the sharp pass-through, one line each."""
    try:
        metrics = json.loads(text)
        protocol = metrics.get("protocol", {})
        rows = metrics["rows"]
    except (ValueError, KeyError, AttributeError, TypeError):
        return [("metrics", one_line(text))]
    strength = f", strength {protocol['strength']:g}" if "strength" in protocol else ""
    out = [("held-out", f"{len(protocol.get('images', []))} images, {protocol.get('size', '?')} px crops, "
                        f"{protocol.get('task', '?')}{strength} (--full: every number)"),
           (TABLE + "head", f"  {'method':<16}{'steps':>6}{'PSNR':>8}{'SSIM':>8}{'detail':>8}")]
    for i, row in enumerate(rows):
        steps = "-" if row.get("steps") is None else str(row["steps"])
        cells = [f"{row[k]:>8.{d}f}" if isinstance(row.get(k), (int, float)) else f"{'-':>8}"
                 for k, d in (("psnr", 2), ("ssim", 3), ("detail", 3))]
        out.append((f"{TABLE}{i}", f"  {row.get('method', '?'):<16}{steps:>6}{''.join(cells)}"))
    sweep = metrics.get("extent_sweep", {})
    buckets = sweep.get("buckets", {})
    if buckets:
        gains = ", ".join(f"{name} {b['N=1']['gain']:+.2f}" for name, b in buckets.items() if "N=1" in b)
        out.append(("gain by extent", f"N=1: {gains} dB"))
    sharp = sweep.get("sharp", {}).get("N=1")
    if sharp:
        out.append(("sharp frames", f"N=1 output vs input {sharp['psnr_vs_input']:.1f} dB (worst {sharp['worst']:.1f})"))
    return out
