"""Where outputs go: a hidden temporary name beside the destination, and no output onto an input."""
from __future__ import annotations

import os
from pathlib import Path


from indi_edge.atomic import partial_path  # noqa: F401 - the temporary names of this package's outputs


def same_file(a: Path, b: Path) -> bool:
    """True when a and b name the same file (links and relative paths included)."""
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def refuse_overwriting_inputs(pairs: list[tuple[Path, Path]]) -> None:
    """Raise before any work when an output (src -> dst pair) would land on one of the inputs."""
    sources = [src for src, _ in pairs]
    for src, dst in pairs:
        for other in sources:
            if same_file(dst, other):
                raise ValueError(f"the output {dst} is the input {other}: refusing to overwrite an input; "
                                 f"choose another -o")
