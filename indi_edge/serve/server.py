"""A Triton Inference Server on this machine serving a Restorer through Triton's Python backend.

    server = RestorerServer(ServedModel("motion-deblur", steps=1), ServeOptions(instances=2)).start()
    ...   # clients: any Triton HTTP/gRPC client (tritonclient, pytriton.client.ModelClient)
    server.stop()

Clients send uint8 BGR frames [N, H, W, 3] as input "frames" and get "restored" back, the same
shape and dtype. Triton does the serving work (HTTP/gRPC, dynamic batching of same-size frames,
metrics, validation of dtype, rank, channel count and batch size); triton_model.py checks each
request's frame size before reading it and runs one Restorer per model instance.

Local by default: HTTP, gRPC and metrics bind 127.0.0.1 unless ServeOptions.host says otherwise.
Triton has no authentication of its own, so a host reachable from the network is the user's
explicit choice (`indi-edge serve --host 0.0.0.0` warns).

The server binary and the Python-backend stub come from the nvidia-pytriton wheel (the [serve]
extra; it needs numpy < 2, so it gets its own venv: docs/SCALE.md). PyTriton's own proxy is not
used: a model raising in its proxy reaches the client as a Python traceback, and a 0x0 frame
breaks it before any user code runs, while a Python-backend model answers each request itself.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from indi_edge.serve.limits import DEFAULT_MAX_PIXELS, RequestLimits
from indi_edge.serve.triton_model import SETTINGS_FILE
from indi_edge.triton_config import config_text

INSTALL_HINT = "serve needs the [serve] extra (PyTriton's Triton server, numpy < 2): in a fresh venv, " \
               "pip install '.[cpu,serve]' (docs/SCALE.md)"
MODEL_PY = "from indi_edge.serve.triton_model import TritonPythonModel  # noqa: F401 (Triton's Python backend loads this)\n"
# Python-backend shared memory: PyTriton's sizes (the backend's own default, 64 MB, is reserved per instance).
SHM_ARGS = ("shm-default-byte-size=4194304", "shm-growth-byte-size=1048576")


@dataclasses.dataclass(frozen=True)
class ServedModel:
    """What each model instance opens: Restorer(model, steps=..., backend=..., threads=...)."""
    model: str                 # a bundled model name or an .onnx file
    steps: int | None = None   # InDI steps (None: the model's)
    backend: str = "auto"      # CPU path for an .onnx model
    threads: int = 0           # per instance (0: the backend's default)

    def restorer_kwargs(self) -> dict:
        path = Path(self.model)
        engine = str(path.resolve()) if path.exists() else self.model  # the stub runs in another folder
        return {"engine": engine, "steps": self.steps, "backend": self.backend, "threads": self.threads}


@dataclasses.dataclass(frozen=True)
class ServeOptions:
    name: str = "indi"
    host: str = "127.0.0.1"      # HTTP, gRPC and metrics bind here; "0.0.0.0" reaches the network
    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    metrics: bool = True
    max_batch: int = 8           # frames per request and per dynamic batch
    max_pixels: int = DEFAULT_MAX_PIXELS  # per frame
    queue_delay_us: int = 2000   # how long Triton waits to fill a batch
    instances: int = 1           # model instances, each with its own Restorer
    start_timeout_s: float = 180.0
    exit_timeout_s: int = 10     # Triton's wait for in-flight requests at shutdown


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def local_address(host: str) -> str:
    """Where this machine reaches a server bound to `host` (a wildcard is reached on loopback)."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


@dataclasses.dataclass(frozen=True)
class TritonFiles:
    """Where the [serve] extra's Triton lives: the server binary, its shared libraries, Triton's
    Python backend, and the backend's stub built for this Python version."""
    binary: Path
    libs: Path
    python_backend: Path
    stub: Path


