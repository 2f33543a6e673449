"""indi-edge info: what a model file says about itself, and where it would run."""
from __future__ import annotations

HELP = "Print a model's metadata (task, steps, eps, sampler, training, metrics) and the providers in use."


def add_arguments(parser) -> None:
    parser.add_argument("model", help="a .onnx or .pt2 file, or a bundled model name")
    parser.add_argument("--providers", nargs="+", help="ONNX Runtime execution providers to ask for")


def main(args) -> int:
    import dataclasses

    from indi_edge.model_info import PREFIX
    from indi_edge.restorer import Restorer

    restorer = Restorer(args.model, providers=args.providers)
    backend = restorer.backend
    rows = [("model", getattr(backend, "path", args.model)), ("backend", type(backend).__name__),
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
    width = max(len(k) for k, _ in rows) + 2
    for key, value in rows:
        print(f"{key + ':':<{width}}{value}")
    return 0
