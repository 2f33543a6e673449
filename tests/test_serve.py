"""`indi-edge serve`: a real Triton server (the [serve] extra's tritonserver, Python backend) on this
machine serving Restorers. Runs where PyTriton is installed (its own venv: it needs numpy < 2;
.ci/run makes one)."""
from __future__ import annotations

import concurrent.futures
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytriton", reason="needs PyTriton (the [serve] extra, in its own numpy<2 venv)")

from indi_edge.restorer import Restorer  # noqa: E402
from indi_edge.serve import RestorerServer, ServedModel, ServeOptions  # noqa: E402

MODEL = ServedModel("denoise", steps=1, backend="onnxruntime", threads=1)
MAX_PIXELS = 64 * 64
LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1", "::1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> set[str]:
    """The local addresses of TCP sockets listening on `port`, read from the kernel's socket table."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)  # 32-bit words in host (little-endian) order
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(socket.inet_ntop(family, raw))
    return found


def process_tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo += children.get(tree[-1], [])
    return tree


def rss_bytes(pids) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += 1024 * int(line.split()[1])
    return total


def options(**changes) -> ServeOptions:
    return ServeOptions(**{"name": "denoise", "http_port": free_port(), "grpc_port": free_port(),
                           "metrics_port": free_port(), "max_batch": 4, "instances": 2, "max_pixels": MAX_PIXELS,
                           **changes})


@pytest.fixture(scope="module")
def server():
    with RestorerServer(MODEL, options()) as running:
        yield running


def client(server):
    from pytriton.client import ModelClient

    return ModelClient(f"grpc://127.0.0.1:{server.options.grpc_port}", server.options.name, init_timeout_s=60)


def test_by_default_every_port_listens_on_loopback_only(server):
    o = server.options
    for port in (o.http_port, o.grpc_port, o.metrics_port):
        assert listening(port), f"nothing listens on {port}"
        assert listening(port) <= LOOPBACK, f"port {port} is bound to {listening(port)}"
    assert set(server.urls()) == {"http", "grpc", "metrics"}


def test_many_concurrent_clients_get_what_direct_calls_give(server):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (24 + 8 * (i % 2), 32, 3), dtype=np.uint8) for i in range(20)]
    direct = Restorer(**MODEL.restorer_kwargs())
    expected = [direct.run(f) for f in frames]

    def one_client(k):
        with client(server) as c:
            return [c.infer_sample(frames=f)["restored"] for f in frames]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one_client, range(8)))  # 8 clients x 20 requests
    for got in results:  # the server batches requests: another summation order may move a pixel across a
        for a, b in zip(got, expected):  # rounding boundary (the naf-s-dense denoiser), never more than that
            diff = np.abs(a.astype(np.int16) - b)
            assert a.shape == b.shape and diff.max() <= 1 and np.mean(diff > 0) < 0.01


BAD_REQUESTS = [  # (id, frames as sent, batched: the array already holds the batch axis, words the error says)
    ("float32", np.zeros((1, 16, 16, 3), np.float32), "expects 'UINT8'"),
    ("4-channels", np.zeros((1, 16, 16, 4), np.uint8), "Expected [-1,-1,-1,3]"),
    ("zero-size", np.zeros((1, 0, 0, 3), np.uint8), "at least 1x1"),
    ("zero-width", np.zeros((1, 16, 0, 3), np.uint8), "at least 1x1"),
    ("over-max-pixels", np.zeros((1, 64, 65, 3), np.uint8), f"over the limit of {MAX_PIXELS} (--max-pixels"),
    ("over-max-batch", np.zeros((5, 16, 16, 3), np.uint8), "batch-size must be <= 4"),
]


@pytest.mark.parametrize("bad", [b[1:] for b in BAD_REQUESTS], ids=[b[0] for b in BAD_REQUESTS])
def test_a_bad_request_gets_a_one_line_error_and_the_server_goes_on(server, bad):
    from pytriton.client.exceptions import PyTritonClientError

    frames, says = bad
    with client(server) as c:
        with pytest.raises(PyTritonClientError) as raised:
            c.infer_batch(frames=frames)
        message = str(raised.value)
        assert says in message
        assert "Traceback" not in message and ".py" not in message
        good = np.full((16, 16, 3), 128, np.uint8)
        assert c.infer_sample(frames=good)["restored"].shape == good.shape


def test_http_answers_400_with_the_limit(server):
    import json
    import urllib.error
    import urllib.request

    body = json.dumps({"inputs": [{"name": "frames", "shape": [1, 64, 65, 3], "datatype": "UINT8",
                                   "data": [0] * (64 * 65 * 3)}]}).encode()
    url = f"http://127.0.0.1:{server.options.http_port}/v2/models/denoise/infer"
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(urllib.request.Request(url, body, {"Content-Type": "application/json"}), timeout=60)
    assert raised.value.code == 400
    assert "--max-pixels" in json.loads(raised.value.read())["error"]


def test_a_frame_over_the_limit_costs_no_restoring_work(server):
    # Measured on this fixture (2 instances, gRPC), three 1500x1500 frames (6.75 MB each): refused, the
    # server's processes grew by 55 MB (Triton receives each request and hands its bytes to a stub);
    # restored (no limit), by 336 MB. The bound sits between the two.
    big = np.full((1, 1500, 1500, 3), 100, np.uint8)
    pids = process_tree(server._process.pid)
    with client(server) as c:
        c.infer_sample(frames=np.full((16, 16, 3), 1, np.uint8))
        before = rss_bytes(pids)
        for _ in range(3):
            with pytest.raises(Exception, match="--max-pixels"):
                c.infer_batch(frames=big)
        grown = rss_bytes(pids) - before
        assert grown < 20 * big.nbytes, f"the server grew by {grown / 2**20:.0f} MB for refused requests"
        assert c.infer_sample(frames=np.full((16, 16, 3), 1, np.uint8))["restored"].shape == (16, 16, 3)


def test_cli_with_host_and_no_metrics_warns_binds_the_wildcard_and_stops_on_ctrl_c():
    http, grpc, metrics = free_port(), free_port(), free_port()
    command = [sys.executable, "-m", "indi_edge.cli", "serve", "denoise", "--steps", "1", "--backend", "onnxruntime",
               "--threads", "1", "--host", "0.0.0.0", "--no-metrics", "--http-port", str(http),
               "--grpc-port", str(grpc), "--metrics-port", str(metrics)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd="/")  # the installed package, as a user runs it
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("ready:"):
                break
        assert lines and lines[-1].startswith("ready:"), "".join(lines) + process.stderr.read()
        assert f"http http://0.0.0.0:{http}" in lines[-1] and "metrics" not in lines[-1]
        assert listening(http) == {"0.0.0.0"} and listening(grpc) <= {"0.0.0.0", "::"}
        assert not listening(metrics)
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0
        assert "reachable from the network, with no authentication" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
    assert not listening(http) and not listening(grpc)


def test_shutdown_leaves_no_server_behind():
    server = RestorerServer(MODEL, options(instances=1)).start()
    pids, workspace = process_tree(server._process.pid), server._workspace
    server.stop()
    assert not any(Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()
                   for pid in pids), "a server or stub process is still running"
    assert not workspace.exists()
    for port in (server.options.http_port, server.options.grpc_port, server.options.metrics_port):
        assert not listening(port)


def test_a_model_that_fails_to_load_stops_start_with_one_line(tmp_path):
    bad = tmp_path / "junk.onnx"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(RuntimeError, match="did not start") as raised:
        RestorerServer(ServedModel(str(bad), backend="onnxruntime"), options(instances=1)).start()
    message = str(raised.value)
    assert "not a readable ONNX model" in message
    assert "\n" not in message and "\\n" not in message and ".py(" not in message
