"""Save and load generators and trainer snapshots, with their configuration.

Files are standard ``.npz``: Chainer's serializer layout plus a ``_config``
array holding the model configuration as JSON text. They are written atomically
and read with ``allow_pickle=False`` (see utils/safe_io.py).
"""
import json

import chainer
import numpy

from models.config import ModelConfig
from utils import safe_io
from utils.errors import UserError

CONFIG_KEY = '_config'


class NonFiniteError(UserError):
    """Training produced NaN or Inf."""


def save(path, target, config):
    """Write ``target`` (a link, a trainer, or their serialized arrays) and ``config``
    (a ``ModelConfig``, or a dict: a snapshot's adds the run's settings).

    Refuses, before writing anything, state that holds NaN or Inf, so a diverged
    run never replaces a good file.
    """
    if not isinstance(target, dict):
        target = chainer.serializers.npz.serialize(target)
    arrays = {k: chainer.backend.CpuDevice().send(v) for k, v in target.items()}
    # Files hold float32 whatever the training precision, so any run can read them.
    arrays = {k: v.astype(numpy.float32) if v.dtype == numpy.float16 else v
              for k, v in arrays.items()}
    for key, array in arrays.items():
        if array.dtype.kind == 'f' and not numpy.isfinite(array).all():
            raise NonFiniteError('{} holds NaN or Inf'.format(key))
    if isinstance(config, ModelConfig):
        config = config.to_dict()
    arrays[CONFIG_KEY] = numpy.array(json.dumps(config))
    # Stored, not deflated: trained weights shrink by 7% at most, and deflating a
    # paper-preset snapshot (220 MB) took 7 s of every save point, as long as 70
    # iterations on a GPU, and a mixed16 generator's widened float16 weights
    # deflate 5x slower still; stored, 0.2 s.
    safe_io.save_npz(path, arrays, compresslevel=None)


def read(path, what, arrays=None):
    """(arrays, config) of a file written by ``save`` (whose ``arrays`` may have been
    read already)."""
    if arrays is None:
        arrays = safe_io.load_npz(path, what)
    if CONFIG_KEY not in arrays or arrays[CONFIG_KEY].dtype.kind != 'U':
        raise UserError('{}: not a {} of this project (it has no configuration)'.format(path, what))
    try:
        config = json.loads(str(arrays[CONFIG_KEY]))
    except ValueError:
        config = None
    if not isinstance(config, dict):
        raise UserError('{}: its configuration is not a JSON object; write it again'.format(path))
    return arrays, config


def check_config(path, what, saved, expected, fields):
    for field in fields:
        if saved.get(field) != expected.get(field):
            raise UserError('{}: this {} was made with {} = {} (preset {}), not {} (preset {}); '
                            'pick the matching --preset or another file'.format(
                                path, what, field, saved.get(field), saved.get('preset'),
                                expected.get(field), expected.get('preset')))


def load_into(path, link, arrays, what):
    try:
        chainer.serializers.NpzDeserializer(arrays).load(link)
    except (KeyError, ValueError, TypeError) as e:
        raise UserError('{}: does not fit this model ({}); it was saved with another '
                        'configuration'.format(path, e))


def model_config_of(path, saved):
    """The ``ModelConfig`` a file recorded."""
    try:
        return ModelConfig.from_dict(saved)
    except (KeyError, TypeError, ValueError) as e:
        raise UserError('{}: its configuration is incomplete or inconsistent ({})'.format(path, e))
