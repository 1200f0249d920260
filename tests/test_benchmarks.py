"""The benchmark scripts run and print the JSON their readers expect (no timing asserted)."""
import json
import os
import subprocess
import sys

import numpy
import pytest

import constants
from conftest import ROOT
from utils.evaluation import metrics


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
    assert figures['d_conditioned']


def test_train_step_times_the_twins_frame_only_discriminator(monkeypatch):
    """compare_torch.py times this model against the PyTorch twin, whose D sees the frame alone."""
    monkeypatch.syspath_prepend(os.path.join(ROOT, 'benchmarks'))
    import compare_torch
    ours = compare_torch.commands('tiny', 'train', 1)[0]
    assert '--d-frame-only' in ours
    paper_d = compare_torch.commands('tiny', 'train', 1, d_conditioned=True)[0]
    assert '--d-frame-only' not in paper_d
    code, out, err = _run(*(ours[0].split('/')[-1:] + ours[1:] + ['--warmup', '0', '-b', '2']))
    assert code == 0, err
    assert json.loads(out)['d_conditioned'] is False


def test_comparison_commands_put_both_on_the_same_device(monkeypatch):
    """--gpu N runs this project with -g N and the twin with --device cuda:N; -1 is the CPU."""
    monkeypatch.syspath_prepend(os.path.join(ROOT, 'benchmarks'))
    import compare_torch
    for what in ('train', 'predict'):
        ours, theirs, _, _ = compare_torch.commands('tiny', what, 1, gpu=0, torch_ref='twin.py')
        assert ours[ours.index('-g') + 1] == '0'
        assert theirs[0] == 'twin.py' and theirs[theirs.index('--device') + 1] == 'cuda:0'
        assert ('--predict' in theirs) == (what == 'predict')
    ours, theirs, key, rate = compare_torch.commands('tiny', 'predict', 1)
    assert theirs[theirs.index('--device') + 1] == 'cpu' and key == 'frames_per_sec' and rate
    code, out, err = _run(*(ours[0].split('/')[-1:] + ours[1:]))
    assert code == 0, err
    assert json.loads(out)['frames_per_sec'] > 0


def test_predict_frames_prints_one_json_line():
    code, out, err = _run('predict_frames.py', '--preset', 'tiny', '--iters', '1', '-b', '1')
    assert code == 0, err
    figures = json.loads(out)
    assert figures['frame'] == '210x160' and figures['frames_per_sec'] > 0


@pytest.mark.parametrize('what', ['train', 'predict'])
def test_profile_step_says_where_the_time_goes(what):
    code, out, err = _run('profile_step.py', '--preset', 'tiny', '--what', what, '--iters', '1',
                          '--warmup', '0', '-b', '2')
    assert code == 0, err
    figures = json.loads(out)
    assert figures['what'] == what and figures['batch_size'] == 2
    assert 0 < figures['host_sec_per_iter'] <= figures['sec_per_iter']
    functions = figures['functions']
    kinds = {name: (calls, ms) for name, calls, ms in functions['by_kind']}
    # The generator's 4 scales of convolutions, forward (and backward in training).
    assert kinds['GemmConvolution2D'][0] >= (20 if what == 'predict' else 40)
    assert functions['calls_per_iter'] >= sum(calls for calls, _ in kinds.values())
    assert all(ms >= 0 for _, ms in kinds.values())
    assert figures['host_top'] and all(calls > 0 for _, calls, _ in figures['host_top'])


def test_missing_gpu_is_one_line():
    code, out, err = _run('train_step.py', '--preset', 'tiny', '-g', '7')
    if code == 0:
        pytest.skip('this machine has a GPU 7')
    assert code == 2 and out == ''
    assert err.count('\n') == 1 and err.startswith('error: @cupy:7')


def test_comparison_without_pytorch_is_one_line_before_any_timing():
    """The Python given must have PyTorch; this project's environment does not."""
    if subprocess.run([sys.executable, '-c', 'import torch'], capture_output=True).returncode == 0:
        pytest.skip('this environment has PyTorch')
    code, out, err = _run('compare_torch.py', '--torch-python', sys.executable)
    assert code == 2 and out == ''
    assert err.count('\n') == 1 and err.startswith('error: ') and 'torch' in err
    code, out, err = _run('compare_torch.py', '--torch-python', '/no/such/python')
    assert code == 2 and err == 'error: /no/such/python: No such file or directory\n'


