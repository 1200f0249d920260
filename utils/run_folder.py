"""A training run's folder (OUT): the names of its files, finding them, reading
a generator out of any of them, and the lock that keeps one run per folder.

Every entry point asks this module where a run's files are and what they hold:

- ``snapshot_iter_<n>.npz``: the whole trainer (models, optimizers, iterator,
  logs), the last few kept;
- ``TRAINED_ADVERSARIAL.model`` / ``TRAINED_L2.model``: the generator of the last
  snapshot;
- ``BEST_ADVERSARIAL.model`` / ``BEST_L2.model``: the generator with the best
  full-frame evaluation PSNR so far, its iteration and scores in the ``.json``
  of the same name;
- ``.train.lock``: held by the ``train.py`` that uses the folder.
"""
import collections
import errno
import fcntl
import glob
import os
import re

import constants
from models import checkpoint
from models.config import GENERATOR_FIELDS, OPTIONS
from models.generator import Generator
from utils import safe_io
from utils.errors import UserError, warn

SNAPSHOT_RE = re.compile('^' + re.escape(constants.SNAPSHOT_PREFIX) + r'(\d+)\.npz$')
# A snapshot holds the generator's parameters under this prefix (Chainer's
# StandardUpdater serializes each optimizer's target as model:<name>).
SNAPSHOT_GEN_PREFIX = 'updater/model:gen/'
LOCK_NAME = '.train.lock'


def model_name(adversarial):
    return constants.MODEL_ADVERSARIAL if adversarial else constants.MODEL_L2


def model_path(out, adversarial):
    """OUT/TRAINED_ADVERSARIAL.model, or OUT/TRAINED_L2.model."""
    return os.path.join(out, model_name(adversarial))


def best_model_path(out, adversarial):
    """OUT/BEST_ADVERSARIAL.model, or OUT/BEST_L2.model."""
    return os.path.join(out, constants.BEST_ADVERSARIAL if adversarial else constants.BEST_L2)


def best_record_path(out, adversarial):
    """The JSON beside the best model: its iteration and scores."""
    return os.path.splitext(best_model_path(out, adversarial))[0] + '.json'


def snapshot_path(out, iteration):
    return os.path.join(out, '{}{}.npz'.format(constants.SNAPSHOT_PREFIX, iteration))


def snapshot_iteration(path):
    """The iteration in a snapshot's name."""
    return int(SNAPSHOT_RE.match(os.path.basename(path)).group(1))


def snapshot_paths(out):
    """Snapshots in ``out``, newest (highest iteration) first."""
    found = [(snapshot_iteration(p), p) for p in glob.glob(os.path.join(out, '*.npz'))
             if SNAPSHOT_RE.match(os.path.basename(p))]
    return [p for _, p in sorted(found, reverse=True)]


def run_files(out):
    """The snapshots, models and best-model records of a run in ``out``: what a
    fresh run would replace."""
    named = [f(out, adversarial) for f in (model_path, best_model_path, best_record_path)
             for adversarial in (True, False)]
    return snapshot_paths(out) + [p for p in named if os.path.exists(p)]


def claim(out, overwrite):
    """A fresh run never mixes with, or silently replaces, an earlier one in ``out``."""
    earlier = run_files(out)
    if earlier and not overwrite:
        raise UserError('{}: holds snapshots or models of an earlier run; resume it with -r, '
                        'choose another -o, or pass --overwrite to start afresh'.format(out))
    for path in earlier:
        os.remove(path)


def default_model(out):
    """The generator a run folder stands for (``test.py`` without ``-m`` scores
    ``result/``'s): the best adversarial generator, else the last one, else the same
    for an L2 run."""
    for adversarial in (True, False):
        for path in (best_model_path(out, adversarial), model_path(out, adversarial)):
            if os.path.exists(path):
                return path
    raise UserError('no model in {}: neither {} nor {}; train one there with train.py, or '
                    'name a model file'.format(out, os.path.basename(best_model_path(out, True)),
                                os.path.basename(model_path(out, True))))


def generator_file(path=None):
    """The file a generator is read from when the user names ``path``: the file
    itself; in a run folder, or with no path in the default one, its
    ``default_model``."""
    if path is None or os.path.isdir(path):
        return default_model(path or constants.RESULT_DIR)
    return path


