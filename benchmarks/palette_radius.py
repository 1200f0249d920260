"""How far a pixel's next colour lies in its input frames: the measure behind
``constants.PALETTE_RADIUS`` (``train.py --palette-radius``).

    python benchmarks/palette_radius.py -t data/big/train --videos 10

For every frame from the history-th on (every --stride-th), and every pixel of
it, the smallest radius (a square, in pixels) within which one of the
--hist-len frames before it shows that pixel's colour. Prints JSON: how many
pixels need each radius up to --max-radius, how many need more ("farther") and
how many take a colour the input frames do not show at all ("absent": no
palette gives them). The smallest radius that covers every pixel within
--max-radius is "covers".
"""
import argparse
import json

import numpy

import common  # puts the project on the path
from utils import compat  # noqa: F401  (before chainer)
import constants  # noqa: E402
from models import palette  # noqa: E402
from utils.data import frames as framelib  # noqa: E402
from utils.errors import cli, add_common_flags  # noqa: E402


def needed_radius(history, frame, max_radius):
    """(H, W): the radius each pixel of ``frame`` (H, W, 3) needs in ``history``
    (k, H, W, 3), max_radius + 1 where farther, -1 where absent."""
    k, h, w = history.shape[:3]
    colours, inverse = numpy.unique(numpy.concatenate([
        palette.colour_keys(history, axis=-1).ravel(),
        palette.colour_keys(frame, axis=-1).ravel()]), return_inverse=True)
    inverse = inverse.ravel()
    shown = palette.shown(inverse[:k * h * w], len(colours), h, w)
    target = inverse[k * h * w:].reshape(h, w)
    rows, cols = numpy.indices((h, w))
    need = numpy.where(shown.any((1, 2))[target], max_radius + 1, -1)
    for radius in range(max_radius, -1, -1):
        need[palette.near(shown, radius)[target, rows, cols]] = radius
    return need


@cli
def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('-t', '--frames', default=constants.TRAIN_DIR,
                   help='frame folders or video files (default: %(default)s)')
    p.add_argument('--videos', type=int, default=10, help='the first N videos (default: 10)')
    p.add_argument('--hist-len', type=int, default=5, help='input frames (default: 5)')
    p.add_argument('--stride', type=int, default=3, help='every Nth frame (default: 3)')
    p.add_argument('--max-radius', type=int, default=24, help='(default: 24)')
    add_common_flags(p)
    args = p.parse_args(argv)
    counts = numpy.zeros(args.max_radius + 3, numpy.int64)  # radii, farther, absent
    frames_seen = 0
    for video in sorted(framelib.list_videos(args.frames))[:args.videos]:
        frames = framelib.read_video(video)
        for t in range(args.hist_len, len(frames), args.stride):
            need = needed_radius(frames[t - args.hist_len:t], frames[t], args.max_radius)
            counts += numpy.bincount(need.ravel() % len(counts), minlength=len(counts))
            frames_seen += 1
    within = {r: int(n) for r, n in enumerate(counts[:args.max_radius + 1]) if n}
    print(json.dumps(dict(
        frames=frames_seen, pixels=int(counts.sum()), within=within,
        farther=int(counts[args.max_radius + 1]), absent=int(counts[-1]),
        covers=max(within))))


if __name__ == '__main__':
    main()