def _quality_module(monkeypatch):
    """benchmarks/quality.py, imported as the script runs."""
    import importlib.util
    monkeypatch.syspath_prepend(os.path.join(ROOT, 'benchmarks'))
    spec = importlib.util.spec_from_file_location(
        'quality', os.path.join(ROOT, 'benchmarks', 'quality.py'))
    quality = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quality)
    return quality


def test_windows_predicted_exactly_are_counted_and_left_out_of_the_rest(monkeypatch):
    quality = _quality_module(monkeypatch)
    cap, nan = constants.MAX_DB, numpy.nan

    def step(psnr, sharp):
        return [{'psnr_moving': numpy.array(psnr), 'sharpdiff_moving': numpy.array(sharp)}]
    # Window 0: A exact; 1: B exact; 2: nothing moves; 3: nobody exact.
    exact = quality.exact_windows({
        'A': step([cap, 20.0, nan, 30.0], [cap, 34.0, nan, 36.0]),
        'B': step([25.0, cap, nan, 31.0], [33.0, cap, nan, 35.0]),
        quality.COPY: step([5.0, 6.0, nan, 7.0], [30.0, 29.0, nan, 28.0])})
    assert exact == {'A': [dict(exact=1, of=3, sharpdiff_moving_rest=36.0)],
                     'B': [dict(exact=1, of=3, sharpdiff_moving_rest=35.0)],
                     quality.COPY: [dict(exact=0, of=3, sharpdiff_moving_rest=28.0)]}


