"""Interrupted runs lose nothing; broken or hostile files never crash or run code."""
import glob
import json
import os
import pickle
import random
import resource
import signal
import subprocess
import sys
import time

import numpy
import pytest

import test as test_script
import train
from conftest import ROOT, run_cli
from models import checkpoint
from utils import run_folder, safe_io
from utils.data import shards
from utils.data.dataset import ClipDataset
from utils.errors import UserError

TINY = ['--preset', 'tiny', '--no-progress', '--sample-interval', '0', '--eval-interval', '0',
        '--loaderjobs', '0', '-b', '2', '--log-interval', '1']


def _train_cmd(data, out, *extra):
    return [sys.executable, os.path.join(ROOT, 'train.py'), '-d', data, '-o', str(out)] + TINY + \
        list(extra)


def _iteration(out):
    snaps = glob.glob(os.path.join(str(out), 'snapshot_iter_*.npz'))
    return max([int(os.path.basename(p)[14:-4]) for p in snaps], default=0)


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_state_and_resumes(clip_dirs, tmp_path, signum):
    # A loader process, and the signal sent to the whole process group, as a
    # terminal's Ctrl-C does.
    proc = subprocess.Popen(_train_cmd(clip_dirs[0], tmp_path, '-i', '100000',
                                       '--snapshot-interval', '100000', '--loaderjobs', '1'),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.time() + 60
    while not os.path.exists(tmp_path / 'log') and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == (130 if signum == signal.SIGINT else 143)
    assert 'resume with: python train.py -r -o' in err and 'Traceback' not in err
    stopped_at = _iteration(tmp_path)
    assert stopped_at >= 1 and os.path.exists(tmp_path / 'TRAINED_ADVERSARIAL.model')
    done = subprocess.run(_train_cmd(clip_dirs[0], tmp_path, '-i', str(stopped_at + 2), '-r'),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert 'at iteration {}'.format(stopped_at) in done.stdout


def test_sigkill_at_random_moments_never_loses_more_than_an_interval(clip_dirs, tmp_path):
    """Kill training 10 times at random moments; each restart resumes from the newest
    intact snapshot, and the iteration never goes back by more than the interval."""
    interval, rng = 2, random.Random(0)
    cmd = _train_cmd(clip_dirs[0], tmp_path, '-i', '100000', '--snapshot-interval', str(interval))
    reached = 0
    for attempt in range(10):
        argv = cmd + (['-r'] if attempt else [])
        before = _iteration(tmp_path)
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Start-up takes from 2 s to much longer on a busy machine: once this run has
        # written a snapshot, it is training; kill it during training or writes.
        deadline = time.time() + 120
        while _iteration(tmp_path) <= before and proc.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(rng.uniform(0, 2.5))
        proc.kill()
        _, err = proc.communicate()
        assert 'Traceback' not in err, err
        now = _iteration(tmp_path)
        assert now >= reached - interval
        reached = max(reached, now)
    # what is left resumes, and every model file on disk loads
    done = subprocess.run(_train_cmd(clip_dirs[0], tmp_path, '-i', str(reached + 1), '-r'),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    run_folder.load_generator(str(tmp_path / 'TRAINED_ADVERSARIAL.model'))


def test_corrupt_newest_snapshot_is_skipped(clip_dirs, tmp_path, capsys):
    argv = ['-d', clip_dirs[0], '-o', str(tmp_path)] + TINY + ['--snapshot-interval', '1']
    assert run_cli(train.main, argv + ['-i', '2'], capsys)[0] == 0
    newest = tmp_path / 'snapshot_iter_2.npz'
    newest.write_bytes(newest.read_bytes()[:1000])  # truncated
    code, out, err = run_cli(train.main, argv + ['-i', '3', '-r'], capsys)
    assert code == 0, err
    assert 'skipping a broken snapshot' in err and 'snapshot_iter_2.npz' in err
    assert 'at iteration 1' in out


def _limit_file_size(limit):
    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_full_disk_gives_a_clear_error_and_keeps_earlier_state(clip_dirs, tmp_path):
    cmd = _train_cmd(clip_dirs[0], tmp_path, '--snapshot-interval', '2')
    assert subprocess.run(cmd + ['-i', '2'], capture_output=True, timeout=120).returncode == 0
    size = os.path.getsize(tmp_path / 'snapshot_iter_2.npz')
    full = subprocess.run(cmd + ['-i', '4', '-r'], capture_output=True, text=True, timeout=120,
                          preexec_fn=_limit_file_size(size // 2))
    assert full.returncode == 2, full.stderr
    assert 'error: writing to' in full.stderr and 'Traceback' not in full.stderr
    assert 'earlier snapshots are intact' in full.stderr
    assert not os.path.exists(tmp_path / 'snapshot_iter_4.npz')
    run_folder.load_generator(str(tmp_path / 'TRAINED_ADVERSARIAL.model'))
    again = subprocess.run(cmd + ['-i', '4', '-r'], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and 'at iteration 2' in again.stdout, again.stderr


def test_divergence_stops_with_advice_and_keeps_the_last_good_snapshot(clip_dirs, tmp_path,
                                                                      capsys):
    argv = ['-d', clip_dirs[0], '-o', str(tmp_path)] + TINY + ['--snapshot-interval', '1']
    assert run_cli(train.main, argv + ['-i', '2'], capsys)[0] == 0
    code, _, err = run_cli(train.main, argv + ['-i', '100', '-r', '--lr-d', '1e30', '--lr-g',
                                               '1e10'], capsys)
    assert code == 2 and 'NaN or Inf' in err and 'lower the learning rates' in err, err
    assert len(err.strip().splitlines()) == 1 and 'Traceback' not in err
    snapshots = sorted(glob.glob(str(tmp_path / 'snapshot_iter_*.npz')))
    assert snapshots
    for path in snapshots:  # every snapshot written is finite
        arrays, _ = checkpoint.read(path, 'snapshot')
        assert all(numpy.isfinite(a).all() for a in arrays.values() if a.dtype.kind == 'f')
    last = _iteration(tmp_path)
    code, out, err = run_cli(train.main, argv + ['-i', str(last + 1), '-r', '--lr-d', '0',
                                                 '--lr-g', '0'], capsys)
    assert code == 0 and 'at iteration {}'.format(last) in out, err


class _Creates:
    """Unpickling this object would create a file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


def test_pickles_are_never_loaded(tmp_path, clip_dirs, capsys):
    marker = tmp_path / 'pwned'
    evil = numpy.empty(1, dtype=object)
    evil[0] = _Creates(str(marker))
    for name in ('run00_v0000_p000.npz', 'evil.model', 'snapshot_iter_9.npz'):
        directory = tmp_path / name.split('.')[0]
        directory.mkdir()
        path = directory / name
        numpy.savez(path, clips=evil, _config=evil)
        os.replace(str(path) + '.npz', path) if os.path.exists(str(path) + '.npz') else None
        with pytest.raises(UserError, match='pickled Python objects, which are never loaded'):
            safe_io.load_npz(str(path))
    code, _, err = run_cli(train.main, ['-d', str(tmp_path / 'run00_v0000_p000')] + TINY,
                           capsys)
    assert code == 2 and 'pickled' in err
    code, _, err = run_cli(test_script.main, ['-m', str(tmp_path / 'evil' / 'evil.model')],
                           capsys)
    assert code == 2 and 'pickled' in err
    assert not marker.exists()


def _wrong_arrays(path):
    numpy.savez(path, something=numpy.zeros(3))


def _wrong_dtype(path):
    numpy.savez(path, **{k: numpy.zeros((2, 5, 32, 32, 3) if k == 'clips' else 2, 'float32')
                         for k in shards.SHARD_SPEC})


@pytest.mark.parametrize('kind', ['random', 'empty', 'truncated', 'wrong-arrays', 'wrong-dtype',
                                  'text', 'npy', 'pickle'])
def test_corrupt_files_one_line_exit_2(tmp_path, clip_dirs, capsys, kind):
    good_shard = shards.shard_paths(clip_dirs[0])[0]
    writers = {'random': lambda p: open(p, 'wb').write(os.urandom(2000)),
               'empty': lambda p: open(p, 'wb').close(),
               'truncated': lambda p: open(p, 'wb').write(open(good_shard, 'rb').read()[:5000]),
               'wrong-arrays': _wrong_arrays, 'wrong-dtype': _wrong_dtype,
               'text': lambda p: open(p, 'w').write('# a README passed by mistake\n'),
               'npy': lambda p: numpy.save(open(p, 'wb'), numpy.zeros(3)),
               'pickle': lambda p: open(p, 'wb').write(pickle.dumps({'clips': [1, 2]}))}
    # What the one line says the file is (random bytes may start like anything).
    said = {'empty': 'no .npz archive', 'text': 'no .npz archive', 'npy': 'no .npz archive',
            'pickle': 'pickled Python objects'}.get(kind, '')
    clips = tmp_path / 'clips'
    clips.mkdir()
    shard = clips / 'run00_v0000_p000.npz'
    model = tmp_path / 'bad.model'
    for path in (shard, model):
        writers[kind](str(path))
        if os.path.exists(str(path) + '.npz'):
            os.replace(str(path) + '.npz', path)
    for main, argv, name in ((train.main, ['-d', str(clips)] + TINY, 'run00_v0000_p000.npz'),
                             (test_script.main, ['-m', str(model)], 'bad.model'),
                             (train.main, ['-d', clip_dirs[0], '-o', str(tmp_path / 'o'), '-l',
                                           str(model)] + TINY, 'bad.model')):
        code, _, err = run_cli(main, argv, capsys)
        lines = [l for l in err.splitlines() if l.startswith('error:')]
        assert code == 2 and len(lines) == 1 and name in lines[0] and said in lines[0], err
        assert 'Traceback' not in err


def test_an_output_folder_that_is_a_file_is_refused_before_any_work(tmp_path, clip_dirs,
                                                                    frames_dir, capsys,
                                                                    monkeypatch):
    import process_data
    from utils.data import pacman
    monkeypatch.syspath_prepend(os.path.join(ROOT, 'benchmarks'))
    import quality
    blocker = tmp_path / 'taken'
    blocker.write_text('a file where a folder should go\n')
    test_dir = str(frames_dir / 'test')
    for out in (blocker, blocker / 'below'):
        for main, argv in (
                (train.main, ['-d', clip_dirs[0], '-o', str(out)] + TINY),
                (test_script.main, ['-m', str(tmp_path / 'no.model'), '-t', test_dir,
                                    '-o', str(out)]),
                (process_data.main, ['--train-dir', test_dir, '-n', '5',
                                     '--train-clips', str(out)]),
                (quality.main, ['--pretrained', '-t', test_dir, '-o', str(out)]),
                (pacman.main, ['--out', str(out), '--train-videos', '1', '--test-videos', '0'])):
            code, _, err = run_cli(main, argv, capsys)
            assert code == 2 and err.count('\n') == 1, err
            assert err.startswith('error: {}:'.format(out)) and 'is a file, not a folder' in err
    assert os.listdir(tmp_path) == ['taken'] and blocker.read_text().startswith('a file')


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = str(tmp_path / 'a.npz')
    safe_io.save_npz(path, {'x': numpy.arange(3)})
    with pytest.raises(ValueError):
        safe_io.save_npz(path, {'x': numpy.empty(1, dtype=object)})  # refuses to pickle
    assert safe_io.load_npz(path)['x'].tolist() == [0, 1, 2]
    assert os.listdir(tmp_path) == ['a.npz']  # no temporary left behind


def test_process_data_killed_midway_then_resumed(frames_dir, tmp_path):
    out = tmp_path / 'clips'
    cmd = [sys.executable, os.path.join(ROOT, 'process_data.py'), '-n', '200000',
           '--train-dir', str(frames_dir / 'train'), '--train-clips',
           str(out), '--workers', '1']
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not shards.shard_paths(str(out)) and time.time() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.communicate()
    manifest = json.load(open(out / shards.MANIFEST))
    assert not manifest['runs'][-1]['complete']
    for path in shards.shard_paths(str(out)):   # only whole shards under shard names
        shards.read_shard(path, 4)
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 2 and '--resume' in again.stderr
    again = subprocess.run(cmd + ['--resume'], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert len(ClipDataset(str(out), 4)) == 200000
