"""The `indi-edge` command: one subcommand per module in indi_edge/commands/.

Each command module defines HELP (one line), add_arguments(parser) and main(args) -> int.
Modules are imported only when needed and never import torch at module level, so
`indi-edge --help` stays fast and torch-free.
"""
from __future__ import annotations

import argparse
import importlib
import shlex
import sys

# name -> module; add a command by adding a line here.
COMMANDS = {
    "presets": "indi_edge.commands.presets",
    "train": "indi_edge.commands.train",
    "toy": "indi_edge.commands.toy",
    "eval": "indi_edge.commands.eval",
    "export": "indi_edge.commands.export", "restore": "indi_edge.commands.restore",
    "info": "indi_edge.commands.info", "demo": "indi_edge.commands.demo",
    "build-engine": "indi_edge.commands.build_engine",
    "bench": "indi_edge.commands.bench",
    "serve": "indi_edge.commands.serve",
    "fetch-photos": "indi_edge.commands.fetch_photos",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="indi-edge", description="InDI image restoration for the edge.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(_main=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.command_line = "indi-edge " + shlex.join(argv)  # recorded in trained models' metadata
    try:
        return int(args._main(args) or 0)
    except KeyboardInterrupt:
        # Outputs are written through temporary files: an interrupted run leaves nothing half-written.
        print(f"indi-edge {args.command}: interrupted; no partial output was left", file=sys.stderr)
        return 130
    except Exception as err:
        if not is_user_error(err):
            raise  # a bug: the traceback is what a report needs
        print(f"indi-edge {args.command}: error: {err}", file=sys.stderr)
        return 2


def is_user_error(err: Exception) -> bool:
    """Errors a user's input or machine causes (bad files and arguments, missing packages, a full
    disk, OpenCV refusing an image, a runtime refusing a model): one clear line, not a traceback."""
    if isinstance(err, (ValueError, TypeError, OSError, RuntimeError, ImportError)):
        return True
    module = type(err).__module__ or ""
    return module.startswith(("cv2", "onnxruntime", "av."))  # cv2.error, ORT's and PyAV's own types


if __name__ == "__main__":
    sys.exit(main())
