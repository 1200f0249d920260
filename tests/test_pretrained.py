"""The shipped generators (pretrained/) load, predict a frame, fine-tune and compare.

Their quality figures belong to benchmarks/quality.py, not to tests.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy
import pytest

from conftest import ROOT, run_cli

import constants
import models
from models import checkpoint
from utils import run_folder
from utils.data import clips as cliplib
from utils.data import frames as framelib

PRETRAINED = os.path.join(ROOT, constants.PRETRAINED_DIR)
SHIPPED = ('adv_gdl', 'gdl', 'l2')


def shipped(variant):
    return os.path.join(PRETRAINED, 'pacman_{}.model'.format(variant))


def test_the_three_generators_are_shipped_with_their_readme():
    models = sorted(f for f in os.listdir(PRETRAINED) if f.endswith('.model'))
    assert models == sorted(os.path.basename(shipped(v)) for v in SHIPPED)
    readme = open(os.path.join(PRETRAINED, 'README.md')).read()
    assert all(name in readme for name in models)


@pytest.mark.parametrize('variant', SHIPPED)
def test_shipped_generator_loads_and_predicts_a_full_frame(variant, frames_dir):
    gen = run_folder.load_generator(shipped(variant))
    # the recipe pretrained/README.md describes
    assert gen.config.copy_mask and gen.config.hard_mask and gen.config.palette
    assert gen.config.palette_radius == constants.PALETTE_RADIUS
    assert gen.config.copy_frames == gen.config.hist_len == 5
    assert all(p.array.dtype == numpy.float32 for p in gen.params())
    video = sorted(framelib.list_videos(str(frames_dir / 'test')))[0]
    frames = framelib.read_video(video, framelib.ALL_FRAMES)[:gen.config.hist_len + 1]
    history, truth = cliplib.to_model_input(frames[None], gen.config.hist_len)
    import chainer
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        y = gen.predict(history).array
    assert y.shape == (1, 3) + frames.shape[1:3] and numpy.isfinite(y).all()
    # A trained model's next frame is close to the truth, far closer than a blank frame.
    error = numpy.abs(y - truth).mean()
    assert error < 0.1 < numpy.abs(truth + 1).mean()


def test_fine_tuning_starts_from_the_shipped_generator(clips_hist5, tmp_path, capsys):
    import train
    out = tmp_path / 'fine'
    code, _, err = run_cli(train.main, [
        '-l', shipped('adv_gdl'), '-d', clips_hist5, '-o', str(out), '-i', '1', '-b', '2',
        '--no-progress', '--eval-interval', '0', '--sample-interval', '0', '--loaderjobs', '0'],
        capsys)
    assert code == 0, err
    tuned = run_folder.load_generator(run_folder.model_path(str(out), True))
    assert tuned.config.to_dict() == run_folder.load_generator(shipped('adv_gdl')).config.to_dict()


def test_quality_script_compares_the_shipped_generators(frames_dir, tmp_path):
    out = tmp_path / 'q'
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'benchmarks', 'quality.py'), '--pretrained', PRETRAINED,
         '--variants', 'l2', 'adv_gdl', '-t', str(frames_dir / 'test'), '-o', str(out), '-s', '1',
         '--max-windows', '1', '--gifs', '1', '--no-progress'],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    table = json.loads(proc.stdout)
    assert list(table['rows']) == ['L2', 'Adv+GDL', 'copy last frame']
    assert table['pretrained'] == PRETRAINED and 'iterations' not in table
    assert 'generators shipped in' in (out / 'table.md').read_text()
    assert (out / 'compare_0.gif').exists()
    missing = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'benchmarks', 'quality.py'), '--pretrained',
         str(tmp_path), '-t', str(frames_dir / 'test'), '-o', str(out)],
        capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and missing.stderr.count('\n') == 1
    assert 'pacman_l2.model: no such shipped model' in missing.stderr
    shorter = models.model_config('tiny', hist_len=2)
    checkpoint.save(str(tmp_path / 'pacman_l2.model'), models.Generator(shorter), shorter)
    shutil.copy(shipped('adv_gdl'), str(tmp_path))
    mixed = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'benchmarks', 'quality.py'), '--pretrained',
         str(tmp_path), '--variants', 'l2', 'adv_gdl', '-t', str(frames_dir / 'test'), '-o',
         str(out)], capture_output=True, text=True, timeout=300)
    assert mixed.returncode == 2 and mixed.stderr.count('\n') == 1
    assert 'pacman_l2.model: predicts from 2 frames but' in mixed.stderr


def test_testing_a_shipped_model_right_after_setup_makes_the_test_videos(frames_dir, tmp_path):
    """In a folder without data, test.py makes the built-in test videos first: the
    same frames as ``python -m utils.data.pacman`` (here, their first 24)."""
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'test.py'), '-m', shipped('adv_gdl'), '-s', '1',
         '--max-windows', '1', '--gifs', '0', '--no-progress'],
        capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert 'making the built-in Ms. Pac-Man test videos in data/images/test' in proc.stderr
    made = tmp_path / constants.TEST_DIR
    assert sorted(os.listdir(made)) == sorted(os.listdir(frames_dir / 'test'))
    ours = framelib.read_video(str(made / 'video001'))
    assert len(ours) == constants.PACMAN_FRAMES
    numpy.testing.assert_array_equal(ours[:24], framelib.read_video(
        str(frames_dir / 'test' / 'video001')))
    assert json.loads((tmp_path / constants.TEST_OUT_DIR / 'metrics.json').read_text())['windows'] == 1
