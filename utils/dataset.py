"""Serve clips from shards as model inputs."""
import os
import zlib

import chainer
import numpy

from utils import clips as cliplib
from utils import shards
from utils.errors import UserError, warn


class ClipDataset(chainer.dataset.DatasetMixin):
    """Clips of a clip directory as (history, target) float32 pairs in [-1, 1].

    history: (HIST_LEN * 3, CROP_SIZE, CROP_SIZE), oldest frame first; target:
    (3, CROP_SIZE, CROP_SIZE). Shards are held in memory as uint8 (15 KiB a clip)
    and converted one example at a time. ``part=(rank, size)`` keeps every
    size-th shard from the rank-th, so data-parallel processes read disjoint shards.
    """

    def __init__(self, directory, part=(0, 1)):
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
        self.paths = paths[rank::size]
        self.clips = numpy.concatenate([shards.read_shard(p)['clips'] for p in self.paths])

    def __len__(self):
        return len(self.clips)

    def get_example(self, i):
        history, target = cliplib.to_model_input(self.clips[i:i + 1])
        return history[0], target[0]


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
