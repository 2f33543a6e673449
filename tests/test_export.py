"""indi-edge export: one ONNX file with the model facts, named dynamic dims, fp16 and unrolled
variants, and a validation that fails (or warns) for real mismatches."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from indi_edge import cli
from indi_edge.model_info import ModelInfo


def graph_io(path):
    import onnx

    model = onnx.load(str(path))
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
    io = {v.name: (v.type.tensor_type.elem_type, dims(v)) for v in list(model.graph.input) + list(model.graph.output)}
    return model, io


def test_export_cli_from_a_run_folder(tiny_weights, tiny_unet, tmp_path, capsys):
    import onnx

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(tiny_weights, run / "weights.safetensors")
    out = tmp_path / "models" / "tiny.onnx"
    assert cli.main(["export", str(run), "-o", str(out), "--steps", "2", "--task", "motion-deblur"]) == 0
    printed = capsys.readouterr().out
    assert "validated tiny.onnx against torch on held-out image" in printed and "PSNR" in printed
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny.onnx"]  # one file, no leftovers
    model, io = graph_io(out)
    assert model.opset_import[0].version >= 18
    f32 = onnx.TensorProto.FLOAT
    assert io == {"x": (f32, ["n", 3, "2*h", "2*w"]), "t": (f32, ["n"]), "x0": (f32, ["n", 3, "2*h", "2*w"])}
    info = ModelInfo.from_metadata({p.key: p.value for p in model.metadata_props})
    assert (info.steps, info.task, info.multiple, info.unrolled_steps) == (2, "motion-deblur", 2, 0)
    assert info.unet_config == tiny_unet.config.to_json()


def test_export_cli_fp16_io_and_unrolled(tiny_weights, tmp_path):
    import onnx

    half = tmp_path / "half.onnx"
    assert cli.main(["export", str(tiny_weights), "-o", str(half), "--fp16", "--fp16-io"]) == 0
    model, io = graph_io(half)
    f16, f32 = onnx.TensorProto.FLOAT16, onnx.TensorProto.FLOAT
    assert (io["x"][0], io["x0"][0], io["t"][0]) == (f16, f16, f32)
    assert {i.data_type for i in model.graph.initializer if i.name.startswith("down.")} >= {f16}
    loop = tmp_path / "loop.onnx"
    assert cli.main(["export", str(tiny_weights), "-o", str(loop), "--unroll", "2"]) == 0  # eps 0: no noise input
    model, io = graph_io(loop)
    assert set(io) == {"x", "x0"}
    meta = {p.key: p.value for p in model.metadata_props}
    assert ModelInfo.from_metadata(meta).unrolled_steps == 2


def test_export_cli_rejects_bad_requests(tiny_weights, tmp_path, capsys):
    cases = [
        (["--fp16-io"], "fp16_io needs fp16"),
        (["--pt2"], "must end in .pt2"),
        (["--unroll", "-1"], "unroll must be an integer >= 0"),
    ]
    for extra, words in cases:
        assert cli.main(["export", str(tiny_weights), "-o", str(tmp_path / "m.onnx"), *extra]) == 2
        assert words in capsys.readouterr().err
    assert cli.main(["export", str(tmp_path), "-o", str(tmp_path / "m.onnx")]) == 2
    assert "without weights.safetensors" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_a_mismatching_export_fails_and_leaves_no_file(tmp_path):
    from indi_edge.export import export_onnx

    path = tmp_path / "diverges.onnx"
    import torch

    class Diverges(torch.nn.Module):
        """Takes another code path under export than in eager torch: a real mismatch."""
        multiple = 1

        def forward(self, x, t):
            scale = 1.0 if torch.compiler.is_compiling() else 1.5
            return x * scale + 0 * t[:, None, None, None]

    with pytest.raises(RuntimeError, match="export validation failed"):
        export_onnx(Diverges(), path, ModelInfo())
    assert list(tmp_path.iterdir()) == []


def test_fp16_below_40_db_warns_loudly(tmp_path, capsys):
    """x + 300 in fp16 lands on a grid of 1/4: ~29 dB from fp32 (a model with large activations).
    ONNX Runtime on CPU computes that Add in fp32, so the torch fp16 estimate is what catches it."""
    import torch

    from indi_edge.export import export_onnx

    class LargeValues(torch.nn.Module):
        multiple = 1

        def forward(self, x, t):
            return x + 300.0 + 0 * t[:, None, None, None]

    with pytest.warns(RuntimeWarning, match="FP16 export is only"):
        path = export_onnx(LargeValues(), tmp_path / "large.onnx", ModelInfo(), fp16=True)
    assert path.is_file()
    assert "WARNING: FP16 export is only" in capsys.readouterr().out


def test_scalar_path_stays_fp32():
    """sin(1000 t) must not be computed in fp16: the t-only nodes are blocked from conversion."""
    from onnx import TensorProto, helper

    from indi_edge.export.fp16 import scalar_path_nodes

    nodes = [helper.make_node("Mul", ["t", "k"], ["tk"], name="scale_t"),
             helper.make_node("Sin", ["tk"], ["s"], name="sin_t"),
             helper.make_node("Mul", ["x", "s"], ["x0"], name="mix")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1]),
                                           helper.make_tensor_value_info("t", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("x0", TensorProto.FLOAT, [1])],
                              [helper.make_tensor("k", TensorProto.FLOAT, [1], [1000.0])])
    assert scalar_path_nodes(graph) == ["scale_t", "sin_t"]


def test_noise_draws_match_the_python_loop():
    from indi_edge.export.unroll import noise_draws

    assert noise_draws(4, "indi", 0.0, "constant") == 0
    assert noise_draws(4, "indi", 0.1, "constant") == 1
    assert noise_draws(4, "indi", 0.1, "brownian") == 4   # x_1 plus 3 steps (the last adds none)
    assert noise_draws(4, "naive", 0.1, "brownian") == 1
    assert np.isfinite(noise_draws(1, "indi", 0.1, "brownian"))


def test_bundle_records_the_strength_its_eval_was_scored_at(tiny_weights, tmp_path, monkeypatch):
    import json

    from indi_edge import models
    from indi_edge.export.bundle import bundle
    from indi_edge.model_info import ModelInfo
    from indi_edge.training import nn

    monkeypatch.setattr(models, "MODELS_DIR", tmp_path)
    report = {"task": "jpeg", "seed": 0, "size": 32, "images": ["barbara"], "strength": 0.3,
              "rows": [{"method": "input", "steps": None, "psnr": 20.0, "ssim": 0.5, "detail": 1.0}]}
    (tmp_path / "eval.json").write_text(json.dumps(report))
    with pytest.raises(ValueError, match="scored at strength 0.3, the bundle's default is 1.0"):
        bundle(tiny_weights, "tiny-held", tmp_path / "eval.json", 1)
    assert not (tmp_path / "tiny-held.onnx").exists()
    onnx_path, weights_path = bundle(tiny_weights, "tiny-held", tmp_path / "eval.json", 1, strength=0.3)
    info = ModelInfo.from_metadata(nn.read_metadata(weights_path))
    assert info.strength == 0.3 and info.metrics_dict()["protocol"]["strength"] == 0.3 and onnx_path.is_file()
