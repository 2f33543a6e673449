"""The model Triton's Python backend runs for `indi-edge serve`: one Restorer per model instance.

Triton loads REPO/NAME/1/model.py (written by server.py: one line that imports TritonPythonModel from
here) in a stub process of its own, with `restorer.json` beside it naming the model and the limits.
Each request is checked on its shape first (limits.frames_problem): a request out of bounds gets a
one-line INVALID_ARG error of its own (HTTP 400, gRPC INVALID_ARGUMENT) and its pixels are never
read; the other requests of the same dynamic batch are restored together, frames of one size
sharing backend calls (Restorer.run_batch).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from indi_edge.serve.limits import RequestLimits, frames_problem
from indi_edge.triton_config import INPUT, OUTPUT

SETTINGS_FILE = "restorer.json"


def one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else 'no message'}"


class TritonPythonModel:
    """Triton's Python-backend interface: initialize(args), execute(requests), finalize()."""

    def initialize(self, args: dict) -> None:
        from indi_edge.restorer import Restorer

        folder = Path(args["model_repository"]) / args["model_version"]
        settings = json.loads((folder / SETTINGS_FILE).read_text())
        self.limits = RequestLimits(**settings["limits"])
        self.restorer = Restorer(**settings["restorer"])

    def execute(self, requests: list) -> list:
        import triton_python_backend_utils as pb

        responses: list = [None] * len(requests)
        frames, owners = [], []  # owners: (request index, how many of `frames` are its)
        for i, request in enumerate(requests):
            tensor = pb.get_input_tensor_by_name(request, INPUT)
            problem = frames_problem(tensor.shape(), self.limits)
            if problem:
                responses[i] = pb.InferenceResponse(error=pb.TritonError(problem, pb.TritonError.INVALID_ARG))
                continue
            batch = tensor.as_numpy()
            frames.extend(batch)
            owners.append((i, len(batch)))
        if not frames:
            return responses
        try:
            restored = self.restorer.run_batch(frames)
        except Exception as err:  # a model failure (NaN guard, memory): each request gets one line, not a traceback
            error = pb.TritonError(one_line(err), pb.TritonError.INTERNAL)
            for i, _ in owners:
                responses[i] = pb.InferenceResponse(error=error)
            return responses
        start = 0
        for i, count in owners:
            out = np.stack(restored[start:start + count])
            responses[i] = pb.InferenceResponse(output_tensors=[pb.Tensor(OUTPUT, out)])
            start += count
        return responses

    def finalize(self) -> None:
        self.restorer.close()
