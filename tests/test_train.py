"""train.py end to end on tiny real clips: outputs, exact resume, learning, bad input."""
import json
import os

import numpy
import pytest

import constants
import train
from models import checkpoint
from conftest import run_cli
from utils.data import shards

FAST = ['--preset', 'tiny', '--no-progress', '--sample-interval', '0', '--eval-interval', '0',
        '--log-interval', '2', '--loaderjobs', '0']


def _train(capsys, data, out, *extra):
    return run_cli(train.main, ['-d', data, '-o', str(out)] + FAST + list(extra), capsys)


def test_outputs(clip_dirs, frames_dir, tmp_path, capsys):
    argv = ['-d', clip_dirs[0], '-o', str(tmp_path), '--preset', 'tiny', '-i', '4', '-b', '4',
            '--snapshot-interval', '2', '--snapshots-kept', '1', '--log-interval', '2',
            '--sample-interval', '2', '--eval-interval', '2', '--eval-dir',
            str(frames_dir / 'test'), '--eval-windows', '2', '--no-progress']
    code, out, err = run_cli(train.main, argv, capsys)
    assert code == 0, err
    names = set(os.listdir(tmp_path))
    assert {'TRAINED_ADVERSARIAL.model', 'snapshot_iter_4.npz', 'log', 'loss.png',
            'adversarial.png', 'psnr.png', 'samples'} <= names
    assert 'snapshot_iter_2.npz' not in names  # only the last --snapshots-kept are kept
    assert sorted(os.listdir(tmp_path / 'samples')) == ['iter_2.png', 'iter_4.png']
    log = json.load(open(tmp_path / 'log'))
    assert log[-1]['iteration'] == 4
    for key in ('gen/loss_adv', 'dis/loss', 'psnr', 'eval/psnr', 'eval/psnr_moving',
                'eval/psnr_last_frame'):
        assert key in log[-1], key
    assert 'done: 4 iterations' in out


def test_resume_is_exact(clip_dirs, tmp_path, capsys):
    common = ['--snapshot-interval', '3', '-b', '4', '--loaderjobs', '1']
    assert _train(capsys, clip_dirs[0], tmp_path / 'a', '-i', '6', *common)[0] == 0
    assert _train(capsys, clip_dirs[0], tmp_path / 'b', '-i', '3', *common)[0] == 0
    code, out, err = _train(capsys, clip_dirs[0], tmp_path / 'b', '-i', '6', '-r', *common)
    assert code == 0, err
    assert 'resumed from' in out and 'snapshot_iter_3.npz at iteration 3' in out
    rows = [l.replace('\x1b[J', '').split() for l in out.splitlines()]  # PrintReport's escapes
    printed = [r[0] for r in rows if r and r[0].isdigit()]
    assert printed == ['4', '6']  # not the log restored from the snapshot again
    a = numpy.load(tmp_path / 'a' / 'snapshot_iter_6.npz')
    b = numpy.load(tmp_path / 'b' / 'snapshot_iter_6.npz')
    state = [k for k in a.files if k.startswith('updater/')]
    assert any('optimizer:gen' in k for k in state) and any('iterator:main' in k for k in state)
    for key in state:
        assert numpy.array_equal(a[key], b[key]), key
    assert int(b['updater/iteration']) == 6


