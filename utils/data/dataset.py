"""Serve clips from shards as model inputs."""
import os
import zlib

import chainer
import numpy

import constants
from utils.data import clips as cliplib
from utils.data import shards
from utils.errors import UserError, warn


class ClipDataset(chainer.dataset.DatasetMixin):
    """Clips of a clip directory as (history, future) float32 pairs in [-1, 1].

    history: (hist_len * 3, crop, crop), oldest frame first; future:
    (future * 3, crop, crop), the frames to predict in order. Clips cut
    for a longer history serve with their last hist_len + future frames. Shards are
    held in memory as uint8 (3 KiB a frame) and converted one example at a time.
    ``part=(rank, size)`` keeps every size-th shard from the rank-th, so
    data-parallel processes read disjoint shards.
    """

    def __init__(self, directory, hist_len, part=(0, 1), future=1, crop=constants.CROP_SIZE):
        if not os.path.isdir(directory):
            raise UserError('{}: no such clip directory; make clips with process_data.py or '
                            'pass -d'.format(directory))
        manifest = shards.read_manifest(directory)
        paths = shards.shard_paths(directory)
        if not paths:
            raise UserError('{}: holds no clip shards; make them with process_data.py'.format(
                directory))
        if manifest and manifest['runs'] and not manifest['runs'][-1]['complete']:
            warn('{}: its last process_data.py run was interrupted; training on the shards it '
                 'finished (process_data.py --resume completes it)'.format(directory))
        rank, size = part
        if len(paths) < size:
            raise UserError('{}: {} shards cannot be split over {} processes; make more clips '
                            'or use fewer processes'.format(directory, len(paths), size))
        self.hist_len = hist_len
        self.paths = paths[rank::size]
        # Kept shard by shard: one concatenated array would need twice the clips'
        # memory while it is built (10 GB for 200,000 clips of 8 frames).
        self._shards = [_frames(shards.read_shard(p, hist_len, future, crop)['clips'],
                                hist_len + future) for p in self.paths]
        self._ends = numpy.cumsum([len(s) for s in self._shards])

    def __len__(self):
        return int(self._ends[-1])

    def get_example(self, i):
        k = int(numpy.searchsorted(self._ends, i, side='right'))
        j = i - (int(self._ends[k - 1]) if k else 0)
        history, target = cliplib.to_model_input(self._shards[k][j:j + 1], self.hist_len)
        return history[0], target[0]


def _frames(clips, count):
    """The last ``count`` frames of ``clips``, copied when there are more, so the
    unused frames are not held."""
    return clips if clips.shape[1] == count else numpy.ascontiguousarray(clips[:, -count:])


class SeededShuffle:
    """An order sampler whose next epoch's order depends only on the seed and the
    current order.

    Iterators save their current order in snapshots but not the random state of
    a sampler, so with this sampler a resumed run shuffles exactly as an
    uninterrupted one.
    """

    def __init__(self, seed):
        self.seed = seed

    def __call__(self, current_order, current_position):
        key = zlib.crc32(numpy.ascontiguousarray(current_order, numpy.int64).tobytes())
        return numpy.random.default_rng([self.seed, key]).permutation(len(current_order))
