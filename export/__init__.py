"""Workstation toolchain: torch -> ONNX / .pt2. Installed as `indi_edge.export` (see pyproject.toml)."""
