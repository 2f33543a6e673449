"""Where an export starts: a weights file (indi_edge.training.nn.save) or a training run folder."""
from __future__ import annotations

from pathlib import Path

from indi_edge.model_info import ModelInfo

RUN_WEIGHTS = "weights.safetensors"  # what indi_edge.training.train writes into a run folder (EMA weights + ModelInfo)


def weights_path(ckpt: str | Path) -> Path:
    """The safetensors file behind CKPT: the file itself, or RUN_WEIGHTS inside a run folder."""
    path = Path(ckpt)
    if path.is_dir():
        path = path / RUN_WEIGHTS
        if not path.is_file():
            raise FileNotFoundError(f"{ckpt} is a folder without {RUN_WEIGHTS}; expected a training run folder "
                                    f"or a .safetensors weights file")
    elif not path.is_file():
        raise FileNotFoundError(f"no weights file or run folder at {ckpt}")
    return path


def load_model(ckpt: str | Path):
    """(UNet in eval mode on CPU, ModelInfo) from CKPT; the info's multiple and unet_config are
    taken from the network itself so they can never disagree with the weights."""
    from indi_edge.training import nn

    path = weights_path(ckpt)
    model = nn.load(path)
    info = ModelInfo.from_metadata(nn.read_metadata(path), str(path))
    return model, info.replace(multiple=model.multiple, unet_config=model.config.to_json())