def triton_files() -> TritonFiles:
    try:
        from pytriton.utils.distribution import get_libs_path, get_root_module_path, get_stub_path
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    server = get_root_module_path() / "tritonserver"
    files = TritonFiles(server / "bin" / "tritonserver", get_libs_path(), server / "backends" / "python",
                        get_stub_path(version))
    if not files.stub.is_file():
        raise RuntimeError(f"PyTriton ships no Triton Python-backend stub for Python {version}")
    return files


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class RestorerServer:
    """start() returns once the server and its model are ready; stop() (or leaving the with block)
    shuts it down and removes its work folder."""

    def __init__(self, model: ServedModel, options: ServeOptions = ServeOptions()):
        if options.instances < 1:
            raise ValueError(f"instances must be >= 1, got {options.instances}")
        self.model, self.options = model, options
        self.limits = RequestLimits(max_pixels=options.max_pixels, max_batch=options.max_batch)
        self._process: subprocess.Popen | None = None
        self._workspace: Path | None = None

    # --- the URLs clients use ---------------------------------------------------------------

    def urls(self) -> dict[str, str]:
        host = f"[{self.options.host}]" if ":" in self.options.host else self.options.host
        urls = {"http": f"http://{host}:{self.options.http_port}", "grpc": f"grpc://{host}:{self.options.grpc_port}"}
        if self.options.metrics:
            urls["metrics"] = f"http://{host}:{self.options.metrics_port}/metrics"
        return urls

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> "RestorerServer":
        files = triton_files()
        self._workspace = Path(tempfile.mkdtemp(prefix="indi-edge-serve-"))
        try:
            repo, backends = self._write_repository(), self._python_backend(files)
            log = (self._workspace / "triton.log").open("wb")
            self._process = subprocess.Popen(self._command(files.binary, repo, backends), env=self._environment(files.libs),
                                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            log.close()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def wait(self) -> None:
        """Block while the server runs: until Ctrl-C or SIGTERM (KeyboardInterrupt), or a RuntimeError
        if the server stopped by itself. The caller stops it (`indi-edge serve` does)."""
        signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop ends it as Ctrl-C does
        while self._process.poll() is None:
            time.sleep(0.5)
        raise RuntimeError(f"the Triton server stopped by itself (exit code {self._process.returncode}): "
                           f"{self._last_error()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        try:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)  # Triton finishes in-flight requests, then exits
                try:
                    process.wait(self.options.exit_timeout_s + 20)
                except (subprocess.TimeoutExpired, KeyboardInterrupt):  # stuck, or a second Ctrl-C: no more waiting
                    os.killpg(process.pid, signal.SIGKILL)  # the server and its stub processes
                    process.wait()
        finally:
            if self._workspace is not None:
                shutil.rmtree(self._workspace, ignore_errors=True)
                self._workspace = None

    def __enter__(self) -> "RestorerServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- the pieces start() puts together --------------------------------------------------------

    def _write_repository(self) -> Path:
        repo = self._workspace / "models"
        version = repo / self.options.name / "1"
        version.mkdir(parents=True)
        o = self.options
        (repo / o.name / "config.pbtxt").write_text(
            config_text(o.name, o.max_batch, o.instances, "KIND_CPU", o.queue_delay_us, platform=None, backend="python"))
        (version / "model.py").write_text(MODEL_PY)
        settings = {"restorer": self.model.restorer_kwargs(), "limits": dataclasses.asdict(self.limits)}
        (version / SETTINGS_FILE).write_text(json.dumps(settings))
        return repo

    def _python_backend(self, files: TritonFiles) -> Path:
        """A backend folder holding Triton's Python backend with the stub for this Python version
        (where Triton looks for it: beside the backend's library)."""
        target = self._workspace / "backends" / "python"
        target.mkdir(parents=True)
        for item in files.python_backend.iterdir():
            if item.is_file():
                (target / item.name).symlink_to(item)
        shutil.copy(files.stub, target / "triton_python_backend_stub")
        return target.parent

    def _command(self, binary: Path, repo: Path, backends: Path) -> list[str]:
        o = self.options
        shm_prefix = f"indi-edge-{os.getpid()}-{secrets.token_hex(4)}"  # unique: servers side by side
        command = [str(binary), f"--model-repository={repo}", f"--backend-directory={backends}",
                   f"--backend-config=python,shm-region-prefix-name={shm_prefix}",
                   *(f"--backend-config=python,{arg}" for arg in SHM_ARGS),
                   f"--http-address={o.host}", f"--http-port={o.http_port}",
                   f"--grpc-address={o.host}", f"--grpc-port={o.grpc_port}",
                   f"--allow-metrics={'true' if o.metrics else 'false'}",
                   f"--exit-timeout-secs={o.exit_timeout_s}", "--log-verbose=0"]
        if o.metrics:
            command += [f"--metrics-address={o.host}", f"--metrics-port={o.metrics_port}"]
        return command

    def _environment(self, libs: Path) -> dict[str, str]:
        env = dict(os.environ)
        # The stub links libpython; it runs this interpreter's environment (the venv's `python` first
        # on PATH), with this indi_edge importable.
        libdirs = [sysconfig.get_config_var("LIBDIR") or "", str(libs), env.get("LD_LIBRARY_PATH", "")]
        env["LD_LIBRARY_PATH"] = ":".join(p for p in libdirs if p)
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
        package_parent = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = ":".join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
        return env

    def _wait_ready(self) -> None:
        ready = f"http://{local_address(self.options.host)}:{self.options.http_port}/v2/models/{self.options.name}/ready"
        deadline = time.monotonic() + self.options.start_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the Triton server did not start: {self._last_error()}")
            try:
                with urllib.request.urlopen(ready, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"the Triton server was not ready after {self.options.start_timeout_s:g} s: {self._last_error()}")

    def _last_error(self) -> str:
        """The last error line of Triton's log (E... lines), for a one-line message."""
        log = self._workspace / "triton.log" if self._workspace else None
        if log is None or not log.is_file():
            return "no log"
        lines = log.read_text(errors="replace").splitlines()
        errors = [line for line in lines if line[:1] == "E" and "NVML" not in line and "DCGM" not in line]
        line = (errors or [line for line in lines if line.strip()] or ["empty log"])[-1]
        line = line.split("] ", 1)[-1].strip().strip('"')
        return line.split("\\n")[0]  # Triton escapes a Python error's traceback as \n...: keep its first line
