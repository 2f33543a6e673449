"""Serve a Restorer behind a real Triton Inference Server on this machine, through PyTriton.

    indi-edge serve motion-deblur --steps 1                  # HTTP :8000, gRPC :8001, metrics :8002

Clients send uint8 BGR frames [N, H, W, 3] as input "frames" and get "restored" back, the same
shape and dtype (any Triton client; tritonclient or pytriton.client.ModelClient in Python). Triton
does the serving work: HTTP/gRPC, request validation (a wrong dtype or shape is refused before it
reaches Python), dynamic batching of same-size frames, metrics. Each model instance owns its own
Restorer, so instances run side by side.

PyTriton needs numpy < 2, so it lives in its own environment: `pip install ".[cpu,serve]"` in a
fresh venv (docs/SCALE.md); and its Python backend stub needs the interpreter's shared library on
LD_LIBRARY_PATH (the CLI re-execs itself with it when missing).
"""
from __future__ import annotations

import dataclasses

import numpy as np

INPUT, OUTPUT = "frames", "restored"


@dataclasses.dataclass(frozen=True)
class ServeOptions:
    name: str = "indi"
    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    max_batch: int = 8
    queue_delay_us: int = 2000   # how long Triton waits to fill a batch
    instances: int = 1           # model instances, each with its own Restorer


class RestorerServer:
    """A Triton server on localhost serving Restorers made by make_restorer(); start() returns when
    it is ready, stop() (or leaving the with block) shuts it down."""

    def __init__(self, make_restorer, options: ServeOptions = ServeOptions()):
        from pytriton.triton import Triton, TritonConfig

        if options.max_batch < 1 or options.instances < 1:
            raise ValueError(f"max_batch and instances must be >= 1, got {options.max_batch}, {options.instances}")
        self.options = options
        self.restorers = [make_restorer() for _ in range(options.instances)]
        self._triton = Triton(config=TritonConfig(http_port=options.http_port, grpc_port=options.grpc_port,
                                                  metrics_port=options.metrics_port, log_verbose=0))

    def _bind(self) -> None:
        from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor

        self._triton.bind(
            model_name=self.options.name,
            infer_func=[infer_function(r) for r in self.restorers],
            inputs=[Tensor(name=INPUT, dtype=np.uint8, shape=(-1, -1, 3))],
            outputs=[Tensor(name=OUTPUT, dtype=np.uint8, shape=(-1, -1, 3))],
            config=ModelConfig(max_batch_size=self.options.max_batch,
                               batcher=DynamicBatcher(max_queue_delay_microseconds=self.options.queue_delay_us)),
            strict=True)

    def start(self) -> "RestorerServer":
        self._bind()
        self._triton.run()  # returns once the server and the model are ready
        return self

    def serve_forever(self) -> None:
        """Block serving until Ctrl-C or SIGTERM (what `indi-edge serve` runs)."""
        self._bind()
        self._triton.serve()

    def stop(self) -> None:
        self._triton.stop()
        for restorer in self.restorers:
            restorer.close()

    def __enter__(self) -> "RestorerServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def infer_function(restorer):
    """The PyTriton callable for one instance: a batch of same-size frames in, restored out."""
    from pytriton.decorators import batch

    @batch
    def infer(frames: np.ndarray) -> dict[str, np.ndarray]:
        return {OUTPUT: np.stack(restorer.run_batch(list(frames)))}

    return infer