def test_quality_comparison_plumbing_and_resume(clip_dirs, frames_dir, tmp_path, monkeypatch):
    out = tmp_path / 'q'
    common = ['-d', clip_dirs[0], '-t', str(frames_dir / 'test'), '-o', str(out), '--preset',
              'tiny', '-s', '2', '--max-windows', '3', '--gifs', '2', '--variants', 'l2',
              'adv_gdl', '--no-progress']
    train_flags = ['--', '-b', '2', '--eval-interval', '0', '--snapshot-interval', '1',
                   '--loaderjobs', '0', '--sample-interval', '0', '--log-interval', '1']
    code, text, err = _run('quality.py', *common, '-i', '2', *train_flags)
    assert code == 0, err
    table = json.loads(text)
    assert list(table['rows']) == ['L2', 'Adv+GDL', 'copy last frame']
    assert table['windows'] == 3 and all(len(r) == 2 for r in table['rows'].values())
    assert set(table['rows']['L2'][0]) == {'psnr', 'ssim', 'sharpdiff', 'psnr_moving',
                                           'sharpdiff_moving', 'colour_moving'}
    assert '| copy last frame |' in (out / 'table.md').read_text()
    assert os.path.getsize(out / 'curves.png') > 0 and os.path.getsize(out / 'sprites.png') > 0
    # The sprite table: every row, every sprite, every step; copy-last's figures by hand.
    sprites = table['sprites']
    assert list(sprites) == list(table['rows'])
    assert all(list(row) == [name for name, _ in constants.PACMAN_SPRITES] and
               all(len(v) == 2 for v in row.values()) for row in sprites.values())
    saved = numpy.load(out / 'l2' / 'test' / 'predictions.npz')
    truth, last = saved['truth'].astype(int), saved['inputs'][:, -1].astype(int)
    near = constants.COLOUR_TOLERANCE
    for name, colour in constants.PACMAN_SPRITES:
        for k in range(2):
            shares = [100 * (abs(t - last[i])[(t == colour).all(-1)] <= near).all(-1).mean()
                      for i, t in enumerate(truth[:, k]) if (t == colour).all(-1).any()]
            expected = sum(shares) / len(shares) if shares else None
            assert sprites['copy last frame'][name][k] == pytest.approx(expected)
    assert sprites['copy last frame']['Ms. Pac-Man'][0] is not None  # she is in every frame
    assert '| L2 | Ms. Pac-Man |' in (out / 'table.md').read_text()
    # The paired differences: each variant against the one before it and against
    # copy-last, from every window's scores again, so their means are the table's.
    pairs = table['differences']
    assert [(p['a'], p['b']) for p in pairs] == [
        ('Adv+GDL', 'L2'), ('L2', 'copy last frame'), ('Adv+GDL', 'copy last frame')]
    for pair in pairs:
        for metric in table['rows']['L2'][0]:
            for k, d in enumerate(pair[metric]):
                a, b = table['rows'][pair['a']][k][metric], table['rows'][pair['b']][k][metric]
                if a is None:
                    assert d is None
                else:
                    assert d['mean'] == pytest.approx(a - b, abs=1e-9)
                    assert d['low'] <= d['mean'] <= d['high'] and d['videos'] == 2
    assert '| Adv+GDL - L2 | sharp. moving |' in (out / 'table.md').read_text()
    # The window scores test.py saved are those of its saved frames.
    quality = _quality_module(monkeypatch)
    saved = quality.load_predictions(str(out), ['l2', 'adv_gdl'])
    as_saved = quality.window_scores(saved)
    first = saved['l2']
    for k in range(2):
        y = first['truth'][:, k].astype(numpy.float64)
        mask = metrics.changed_pixels(y, first['inputs'][:, -1].astype(numpy.float64))
        for v, label in (('l2', 'L2'), ('adv_gdl', 'Adv+GDL')):
            scores = metrics.frame_scores(y, saved[v]['model'][:, k].astype(numpy.float64), mask)
            for metric, values in scores.items():
                numpy.testing.assert_allclose(as_saved[label][k][metric], values, rtol=0,
                                              atol=1e-12)
    # The differences' median is over windows, as their mean is.
    for k, d in enumerate(pairs[0]['psnr']):  # Adv+GDL - L2
        windows = as_saved['Adv+GDL'][k]['psnr'] - as_saved['L2'][k]['psnr']
        assert d['median'] == pytest.approx(numpy.nanmedian(windows), abs=1e-9)
    # The windows predicted exactly, counted from the same scores.
    for label, steps in table['exact'].items():
        for k, e in enumerate(steps):
            moving = as_saved[label][k]['psnr_moving']
            assert e['of'] == int((~numpy.isnan(moving)).sum())
            assert e['exact'] == int((moving >= constants.MAX_DB).sum())
    assert '| copy last frame | 0 of ' in (out / 'table.md').read_text()
    # Pooled: the windows of several runs' scores together (here one run's twice, so
    # every mean is the run's own), with nothing trained or scored again.
    pooled = tmp_path / 'pooled'
    code, text, err = _run('quality.py', '--pool', str(out), str(out), '-o', str(pooled),
                           '--variants', 'l2', 'adv_gdl', '--gifs', '0')
    assert code == 0, err
    both = json.loads(text)
    assert both['windows'] == 6 and both['pooled'] == [str(out)] * 2
    for label, rows in table['rows'].items():
        for mine, theirs in zip(both['rows'][label], rows):
            assert mine == pytest.approx(theirs, abs=1e-9)
    for label, sprites in table['sprites'].items():
        for name, shares in sprites.items():
            assert [None if v is None else pytest.approx(v) for v in shares] == \
                both['sprites'][label][name]
    assert 'pooled from' in (pooled / 'table.md').read_text()
    code, text, err = _run('quality.py', '--pool', str(out), str(tmp_path), '-o', str(pooled),
                           '--variants', 'l2')
    assert code == 2 and text == '' and err.count('\n') == 1
    assert err.startswith('error: {}: no predictions of l2 there'.format(tmp_path))
    from PIL import Image
    gif = Image.open(out / 'compare_1.gif')
    assert gif.n_frames == 4 + 2 and gif.size[0] > 4 * 160  # truth | L2 | Adv+GDL | copy
    scored = os.path.getmtime(out / 'l2' / 'test' / 'metrics.json')
    # Again with the same budget: nothing is trained or scored again.
    code, text, err = _run('quality.py', *common, '-i', '2', *train_flags)
    assert code == 0 and json.loads(text) == table, err
    assert os.path.getmtime(out / 'l2' / 'test' / 'metrics.json') == scored
    # A larger budget continues every run from its snapshot.
    code, text, err = _run('quality.py', *common, '-i', '3', *train_flags)
    assert code == 0 and json.loads(text)['iterations'] == 3, err
    grown = json.loads(text)
    for variant in ('l2', 'adv_gdl'):
        log = (out / variant / 'train.log').read_text()
        assert 'resumed from' in log and 'at iteration 2' in log and 'done: 3 iterations' in log
    # A variant scored by an older test.py (predictions without scores per window, a
    # scored.json without window_scores): pooled, it is refused; run again, scored anew.
    predictions = out / 'l2' / 'test' / 'predictions.npz'
    with numpy.load(predictions) as f:
        frames = {k: f[k] for k in ('inputs', 'truth', 'model', 'video', 'start')}
    numpy.savez(predictions, **frames)
    code, text, err = _run('quality.py', '--pool', str(out), '-o', str(pooled), '--variants',
                           'l2', '--gifs', '0')
    assert code == 2 and text == '' and err == (
        'error: {}: no scores per window (an older test.py saved it); run quality.py with -o {} '
        'again to score it anew\n'.format(predictions, out))
    done = out / 'l2' / 'test' / 'scored.json'
    settings = json.loads(done.read_text())
    del settings['window_scores']
    done.write_text(json.dumps(settings))
    code, text, err = _run('quality.py', *common, '-i', '3', *train_flags)
    assert code == 0 and json.loads(text) == grown, err
    with numpy.load(predictions) as f:
        assert 'model_psnr' in f and 'last_frame_sharpdiff_moving' in f.files


