"""Data-parallel training with ChainerMN over MPI, on the CPU with 2 ranks."""
import json
import os
import shutil
import subprocess
import sys

import numpy
import pytest

from conftest import ROOT

pytest.importorskip('mpi4py', reason='MPI extras not installed (make setup-mpi)')
MPIEXEC = shutil.which('mpiexec', path=os.path.dirname(sys.executable)) or shutil.which('mpiexec')
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason='no mpiexec')


def _mpi(*argv, timeout=300):
    return subprocess.run([MPIEXEC, '-n', '2', sys.executable] + list(argv), capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def test_ranks_agree_and_match_one_process_on_the_combined_batch(tmp_path):
    worker = os.path.join(ROOT, 'tests', 'mpi_worker.py')
    run = _mpi(worker, str(tmp_path), 'mpi')
    assert run.returncode == 0, run.stderr
    alone = subprocess.run([sys.executable, worker, str(tmp_path)], capture_output=True, text=True)
    assert alone.returncode == 0, alone.stderr
    r0, r1, single = (numpy.load(tmp_path / n) for n in (
        'gen_0_of_2.npz', 'gen_1_of_2.npz', 'gen_0_of_1.npz'))
    for key in r0.files:
        assert numpy.array_equal(r0[key], r1[key]), key
        assert numpy.allclose(r0[key], single[key], rtol=1e-3, atol=1e-5), key


def test_train_script_runs_and_resumes_across_ranks(clip_dirs, tmp_path):
    argv = [os.path.join(ROOT, 'train.py'), '--communicator', 'naive', '-d', clip_dirs[0], '-o',
            str(tmp_path), '--preset', 'tiny', '-b', '2', '--snapshot-interval', '2',
            '--loaderjobs', '0', '--no-progress', '--eval-interval', '0', '--sample-interval',
            '0', '--log-interval', '1']
    first = _mpi(*argv, '-i', '2')
    assert first.returncode == 0, first.stderr
    assert first.stdout.count('done: 2 iterations') == 1  # rank 0 alone reports
    second = _mpi(*argv, '-i', '4', '-r')
    assert second.returncode == 0, second.stderr
    assert 'at iteration 2' in second.stdout
    assert json.load(open(tmp_path / 'log'))[-1]['iteration'] == 4
