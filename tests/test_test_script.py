"""test.py on full 210x160 frames: metrics.json, pictures, and bad input."""
import json
import os

import numpy
import pytest
from PIL import Image

import constants
import models
import test as test_script
from conftest import run_cli
from models import checkpoint


@pytest.fixture(scope='module')
def model_path(tmp_path_factory):
    config = models.model_config('tiny')
    path = str(tmp_path_factory.mktemp('model') / 'TRAINED_ADVERSARIAL.model')
    checkpoint.save(path, models.Generator(config), config)
    return path


def test_metrics_and_pictures(model_path, frames_dir, tmp_path, capsys):
    code, out, err = run_cli(test_script.main, ['-m', model_path, '-t', str(frames_dir / 'test'),
                                                '-s', '3', '-o', str(tmp_path), '--gifs', '2',
                                                '--no-progress'], capsys)
    assert code == 0, err
    metrics = json.load(open(tmp_path / 'metrics.json'))
    assert set(metrics) == {'model', 'palette', 'palette_radius', 'steps', 'windows',
                            'per_step'}
    assert metrics['model'] == model_path and metrics['steps'] == 3 and not metrics['palette']
    assert metrics['windows'] == 2 * 3          # 24 frames, windows of 7 every 7 frames
    keys = {'psnr', 'ssim', 'sharpdiff', 'psnr_moving', 'sharpdiff_moving', 'colour_moving'}
    for k, row in enumerate(metrics['per_step']):
        assert row['step'] == k + 1
        assert set(row['model']) == keys and set(row['last_frame']) == keys
    for name in ('metrics.png', 'sample_0.gif', 'sample_0.png', 'sample_1.gif'):
        assert os.path.getsize(tmp_path / name) > 0
    gif = Image.open(tmp_path / 'sample_0.gif')
    assert gif.n_frames == 4 + 3
    assert 'PSNR model/last' in out and 'wrote metrics.json' in out


def test_palette_predicts_in_the_colours_of_the_input_frames(frames_dir, tmp_path, capsys):
    """A model trained with --palette predicts, recursively, only colours its window's
    input frames hold (the game's frames have a few); --no-palette predicts others."""
    config = models.model_config('tiny', palette=True)
    path = str(tmp_path / 'palette.model')
    checkpoint.save(path, models.Generator(config), config)
    colours = {}
    for flag in ([], ['--palette-radius', '0'], ['--no-palette']):
        out = tmp_path / '_'.join(['on'] + flag)
        code, _, err = run_cli(test_script.main, ['-m', path, '-t', str(frames_dir / 'test'),
                                                  '-s', '2', '-o', str(out), '--gifs', '0',
                                                  '--save-predictions', '--no-progress'] + flag,
                               capsys)
        assert code == 0, err
        metrics = json.load(open(out / 'metrics.json'))
        assert metrics['palette'] == (flag != ['--no-palette'])
        radius = metrics['palette_radius']
        assert radius == (0 if '--palette-radius' in flag else constants.PALETTE_RADIUS)
        saved = numpy.load(out / 'predictions.npz')
        inputs, model = saved['inputs'], saved['model']
        colours[tuple(flag)] = [len(numpy.unique(m.reshape(-1, 3), axis=0)) for m in model]
        if flag == ['--no-palette']:
            continue
        for window, predicted in zip(inputs, model):
            allowed = {tuple(c) for c in numpy.unique(window.reshape(-1, 3), axis=0)}
            assert {tuple(c) for c in numpy.unique(predicted.reshape(-1, 3), axis=0)} <= allowed
            if radius:  # the first step's colours are shown within the radius
                assert _shown_near(window, predicted[0], radius).all()
    assert max(colours[('--no-palette',)]) > 50 > max(colours[()])


def _shown_near(window, frame, radius):
    """Whether each pixel of ``frame`` (H, W, 3) has its colour within ``radius``
    pixels of it in any frame of ``window`` (frames, H, W, 3)."""
    def keys(rgb):
        return (rgb[..., 0].astype(int) * 256 + rgb[..., 1]) * 256 + rgb[..., 2]
    target = keys(frame)
    h, w = target.shape
    padded = numpy.pad(keys(window), ((0, 0), (radius, radius), (radius, radius)),
                       constant_values=-1)
    found = numpy.zeros((h, w), bool)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            found |= (padded[:, dy:dy + h, dx:dx + w] == target).any(0)
    return found


def _short_frames(tmp_path, n, size=(210, 160)):
    video = tmp_path / 'videos' / 'v'
    video.mkdir(parents=True)
    rng = numpy.random.default_rng(0)
    for k in range(n):
        Image.fromarray(rng.integers(0, 255, size + (3,), numpy.uint8)).save(
            video / 'frame{}.png'.format(k))
    return str(tmp_path / 'videos')


@pytest.mark.parametrize('case', ['missing-model', 'not-a-model', 'other-config', 'no-video',
                                  'short', 'tiny-frames', 'steps0', 'palette-of-noise',
                                  'palette-radius'])
def test_bad_input_one_line_exit_2(model_path, frames_dir, tmp_path, capsys, case):
    argv = ['-m', model_path, '-t', str(frames_dir / 'test'), '-o', str(tmp_path / 'o'),
            '--no-progress']
    if case == 'missing-model':
        argv[1] = str(tmp_path / 'none.model')
    if case == 'not-a-model':
        numpy.savez(tmp_path / 'x.npz', a=numpy.zeros(3))
        argv[1] = str(tmp_path / 'x.npz')
    if case == 'other-config':
        config = models.model_config('tiny')
        argv[1] = str(tmp_path / 'g.model')
        checkpoint.save(argv[1], models.Generator(config), models.model_config('small'))
    if case == 'no-video':
        (tmp_path / 'empty').mkdir()
        argv[3] = str(tmp_path / 'empty')
    if case == 'short':
        argv[3] = _short_frames(tmp_path, 6)
    if case == 'tiny-frames':
        argv[3] = _short_frames(tmp_path, 14, size=(6, 6))
    if case == 'steps0':
        argv += ['-s', '0']
    if case == 'palette-of-noise':  # random frames are not drawn from a palette
        argv[3] = _short_frames(tmp_path, 14)
        argv += ['--palette', '-s', '1']
    if case == 'palette-radius':
        argv += ['--palette-radius', '-1']
    code, _, err = run_cli(test_script.main, argv, capsys)
    lines = [l for l in err.splitlines() if l.startswith('error:')]
    assert code == 2 and len(lines) == 1 and 'Traceback' not in err, err
    assert {'missing-model': 'none.model: no such model file',
            'not-a-model': 'x.npz: is an .npz of arrays a, not a model file or trainer snapshot',
            'other-config': 'does not fit this model',
            'no-video': 'empty: holds no video',
            'short': 'no video has the 12 frames that one test window needs',
            'tiny-frames': 'frames are 6x6; the generator needs at least 8 pixels',
            'steps0': '--steps must be at least 1',
            'palette-of-noise': 'v (frames 0 on): its frames hold',
            'palette-radius': '--palette-radius must be 0 (the whole frame) or more, not -1',
            }[case] in lines[0]
    if case == 'short':
        assert 'v: skipped, it has 6 frames' in err
