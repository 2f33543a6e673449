"""The two layers: the runtime (indi_edge outside training/) never imports torch or the training
layer (indi_edge.training) when its modules load. Checked on the source, statically: an import
inside a function is the bridge a user opts into (the torch backends, the training commands) and
is allowed; one at module level is not."""
from __future__ import annotations

import ast
from pathlib import Path

import indi_edge

PACKAGE = Path(indi_edge.__file__).parent
FORBIDDEN = ("torch", "indi_edge.training")


def package_of(path: Path) -> str:
    """The package a file's relative imports start from."""
    return ".".join(path.relative_to(PACKAGE.parent).parent.parts)


def module_level_imports(source: str, package: str) -> list[str]:
    """Every module a file imports outside function bodies (class bodies and if/try blocks count:
    they run when the module loads). `from a import b` counts as a and a.b."""
    found = []

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, ast.Import):
                found.extend(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative: from the file's package, one level up per extra dot
                    parts = package.split(".")[:len(package.split(".")) - (child.level - 1)]
                    base = ".".join([*parts, base] if base else parts)
                found.append(base)
                found.extend(f"{base}.{alias.name}" for alias in child.names)
            visit(child)

    visit(ast.parse(source))
    return found


def forbidden(imports: list[str]) -> list[str]:
    return [name for name in imports if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)]


def runtime_files() -> list[Path]:
    training = PACKAGE / "training"
    export = PACKAGE / "export"  # the workstation toolchain (torch -> ONNX), installed as indi_edge.export
    return sorted(p for p in PACKAGE.rglob("*.py") if training not in p.parents and export not in p.parents)


def test_no_runtime_module_imports_torch_or_the_training_layer_at_module_level():
    files = runtime_files()
    assert len(files) > 40 and any(f.name == "restorer.py" for f in files)  # the walk sees the runtime
    offenders = {}
    for path in files:
        bad = forbidden(module_level_imports(path.read_text(), package_of(path)))
        if bad:
            offenders[str(path.relative_to(PACKAGE))] = bad
    assert not offenders, f"runtime modules importing torch or indi_edge.training when they load: {offenders}"


def test_the_check_sees_each_kind_of_import():
    source = """
import torch.nn as tnn
from indi_edge import training
from indi_edge.training.data import corpus
if True:
    import torch
class A:
    from indi_edge.training import nn
def bridge():
    import torch  # inside a function: allowed
"""
    bad = forbidden(module_level_imports(source, "indi_edge"))
    assert set(bad) >= {"torch.nn", "indi_edge.training", "indi_edge.training.data", "torch",
                        "indi_edge.training.nn"}
    assert forbidden(module_level_imports("from .training import nn\n", "indi_edge")) == ["indi_edge.training",
                                                                                          "indi_edge.training.nn"]
    assert forbidden(module_level_imports("def f():\n    import torch\n", "indi_edge")) == []


def test_the_training_layer_is_one_subpackage():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    for moved in ("nn", "naf", "train", "train_config", "losses", "timesampling", "checkpoint", "data", "degrade",
                  "dead_leaves", "motion_batches", "pairs", "evaluate", "flicker", "toy", "photo_corpus"):
        assert moved not in top, f"{moved}.py belongs in indi_edge/training/"