class Source(collections.namedtuple('Source', 'path arrays saved')):
    """A file a run starts from (a snapshot with -r, a generator with -l): its path,
    the arrays to load, and its saved configuration."""

    def options(self):
        """The model options it was made with (``adversarial``: None if not recorded)."""
        config = checkpoint.model_config_of(self.path, self.saved)
        return dict({name: getattr(config, name) for name in OPTIONS},
                    adversarial=self.saved.get('adversarial'))


def resume_source(out, snapshot='latest'):
    """The snapshot to resume from: ``snapshot``, or the newest intact one in ``out``."""
    if snapshot != 'latest':
        return Source(snapshot, *checkpoint.read(snapshot, 'snapshot'))
    for path in snapshot_paths(out):
        try:
            return Source(path, *checkpoint.read(path, 'snapshot'))
        except UserError as e:
            warn('skipping a broken snapshot: {}'.format(e))
    raise UserError('{}: holds no intact snapshot to resume from; train without -r, or pass -o '
                    'with the directory of the run to resume'.format(out))


def _describe(arrays):
    if 'clips' in arrays:
        return 'a clip shard'
    names = sorted(arrays)
    return 'an .npz of arrays {}{}'.format(', '.join(names[:4]), ', ...' if len(names) > 4 else '')


def generator_source(path):
    """The generator in a model file or a trainer snapshot, as a ``Source`` whose
    arrays are the generator's alone and whose configuration is the model's."""
    what = 'model file or trainer snapshot'
    arrays = safe_io.load_npz(path, what)
    if checkpoint.CONFIG_KEY not in arrays:
        raise UserError('{}: is {}, not a {} of this project; pass a .model file or a {}<n>.npz '
                        'that train.py wrote'.format(path, _describe(arrays), what,
                                                     constants.SNAPSHOT_PREFIX))
    arrays, saved = checkpoint.read(path, what, arrays)
    if any(k.startswith(SNAPSHOT_GEN_PREFIX) for k in arrays):
        arrays = {k[len(SNAPSHOT_GEN_PREFIX):]: v for k, v in arrays.items()
                  if k.startswith(SNAPSHOT_GEN_PREFIX)}
    elif any(k.startswith('updater/') for k in arrays):
        raise UserError('{}: is a trainer snapshot without a generator; pass another '
                        'snapshot or a .model file'.format(path))
    config = checkpoint.model_config_of(path, saved)
    return Source(path, arrays, config.to_dict())


def load_generator(path, expected=None):
    """The generator saved in ``path`` (a model file or a snapshot), built from its own
    configuration, which must agree with the ``ModelConfig`` ``expected`` if given."""
    source = generator_source(path)
    config = checkpoint.model_config_of(path, source.saved)
    if expected is not None:
        checkpoint.check_config(path, 'model', source.saved, expected.to_dict(),
                                GENERATOR_FIELDS)
    gen = Generator(config)
    checkpoint.load_into(path, gen, source.arrays, 'model file')
    return gen


def best_record(out, adversarial):
    """{iteration, scores} of the best generator kept in ``out``, or None."""
    path = best_record_path(out, adversarial)
    if not os.path.exists(path):
        return None
    record = safe_io.read_json(path)
    if not isinstance(record, dict) or not isinstance(record.get('eval/psnr'), (int, float)) \
            or not isinstance(record.get('iteration'), int):
        raise UserError('{}: not a best-model record of this project; delete it and its '
                        '.model to keep a new best'.format(path))
    return record


def write_best(out, gen, adversarial, record):
    """Keep ``gen`` as the best generator, with ``record`` beside it."""
    checkpoint.save(best_model_path(out, adversarial), gen, gen.config)
    safe_io.write_json(best_record_path(out, adversarial), record)


class Lock:
    """An exclusive lock on a run folder for as long as a run uses it.

    ``flock`` locks go away with the process that holds them, however it ends
    (SIGKILL included), so a crashed run never blocks its own ``-r``.
    """

    def __init__(self, out):
        self.path = os.path.join(out, LOCK_NAME)
        self.file = None

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.file = open(self.path, 'a+')
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            self.file.seek(0)
            holder = self.file.read().strip() or 'unknown'
            self.file.close()
            raise UserError('{}: in use by another train.py (pid {}); wait for it to end, stop '
                            'it, or choose another -o'.format(os.path.dirname(self.path),
                                                              holder))
        self.file.seek(0)
        self.file.truncate()
        self.file.write('{}\n'.format(os.getpid()))
        self.file.flush()
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()
