"""What every benchmark script here records: the command that ran it, and its result written as
NAME_TAG.json (the numbers) and NAME_TAG.md (the table) under --out, each written whole."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from indi_edge import atomic


def command(script: str, argv: list[str] | None) -> str:
    """The command line as a user would type it from the repository root."""
    return f"python benchmarks/{script} " + " ".join(argv if argv is not None else sys.argv[1:])


def save(out: str | Path | None, name: str, tag: str, result: dict, text: str) -> None:
    """Write OUT/NAME_TAG.json and .md; nothing when out is None (a run to look at, not to keep)."""
    if out is None:
        return
    atomic.write_text(Path(out) / f"{name}_{tag}.json", json.dumps(result, indent=2, default=str) + "\n")
    atomic.write_text(Path(out) / f"{name}_{tag}.md", text + "\n")
