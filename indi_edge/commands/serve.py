"""indi-edge serve: a model behind a real Triton Inference Server (PyTriton) on this machine."""
from __future__ import annotations

import os
import sys
import sysconfig

HELP = "Serve a model over HTTP/gRPC with Triton Inference Server (PyTriton): uint8 frames in, restored out."


def add_arguments(parser) -> None:
    parser.add_argument("model", help="bundled model name or .onnx file")
    parser.add_argument("--name", help="model name clients ask for (default: the model's task, else 'indi')")
    parser.add_argument("--steps", type=int, help="InDI steps (default: the model's)")
    parser.add_argument("--backend", default="auto", help="CPU path for an .onnx model (see `indi-edge restore --help`)")
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--grpc-port", type=int, default=8001)
    parser.add_argument("--metrics-port", type=int, default=8002)
    parser.add_argument("--max-batch", type=int, default=8, help="largest dynamic batch (default %(default)s)")
    parser.add_argument("--instances", type=int, default=1, help="model instances, each its own Restorer (default %(default)s)")


def main(args) -> int:
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    if libdir and libdir not in os.environ.get("LD_LIBRARY_PATH", "").split(":"):
        # PyTriton's Python-backend stub links against libpython: it must be on the loader's path.
        os.environ["LD_LIBRARY_PATH"] = ":".join(p for p in (libdir, os.environ.get("LD_LIBRARY_PATH")) if p)
        os.execv(sys.executable, [sys.executable, "-m", "indi_edge.cli", *sys.argv[1:]])
    try:
        import pytriton  # noqa: F401
    except ImportError as err:
        raise ImportError("serve needs PyTriton, which needs numpy < 2: in a fresh venv, "
                          "pip install '.[cpu,serve]' (docs/SCALE.md)") from err
    from indi_edge.restorer import Restorer
    from indi_edge.serve import RestorerServer, ServeOptions

    probe = Restorer(args.model, steps=args.steps, backend=args.backend)
    name = args.name or (probe.info.task if probe.info.task != "custom" else "indi")
    probe.close()
    options = ServeOptions(name=name, http_port=args.http_port, grpc_port=args.grpc_port,
                           metrics_port=args.metrics_port, max_batch=args.max_batch, instances=args.instances)
    server = RestorerServer(lambda: Restorer(args.model, steps=args.steps, backend=args.backend), options)
    print(f"serving {name} on http :{args.http_port}, grpc :{args.grpc_port} (Ctrl-C stops)", flush=True)
    server.serve_forever()
    return 0
