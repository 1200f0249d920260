"""Shared fixtures: tiny real Ms. Pac-Man videos and clips, made once per session."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from utils import compat  # noqa: E402,F401  (before chainer)


def run_cli(main, argv, capsys):
    """Run a script's ``main``; (exit code, stdout, stderr)."""
    capsys.readouterr()
    try:
        main(list(argv))
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


def make_updater(adversarial=True, weights=None, dtype='float32', seed=0, copy_mask=False,
                 d_generated=False, rollout=1, d_patch=False):
    """The real updater on 4 fixed random clips (batch 4) of 4 input frames and
    ``rollout`` to predict, tiny preset, on the CPU: loss terms weighted by
    ``weights`` (default: constants.LOSS_WEIGHTS), G's Adam step 1e-3, models built
    in ``dtype``."""
    import chainer
    import numpy

    import models
    from utils.device import compute_dtype
    from utils.training import losses, optimizers
    from utils.training.updater import PredictionUpdater
    numpy.random.seed(seed)
    config = models.model_config('tiny', copy_mask=copy_mask, d_generated=d_generated,
                                 d_patch=d_patch)
    clips = numpy.random.default_rng(0).uniform(
        -1, 1, (4, 3 * (4 + rollout), 32, 32)).astype(numpy.float32)
    data = [(c[:12], c[12:]) for c in clips]
    with chainer.using_config('dtype', compute_dtype(dtype)):
        gen = models.Generator(config)
        dis = models.Discriminator(config) if adversarial else None
    opts = optimizers.build(gen, dis, lr_g=1e-3)
    it = chainer.iterators.SerialIterator(data, 4, shuffle=False)
    return PredictionUpdater(it, opts, chainer.get_device('@numpy'),
                             losses.generator_terms(weights, adversarial=adversarial,
                                                    copy_mask=copy_mask))


def weights(link):
    """{name: a copy of the parameter's array}."""
    return {n: p.array.copy() for n, p in link.namedparams()}


@pytest.fixture(scope='session')
def frames_dir(tmp_path_factory):
    """images/{train,test}/video<i>/frame<k>.png: 2 train videos of 40 frames, 2 test of 24."""
    from utils.data import pacman
    root = tmp_path_factory.mktemp('images')
    pacman.make_frames(str(root), 2, 0, 40, 2, seed=0, progress=False)
    pacman.make_frames(str(root), 0, 2, 24, 2, seed=0, progress=False)
    return root


@pytest.fixture(scope='session')
def clip_dirs(frames_dir, tmp_path_factory):
    """(clips of the train videos, clips of the test videos) made from ``frames_dir``."""
    import process_data
    out = tmp_path_factory.mktemp('clips')
    made = []
    for name, n in (('train', 600), ('test', 80)):
        made.append(str(out / name))
        process_data.main(['-n', str(n), '--train-dir', str(frames_dir / name),
                           '--train-clips', made[-1], '--workers', '1'])
    return tuple(made)


@pytest.fixture(scope='session')
def clips_hist5(frames_dir, tmp_path_factory):
    """Clips of the train videos for a history of 5 frames (the shipped generators')."""
    import process_data
    out = str(tmp_path_factory.mktemp('clips5'))
    process_data.main(['-n', '40', '--train-dir', str(frames_dir / 'train'), '--train-clips', out,
                       '--hist-len', '5', '--workers', '1'])
    return out
