"""Clip shards on disk: many clips per compressed ``.npz``, plus a manifest.

A clip directory holds ``clips.json`` (the manifest: clip geometry and one entry
per run of ``process_data.py``) and shards named ``run<r>_v<video>_<round><part>.npz``
(round ``p``: the planned clips of that video; ``t``: clips topping up what a
video without motion could not give).
Each shard has these arrays (loaded with ``allow_pickle=False``):

- ``clips``: uint8 (N, hist_len + 1, crop_size, crop_size, 3), frames in time
  order, RGB, 0..255; the last frame is the one to predict (``hist_len`` and
  ``crop_size`` are recorded in the manifest; clips of a longer history serve a
  shorter one).
- ``video``: int32 (N,), the source video's index in the run's ``videos`` list.
- ``start``, ``y``, ``x``: int32 (N,), the first frame and the crop's top-left.
- ``filtered``: bool (N,), False for clips kept without the motion test.
"""
import glob
import os
import re

import numpy

import constants
from utils import safe_io
from utils.errors import UserError

MANIFEST = 'clips.json'
FORMAT = 1
SHARD_RE = re.compile(r'^run(\d+)_v(\d+)_[pt](\d+)\.npz$')
SHARD_SPEC = {'clips': ('uint8', 5), 'video': ('int32', 1), 'start': ('int32', 1),
              'y': ('int32', 1), 'x': ('int32', 1), 'filtered': ('bool', 1)}
# Shards compress at zlib level 1: Atari frames shrink ~25x even so, and level 6
# would take three times as long for a few percent less disk.
COMPRESSLEVEL = 1


def shard_name(run, video, round_, part):
    return 'run{:02d}_v{:04d}_{}{:03d}.npz'.format(run, video, round_, part)


def shard_paths(directory):
    """The shards of ``directory`` in name order (temporary files excluded)."""
    return sorted(p for p in glob.glob(os.path.join(directory, '*.npz'))
                  if SHARD_RE.match(os.path.basename(p)))


def write_shard(path, clips, video, start, y, x, filtered):
    safe_io.save_npz(path, dict(
        clips=clips, video=numpy.full(len(clips), video, numpy.int32),
        start=start.astype(numpy.int32), y=y.astype(numpy.int32), x=x.astype(numpy.int32),
        filtered=filtered.astype(bool)), compresslevel=COMPRESSLEVEL)


def read_shard(path, hist_len, future=1, crop=constants.CROP_SIZE):
    """The arrays of one shard, checked against the clip geometry a run needs: at
    least ``hist_len`` + ``future`` frames of ``crop`` x ``crop`` RGB."""
    arrays = safe_io.load_npz(path, 'clip shard')
    safe_io.require_arrays(path, arrays, SHARD_SPEC, 'clip shard')
    frames, *size = arrays['clips'].shape[1:]
    if size != [crop, crop, 3]:
        raise UserError('{}: clips are {}x{}x{} but this run needs {}x{} RGB crops; make clips '
                        'again with process_data.py'.format(path, *size, crop, crop))
    if frames < hist_len + future:
        raise UserError('{}: clips have {} frames, too few for a history of {} and {} to '
                        'predict; make clips with process_data.py --hist-len {} or train with '
                        '{}'.format(path, frames, hist_len,
                                    'the frame' if future == 1 else '{} frames'.format(future),
                                    hist_len + future - 1,
                                    '--hist-len {}'.format(frames - 1) if future == 1
                                    else 'fewer --rollout steps'))
    return arrays


def read_manifest(directory):
    path = os.path.join(directory, MANIFEST)
    if not os.path.exists(path):
        return None
    manifest = safe_io.read_json(path)
    if not isinstance(manifest, dict) or manifest.get('format') != FORMAT \
            or not isinstance(manifest.get('runs'), list):
        raise UserError('{}: not a clip manifest of this project; move the directory away or '
                        'pass --overwrite'.format(path))
    return manifest


def crop_size(directory):
    """The side of the clips of ``directory`` as its manifest records it; the default
    where there is none (``read_shard`` then checks each shard)."""
    manifest = read_manifest(directory)
    size = manifest.get('crop_size', constants.CROP_SIZE) if manifest else constants.CROP_SIZE
    if not isinstance(size, int) or size < 1:
        raise UserError('{}: records a crop size of {}; make the clips again with '
                        'process_data.py'.format(os.path.join(directory, MANIFEST), size))
    return size


def write_manifest(directory, manifest):
    safe_io.write_json(os.path.join(directory, MANIFEST), manifest)
