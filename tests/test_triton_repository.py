"""`indi-edge export --triton`: the model repository Triton Inference Server loads. The config is
parsed with Triton's own model-config protobuf (tritonclient) and checked against the ONNX graph;
the graph is run with ONNX Runtime against Restorer.run, frame for frame."""
from __future__ import annotations

import numpy as np
import onnx
import pytest

from indi_edge import cli
from indi_edge.restorer import Restorer

model_config = pytest.importorskip("tritonclient.grpc.model_config_pb2", reason="needs tritonclient (the [triton] extra)")


def parse_config(path):
    from google.protobuf import text_format

    return text_format.Parse(path.read_text(), model_config.ModelConfig())


ONNX_TO_TRITON = {onnx.TensorProto.UINT8: "TYPE_UINT8", onnx.TensorProto.FLOAT: "TYPE_FP32"}


@pytest.fixture(scope="module")
def repo(tiny_weights, tmp_path_factory):
    root = tmp_path_factory.mktemp("triton")
    assert cli.main(["export", str(tiny_weights), "--triton", str(root), "--steps", "2", "--name", "tiny",
                     "--max-batch", "4", "--instances", "2"]) == 0
    return root / "tiny"


def test_the_config_parses_and_matches_the_graph(repo):
    config = parse_config(repo / "config.pbtxt")
    graph = onnx.load(str(repo / "1" / "model.onnx")).graph
    assert config.platform == "onnxruntime_onnx" and config.max_batch_size == 4
    assert config.HasField("dynamic_batching")
    assert [(g.count, model_config.ModelInstanceGroup.Kind.Name(g.kind)) for g in config.instance_group] == [(2, "KIND_GPU")]
    accelerator = config.optimization.execution_accelerators.gpu_execution_accelerator[0]
    assert accelerator.name == "tensorrt" and accelerator.parameters["precision_mode"] == "FP16"
    for declared, actual in ((config.input, graph.input), (config.output, graph.output)):
        assert [d.name for d in declared] == [a.name for a in actual]
        for d, a in zip(declared, actual):
            tensor = a.type.tensor_type
            assert model_config.DataType.Name(d.data_type) == ONNX_TO_TRITON[tensor.elem_type]
            dims = tensor.shape.dim
            assert len(d.dims) + 1 == len(dims)  # Triton's dims leave out the batch dimension
            assert list(d.dims)[-1] == dims[-1].dim_value == 3


def test_the_graph_restores_any_frame_size_as_the_restorer_does(repo, tiny_onnx):
    import onnxruntime as ort

    session = ort.InferenceSession(str(repo / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
    restorer = Restorer(tiny_onnx, steps=2, backend="onnxruntime")
    rng = np.random.default_rng(0)
    for height, width in ((17, 23), (32, 40)):  # odd sizes are padded inside the graph, as the Restorer pads
        frames = rng.integers(0, 256, (3, height, width, 3), dtype=np.uint8)
        (restored,) = session.run(None, {"frames": frames})
        assert restored.dtype == np.uint8 and restored.shape == frames.shape
        expected = np.stack([restorer.run(f) for f in frames])
        assert np.abs(restored.astype(int) - expected.astype(int)).max() <= 1  # one rounding step at most


def test_models_with_noise_and_bad_settings_are_refused(tiny_weights, tmp_path, capsys):
    base = ["export", str(tiny_weights), "--triton", str(tmp_path / "r")]
    for extra, says in ((["--steps", "2", "--eps", "0.1"], "eps = 0.1"), ([], "needs --steps"),
                        (["--steps", "2", "--fp16"], "drop -o"), (["--steps", "2", "--max-batch", "0"], ">= 1")):
        assert cli.main(base + extra) == 2
        assert says in capsys.readouterr().err
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").rglob("*.onnx"))
