"""A training run's folder (OUT): the names of its files, and finding them.

Every entry point asks this module where a run's snapshots and models are, so
the names live in one place.
"""
import glob
import os
import re

import constants

SNAPSHOT_RE = re.compile('^' + re.escape(constants.SNAPSHOT_PREFIX) + r'(\d+)\.npz$')


def model_name(adversarial):
    return constants.MODEL_ADVERSARIAL if adversarial else constants.MODEL_L2


def model_path(out, adversarial):
    """OUT/TRAINED_ADVERSARIAL.model, or OUT/TRAINED_L2.model."""
    return os.path.join(out, model_name(adversarial))


def snapshot_path(out, iteration):
    return os.path.join(out, '{}{}.npz'.format(constants.SNAPSHOT_PREFIX, iteration))


def snapshot_paths(out):
    """Snapshots in ``out``, newest (highest iteration) first."""
    found = [(int(m.group(1)), p) for p in glob.glob(os.path.join(out, '*.npz'))
             for m in [SNAPSHOT_RE.match(os.path.basename(p))] if m]
    return [p for _, p in sorted(found, reverse=True)]


def run_files(out):
    """The snapshots and models of a run in ``out``: what a fresh run would replace."""
    models = [model_path(out, adversarial) for adversarial in (True, False)]
    return snapshot_paths(out) + [p for p in models if os.path.exists(p)]