def test_every_quality_variant_is_a_model_train_py_builds(monkeypatch):
    """Each variant's flags parse in train.py and give a valid, distinct model and loss."""
    import models
    import train
    quality = _quality_module(monkeypatch)
    seen = set()
    for name, (flags, _) in quality.VARIANTS.items():
        options = train._model_options(train.build_parser().parse_args(flags), None, False)
        adversarial = options.pop('adversarial')
        config = models.model_config(**options)
        key = (json.dumps(config.to_dict(), sort_keys=True), adversarial,
               '--lambda-gdl' in flags)
        assert key not in seen, name
        seen.add(key)


def test_palette_radius_counts_how_far_each_colour_came(tmp_path):
    """A 2x2 white block moving 3 pixels a frame: its leading column needs radius 2
    in the 2 frames before, the next one 3; a blue pixel 19 away from the only other
    blue is 'farther' than 5, and a red one no frame showed is 'absent'."""
    from PIL import Image
    video = tmp_path / 'v'
    video.mkdir()
    for t in range(6):
        frame = numpy.zeros((20, 20, 3), numpy.uint8)
        frame[0, 0] = (0, 0, 255)
        frame[10:12, 3 * t:3 * t + 2] = 255
        if t == 5:
            frame[19, 19], frame[19, 0] = (0, 0, 255), (255, 0, 0)
        Image.fromarray(frame).save(video / 'frame{}.png'.format(t))
    code, out, err = _run('palette_radius.py', '-t', str(tmp_path), '--hist-len', '2',
                          '--stride', '1', '--max-radius', '5')
    assert code == 0, err
    assert json.loads(out) == {'frames': 4, 'pixels': 1600,
                               'within': {'0': 1600 - 16 - 2, '2': 8, '3': 8},
                               'farther': 1, 'absent': 1, 'covers': 3}


def test_d_probe_trains_a_discriminator_on_a_generators_predictions(clips_hist5):
    model = os.path.join(ROOT, 'pretrained', 'pacman_adv_gdl.model')
    code, out, err = _run('d_probe.py', '-m', model, '-d', clips_hist5, '--fakes', 'test',
                          '-i', '3', '-b', '4', '--train-clips', '24', '--test-clips', '8',
                          '--eval-interval', '2', '--d-change', '8', '--d-local', '4')
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line['iteration'] for line in lines] == [2, 3]
    assert all(0 <= line['heldout_accuracy'] <= 1 for line in lines)
    last = lines[-1]
    assert last['fakes'] == 'test' and last['heldout'] == 8 and 0 <= last['exact'] <= 8
    assert (last['d_local'], last['d_change']) == (4, 8)
    # an exact prediction is a coin toss to any discriminator
    assert last['best_accuracy'] == 1 - last['exact'] / 8 / 2
    code, out, err = _run('d_probe.py', '-m', model, '-d', clips_hist5, '--train-clips', '40')
    assert code == 2 and err.count('\n') == 1 and clips_hist5 in err and out == ''
