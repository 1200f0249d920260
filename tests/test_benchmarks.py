"""The benchmark scripts run and print the JSON their readers expect (no timing asserted)."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT


def _run(script, *args):
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'benchmarks', script)] + list(args),
                          capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize('dtype', ['float32', 'mixed16'])
def test_train_step_prints_one_json_line(dtype):
    code, out, err = _run('train_step.py', '--preset', 'tiny', '--iters', '1', '--warmup', '0',
                          '-b', '2', '--dtype', dtype)
    assert code == 0, err
    figures = json.loads(out)
    assert figures['preset'] == 'tiny' and figures['batch_size'] == 2
    assert figures['sec_per_iter'] > 0 and figures['device']
    assert figures['impl'] == ('chainer' if dtype == 'float32' else 'chainer-mixed16')


def test_predict_frames_prints_one_json_line():
    code, out, err = _run('predict_frames.py', '--preset', 'tiny', '--iters', '1', '-b', '1')
    assert code == 0, err
    figures = json.loads(out)
    assert figures['frame'] == '210x160' and figures['frames_per_sec'] > 0


def test_missing_gpu_is_one_line():
    code, out, err = _run('train_step.py', '--preset', 'tiny', '-g', '7')
    if code == 0:
        pytest.skip('this machine has a GPU 7')
    assert code == 2 and out == ''
    assert err.count('\n') == 1 and err.startswith('error: @cupy:7')
