"""This project against the PyTorch twin, side by side: training steps and full-frame inference.

    python benchmarks/compare_torch.py --torch-python /path/to/venv/bin/python
        [--presets small paper] [--rounds 3] [--blas native|inherited] [--d-conditioned]
        [--gpu 0] [--torch-ref PATH]

Each round runs every benchmark of this project and then the same one of
``../shared/bench/torch_ref.py`` (in the Python given, which has PyTorch), so
both see the same machine load; the figures are the medians over rounds.
``--blas native`` unsets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for every
command, so OpenBLAS picks its own kernels as on a user's machine; ``inherited``
keeps the environment as it is. Prints one JSON line per benchmark and a
summary line with the ratios (this project's time / PyTorch's). ``--gpu N``
times both on GPU N (PyTorch with ``--device cuda:N``).

The twin's discriminator, as the TensorFlow code's, sees the frame alone, so
this project's training is timed with ``--d-frame-only`` to time the same model;
``--d-conditioned`` times the paper's discriminator (the default of train.py),
whose first layers also read the history.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

import common

import constants
from utils.errors import UserError, cli

TORCH_REF = os.path.join(os.path.dirname(common.ROOT), 'shared', 'bench', 'torch_ref.py')
BLAS_OVERRIDES = ('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE')


def commands(preset, what, iters, d_conditioned=False, gpu=-1, torch_ref=TORCH_REF):
    """(this project's command, PyTorch's command, JSON key, key is a rate)."""
    both = ['--iters', str(iters)]
    ours = both + ['--preset', preset, '-g', str(gpu)]
    theirs = [torch_ref, '--width-div', str(constants.PRESETS[preset]),
              '--device', 'cuda:{}'.format(gpu) if gpu >= 0 else 'cpu'] + both
    if what == 'train':
        ours = ['benchmarks/train_step.py'] + ours + ([] if d_conditioned else ['--d-frame-only'])
        return ours, theirs, 'sec_per_iter', False
    batch = str(constants.TEST_BATCH)
    return (['benchmarks/predict_frames.py'] + ours + ['-b', batch],
            theirs + ['--predict', '--batch', batch], 'frames_per_sec', True)


def run(python, argv, env):
    """The JSON line a benchmark command prints; a failure is one line."""
    try:
        done = subprocess.run([python] + argv, cwd=common.ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True)
    except OSError as e:
        raise UserError('{}: {}'.format(python, e.strerror))
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ['exit code {}'.format(done.returncode)])[-1]
        raise UserError('{} {} failed: {}'.format(python, ' '.join(argv), last))
    return json.loads(done.stdout.strip().splitlines()[-1])


@cli
def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--torch-python', required=True, help='a Python that has PyTorch')
    p.add_argument('--presets', nargs='+', default=['small', 'paper'],
                   choices=sorted(constants.PRESETS))
    p.add_argument('--what', nargs='+', default=['train', 'predict'], choices=['train', 'predict'])
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--iters', type=int, default=3, help='timed iterations per run')
    p.add_argument('--blas', choices=['native', 'inherited'], default='native')
    p.add_argument('-g', '--gpu', type=int, default=-1, help='GPU id; -1 is the CPU')
    p.add_argument('--torch-ref', default=TORCH_REF,
                   help='the PyTorch twin (default: %(default)s)')
    p.add_argument('--d-conditioned', action='store_true',
                   help="train with the paper's D, which also reads the history (the twin's "
                        'D sees the frame alone)')
    args = p.parse_args(argv)
    run(args.torch_python, ['-c', 'import torch; print("{}")'], os.environ)  # before any timing
    env = dict(os.environ)
    if args.blas == 'native':
        for name in BLAS_OVERRIDES:
            env.pop(name, None)
    figures = {}
    for _ in range(args.rounds):
        for preset in args.presets:
            for what in args.what:
                ours, theirs, key, rate = commands(preset, what, args.iters, args.d_conditioned,
                                                       args.gpu, args.torch_ref)
                for impl, python, command in (('chainer', sys.executable, ours),
                                              ('pytorch', args.torch_python, theirs)):
                    figures.setdefault((preset, what, key, rate), {}).setdefault(impl, []).append(
                        run(python, command, env)[key])
    summary = {'benchmark': 'compare_torch', 'blas': args.blas, 'rounds': args.rounds,
               'gpu': args.gpu,
               'd_conditioned': args.d_conditioned,
               'blas_overrides': {n: env.get(n) for n in BLAS_OVERRIDES}, 'ratios': {}}
    for (preset, what, key, rate), runs in figures.items():
        median = {impl: statistics.median(values) for impl, values in runs.items()}
        # The ratio is always "how many times PyTorch's time this project takes".
        ratio = (median['pytorch'] / median['chainer'] if rate
                 else median['chainer'] / median['pytorch'])
        summary['ratios']['{} {}'.format(what, preset)] = round(ratio, 3)
        common.emit(dict(preset=preset, what=what, figure=key, runs=runs, median=median,
                         ratio=round(ratio, 3)))
    common.emit(summary)


if __name__ == '__main__':
    main()
