"""Shared fixtures: one tiny U-Net with random (non-zero) weights, exported to ONNX once per session.

Fixtures that need torch import it inside the fixture, so test files that only use the runtime
(and the torch-free subprocess checks) never pay for it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indi_edge.model_info import ModelInfo

TINY_INFO = ModelInfo(task="custom", steps=3, eps=0.0, sampler="indi")


@pytest.fixture(scope="session")
def tiny_unet():
    """indi_edge.training.nn.UNet(UNetConfig(8, (1, 2), res_blocks=1)), multiple 2, every weight perturbed
    (conv2 and conv_out start at zero, which would make F the identity)."""
    import torch

    from indi_edge.training import nn

    torch.manual_seed(0)
    model = nn.UNet(nn.UNetConfig(8, (1, 2), res_blocks=1)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


@pytest.fixture(scope="session")
def tiny_info(tiny_unet) -> ModelInfo:
    return TINY_INFO.replace(multiple=tiny_unet.multiple, unet_config=tiny_unet.config.to_json())


@pytest.fixture(scope="session")
def exports(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("exports")


@pytest.fixture(scope="session")
def tiny_onnx(tiny_unet, tiny_info, exports) -> Path:
    """The tiny U-Net as an fp32 ONNX file (x, t -> x0), validated by the exporter."""
    from indi_edge.export import export_onnx

    return export_onnx(tiny_unet, exports / "tiny.onnx", tiny_info)


@pytest.fixture(scope="session")
def tiny_weights(tiny_unet, tiny_info, exports) -> Path:
    """The tiny U-Net saved as safetensors with its ModelInfo (what `indi-edge export` reads)."""
    from indi_edge.training import nn

    path = exports / "tiny.safetensors"
    nn.save(tiny_unet, path, tiny_info.to_metadata())
    return path


@pytest.fixture
def bgr_frame() -> np.ndarray:
    """A smooth uint8 48x40x3 BGR test frame with some texture (not a multiple of 8 in width)."""
    yy, xx = np.mgrid[0:48, 0:40].astype(np.float32)
    planes = [128 + 100 * np.sin(xx / 5 + c) * np.cos(yy / 7 - c) for c in range(3)]
    return np.clip(np.dstack(planes), 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def with_facts():
    """with_facts(src, dst, **facts): a copy of ONNX model src at dst with indi_edge.* metadata
    fields replaced: what a bad or hand-edited model file carries."""
    import onnx

    def write(src: Path, dst: Path, **facts) -> Path:
        model = onnx.load(str(src))
        props = {p.key: p.value for p in model.metadata_props}
        props.update({f"indi_edge.{k}": str(v) for k, v in facts.items()})
        del model.metadata_props[:]
        onnx.helper.set_model_props(model, props)
        onnx.save(model, str(dst))
        return dst

    return write
