"""The run folder: the best model kept, divergence noticed, generators read out of
snapshots, predictions saved for other tools, and one run per folder."""
import json
import os
import subprocess
import sys
import time

import chainer
import numpy
import pytest

import constants
import test as test_script
import train
from conftest import ROOT, run_cli
from utils import pixels, run_folder
from utils.data import clips as cliplib
from utils.data import frames as framelib
from utils.data import shards
from utils.errors import UserError
from utils.evaluation import metrics, predict

FAST = ['--preset', 'tiny', '--no-progress', '--sample-interval', '0', '--loaderjobs', '0',
        '-b', '4', '--log-interval', '2', '--snapshot-interval', '2']


def _evaluated(clips, frames_dir, out, *extra):
    return ['-d', clips, '-o', str(out), '--eval-interval', '2', '--eval-dir',
            str(frames_dir / 'test'), '--eval-windows', '2', '--divergence-window', '4',
            '--divergence-psnr-drop', '1'] + FAST + list(extra)


@pytest.fixture(scope='module')
def peaked_run(clip_dirs, frames_dir, tmp_path_factory):
    """A run whose evaluation rises for 6 iterations, then, resumed at a learning
    rate that wrecks the generator, falls: (folder, stderr of each part)."""
    out = tmp_path_factory.mktemp('peaked')
    errs = []
    for extra in (['-i', '6', '--lr-g', '1e-3'], ['-i', '12', '-r', '--lr-g', '0.5']):
        proc = subprocess.run([sys.executable, os.path.join(ROOT, 'train.py')]
                              + _evaluated(clip_dirs[0], frames_dir, out, *extra),
                              capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stderr
        errs.append(proc.stderr)
    return out, errs


def test_the_best_generator_is_kept_through_a_fall_and_a_resume(peaked_run, frames_dir):
    out, _ = peaked_run
    log = [r for r in json.load(open(out / 'log')) if 'eval/psnr' in r]
    scores = [r['eval/psnr'] for r in log]
    best = int(numpy.argmax(scores))
    peak = log[best]
    assert 0 < best and peak['iteration'] <= 6 and min(scores[best:]) < max(scores) - 1  # rose, fell
    record = json.load(open(out / 'BEST_ADVERSARIAL.json'))
    assert record['iteration'] == peak['iteration']
    assert record['eval/psnr'] == pytest.approx(peak['eval/psnr'])
    # The kept file is that generator: scored again, it gives the recorded PSNR.
    gen = run_folder.load_generator(str(out / 'BEST_ADVERSARIAL.model'))
    videos = predict.load_videos(str(frames_dir / 'test'), 5, gen.config, 'a window')
    windows = predict.make_windows(videos.counts, 1, 5, 4, 2)
    again = predict.evaluate(gen, videos, windows, 1, chainer.get_device('@numpy'))
    assert again.per_step()[0]['model']['psnr'] == pytest.approx(record['eval/psnr'])
    assert run_folder.default_model(str(out)) == str(out / 'BEST_ADVERSARIAL.model')


def test_divergence_warns_once_in_a_run_that_breaks_and_never_in_one_that_does_not(peaked_run):
    out, (healthy, broken) = peaked_run
    assert 'diverging' not in healthy
    warnings = [l for l in broken.splitlines() if 'training may be diverging' in l]
    assert len(warnings) == 1, broken
    assert 'evaluation PSNR' in warnings[0] and 'iteration 8' in warnings[0]
    assert 'BEST_ADVERSARIAL.model (iteration' in warnings[0]
    log = json.load(open(out / 'log'))
    assert not any('warning/eval_psnr_drop' in r for r in log if r['iteration'] <= 6)
    assert any('warning/eval_psnr_drop' in r for r in log if r['iteration'] > 6)


def test_stop_on_divergence_ends_with_a_snapshot(clip_dirs, frames_dir, tmp_path, capsys):
    argv = _evaluated(clip_dirs[0], frames_dir, tmp_path, '--divergence-factor', '1.01',
                      '--divergence-window', '2', '--divergence-psnr-drop', '0', '--lr-g', '0.5')
    code, _, err = run_cli(train.main, argv + ['-i', '40', '--stop-on-divergence'], capsys)
    assert code == 3, err
    assert 'stopped (--stop-on-divergence) at iteration' in err and "G's loss" in err
    stopped = int(err.split('stopped (--stop-on-divergence) at iteration ')[1].split(':')[0])
    assert stopped < 40 and os.path.exists(run_folder.snapshot_path(str(tmp_path), stopped))


def test_snapshots_are_tested_and_loaded_like_models(peaked_run, clip_dirs, frames_dir,
                                                     tmp_path, capsys):
    out, _ = peaked_run
    snapshot = run_folder.snapshot_path(str(out), 12)
    code, text, err = run_cli(test_script.main, ['-m', snapshot, '-t', str(frames_dir / 'test'),
                                                 '-s', '2', '-o', str(tmp_path / 't'),
                                                 '--gifs', '0', '--no-progress'], capsys)
    assert code == 0 and 'wrote metrics.json' in text, err
    # The run's folder stands for its best generator.
    code, _, err = run_cli(test_script.main, ['-m', str(out), '-t', str(frames_dir / 'test'),
                                              '-s', '1', '--max-windows', '1', '-o',
                                              str(tmp_path / 'f'), '--gifs', '0'], capsys)
    assert code == 0, err
    tested = json.load(open(tmp_path / 'f' / 'metrics.json'))['model']
    assert tested == str(out / 'BEST_ADVERSARIAL.model')
    from_snapshot = run_folder.load_generator(snapshot)
    from_model = run_folder.load_generator(str(out / 'TRAINED_ADVERSARIAL.model'))
    for (name, a), (_, b) in zip(sorted(from_snapshot.namedparams()),
                                 sorted(from_model.namedparams())):
        assert numpy.array_equal(a.array, b.array), name
    # -l takes a snapshot, or a run folder for its best generator.
    for load, start in ((snapshot, snapshot), (str(out), str(out / 'BEST_ADVERSARIAL.model'))):
        code, text, err = run_cli(train.main, ['-d', clip_dirs[0], '-o', str(tmp_path / 'ft'),
                                               '-i', '1', '-l', load, '--eval-interval', '0',
                                               '--overwrite'] + FAST, capsys)
        assert code == 0 and 'the generator starts from {}\n'.format(start) in text, err


@pytest.mark.parametrize('kind', ['shard', 'arrays'])
def test_a_file_that_is_neither_model_nor_snapshot(clip_dirs, tmp_path, capsys, kind):
    path = shards.shard_paths(clip_dirs[0])[0]
    if kind == 'arrays':
        path = str(tmp_path / 'weights.npz')
        numpy.savez(path, W=numpy.zeros(3))
    for main, argv in ((test_script.main, ['-m', path]),
                       (train.main, ['-d', clip_dirs[0], '-o', str(tmp_path / 'o'), '-l', path]
                        + FAST)):
        code, _, err = run_cli(main, argv, capsys)
        lines = [l for l in err.splitlines() if l.startswith('error:')]
        assert code == 2 and len(lines) == 1 and 'Traceback' not in err, err
        what = 'is a clip shard' if kind == 'shard' else 'is an .npz of arrays W'
        assert what in lines[0] and 'not a model file or trainer snapshot' in lines[0]


def test_predictions_for_other_tools(peaked_run, frames_dir, tmp_path, capsys):
    out, _ = peaked_run
    model = str(out / 'BEST_ADVERSARIAL.model')
    code, text, err = run_cli(test_script.main, [
        '-m', model, '-t', str(frames_dir / 'test'), '-s', '3', '--max-windows', '5',
        '-o', str(tmp_path), '--gifs', '0', '--no-progress', '--save-predictions'], capsys)
    assert code == 0 and 'predictions.npz' in text, err
    with numpy.load(tmp_path / 'predictions.npz', allow_pickle=False) as f:
        saved = {k: f[k] for k in f.files}
    assert saved['inputs'].shape == (5, 4, 210, 160, 3)
    assert saved['truth'].shape == saved['model'].shape == (5, 3, 210, 160, 3)
    assert {saved[k].dtype for k in ('inputs', 'truth', 'model')} == {numpy.dtype(numpy.uint8)}
    assert saved['video'].dtype.kind == 'U' and saved['start'].tolist() == [0, 7, 14, 0, 7]
    gen = run_folder.load_generator(model)
    for i, (video, start) in enumerate(zip(saved['video'], saved['start'])):
        frames = framelib.read_video(str(video))  # the frames on disk
        assert numpy.array_equal(saved['inputs'][i], frames[start:start + 4])
        assert numpy.array_equal(saved['truth'][i], frames[start + 4:start + 7])
    # the model's frames are those the scores came from: the rollout, rounded to uint8,
    # in test.py's batches (products over a whole batch round differently per batch size)
    x, _ = cliplib.to_model_input(saved['inputs'], 4)
    for lo in range(0, len(x), constants.TEST_BATCH):
        rolled = predict.rollout(predict.model_predictor(gen), x[lo:lo + constants.TEST_BATCH], 3)
        assert numpy.array_equal(saved['model'][lo:lo + constants.TEST_BATCH],
                                 numpy.stack([pixels.to_uint8(p) for p in rolled], axis=1))
    # ...and they score as test.py reported, window by window as saved beside them
    reported = json.loads((tmp_path / 'metrics.json').read_text())['per_step']
    last = saved['inputs'][:, -1].astype(numpy.float64)
    for k in range(3):
        truth = saved['truth'][:, k].astype(numpy.float64)
        mask = metrics.changed_pixels(truth, last)
        for who, frames in (('model', saved['model'][:, k]), ('last_frame', last)):
            scores = metrics.frame_scores(truth, frames.astype(numpy.float64), mask)
            for name, values in scores.items():
                assert saved['{}_{}'.format(who, name)].shape == (5, 3)
                numpy.testing.assert_allclose(saved['{}_{}'.format(who, name)][:, k], values,
                                              rtol=0, atol=1e-12)
                assert metrics.mean(values) == pytest.approx(reported[k][who][name], abs=1e-9)


def _lock_holder(clips, out):
    return subprocess.Popen([sys.executable, os.path.join(ROOT, 'train.py'), '-d', clips, '-o',
                             str(out), '-i', '100000', '--snapshot-interval', '1',
                             '--eval-interval', '0'] + FAST,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_one_run_per_folder_and_a_killed_run_resumes(clip_dirs, tmp_path, capsys):
    first = _lock_holder(clip_dirs[0], tmp_path)
    deadline = time.time() + 120
    while not run_folder.snapshot_paths(str(tmp_path)) and time.time() < deadline:
        time.sleep(0.2)
    assert first.poll() is None, first.stderr.read()
    argv = ['-d', clip_dirs[0], '-o', str(tmp_path), '--eval-interval', '0'] + FAST
    for extra in ([], ['-r'], ['--overwrite']):
        code, _, err = run_cli(train.main, argv + ['-i', '3'] + extra, capsys)
        lines = [l for l in err.splitlines() if l.startswith('error:')]
        assert code == 2 and len(lines) == 1, err
        assert 'in use by another train.py (pid {})'.format(first.pid) in lines[0]
    first.kill()
    first.communicate()
    reached = run_folder.snapshot_iteration(run_folder.snapshot_paths(str(tmp_path))[0])
    code, text, err = run_cli(train.main, argv + ['-i', str(reached + 1), '-r'], capsys)
    assert code == 0 and 'at iteration {}'.format(reached) in text, err


def test_a_broken_best_record_is_one_line(tmp_path):
    (tmp_path / 'BEST_ADVERSARIAL.json').write_text('[1, 2]')
    with pytest.raises(UserError, match='BEST_ADVERSARIAL.json: not a best-model record'):
        run_folder.best_record(str(tmp_path), True)
    assert run_folder.best_record(str(tmp_path), False) is None
