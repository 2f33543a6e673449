"""`indi-edge serve`: a real Triton server (PyTriton) on localhost serving a Restorer. Runs where
PyTriton is installed (its own venv: it needs numpy < 2; .ci/run makes one)."""
from __future__ import annotations

import concurrent.futures
import socket

import numpy as np
import pytest

pytest.importorskip("pytriton", reason="needs PyTriton (the [serve] extra, in its own numpy<2 venv)")

from indi_edge.restorer import Restorer  # noqa: E402
from indi_edge.serve import RestorerServer, ServeOptions  # noqa: E402

MODEL = "denoise"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    options = ServeOptions(name="denoise", http_port=free_port(), grpc_port=free_port(), metrics_port=free_port(),
                           max_batch=4, instances=2)
    with RestorerServer(lambda: Restorer(MODEL, steps=1, backend="onnxruntime", threads=1), options) as running:
        yield running


def client(server):
    from pytriton.client import ModelClient

    return ModelClient(f"grpc://127.0.0.1:{server.options.grpc_port}", server.options.name, init_timeout_s=60)


def test_many_concurrent_clients_get_what_direct_calls_give(server):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (24 + 8 * (i % 2), 32, 3), dtype=np.uint8) for i in range(20)]
    direct = Restorer(MODEL, steps=1, backend="onnxruntime", threads=1)
    expected = [direct.run(f) for f in frames]

    def one_client(k):
        with client(server) as c:
            return [c.infer_sample(frames=f)["restored"] for f in frames]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one_client, range(8)))  # 8 clients x 20 requests
    for got in results:
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad", [np.zeros((16, 16, 3), np.float32), np.zeros((16, 16, 4), np.uint8)])
def test_a_wrong_request_gets_an_error_and_the_server_goes_on(server, bad):
    from pytriton.client.exceptions import PyTritonClientError

    with client(server) as c:
        with pytest.raises(PyTritonClientError):
            c.infer_sample(frames=bad)
        good = np.full((16, 16, 3), 128, np.uint8)
        assert c.infer_sample(frames=good)["restored"].shape == good.shape


def test_shutdown_leaves_no_server_behind():
    options = ServeOptions(http_port=free_port(), grpc_port=free_port(), metrics_port=free_port())
    server = RestorerServer(lambda: Restorer(lambda x, t: x, steps=1), options).start()
    server.stop()
    with socket.socket() as s:  # the port is free again: nothing listens on it
        s.bind(("127.0.0.1", options.grpc_port))
