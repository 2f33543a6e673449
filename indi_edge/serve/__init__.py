"""`indi-edge serve`: a Restorer behind a real Triton Inference Server on this machine.

- limits.py: what one request may hold (frame size, batch), checked on its shape alone;
- triton_model.py: the model Triton's Python backend runs (one Restorer per instance);
- server.py: writes the model repository, starts and stops the server, local by default.
"""
from indi_edge.serve.limits import DEFAULT_MAX_PIXELS, RequestLimits, frames_problem
from indi_edge.serve.server import RestorerServer, ServedModel, ServeOptions

__all__ = ["DEFAULT_MAX_PIXELS", "RequestLimits", "RestorerServer", "ServedModel", "ServeOptions", "frames_problem"]
