"""`indi-edge serve` against direct Restorer calls: latency added by Triton (one client, one frame
at a time) and throughput with 8 concurrent clients. Run in the serve venv (numpy < 2, PyTriton):

    python benchmarks/serve_latency.py --out benchmarks/results --tag zen4
"""
from __future__ import annotations

import argparse
import concurrent.futures
import socket
import statistics
import sys
import time

import numpy as np

import results_io  # benchmarks/results_io.py, beside this script
from indi_edge.cpu_features import cpu_features
from indi_edge.restorer import Restorer
from indi_edge.serve import RestorerServer, ServedModel, ServeOptions


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def median_ms(fn, frames) -> float:
    times = []
    for f in frames:
        start = time.perf_counter()
        fn(f)
        times.append(1e3 * (time.perf_counter() - start))
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="denoise")
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--instances", type=int, default=1)
    parser.add_argument("--out")
    parser.add_argument("--tag", default="cpu")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (args.size, args.size, 3), dtype=np.uint8) for _ in range(args.requests)]
    served = ServedModel(args.model, steps=args.steps)
    direct = Restorer(**served.restorer_kwargs())
    direct.run(frames[0])
    direct_ms = median_ms(direct.run, frames)
    start = time.perf_counter()
    for f in frames:
        direct.run(f)
    direct_fps = len(frames) / (time.perf_counter() - start)
    options = ServeOptions(name="m", http_port=free_port(), grpc_port=free_port(), metrics_port=free_port(),
                           instances=args.instances)
    from pytriton.client import ModelClient

    with RestorerServer(served, options):
        url = f"grpc://127.0.0.1:{options.grpc_port}"
        with ModelClient(url, "m", init_timeout_s=60) as client:
            client.infer_sample(frames=frames[0])
            served_ms = median_ms(lambda f: client.infer_sample(frames=f), frames)

        def one_client(k):
            with ModelClient(url, "m", init_timeout_s=60) as c:
                for f in frames:
                    c.infer_sample(frames=f)

        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(one_client, range(args.clients)))
        served_fps = args.clients * len(frames) / (time.perf_counter() - start)
    result = {"command": results_io.command("serve_latency.py", argv),
              "cpu": cpu_features().model, "model": args.model, "steps": args.steps, "size": args.size,
              "backend": direct.providers[0], "direct_ms": direct_ms, "served_ms": served_ms,
              "added_ms": served_ms - direct_ms, "direct_fps": direct_fps, "served_fps_concurrent": served_fps,
              "clients": args.clients, "instances": args.instances}
    text = "\n".join([
        f"`indi-edge serve` on {result['cpu']}: {args.model} N={args.steps}, {args.size}x{args.size} uint8 frames, "
        f"{result['backend']}, {args.instances} instance(s), gRPC on localhost.",
        f"Command: `{result['command']}`", "",
        "| | median ms per frame (one at a time) | frames/s |", "|---|---:|---:|",
        f"| direct `Restorer.run` | {direct_ms:.1f} | {direct_fps:.1f} (serial) |",
        f"| served (Triton, gRPC) | {served_ms:.1f} | {served_fps:.1f} ({args.clients} concurrent clients) |",
        "", f"Added latency per request: {served_ms - direct_ms:+.1f} ms (medians, one run)."])
    print(text)
    results_io.save(args.out, "serve", args.tag, result, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
