"""Cut motion-filtered training clips out of one video, streamed in two passes.

The reference code (``../shared/bench/ref_process_dyelax.py``) reads five full
frames from disk per clip and tries random crops one by one. Here the motion of
every possible crop is known at once: the squared difference of consecutive
frames, summed over hist_len pairs and over a CROP_SIZE window, is a box sum that
integral images give for all (start, y, x) of a block of starts. Sums run in
integers on the 0..255 scale, so the threshold test is exact.

Frames stream through a buffer of one block of starts plus hist_len frames, so
memory does not grow with the video's length. The first pass finds the moving
crops of every start (``MotionIndex``); the clips are then drawn (``plan``), and
the second pass cuts them, in order of start.
"""
import tempfile

import numpy
from numpy.lib.stride_tricks import sliding_window_view

import constants
from utils import pixels

# Starts processed together when building the motion mask; bounds the memory
# used for long videos.
_BLOCK = 64


def moving_crops(frames, threshold=constants.CLIP_MOTION_THRESHOLD,
                 hist_len=constants.HIST_LEN, crop=constants.CROP_SIZE,
                 motion_frames=constants.CLIP_MOTION_FRAMES):
    """Bool (starts, H - crop + 1, W - crop + 1): does the clip at (start, y, x) move?

    A clip starting at frame ``s`` moves when the squared difference between
    consecutive frames, summed over its crop, its channels and its frame pairs,
    exceeds ``threshold`` on the [-1, 1] scale. ``motion_frames``: 'clip' sums the
    ``hist_len`` pairs of the whole clip, 'history' the ``hist_len - 1`` pairs of
    the input frames alone (``constants.CLIP_MOTION_FRAMES`` says why).
    """
    t, h, w, _ = frames.shape
    starts = t - hist_len
    pairs = {'clip': hist_len, 'history': hist_len - 1}[motion_frames]
    limit = pixels.squared_difference_to_0_255(threshold)
    # int32 cumulative sums may wrap around, but while every box sum they are
    # differenced into is below crop^2 * hist_len * 3 * 255^2 < 2^31, wrap-around
    # cancels; larger crops and histories need int64.
    dtype = numpy.int32 if crop * crop * hist_len * 3 * 255 ** 2 < 2 ** 31 else numpy.int64
    mask = numpy.empty((starts, h - crop + 1, w - crop + 1), bool)
    for s0 in range(0, starts, _BLOCK):
        s1 = min(starts, s0 + _BLOCK)
        chunk = frames[s0:s1 + hist_len].astype(numpy.int32)
        d = chunk[1:] - chunk[:-1]
        d *= d
        pair = d[..., 0] + d[..., 1] + d[..., 2]  # faster than a sum over the last axis
        cum = numpy.zeros((len(pair) + 1, h, w), numpy.int32)
        numpy.cumsum(pair, axis=0, out=cum[1:])
        window = cum[pairs:pairs + s1 - s0] - cum[:s1 - s0]     # (n, h, w)
        rows = numpy.zeros((s1 - s0, h + 1, w), dtype)
        numpy.cumsum(window, axis=1, out=rows[:, 1:])
        rows = rows[:, crop:] - rows[:, :-crop]                   # (n, h - crop + 1, w)
        cols = numpy.zeros((s1 - s0, h - crop + 1, w + 1), dtype)
        numpy.cumsum(rows, axis=2, out=cols[:, :, 1:])
        mask[s0:s1] = (cols[:, :, crop:] - cols[:, :, :-crop]) > limit
    return mask


def blocks(frames, hist_len, block=_BLOCK):
    """(first start, uint8 (n + hist_len, H, W, 3)) for consecutive blocks of up to
    ``block`` clip starts of the frame stream ``frames``."""
    buffer, first = [], 0
    for frame in frames:
        buffer.append(frame)
        if len(buffer) == block + hist_len:
            yield first, numpy.stack(buffer)
            buffer, first = buffer[block:], first + block
    if len(buffer) > hist_len:
        yield first, numpy.stack(buffer)


class MotionIndex:
    """The first pass over a frame stream: how many crops of each start move
    (``counts``), and which, kept as one bit per crop in a temporary file, so
    memory stays flat however long the video is. ``shape``: the frames' (H, W, 3);
    ``counts`` is None when they are smaller than a crop."""

    def __init__(self, frames, threshold, hist_len, motion_frames, crop=constants.CROP_SIZE):
        self.file = tempfile.TemporaryFile()
        self.counts, self.shape, self.crop = [], None, crop
        for _, chunk in blocks(frames, hist_len):
            self.shape = chunk.shape[1:]
            if min(self.shape[:2]) < crop:
                self.counts = None
                return
            rows = moving_crops(chunk, threshold, hist_len, crop,
                                motion_frames).reshape(len(chunk) - hist_len, -1)
            self.counts.append(numpy.count_nonzero(rows, axis=1))
            self.file.write(numpy.packbits(rows, axis=1).tobytes())
        self.counts = numpy.concatenate(self.counts) if self.counts \
            else numpy.zeros(0, numpy.int64)

    @property
    def crops_shape(self):
        """(rows, columns) of crop positions."""
        return self.shape[0] - self.crop + 1, self.shape[1] - self.crop + 1

    def moving(self, start):
        """Flat (row-major) indices of the moving crops of ``start``."""
        size = self.crops_shape[0] * self.crops_shape[1]
        row_bytes = -(-size // 8)
        self.file.seek(start * row_bytes)
        bits = numpy.frombuffer(self.file.read(row_bytes), numpy.uint8)
        return numpy.flatnonzero(numpy.unpackbits(bits, count=size))

    def close(self):
        self.file.close()


def plan(index, num_filtered, num_unfiltered, rng):
    """(start, y, x, filtered) of one video's clips, sorted by start:
    ``num_unfiltered`` at uniform positions, and ``num_filtered`` that move, each at
    a start drawn uniformly among those with a moving crop and at a crop drawn
    uniformly among that start's moving ones."""
    ny, nx = index.crops_shape
    s = rng.integers(len(index.counts), size=num_unfiltered)
    y = rng.integers(ny, size=num_unfiltered)
    x = rng.integers(nx, size=num_unfiltered)
    moving = numpy.flatnonzero(index.counts)
    if num_filtered and not len(moving):
        raise ValueError('no crop of this video moves')
    fs = moving[rng.integers(len(moving), size=num_filtered)] if num_filtered \
        else numpy.zeros(0, numpy.int64)
    rank = rng.integers(index.counts[fs])
    fy, fx = numpy.empty_like(fs), numpy.empty_like(fs)
    for start in numpy.unique(fs):
        here = fs == start
        fy[here], fx[here] = numpy.divmod(index.moving(start)[rank[here]], nx)
    s, y, x = (numpy.concatenate(p) for p in ((s, fs), (y, fy), (x, fx)))
    filtered = numpy.arange(len(s)) >= num_unfiltered
    order = numpy.argsort(s, kind='stable')
    return s[order], y[order], x[order], filtered[order]


def cut_planned(frames, positions, hist_len, crop=constants.CROP_SIZE):
    """The second pass: (clips, start, y, x, filtered) of the planned ``positions``,
    block by block of starts, in start order."""
    s, y, x, filtered = positions
    for first, chunk in blocks(frames, hist_len):
        lo, hi = numpy.searchsorted(s, [first, first + len(chunk) - hist_len])
        if lo < hi:
            part = slice(lo, hi)
            yield (cut(chunk, s[part] - first, y[part], x[part], hist_len + 1, crop), s[part],
                   y[part], x[part], filtered[part])


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
