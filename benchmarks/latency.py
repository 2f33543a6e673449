"""Latency benchmark: the same as `indi-edge bench` (see indi_edge/bench/ and benchmarks/README.md).

    python benchmarks/latency.py --quick                 # smoke run, ~20 s on 2 cores
    python benchmarks/latency.py --out benchmarks/results --note "idle machine"
"""
from __future__ import annotations

import sys

from indi_edge import cli

if __name__ == "__main__":
    sys.exit(cli.main(["bench", *sys.argv[1:]]))
