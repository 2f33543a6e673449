"""indi-edge bench: MACs counted from ONNX graphs, floors, the per-part frame timing (same output
as Restorer.run_batch), result statistics, and the --quick run writing valid JSON/Markdown/PNG."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import indi_edge
from indi_edge import cli
from indi_edge.backends import choice
from indi_edge.bench import report, roofline, timing
from indi_edge.cpu_features import bf16_skip_reason
from indi_edge.restorer import Restorer

# --- counting multiply-adds from the graph ---------------------------------------------------

def linear_macs(model) -> int:
    """The t MLP and FiLM projections: every Linear layer's in * out, once per frame."""
    from torch import nn as tnn

    return sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, tnn.Linear))


@pytest.mark.parametrize("height,width", [(32, 32), (16, 40)])
def test_graph_macs_equal_the_torch_count(tiny_unet, tiny_onnx, height, width):
    """Conv MACs per pixel (forward hooks in indi_edge.training.nn) are the same at every size; the Gemms add once."""
    from indi_edge.training import nn

    cost = roofline.count_graph(tiny_onnx, height, width)
    conv_per_pixel = nn.macs_per_pixel(tiny_unet, 32)
    assert cost.macs == round(conv_per_pixel * height * width) + linear_macs(tiny_unet)
    assert cost.activations > 0


