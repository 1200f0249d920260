"""One source of truth: the saved configuration drives every component, the loss
is a table of terms, inputs are checked before a run folder is touched, and no
module changes global state on import."""
import json
import os
import subprocess
import sys

import pytest

import models
import test as test_script
import train
from conftest import ROOT, make_updater, run_cli
from models import checkpoint
from utils import run_folder
from utils.training import losses
from utils.training.updater import PredictionUpdater

FAST = ['--preset', 'tiny', '--no-progress', '--sample-interval', '0', '--log-interval', '1',
        '--loaderjobs', '0', '-b', '2']


def test_three_scales_and_two_frames_train_resume_and_test(clip_dirs, frames_dir, tmp_path,
                                                           capsys):
    out = tmp_path / 'run'
    argv = ['-d', clip_dirs[0], '-o', str(out), '--num-scales', '3', '--hist-len', '2',
            '--eval-interval', '2', '--eval-dir', str(frames_dir / 'test'), '--eval-windows',
            '2', '--snapshot-interval', '2'] + FAST
    code, _, err = run_cli(train.main, argv + ['-i', '2'], capsys)
    assert code == 0, err
    gen = run_folder.load_generator(str(out / 'TRAINED_ADVERSARIAL.model'))
    assert (gen.config.num_scales, gen.config.hist_len) == (3, 2)
    assert len(gen.towers) == 3 and gen.towers[0][0].W.shape[1] == 6  # 2 RGB frames
    assert 'eval/psnr' in json.load(open(out / 'log'))[-1]
    # -r takes both from the snapshot; contradicting it is refused
    argv = ['-d', clip_dirs[0], '-o', str(out), '--eval-interval', '0'] + FAST
    code, out_text, err = run_cli(train.main, argv + ['-i', '4', '-r'], capsys)
    assert code == 0 and 'at iteration 2' in out_text, err
    code, _, err = run_cli(train.main, argv + ['-i', '6', '-r', '--hist-len', '4'], capsys)
    assert code == 2 and 'was made with hist_len = 2' in err
    # test.py takes both from the model file
    code, out_text, err = run_cli(test_script.main, [
        '-m', str(out / 'TRAINED_ADVERSARIAL.model'), '-t', str(frames_dir / 'test'), '-s', '2',
        '-o', str(tmp_path / 'test'), '--gifs', '1', '--no-progress'], capsys)
    assert code == 0, err
    metrics = json.load(open(tmp_path / 'test' / 'metrics.json'))
    assert metrics['windows'] == 2 * 6  # 24 frames, windows of 2 + 2 every 4 frames


def test_clips_too_short_for_the_history_are_refused(clip_dirs, tmp_path, capsys):
    code, _, err = run_cli(train.main, ['-d', clip_dirs[0], '-o', str(tmp_path), '-i', '1',
                                        '--hist-len', '5'] + FAST, capsys)
    lines = [l for l in err.splitlines() if l.startswith('error:')]
    assert code == 2 and len(lines) == 1, err
    assert 'clips have 5 frames, too few for a history of 5' in lines[0]


def test_files_written_before_num_scales_was_recorded_still_load(tmp_path, clip_dirs, capsys):
    """Today's files record num_scales; older ones have one scale per table row."""
    out = tmp_path / 'run'
    assert run_cli(train.main, ['-d', clip_dirs[0], '-o', str(out), '-i', '1',
                                '--eval-interval', '0'] + FAST, capsys)[0] == 0
    for name in ('TRAINED_ADVERSARIAL.model', 'snapshot_iter_1.npz'):
        arrays, config = checkpoint.read(str(out / name), 'file')
        del config['num_scales']
        checkpoint.save(str(out / name), arrays, config)
    assert run_folder.load_generator(str(out / 'TRAINED_ADVERSARIAL.model')).config.num_scales \
        == 4
    code, text, err = run_cli(train.main, ['-d', clip_dirs[0], '-o', str(out), '-i', '2', '-r',
                                           '--eval-interval', '0'] + FAST, capsys)
    assert code == 0 and 'at iteration 1' in text, err


