"""Files written whole or not at all: through a temporary name in the same folder, then renamed.

The temporary name is unique per writer (process id and a random part), so two runs writing the
same output (two engine builds, two exports) never write into each other's temporary file; the
last rename wins with a complete file. Readers never see half a file. The file gets a new file's
mode (0666 less the umask) whatever the writer gave it: safetensors creates its files 0600, which
would make weights unreadable to a server or a package installed for other users.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Callable


def partial_path(path: Path) -> Path:
    """A hidden temporary name beside `path`, unique to this writer; it keeps the suffix, so writers
    that choose the format from the extension (OpenCV, FFmpeg, ONNX) still do."""
    path = Path(path)
    return path.with_name(f".{path.stem}.{os.getpid()}-{secrets.token_hex(4)}.partial{path.suffix}")


def new_file_mode() -> int:
    """The mode open() gives a new file: 0666 less the process's umask."""
    try:  # Linux shows the umask without changing it
        status = Path("/proc/self/status").read_text()
        umask = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Umask:")), 8)
    except (OSError, StopIteration):  # elsewhere reading it means setting it (for an instant, process-wide)
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """write(tmp) then rename tmp to path; on any error the temporary file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(path)
    try:
        write(tmp)
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def write_json(path: str | Path, result) -> Path:
    """`result` as strict JSON; an infinite PSNR (identical images) is written as the string "Infinity"."""
    import json

    strict = json.loads(json.dumps(result), parse_constant=str)
    return write_text(path, json.dumps(strict, indent=2, allow_nan=False) + "\n")
