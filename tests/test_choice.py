"""The default CPU path: chosen from the CPU's features and the installed packages in one table, named
paths refused with the reason when they cannot run, and what Restorer reports it runs on."""
import dataclasses
import importlib.util
import shutil

import numpy as np
import pytest

import indi_edge
from indi_edge.backends import choice
from indi_edge.cpu_features import CpuFeatures

AMX = CpuFeatures("Xeon AMX", "x86_64", amx_bf16=True, avx512_bf16=True, avx512=True, avx2=True, fma=True)
ZEN4 = CpuFeatures("EPYC Zen 4", "x86_64", avx512_bf16=True, avx512=True, avx2=True, fma=True)
ZEN3 = CpuFeatures("EPYC Zen 3", "x86_64", avx2=True, fma=True)
ORIN = CpuFeatures("Cortex-A78AE", "aarch64", neon=True)
HAS = {name: importlib.util.find_spec(name) is not None for name in ("torch", "openvino")}


@pytest.fixture
def with_weights(tiny_onnx, tiny_weights, tmp_path):
    """The tiny model as NAME.onnx with its NAME.safetensors beside it (as the bundled models ship)."""
    onnx = tmp_path / "tiny.onnx"
    shutil.copy(tiny_onnx, onnx)
    shutil.copy(tiny_weights, tmp_path / "tiny.safetensors")
    return onnx


def expected(order, onnx, features):
    return next(n for n in order if choice.why_not(choice.CPU_PATHS[n], onnx, features) is None)


@pytest.mark.parametrize("features", [AMX, ZEN4, ZEN3, ORIN], ids=lambda f: f.model)
def test_auto_takes_the_first_runnable_path_of_this_cpus_order(features, with_weights):
    kind, order = choice.fastest_first(features)
    assert order[-1] == "onnxruntime"  # the required dependency ends every order
    picked = choice.choose(with_weights, "auto", features)
    assert picked == expected(order, with_weights, features)
    assert not choice.CPU_PATHS[picked].from_weights  # auto never imports torch, weights beside or not
    if features.native_bf16 and HAS["openvino"]:
        assert picked == "openvino-bf16"
    elif features.arch == "x86_64" and HAS["openvino"]:  # AVX2 only: OpenVINO fp32, 1.4x ONNX Runtime on Zen 3
        assert picked == "openvino"
    else:
        assert picked == "onnxruntime"


def test_named_paths_are_refused_with_the_reason(tiny_onnx, tmp_path):
    alone = tmp_path / "tiny_alone.onnx"
    shutil.copy(tiny_onnx, alone)
    with pytest.raises(ValueError, match="no native bf16"):
        choice.choose(tiny_onnx, "openvino-bf16", ZEN3)
    with pytest.raises(ValueError, match="no tiny_alone.safetensors beside"):
        choice.choose(alone, "torch-fp32", ZEN4)
    with pytest.raises(ValueError, match="unknown backend 'tensorrt'"):
        choice.choose(tiny_onnx, "tensorrt", ZEN4)
    assert choice.choose(tiny_onnx, "onnxruntime", ZEN3) == "onnxruntime"


def test_a_missing_package_is_a_reason(tiny_onnx, monkeypatch):
    monkeypatch.setattr(choice, "installed", lambda package: package != "openvino")
    assert choice.why_not(choice.CPU_PATHS["openvino"], tiny_onnx, ZEN4) == \
        "the Python package 'openvino' is not installed"
    assert choice.choose(tiny_onnx, "auto", ZEN4) == "onnxruntime"
    with pytest.raises(ValueError, match="'openvino' is not installed"):
        choice.choose(tiny_onnx, "openvino", ZEN4)


def test_restorer_runs_and_reports_the_named_path(with_weights, bgr_frame):
    reference = indi_edge.Restorer(with_weights, backend="onnxruntime", threads=1, tile=0)
    assert reference.providers == ["CPUExecutionProvider"]
    want = reference.run(bgr_frame)
    fp32_paths = {"openvino": "openvino-cpu-fp32", "torch-fp32": "torch-cpu-fp32-channels-last"}
    for name, provider in fp32_paths.items():
        if not HAS[choice.CPU_PATHS[name].package]:
            continue
        restorer = indi_edge.Restorer(with_weights, backend=name, threads=1, tile=0)
        assert restorer.providers == [provider]
        assert np.abs(restorer.run(bgr_frame).astype(int) - want).max() <= 1
    auto = indi_edge.Restorer(with_weights, threads=1, tile=0)
    picked = indi_edge.Restorer(with_weights, backend=choice.choose(with_weights), threads=1, tile=0)
    assert auto.providers == picked.providers
    assert np.abs(auto.run(bgr_frame).astype(int) - want).max() <= 3  # bf16 paths are close, not exact


def test_backend_applies_to_model_files_only(tiny_onnx):
    with pytest.raises(ValueError, match="applies to model files"):
        indi_edge.Restorer(lambda x, t: x, backend="openvino")
    with pytest.raises(ValueError, match="providers= are ONNX Runtime's"):
        indi_edge.Restorer(tiny_onnx, backend="openvino", providers=["CPUExecutionProvider"])


def test_an_unrolled_graph_runs_on_onnx_runtime_under_auto(tiny_unet, tiny_info, exports):
    from indi_edge.export import export_onnx

    path = exports / "tiny_unrolled_choice.onnx"
    if not path.is_file():
        export_onnx(tiny_unet, path, tiny_info, unroll=2)
    assert indi_edge.Restorer(path, threads=1).providers == ["CPUExecutionProvider"]
