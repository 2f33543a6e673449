"""Which training source a built-in task uses: batches made on the device for motion-deblur
(motion_batches.py, needs torch), pairs one by one for the others (tasks.SyntheticPairs). Both meet
the training loop through the protocols in pairs.py."""
from __future__ import annotations

from indi_edge.training.data.corpus import dead_leaves_images, training_photos
from indi_edge.training.data.tasks import SyntheticPairs

PHOTO_OPTIONS = ("photo_scales", "debian_photos")  # the photo set: every task takes these


def pair_source(task: str, device: str = "cpu", **motion_options):
    """The training pair source of a built-in task (see TASKS). motion-deblur makes whole batches on
    the training `device` (motion_batches, needs torch); the other tasks make pairs one by one.
    motion_options (None: the default) go to MotionDeblurBatches: dead_leaves_share, photo_scales,
    channel_shuffle, soft_radii, soft_leaves_share, soft_leaves_radii, debian_photos. The other tasks
    take photo_scales and debian_photos (their photos, beside the corpus's dead leaves) and refuse
    the rest."""
    if task == "motion-deblur":
        from indi_edge.training.data.motion_batches import MotionDeblurBatches

        return MotionDeblurBatches(device, **{name: value for name, value in motion_options.items() if value is not None})
    photo_options = {name: motion_options.pop(name, None) for name in PHOTO_OPTIONS}
    refuse_motion_options(motion_options, task)
    if all(value is None for value in photo_options.values()):
        return SyntheticPairs(task)
    photos = training_photos(photo_options["photo_scales"] or (1.0,), bool(photo_options["debian_photos"]))
    return SyntheticPairs(task, photos + dead_leaves_images())  # the dead leaves as without these options


def refuse_motion_options(motion_options: dict, other: str) -> None:
    """A user error naming the motion-deblur-only options given (not None) for another source."""
    given = ["--" + name.replace("_", "-") for name, value in motion_options.items() if value is not None]
    if given:
        verb = "applies" if len(given) == 1 else "apply"
        raise ValueError(f"{', '.join(given)} {verb} to --task motion-deblur only, not {other}")