def test_resume_keeps_the_runs_learning_rates_and_loss_weights(clip_dirs, tmp_path, capsys):
    """Chainer's snapshots hold Adam's moments but not its step: a bare -r must not fall
    back to the defaults, and a flag given on resuming is a deliberate, stated change."""
    recipe = ['-b', '4', '--lr-g', '0.003', '--lr-d', '0.05', '--lambda-gdl', '0',
              '--lambda-adv', '0.5', '--seed', '3', '--snapshot-interval', '3']
    assert _train(capsys, clip_dirs[0], tmp_path / 'a', '-i', '6', *recipe)[0] == 0
    assert _train(capsys, clip_dirs[0], tmp_path / 'b', '-i', '3', *recipe)[0] == 0
    code, out, err = _train(capsys, clip_dirs[0], tmp_path / 'b', '-i', '6', '-r')
    assert code == 0, err
    assert 'instead of' not in out and 'warning' not in err
    a = numpy.load(tmp_path / 'a' / 'snapshot_iter_6.npz')
    b = numpy.load(tmp_path / 'b' / 'snapshot_iter_6.npz')
    for key in a.files:
        if key.startswith('updater/'):
            assert numpy.array_equal(a[key], b[key]), key

    code, out, err = _train(capsys, clip_dirs[0], tmp_path / 'b', '-i', '7', '-r', '--lr-g',
                            '0.001')
    assert code == 0, err
    assert "resuming with --lr-g 0.001 instead of the snapshot's 0.003" in out
    _, saved = checkpoint.read(str(tmp_path / 'b' / 'snapshot_iter_7.npz'), 'snapshot')
    assert saved['training']['lr_g'] == 0.001 and saved['training']['lambda_gdl'] == 0

    del saved['training']  # as snapshots of earlier versions were written
    old = str(tmp_path / 'old.npz')
    checkpoint.save(old, dict(numpy.load(tmp_path / 'b' / 'snapshot_iter_7.npz')), saved)
    code, out, err = _train(capsys, clip_dirs[0], tmp_path / 'b', '-i', '8', '-r', old)
    assert code == 0, err
    assert 'written before snapshots recorded how they train' in err and '--lr-g 4e-05' in err


def test_lr_steps_equal_resuming_at_a_lower_rate(clip_dirs, tmp_path, capsys):
    common = ['-b', '4', '--lr-g', '0.003', '--snapshot-interval', '1', '--no-adversarial']
    steps = ['--lr-g-steps', '2:0.0005,3:0.001']
    assert _train(capsys, clip_dirs[0], tmp_path / 'steps', '-i', '4', *common, *steps)[0] == 0
    assert _train(capsys, clip_dirs[0], tmp_path / 'by_hand', '-i', '2', *common)[0] == 0
    for it, rate in (('3', '0.0005'), ('4', '0.001')):
        code, out, err = _train(capsys, clip_dirs[0], tmp_path / 'by_hand', '-i', it, '-r',
                                '--lr-g', rate)
        assert code == 0, err
    # Stopped mid-schedule, a bare -r carries on with the recorded steps.
    assert _train(capsys, clip_dirs[0], tmp_path / 'resumed', '-i', '3', *common, *steps)[0] == 0
    assert _train(capsys, clip_dirs[0], tmp_path / 'resumed', '-i', '4', '-r')[0] == 0
    # Without the steps, the last two updates differ.
    assert _train(capsys, clip_dirs[0], tmp_path / 'plain', '-i', '4', *common)[0] == 0
    final = {name: numpy.load(tmp_path / name / 'snapshot_iter_4.npz')
             for name in ('steps', 'by_hand', 'resumed', 'plain')}
    keys = [k for k in final['steps'].files if k.startswith('updater/model:gen/')]
    for name in ('by_hand', 'resumed'):
        for key in keys:
            assert numpy.array_equal(final['steps'][key], final[name][key]), (name, key)
    assert not all(numpy.array_equal(final['steps'][k], final['plain'][k]) for k in keys)

    code, _, err = _train(capsys, clip_dirs[0], tmp_path / 'bad', '-i', '1', '--lr-g-steps',
                          '100')
    assert code == 2 and 'ITERATION:RATE' in err


def test_training_lowers_the_lp_loss(clip_dirs, tmp_path, capsys):
    code, _, err = _train(capsys, clip_dirs[0], tmp_path, '-i', '160', '-b', '4', '--lr-g',
                          '0.002', '--log-interval', '20', '--snapshot-interval', '160')
    assert code == 0, err
    log = json.load(open(tmp_path / 'log'))
    first, last = log[0]['gen/loss_lp'], log[-1]['gen/loss_lp']
    assert last < 0.5 * first, (first, last)


