"""indi-edge serve: a model behind a real Triton Inference Server on this machine (local by default)."""
from __future__ import annotations

import sys

HELP = "Serve a model over HTTP/gRPC with Triton Inference Server: uint8 frames in, restored out (127.0.0.1 unless --host)."


def add_arguments(parser) -> None:
    from indi_edge.serve.limits import DEFAULT_MAX_PIXELS

    parser.add_argument("model", help="bundled model name or .onnx file")
    parser.add_argument("--name", help="model name clients ask for (default: the model's task, else 'indi')")
    parser.add_argument("--steps", type=int, help="InDI steps (default: the model's)")
    parser.add_argument("--backend", default="auto", help="CPU path for an .onnx model (see `indi-edge restore --help`)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address HTTP, gRPC and metrics bind (default %(default)s: this machine only; "
                             "0.0.0.0 reaches the network, with no authentication)")
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--grpc-port", type=int, default=8001)
    parser.add_argument("--metrics-port", type=int, default=8002)
    parser.add_argument("--no-metrics", action="store_true", help="no Prometheus metrics port")
    parser.add_argument("--max-batch", type=int, default=8, help="most frames in one request and one dynamic batch (default %(default)s)")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                        help="most pixels (height x width) in one frame; larger frames are refused before any "
                             "work (default %(default)s: one 3840x2160 frame)")
    parser.add_argument("--instances", type=int, default=1, help="model instances, each its own Restorer (default %(default)s)")
    parser.add_argument("--threads", type=int, default=0, help="threads per instance (default: the backend's)")


def main(args) -> int:
    from indi_edge.restorer import Restorer
    from indi_edge.serve import RestorerServer, ServedModel, ServeOptions, server

    server.triton_files()  # the [serve] extra is installed: a clear message before anything else
    model = ServedModel(args.model, steps=args.steps, backend=args.backend, threads=args.threads)
    probe = Restorer(**model.restorer_kwargs())  # a bad model file fails here, in one line, not in Triton's log
    name = args.name or (probe.info.task if probe.info.task != "custom" else "indi")
    probe.close()
    options = ServeOptions(name=name, host=args.host, http_port=args.http_port, grpc_port=args.grpc_port,
                           metrics_port=args.metrics_port, metrics=not args.no_metrics, max_batch=args.max_batch,
                           max_pixels=args.max_pixels, instances=args.instances)
    running = RestorerServer(model, options)
    if not server.is_loopback(args.host):
        print(f"indi-edge serve: warning: listening on {args.host}: reachable from the network, with no "
              f"authentication", file=sys.stderr)
    print(f"starting Triton for {name} ({args.model}) ...", flush=True)
    running.start()
    urls = running.urls()
    print("ready: " + ", ".join(f"{kind} {url}" for kind, url in urls.items()) + " (Ctrl-C stops)", flush=True)
    try:
        running.wait()
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the way a server is meant to stop
        print("stopping", flush=True)
    finally:
        running.stop()
    return 0
