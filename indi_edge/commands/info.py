"""indi-edge info: what a model file says about itself, and where it would run."""
from __future__ import annotations

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
    width = max(len(k) for k, _ in rows) + 2
    for key, value in rows:
        print(f"{key + ':':<{width}}{value}")
    return 0
