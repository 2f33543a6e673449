"""Latency benchmarks with the roofline beside every figure (`indi-edge bench`, benchmarks/latency.py).

    from indi_edge.bench.run import Settings, run
    from indi_edge.bench import report
    result = run(Settings(model="motion-deblur"), cache=Path("~/.cache/indi_edge/bench").expanduser())
    report.write(result, Path("benchmarks/results"), "cpu")

Modules: timing (one frame split into preprocess / network / update / postprocess), variants (the
CPU paths and their cached exports), roofline (MACs from the ONNX graph, measured peaks, datasheet
targets), experiments (the option sweep), run (the whole run), report (JSON, Markdown, PNG).
Needs torch, onnx and matplotlib (`pip install indi-edge[cpu,train]`); `import indi_edge` never
imports this package.
"""
