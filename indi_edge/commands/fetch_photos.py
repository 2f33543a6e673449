"""indi-edge fetch-photos: the Debian photo corpus for training (apt-get download + dpkg -x)."""
from __future__ import annotations

HELP = "Fetch the 22 training photographs from Debian's mate-backgrounds and plasma-workspace-wallpapers."


def add_arguments(parser) -> None:
    parser.add_argument("--cache", metavar="DIR",
                        help="where to keep them (default $INDI_EDGE_PHOTOS or ~/.cache/indi_edge/debian-photos)")


def main(args) -> int:
    from pathlib import Path

    from indi_edge.training.data import photo_corpus

    cache = Path(args.cache) if args.cache else photo_corpus.default_cache()
    if not photo_corpus.missing(cache):
        print(f"the {len(photo_corpus.PHOTOS)} photos are already in {cache}")
        return 0
    paths = photo_corpus.fetch(cache)
    print(f"{len(paths)} photos and the packages' copyright files in {cache}")
    return 0