def test_d_warmup_holds_g_while_a_local_d_learns_with_adam(clip_dirs, tmp_path, capsys):
    common = ['-b', '4', '--d-local', '8', '--d-change', '--d-optimizer', 'adam', '--d-warmup',
              '2', '--snapshot-interval', '1', '--snapshots-kept', '4', '--log-interval', '1']
    code, _, err = _train(capsys, clip_dirs[0], tmp_path, '-i', '3', *common)
    assert code == 0, err
    snaps = [numpy.load(tmp_path / 'snapshot_iter_{}.npz'.format(i)) for i in (1, 2, 3)]
    gen = [k for k in snaps[0].files if k.startswith('updater/model:gen/')]
    dis = [k for k in snaps[0].files if k.startswith('updater/model:dis/')]
    assert gen and dis and all(k.startswith('updater/model:dis/scales/0/') for k in dis)
    assert any(k.startswith('updater/optimizer:dis/') and k.endswith('/v') for k in snaps[0].files)
    assert all(numpy.array_equal(snaps[0][k], snaps[1][k]) for k in gen)  # G held
    assert not all(numpy.array_equal(snaps[0][k], snaps[1][k]) for k in dis)
    assert not all(numpy.array_equal(snaps[1][k], snaps[2][k]) for k in gen)  # then it learns
    log = json.load(open(tmp_path / 'log'))
    assert ['gen/loss' in row for row in log] == [False, False, True]
    assert all('dis/loss' in row for row in log)
    _, saved = checkpoint.read(str(tmp_path / 'snapshot_iter_3.npz'), 'snapshot')
    assert saved['d_local'] == 8
    assert {k: saved['training'][k] for k in ('d_optimizer', 'lr_d', 'd_warmup')} == {
        'd_optimizer': 'adam', 'lr_d': constants.LR_D['adam'], 'd_warmup': 2}

    code, _, err = _train(capsys, clip_dirs[0], tmp_path, '-i', '4', '-r', '--d-optimizer',
                          'sgd')
    assert code == 2 and 'its D learned with adam' in err and len(err.splitlines()) == 1


def test_no_adversarial_writes_the_l2_model(clip_dirs, tmp_path, capsys):
    code, _, err = _train(capsys, clip_dirs[0], tmp_path, '-i', '2', '-b', '2',
                          '--no-adversarial')
    assert code == 0, err
    assert os.path.exists(tmp_path / 'TRAINED_L2.model')
    assert 'dis/loss' not in json.load(open(tmp_path / 'log'))[-1]


def test_load_starts_from_saved_weights_of_the_same_preset(clip_dirs, tmp_path, capsys):
    assert _train(capsys, clip_dirs[0], tmp_path / 'a', '-i', '2', '-b', '2')[0] == 0
    model = str(tmp_path / 'a' / 'TRAINED_ADVERSARIAL.model')
    code, _, err = run_cli(train.main, ['-d', clip_dirs[0], '-o', str(tmp_path / 'b'), '-i', '1',
                                        '-b', '2', '-l', model, '--no-progress', '--loaderjobs',
                                        '0', '--sample-interval', '0', '--eval-interval', '0',
                                        '--d-change', '--d-frame-only', '--d-patch',
                                        '--palette', '--palette-radius', '3'], capsys)
    assert code == 0, err  # the preset came from the model file; D's options are the run's
    changed = str(tmp_path / 'b' / 'TRAINED_ADVERSARIAL.model')
    _, saved = checkpoint.read(changed, 'model')
    assert saved['preset'] == 'tiny' and saved['d_change'] == constants.D_CHANGE_GAIN
    assert not saved['d_conditioned'] and saved['d_patch'] and saved['palette']
    assert saved['palette_radius'] == 3
    code, _, err = _train(capsys, clip_dirs[0], tmp_path / 'd', '-i', '1', '-b', '2', '-l',
                          changed, '--d-change', '0', '--no-palette')
    assert code == 0, err
    _, saved = checkpoint.read(str(tmp_path / 'd' / 'TRAINED_ADVERSARIAL.model'), 'model')
    assert saved['d_change'] == 0 and not saved['palette']
    code, _, err = _train(capsys, clip_dirs[0], tmp_path / 'c', '-i', '1', '-l', model,
                          '--preset', 'small')
    assert code == 2 and 'preset = tiny' in err.replace("'", '')


