"""Cut motion-filtered training clips out of one video, all at once.

The reference code (``../shared/bench/ref_process_dyelax.py``) reads five full
frames from disk per clip and tries random crops one by one. Here the motion of
every possible crop of a video is known from one pass: the squared difference of
consecutive frames, summed over HIST_LEN pairs and over a CROP_SIZE window, is a
box sum that integral images give for all (start, y, x) at once. Sums run in
integers on the 0..255 scale, so the threshold test is exact.
"""
import numpy
from numpy.lib.stride_tricks import sliding_window_view

import constants
from utils import pixels

# Starts processed together when building the motion mask; bounds the memory
# used for long videos.
_BLOCK = 64


def moving_crops(frames, threshold=constants.CLIP_MOTION_THRESHOLD,
                 hist_len=constants.HIST_LEN, crop=constants.CROP_SIZE):
    """Bool (starts, H - crop + 1, W - crop + 1): does the clip at (start, y, x) move?

    A clip starting at frame ``s`` moves when the squared difference between
    consecutive frames, summed over its ``hist_len`` frame pairs, its crop and its
    channels, exceeds ``threshold`` on the [-1, 1] scale.
    """
    t, h, w, _ = frames.shape
    starts = t - hist_len
    limit = pixels.squared_difference_to_0_255(threshold)
    # int32 cumulative sums may wrap around, but every box sum they are differenced
    # into is below crop^2 * hist_len * 3 * 255^2 < 2^31, and wrap-around cancels.
    assert crop * crop * hist_len * 3 * 255 ** 2 < 2 ** 31
    mask = numpy.empty((starts, h - crop + 1, w - crop + 1), bool)
    for s0 in range(0, starts, _BLOCK):
        s1 = min(starts, s0 + _BLOCK)
        chunk = frames[s0:s1 + hist_len].astype(numpy.int32)
        pair = numpy.square(chunk[1:] - chunk[:-1]).sum(axis=3, dtype=numpy.int32)
        cum = numpy.zeros((len(pair) + 1, h, w), numpy.int32)
        numpy.cumsum(pair, axis=0, out=cum[1:])
        window = cum[hist_len:] - cum[:-hist_len]                 # (n, h, w)
        rows = numpy.zeros((s1 - s0, h + 1, w), numpy.int32)
        numpy.cumsum(window, axis=1, out=rows[:, 1:])
        rows = rows[:, crop:] - rows[:, :-crop]                   # (n, h - crop + 1, w)
        cols = numpy.zeros((s1 - s0, h - crop + 1, w + 1), numpy.int32)
        numpy.cumsum(rows, axis=2, out=cols[:, :, 1:])
        mask[s0:s1] = (cols[:, :, crop:] - cols[:, :, :-crop]) > limit
    return mask


def sample_positions(mask, num_filtered, num_unfiltered, rng, tries=constants.CROP_TRIES):
    """(start, y, x) of ``num_filtered`` moving clips and ``num_unfiltered`` any clips.

    As in the reference, a filtered clip tries up to ``tries`` random crops at a
    random start and keeps the first that moves; unlike it, a start where none
    moves is drawn again instead of yielding a static clip. Starts are drawn among
    those with at least one moving crop. Returns int arrays and a bool
    ``filtered`` flag per clip.
    """
    starts, ny, nx = mask.shape
    s = rng.integers(starts, size=num_unfiltered)
    y = rng.integers(ny, size=num_unfiltered)
    x = rng.integers(nx, size=num_unfiltered)
    positions = [(s, y, x)]
    if num_filtered:
        moving_starts = numpy.flatnonzero(mask.any(axis=(1, 2)))
        if not len(moving_starts):
            raise ValueError('no crop of this video moves')
        pending = numpy.arange(num_filtered)
        fs = numpy.empty(num_filtered, numpy.int64)
        fy = numpy.empty(num_filtered, numpy.int64)
        fx = numpy.empty(num_filtered, numpy.int64)
        while len(pending):
            start = moving_starts[rng.integers(len(moving_starts), size=len(pending))]
            for _ in range(tries):
                cy = rng.integers(ny, size=len(pending))
                cx = rng.integers(nx, size=len(pending))
                ok = mask[start, cy, cx]
                done = pending[ok]
                fs[done], fy[done], fx[done] = start[ok], cy[ok], cx[ok]
                pending, start = pending[~ok], start[~ok]
                if not len(pending):
                    break
        positions.append((fs, fy, fx))
    s, y, x = (numpy.concatenate(p) for p in zip(*positions))
    filtered = numpy.arange(len(s)) >= num_unfiltered
    return s, y, x, filtered


def cut(frames, s, y, x, clip_len, crop=constants.CROP_SIZE):
    """uint8 clips (n, clip_len, crop, crop, 3) at the given positions."""
    windows = sliding_window_view(frames, (clip_len, crop, crop), axis=(0, 1, 2))
    return numpy.ascontiguousarray(windows[s, y, x].transpose(0, 2, 3, 4, 1))


def to_model_input(clips, hist_len):
    """uint8 clips (n, T, H, W, 3) -> float32 history (n, 3 * hist_len, H, W) and future
    (n, 3 * (T - hist_len), H, W), frames stacked on channels in time order, in [-1, 1]."""
    n, t, h, w, c = clips.shape
    x = pixels.to_model_scale(clips.transpose(0, 1, 4, 2, 3).reshape(n, t * c, h, w))
    return x[:, :hist_len * c], x[:, hist_len * c:]
