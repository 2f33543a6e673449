"""The bundled default models: present, loadable (ONNX and weights), self-describing, and they restore."""
import json

import numpy as np
import pytest

from indi_edge import models
from indi_edge.model_info import ModelInfo

BUNDLED = ["denoise", "motion-deblur"]
MAX_MODEL_BYTES = 20_000_000  # each model's ONNX and weights together


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_models_are_listed_and_small(name):
    assert models.list() == BUNDLED
    assert sum(models.path(name, kind).stat().st_size for kind in ("onnx", "weights")) <= MAX_MODEL_BYTES


def test_unknown_name_and_kind():
    with pytest.raises(ValueError, match="motion-deblur"):
        models.path("sharpen")
    with pytest.raises(ValueError, match="kind"):
        models.path("denoise", kind="engine")


@pytest.mark.parametrize("name", BUNDLED)
def test_metadata_says_how_it_was_made(name):
    onnx = pytest.importorskip("onnx")
    meta = {p.key: p.value for p in onnx.load(str(models.path(name)), load_external_data=False).metadata_props}
    info = ModelInfo.from_metadata(meta)
    assert info.task == name and info.multiple == 16 and info.preset in ("edge-s", "naf-s-dense")
    assert info.train_command.startswith("indi-edge train --task " + name)
    assert info.train_time and info.train_data
    rows = json.loads(info.metrics)["rows"]
    assert {r["method"] for r in rows} >= {"input", "indi"}


@pytest.mark.parametrize("name", BUNDLED)
def test_weights_rebuild_the_torch_network(name):
    torch = pytest.importorskip("torch")
    from indi_edge.training import nn

    path = models.path(name, kind="weights")
    model = nn.load(path)
    assert model.config == nn.PRESETS[ModelInfo.from_metadata(nn.read_metadata(path)).preset]
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert torch.isfinite(model(x, torch.ones(1))).all()


@pytest.mark.parametrize("name, task, min_gain_db", [("motion-deblur", "motion-deblur", 0.0), ("denoise", "denoise", 5.0)])
def test_restores_held_out_images_above_their_degraded_input(name, task, min_gain_db):
    """Mean PSNR over the held-out set (128 px centre crops, the eval protocol's seeded degradations)."""
    from indi_edge import Restorer
    from indi_edge.metrics import psnr
    from indi_edge.training.data import tasks

    restorer = Restorer(name, threads=2)
    gains = []
    for pair in tasks.heldout_pairs(task, seed=0, size=128):
        y = pair.degraded.transpose(2, 0, 1)[None].astype(np.float32)
        out = restorer.restore_array(np.ascontiguousarray(y))[0].transpose(1, 2, 0)
        gains.append(psnr(out, pair.clean, 2.0) - psnr(pair.degraded, pair.clean, 2.0))
    assert np.mean(gains) > min_gain_db, gains
