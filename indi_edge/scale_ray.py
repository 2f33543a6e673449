"""Restore many files over a Ray cluster (or this machine's cores) with Ray Data.

    indi-edge restore clips/ -o sharp/ --ray [--ray-actors 4] [--ray-address auto]

Each file (an image or a whole video) is one row of a Ray dataset, handled by a pool of actors
that each open the model once. A video is one task: restore_video already pipelines its frames,
keeps audio and timestamps, and writes through a temporary file, so a task that dies (a killed
actor, a lost node) leaves nothing at its destination and its retry (Ray Data restarts the actor
and retries the task) writes the whole file again: no frame is lost or written twice. With GPUs, each actor takes `gpus_per_actor`.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

@dataclasses.dataclass(frozen=True)
class RayOptions:
    actors: int = 2
    address: str | None = None      # None: a local Ray on this machine; "auto" or ray://...: a cluster
    gpus_per_actor: float = 0.0
    cpus_per_actor: float = 1.0


class RestoreFiles:
    """The Ray Data actor: opens the Restorer once, restores one file per row."""

    def __init__(self, model: str, restorer_kwargs: dict, video_kwargs: dict, compare: bool):
        from indi_edge.restorer import Restorer

        self.restorer = Restorer(model, **restorer_kwargs)
        self.video_kwargs, self.compare = video_kwargs, compare

    def __call__(self, batch: dict) -> dict:
        from indi_edge import video

        frames = []
        for src, dst in zip(batch["src"], batch["dst"]):
            before_fault(str(src))
            if Path(str(src)).suffix.lower() in video.IMAGE_SUFFIXES:
                video.restore_image(self.restorer, str(src), str(dst), compare=self.compare)
                frames.append(1)
            else:
                summary = video.restore_video(self.restorer, str(src), str(dst), compare=self.compare,
                                              progress=False, **self.video_kwargs)
                frames.append(summary["frames"])
        return {"src": batch["src"], "dst": batch["dst"], "frames": frames}


def before_fault(src: str) -> None:
    """Test hook: with INDI_EDGE_RAY_CRASH_ONCE=MARKER, the first actor to reach a file creates
    MARKER and dies at once (os._exit), as a killed actor does; the retry finds MARKER and goes on."""
    import os

    marker = os.environ.get("INDI_EDGE_RAY_CRASH_ONCE")
    if marker:
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.close(fd)
        os._exit(1)


def restore_files(pairs: list[tuple[Path, Path]], model: str, *, restorer_kwargs: dict | None = None,
                  video_kwargs: dict | None = None, compare: bool = False,
                  options: RayOptions = RayOptions()) -> list[dict]:
    """Restore (src, dst) pairs over Ray; returns one row per file: src, dst, frames written."""
    import ray
    from ray.data import ActorPoolStrategy

    if options.actors < 1:
        raise ValueError(f"--ray-actors must be at least 1, got {options.actors}")
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=options.address, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": _forwarded_env()})
    try:
        rows = [{"src": str(src), "dst": str(dst)} for src, dst in pairs]
        dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
        done = dataset.map_batches(
            RestoreFiles, batch_size=1, compute=ActorPoolStrategy(size=options.actors),
            fn_constructor_args=(model, restorer_kwargs or {}, video_kwargs or {}, compare),
            # Ray Data restarts a dead pool actor and retries its task (its defaults: max_restarts=-1,
            # max_task_retries=-1; setting them here is deprecated in Ray 2.60).
            num_cpus=options.cpus_per_actor, num_gpus=options.gpus_per_actor)
        return sorted(done.take_all(), key=lambda row: row["src"])
    finally:
        if started_here:
            ray.shutdown()


def _forwarded_env() -> dict:
    import os

    keep = ("INDI_EDGE_RAY_CRASH_ONCE", "INDI_EDGE_NUM_THREADS", "INDI_EDGE_DISABLE_CPU_FEATURES", "OMP_NUM_THREADS")
    return {k: os.environ[k] for k in keep if k in os.environ}