def hand_graph(tmp_path):
    """Conv (groups 2), ConvTranspose (stride 2), MatMul and Gemm (transA) with known MAC counts."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def weight(name, shape):
        return numpy_helper.from_array(np.zeros(shape, np.float32), name)

    nodes = [helper.make_node("Conv", ["x", "w1"], ["c"], pads=[1, 1, 1, 1], group=2),          # 4->6 ch, 3x3
             helper.make_node("ConvTranspose", ["c", "w2"], ["u"], strides=[2, 2], kernel_shape=[2, 2]),  # 6->2
             helper.make_node("MatMul", ["u", "m"], ["v"]),                                         # [..,W]x[W,5]
             helper.make_node("Gemm", ["a", "g"], ["o"], transA=1)]                               # [7,3]^T x [7,4]
    graph = helper.make_graph(
        nodes, "hand", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4, "h", "w"])],
        [helper.make_tensor_value_info("v", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("o", TensorProto.FLOAT, None)],
        [weight("w1", (6, 2, 3, 3)), weight("w2", (6, 2, 2, 2)), weight("m", (2 * 8, 5)), weight("g", (7, 4)),
         weight("a", (7, 3))])
    path = tmp_path / "hand.onnx"
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    return path


def test_each_counted_op_follows_its_formula(tmp_path):
    h, w = 6, 8
    conv = 6 * h * w * (2 * 3 * 3)             # each output element sums Cin/groups * kh * kw
    transpose = 6 * h * w * (2 * 2 * 2)        # each input element scatters into Cout * kh * kw
    matmul = 2 * (2 * h) * 5 * (2 * w)         # [1, 2, 2h, 2w] x [2w, 5]
    gemm = 3 * 4 * 7                           # A^T [3, 7] x B [7, 4]
    cost = roofline.count_graph(hand_graph(tmp_path), h, w)
    assert cost.macs == conv + transpose + matmul + gemm
    assert cost.activations == 6 * h * w + 2 * 2 * h * 2 * w + 2 * 2 * h * 5 + 3 * 4


def test_count_graph_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no ONNX model"):
        roofline.count_graph(tmp_path / "missing.onnx", 16, 16)


def test_floors_take_the_slower_of_compute_and_memory():
    cost = roofline.GraphCost(100, 100, macs=10**9, activations=10**6)
    compute = roofline.floor_ms(cost, 4, 1, peak_tflops=1.0)
    assert compute == pytest.approx(4 * 2e9 / 1e12 * 1e3)
    assert roofline.floor_ms(cost, 4, 1, 1.0, bandwidth_gbs=1e6, precision="fp32") == pytest.approx(compute)
    slow_memory = roofline.floor_ms(cost, 4, 1, 1.0, bandwidth_gbs=1.0, precision="bf16")
    assert slow_memory == pytest.approx(4 * 2 * 10**6 * 2 / 1e9 * 1e3) and slow_memory > compute
    assert roofline.fraction(5.0, 10.0) == 0.5
    scaled = roofline.GraphCost.from_per_pixel(200, 100, cost.macs_per_pixel, 100.0)
    assert scaled.macs == 2 * cost.macs and scaled.activations == 2 * 10**6


def test_predicted_floors_cover_every_target_preset_size_and_n():
    costs = {"p": {"720p": roofline.GraphCost.from_per_pixel(720, 1280, 2e4, 80)}}
    rows = roofline.predicted_floors(costs, [1, 4])
    assert len(rows) == len(roofline.TARGETS) * 2
    by = {(r["target"], r["steps"]): r for r in rows}
    for target in roofline.TARGETS:
        assert by[(target.name, 4)]["floor_ms"] == pytest.approx(4 * by[(target.name, 1)]["floor_ms"])
        assert by[(target.name, 1)]["max_fps"] == pytest.approx(1e3 / by[(target.name, 1)]["floor_ms"])
    nano, h100 = by[("Jetson Orin Nano 8GB", 1)], by[("H100 SXM5", 1)]
    assert nano["floor_ms"] > h100["floor_ms"]
    table = roofline.targets_table()
    assert {t["name"] for t in table} == {"Jetson Orin Nano 8GB", "Jetson AGX Orin 64GB", "RTX 4090", "H100 SXM5"}
    assert all(t["kind"] == "datasheet (not measured)" and t["source"] for t in table)


# --- timing one frame in parts ---------------------------------------------------------------------

def test_timed_run_gives_what_run_batch_gives(tiny_onnx, bgr_frame):
    from indi_edge.backends import open_backend

    plain = Restorer(tiny_onnx, steps=3, threads=1)
    timed = Restorer(timing.TimedBackend(open_backend(tiny_onnx, threads=1)), steps=3)
    batch = [bgr_frame, bgr_frame[::-1].copy()]
    out, parts = timing.run_timed(timed, batch)
    for got, want in zip(out, plain.run_batch(batch)):
        np.testing.assert_array_equal(got, want)
    assert set(parts) == set(timing.PARTS) and all(v >= 0 for v in parts.values())
    assert parts["network"] > 0
    with pytest.raises(TypeError, match="TimedBackend"):
        timing.run_timed(plain, batch)


def test_a_loop_backend_counts_as_network_only(tiny_unet, tiny_info, exports, bgr_frame):
    from indi_edge.backends import open_backend
    from indi_edge.export import export_onnx

    path = export_onnx(tiny_unet, exports / "tiny_unroll2_bench.onnx", tiny_info.replace(steps=2), unroll=2,
                       check=False)
    inner = open_backend(path, threads=1)
    timed = timing.TimedBackend(inner)
    calls = []
    inner_restore = inner.restore
    inner.restore = lambda *a, **k: calls.append(1) or inner_restore(*a, **k)
    out, parts = timing.run_timed(Restorer(timed), [bgr_frame])
    np.testing.assert_array_equal(out[0], Restorer(path, threads=1).run(bgr_frame))
    assert calls == [1] and parts["network"] > 0
    step = roofline.count_graph(exports / "tiny.onnx", 16, 16)
    assert roofline.count_graph(path, 16, 16).macs == pytest.approx(2 * step.macs, rel=0.05)


def test_summary_statistics_per_frame():
    samples = [{"preprocess": 0.001, "network": 0.01 * (i + 1), "update": 0.001, "postprocess": 0.001}
               for i in range(100)]
    stats = timing.summarise(samples, batch=2)
    totals = [(0.003 + 0.01 * (i + 1)) * 1e3 / 2 for i in range(100)]
    assert stats["frames"] == 200
    assert stats["median_ms"] == pytest.approx(np.median(totals))
    assert stats["p90_ms"] == pytest.approx(np.percentile(totals, 90))
    assert stats["p99_ms"] >= stats["p90_ms"] >= stats["median_ms"]
    assert stats["parts_ms"]["preprocess"] == pytest.approx(0.5)
    assert 0 < stats["overhead_share"] < 0.5


@pytest.mark.skipif(not timing.CLEAR_REFS.exists(), reason="peak RSS reset needs Linux /proc")
def test_peak_rss_window_sees_a_new_allocation():
    timing.reset_peak_rss()
    before = timing.peak_rss_mb()
    block = np.ones(64 << 20, np.uint8)  # 64 MB, touched
    assert timing.peak_rss_mb() >= before + 60
    del block


def test_bad_settings_are_refused():
    from indi_edge.bench.run import Settings

    with pytest.raises(ValueError, match="unknown backends"):
        Settings(backends=("tensorrt-fp8",)).validate()
    with pytest.raises(ValueError, match="unknown resolutions"):
        Settings(resolutions=("4k",)).validate()
    with pytest.raises(ValueError, match="frames"):
        Settings(frames=0).validate()


# --- the whole quick run -----------------------------------------------------------------------------

def test_quick_bench_writes_json_markdown_and_plot(tmp_path, tmp_path_factory):
    """`indi-edge bench --quick` end to end (~15-30 s on 2 cores: it needs no exports)."""
    out = tmp_path / "results"
    cache = tmp_path_factory.mktemp("bench_cache")
    assert cli.main(["bench", "--quick", "--out", str(out), "--cache", str(cache), "--note", "test"]) == 0
    result = json.loads((out / "bench_cpu_quick.json").read_text())
    for key in ("device", "versions", "settings", "limits", "graph_costs", "rows", "headline", "bf16_quality",
                "targets", "predicted_floors"):
        assert key in result
    assert result["settings"]["quick"] and result["settings"]["note"] == "test"
    native_bf16 = bf16_skip_reason() is None
    assert result["device"]["native_bf16"] == native_bf16 and result["device"]["model"]
    assert result["limits"]["matmul_fp32"]["median_tflops"] > 0
    if native_bf16:
        assert result["limits"]["matmul_bf16"]["median_tflops"] > 0
    else:  # never run emulated: skipped, with the reason, and no bf16 path timed
        assert "no native bf16" in result["limits"]["matmul_bf16"]["skipped"]
        assert "torch-bf16" in result["skipped_backends"]
    backends = {r["backend"] for r in result["rows"]}
    assert backends == {"torch-eager-fp32", "onnxrt-fp32-step", "auto"} | ({"torch-bf16"} if native_bf16 else set())
    assert result["auto_path"]["path"] == choice.choose(indi_edge.models.path("motion-deblur"))
    for row in result["rows"]:
        assert row["frames"] >= 5 and row["median_ms"] > 0 and row["floor_ms"] > 0
        assert row["p99_ms"] >= row["p90_ms"] >= row["median_ms"] * 0.999
        assert math.isclose(sum(row["parts_ms"].values()), row["median_ms"], rel_tol=0.5)
        assert row["speedup_vs_torch_eager"] > 0
        if row["backend"] == "torch-eager-fp32":
            assert row["speedup_vs_torch_eager"] == 1.0
    from indi_edge.training import nn  # the ONNX graph's count against the torch network's own hooks

    network = nn.load(indi_edge.models.path("motion-deblur", kind="weights"))
    assert result["graph_costs"]["256"]["macs_per_pixel"] == pytest.approx(nn.macs_per_pixel(network), rel=0.01)
    assert result["headline"]["fastest"]["backend"] in backends
    quality = result["bf16_quality"]
    bf16_paths = {r["backend"] for r in result["rows"] if r["precision"] == "bf16"}
    if bf16_paths:
        assert quality["psnr_difference_db"].keys() == bf16_paths and len(quality["images"]) >= 5
        for diff in quality["psnr_difference_db"].values():
            assert abs(diff["2"]) < 1.0  # bf16 must not break the restoration
    else:
        assert "skipped" in quality
    markdown = (out / "bench_cpu_quick.md").read_text()
    assert "| backend | res | N |" in markdown and "DATASHEET" in markdown
    assert (out / "bench_cpu_quick.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report.headline_text(result).startswith("**256, N=2")


def test_torch_cpu_backend_bf16_is_close_to_fp32_and_leaves_the_model_alone(tiny_unet, tiny_info, tiny_onnx, bgr_frame):
    import torch

    from indi_edge.backends.torch_cpu import TorchCpuBackend

    before = {k: v.clone() for k, v in tiny_unet.state_dict().items()}
    fp32 = Restorer(TorchCpuBackend(tiny_unet, tiny_info, precision="fp32", channels_last=False), steps=2)
    onnx = Restorer(tiny_onnx, steps=2, threads=1, backend="onnxruntime")
    y = np.ascontiguousarray(np.random.default_rng(0).uniform(-1, 1, (1, 3, 16, 24)).astype(np.float32))
    want = onnx.restore_array(y)
    np.testing.assert_allclose(fp32.restore_array(y), want, atol=1e-5)
    with pytest.raises(ValueError, match="precision"):
        TorchCpuBackend(tiny_unet, precision="int8")
    if bf16_skip_reason():  # refused, never run emulated
        with pytest.raises(ValueError, match="no native bf16"):
            TorchCpuBackend(tiny_unet, tiny_info)
        pytest.skip(bf16_skip_reason())
    got = Restorer(TorchCpuBackend(tiny_unet, tiny_info), steps=2).restore_array(y)
    assert got.dtype == np.float32 and 1e-6 < np.abs(got - want).max() < 0.1  # really bf16, still close
    assert all(torch.equal(v, before[k]) and v.dtype == torch.float32 for k, v in tiny_unet.state_dict().items())


def test_bf16_export_is_a_pt2_option(tiny_weights, tmp_path, capsys):
    assert cli.main(["export", str(tiny_weights), "-o", str(tmp_path / "m.onnx"), "--bf16"]) == 2
    assert "--bf16 applies to --pt2" in capsys.readouterr().err