@pytest.mark.parametrize('typo', ['-d', '-l'])
def test_overwrite_keeps_the_earlier_run_when_an_input_is_wrong(clip_dirs, tmp_path, capsys,
                                                                typo):
    run = tmp_path / 'victim'
    argv = ['-d', clip_dirs[0], '-o', str(run), '--eval-interval', '0'] + FAST
    assert run_cli(train.main, argv + ['-i', '2', '--snapshot-interval', '1',
                                       '--snapshots-kept', '3'], capsys)[0] == 0
    before = sorted(os.listdir(run))
    bad = argv + ['-i', '10', '--overwrite']
    if typo == '-d':
        bad[1] = str(tmp_path / 'nonexistent' / 'clips')
    else:
        bad += ['-l', str(tmp_path / 'no_such.model')]
    code, _, err = run_cli(train.main, bad, capsys)
    lines = [l for l in err.splitlines() if l.startswith('error:')]
    assert code == 2 and len(lines) == 1, err
    assert ('no such clip directory' if typo == '-d' else 'no_such.model: no such') in lines[0]
    assert sorted(os.listdir(run)) == before
    assert {'TRAINED_ADVERSARIAL.model', 'snapshot_iter_1.npz', 'snapshot_iter_2.npz'} \
        <= set(before)


def test_loss_terms_drive_the_loss_and_the_report():
    updater = make_updater()
    assert [t.name for t in updater.terms] == ['lp', 'gdl', 'adv']
    zero = losses.Term('zero', 2.0, lambda pred, target, history, dis: 0 * pred[-1][0, 0, 0, 0],
                       False, False)
    updater.terms.append(zero)
    observation = {}
    with updater.make_reporter().scope(observation):
        updater.update()
    value = {k: float(v.array) for k, v in observation.items() if k.startswith('gen/')}
    assert value['gen/loss_zero'] == 0
    total = sum(t.weight * value['gen/loss_' + t.name] for t in updater.terms)
    assert abs(value['gen/loss'] - total) < 1e-4 * abs(total)
    assert [t.name for t in losses.generator_terms(adversarial=False)] == ['lp', 'gdl']
    assert [t.name for t in losses.generator_terms(copy_mask=True)] == \
        ['lp', 'gdl', 'adv', 'branch', 'mask']
    with pytest.raises(ValueError, match='needs a copy mask'):
        PredictionUpdater(updater.get_iterator('main'), updater.get_all_optimizers(),
                          updater.device, losses.generator_terms(copy_mask=True))
    with pytest.raises(ValueError, match='no loss term is called perceptual'):
        losses.generator_terms({'perceptual': 1.0})


def test_train_flags_follow_the_loss_table(capsys):
    code, text, _ = run_cli(train.main, ['--help'], capsys)
    assert code == 0
    for name in ('lp', 'gdl', 'adv', 'branch', 'mask'):
        assert '--lambda-' + name in text


def test_configuration_is_frozen_and_checked():
    config = models.model_config('tiny', hist_len=2, num_scales=3)
    with pytest.raises(AttributeError):
        config.hist_len = 4
    assert models.ModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    broken = dict(config.to_dict(), hist_len=4)
    with pytest.raises(ValueError, match='does not fit a history of 4 frames'):
        models.ModelConfig.from_dict(broken)
    paper = models.model_config('paper', num_scales=2)
    assert paper.g_maps == ((12, 128, 256, 512, 256, 128, 3), (15, 128, 256, 512, 256, 128, 3))
    assert paper.g_kernels[-1] == (7, 5, 5, 5, 5, 7)


MODULES = '''
import importlib, os, pkgutil, signal, sys, warnings
sys.path.insert(0, {root!r})
from utils import compat  # the shims it names are the one allowed change
import chainer, numpy

def state():
    return dict(env=dict(os.environ), warnings=list(warnings.filters),
                config=dict(vars(chainer.global_config)),
                signals={{s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}},
                numpy=sorted(vars(numpy)), modules_patched=sorted(compat.SHIMS),
                errstate=numpy.geterr())

before = state()
names = ['train', 'test', 'process_data']
for package in ('models', 'utils'):
    names += [m.name for m in pkgutil.walk_packages([os.path.join({root!r}, package)],
                                                     package + '.')]
sys.path.insert(0, os.path.join({root!r}, 'benchmarks'))
names += [m.name for m in pkgutil.iter_modules([os.path.join({root!r}, 'benchmarks')])]
for name in names:
    importlib.import_module(name)
after = state()
changed = [k for k in before if before[k] != after[k]]
print(len(names), changed)
'''


def test_no_module_changes_global_state_on_import(tmp_path):
    proc = subprocess.run([sys.executable, '-c', MODULES.format(root=ROOT)], capture_output=True,
                          text=True, cwd=str(tmp_path), timeout=120)
    assert proc.returncode == 0, proc.stderr
    count, changed = proc.stdout.split(' ', 1)
    assert int(count) > 20 and changed.strip() == '[]', proc.stdout