def test_load_widens_the_generator_to_a_longer_history(clip_dirs, clips_hist5, tmp_path,
                                                       capsys):
    assert _train(capsys, clip_dirs[0], tmp_path / 'a', '-i', '1', '-b', '2',
                  '--no-adversarial')[0] == 0
    model = str(tmp_path / 'a' / 'TRAINED_L2.model')
    code, out, err = _train(capsys, clips_hist5, tmp_path / 'b', '-i', '1', '-b', '2',
                            '--no-adversarial', '-l', model, '--hist-len', '5')
    assert code == 0, err
    assert 'widened from 4 to 5 input frames' in out
    _, saved = checkpoint.read(str(tmp_path / 'b' / 'TRAINED_L2.model'), 'model')
    assert saved['hist_len'] == 5 and saved['g_maps'][0][0] == 15
    code, _, err = _train(capsys, clips_hist5, tmp_path / 'c', '-i', '1', '-l', model,
                          '--hist-len', '3')
    assert code == 2 and 'hist_len = 4' in err


def test_load_widens_the_mask_to_older_frames(clip_dirs, tmp_path, capsys):
    assert _train(capsys, clip_dirs[0], tmp_path / 'a', '-i', '1', '-b', '2',
                  '--no-adversarial', '--copy-mask')[0] == 0
    model = str(tmp_path / 'a' / 'TRAINED_L2.model')
    code, out, err = _train(capsys, clip_dirs[0], tmp_path / 'b', '-i', '1', '-b', '2',
                            '--no-adversarial', '-l', model, '--copy-frames', '3')
    assert code == 0, err
    assert 'its mask now copies from the 3 newest input frames instead of 1' in out
    _, saved = checkpoint.read(str(tmp_path / 'b' / 'TRAINED_L2.model'), 'model')
    assert saved['copy_frames'] == 3 and saved['g_maps'][-1][-1] == 6
    code, _, err = _train(capsys, clip_dirs[0], tmp_path / 'c', '-i', '1', '-b', '2',
                          '-l', str(tmp_path / 'b' / 'TRAINED_L2.model'), '--copy-frames', '2')
    assert code == 2 and 'copy_frames = 3' in err


def test_rollout_trains_on_longer_clips_and_resumes_with_it(clip_dirs, clips_hist5, tmp_path,
                                                            capsys):
    """--rollout 2 with 4 input frames takes the last 6 frames of clips cut for a
    history of 5; the snapshot records it, so a bare -r continues with it. Clips
    one frame short are refused in one line."""
    code, out, err = _train(capsys, clips_hist5, tmp_path / 'a', '-i', '1', '-b', '2',
                            '--rollout', '2', '--snapshot-interval', '1')
    assert code == 0, err
    code, out, err = _train(capsys, clips_hist5, tmp_path / 'a', '-i', '2', '-r')
    assert code == 0, err
    _, saved = checkpoint.read(str(tmp_path / 'a' / 'snapshot_iter_2.npz'), 'snapshot')
    assert saved['training']['rollout'] == 2 and saved['hist_len'] == 4
    code, _, err = _train(capsys, clip_dirs[0], tmp_path / 'b', '-i', '1', '--rollout', '2')
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert 'clips have 5 frames, too few for a history of 4 and 2 frames to predict' in err
    assert '--hist-len 5' in err and not os.path.exists(tmp_path / 'b')


