"""Which training source a built-in task uses: batches made on the device for motion-deblur
(motion_batches.py, needs torch), pairs one by one for the others (tasks.SyntheticPairs). Both meet
the training loop through the protocols in pairs.py."""
from __future__ import annotations

from indi_edge.training.data.tasks import SyntheticPairs


def pair_source(task: str, device: str = "cpu", **motion_options):
    """The training pair source of a built-in task (see TASKS). motion-deblur makes whole batches on
    the training `device` (motion_batches, needs torch); the other tasks make pairs one by one.
    motion_options (motion-deblur only; None: its default) go to MotionDeblurBatches:
    dead_leaves_share, photo_scales, channel_shuffle, soft_radii, soft_leaves_share, soft_leaves_radii,
    debian_photos."""
    if task == "motion-deblur":
        from indi_edge.training.data.motion_batches import MotionDeblurBatches

        return MotionDeblurBatches(device, **{name: value for name, value in motion_options.items() if value is not None})
    refuse_motion_options(motion_options, task)
    return SyntheticPairs(task)


def refuse_motion_options(motion_options: dict, other: str) -> None:
    """A user error naming the motion-deblur-only options given (not None) for another source."""
    given = ["--" + name.replace("_", "-") for name, value in motion_options.items() if value is not None]
    if given:
        verb = "applies" if len(given) == 1 else "apply"
        raise ValueError(f"{', '.join(given)} {verb} to --task motion-deblur only, not {other}")