def test_crop_size_comes_from_the_clips(frames_dir, clip_dirs, tmp_path, capsys):
    """Clips of another side train a discriminator sized for them and say so in the
    files; the generator moves between crop sizes, a snapshot does not, and a side
    the scales cannot halve is refused before anything is written."""
    import process_data
    made = {}
    for side in (48, 40):
        made[side] = str(tmp_path / 'clips{}'.format(side))
        assert run_cli(process_data.main, ['-n', '20', '--train-dir', str(frames_dir / 'train'),
                                           '--train-clips', made[side], '--workers', '1',
                                           '--crop-size', str(side)], capsys)[0] == 0
    code, _, err = _train(capsys, made[48], tmp_path / 'a', '-i', '1', '-b', '2',
                          '--snapshot-interval', '1')
    assert code == 0, err
    model = str(tmp_path / 'a' / 'TRAINED_ADVERSARIAL.model')
    assert checkpoint.read(model, 'model')[1]['crop_size'] == 48
    code, _, err = _train(capsys, clip_dirs[0], tmp_path / 'b', '-i', '1', '-b', '2', '-l', model)
    assert code == 0, err
    assert checkpoint.read(str(tmp_path / 'b' / 'TRAINED_ADVERSARIAL.model'),
                           'model')[1]['crop_size'] == 32
    code, _, err = _train(capsys, clip_dirs[0], tmp_path / 'a', '-i', '2', '-r')
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert 'was trained on 48x48 crops, but' in err and 'holds 32x32 ones' in err
    code, _, err = _train(capsys, made[40], tmp_path / 'c', '-i', '1', '-b', '2')
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert 'crops of 40x40 do not fit 4 scales: they need a side divisible by 16' in err
    assert '--crop-size 32' in err and not os.path.exists(tmp_path / 'c')
    code, _, err = _train(capsys, made[40], tmp_path / 'c', '-i', '1', '-b', '2',
                          '--num-scales', '3')
    assert code == 0, err


def _bad_clips(tmp_path):
    directory = tmp_path / 'badclips'
    directory.mkdir()
    clips = numpy.zeros((10, 5, 24, 24, 3), numpy.uint8)
    shards.write_shard(str(directory / shards.shard_name(0, 0, 'p', 0)), clips, 0,
                       *(numpy.zeros(10, int),) * 3, numpy.ones(10, bool))
    return str(directory)


@pytest.mark.parametrize('case', ['missing', 'empty', 'shape', 'batch', 'snapshot', 'other-config',
                                  'gpu', 'preset', 'earlier-run', 'other-data'])
def test_bad_input_one_line_exit_2(clip_dirs, tmp_path, capsys, case):
    data, extra = clip_dirs[0], ['-i', '1', '-b', '2']
    if case == 'missing':
        data = str(tmp_path / 'nowhere')
    if case == 'empty':
        (tmp_path / 'empty').mkdir()
        data = str(tmp_path / 'empty')
    if case == 'shape':
        data = _bad_clips(tmp_path)
    if case == 'batch':
        extra = ['-i', '1', '-b', '100000']
    if case == 'snapshot':
        extra += ['-r', str(tmp_path / 'no_such_snapshot.npz')]
    if case == 'other-config':
        assert _train(capsys, data, tmp_path / 'run', *extra)[0] == 0
        extra = ['-i', '2', '-b', '2', '-r', str(tmp_path / 'run' / 'snapshot_iter_1.npz'),
                 '--preset', 'small']
    if case == 'gpu':
        extra += ['-g', '0']
    if case == 'earlier-run':
        assert _train(capsys, data, tmp_path / 'run', *extra)[0] == 0
    if case == 'other-data':
        assert _train(capsys, data, tmp_path / 'run', *extra)[0] == 0
        data, extra = clip_dirs[1], ['-i', '2', '-b', '2', '-r']
    if case == 'preset':
        code, _, err = run_cli(train.main, ['--preset', 'huge'], capsys)
        assert code == 2 and "invalid choice: 'huge'" in err
        return
    code, _, err = _train(capsys, data, tmp_path / 'run', *extra)
    lines = [l for l in err.splitlines() if l.startswith('error:')]
    assert code == 2 and len(lines) == 1 and 'Traceback' not in err, err
    assert {'missing': 'nowhere: no such clip directory', 'empty': 'empty: holds no clip shards',
            'shape': 'clips are 24x24x3 but this run needs 32x32 RGB crops',
            'batch': 'fewer than the batch size 100000',
            'snapshot': 'no_such_snapshot.npz: no such snapshot',
            'other-config': 'was made with preset = tiny',
            'gpu': '@cupy:0: ',
            'earlier-run': 'holds snapshots or models of an earlier run',
            'other-data': 'was trained on 600 clips, but'}[case] in lines[0]
