"""Ms. Pac-Man frames from the ROM, and reading videos in every supported form."""
import os

import numpy
import pytest
from PIL import Image

from conftest import run_cli
from utils.data import frames as framelib
from utils.data import pacman
from utils.errors import UserError


def test_pacman_frames_are_real_moving_and_deterministic():
    a = pacman.play(seed=3, num_frames=12, frame_skip=2)
    assert a.shape == (12, 210, 160, 3) and a.dtype == numpy.uint8
    assert numpy.array_equal(a, pacman.play(seed=3, num_frames=12, frame_skip=2))
    assert not numpy.array_equal(a, pacman.play(seed=4, num_frames=12, frame_skip=2))
    # sprites move between consecutive frames, and the maze's colours are there
    assert all((a[k] != a[k + 1]).any() for k in range(11))
    assert len(numpy.unique(a.reshape(-1, 3), axis=0)) >= 5


def test_pacman_cli_layout_and_refusal(tmp_path, capsys):
    out = str(tmp_path / 'images')
    code, stdout, err = run_cli(pacman.main, ['--out', out, '--train-videos', '1',
                                              '--test-videos', '1', '--frames', '6',
                                              '--no-progress'], capsys)
    assert code == 0 and 'wrote 1 train and 1 test' in stdout
    assert 'Ms. Pac-Man videos' not in err
    names = os.listdir(os.path.join(out, 'train', 'video000'))
    assert sorted(names, key=framelib.natural_key) == ['frame{}.png'.format(k) for k in range(6)]
    assert os.path.isdir(os.path.join(out, 'test', 'video000'))
    code, _, err = run_cli(pacman.main, ['--out', out, '--train-videos', '1', '--test-videos',
                                         '0', '--frames', '6'], capsys)
    assert code == 2 and 'already exists; pass --overwrite' in err


def _save(path, array, mode=None):
    image = Image.fromarray(array)
    (image.convert(mode) if mode else image).save(path)


def test_reads_any_image_mode_in_natural_order(tmp_path):
    rng = numpy.random.default_rng(0)
    video = tmp_path / 'v'
    video.mkdir()
    frames = rng.integers(0, 255, (3, 40, 36, 3), dtype=numpy.uint8)
    _save(video / 'frame10.png', frames[2])
    _save(video / 'frame2.png', frames[1], 'RGBA')
    _save(video / 'frame1.png', frames[0])
    (video / 'notes.txt').write_text('ignored')
    got = framelib.read_video(str(video))
    assert got.shape == (3, 40, 36, 3)
    assert numpy.array_equal(got[0], frames[0]) and numpy.array_equal(got[1], frames[1])
    assert numpy.array_equal(got[2], frames[2])
    gray = tmp_path / 'g'
    gray.mkdir()
    _save(gray / 'a.png', frames[0], 'L')
    _save(gray / 'b.png', frames[0], 'P')
    _save(gray / 'c.jpg', frames[0])
    got = framelib.read_video(str(gray))
    assert got.shape == (3, 40, 36, 3)
    assert (got[0, ..., 0] == got[0, ..., 1]).all()  # gray brought to RGB
    assert framelib.list_videos(str(gray)) == [str(gray)]  # one video, passed as itself
    _save(tmp_path / 'thumbnail.png', frames[0])  # beside videos: a folder of videos still
    assert framelib.list_videos(str(tmp_path)) == [str(gray), str(video)]


def test_reads_gif_video_file(tmp_path):
    frames = [Image.fromarray(numpy.full((20, 24, 3), 40 * k, numpy.uint8)) for k in range(5)]
    path = str(tmp_path / 'clip.gif')
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50)
    assert framelib.list_videos(str(tmp_path)) == [path]
    assert framelib.list_videos(path) == [path]
    got = framelib.read_video(path)
    assert got.shape == (5, 20, 24, 3)
    assert got[3].mean() == pytest.approx(120, abs=2)


@pytest.mark.parametrize('case', ['missing', 'empty', 'mixed', 'corrupt', 'truncated', 'text'])
def test_bad_videos_name_the_file(tmp_path, case):
    video = tmp_path / 'v'
    if case == 'text':
        video.write_text('not a video\n')
    elif case != 'missing':
        video.mkdir()
    if case == 'mixed':
        _save(video / 'f0.png', numpy.zeros((8, 8, 3), numpy.uint8))
        _save(video / 'f1.png', numpy.zeros((9, 8, 3), numpy.uint8))
    if case == 'corrupt':
        (video / 'f0.png').write_bytes(os.urandom(300))
    if case == 'truncated':
        _save(video / 'f0.png', numpy.random.default_rng(0).integers(0, 255, (64, 64, 3), numpy.uint8))
        data = (video / 'f0.png').read_bytes()
        (video / 'f0.png').write_bytes(data[:len(data) // 2])
    with pytest.raises(UserError) as e:
        framelib.read_video(str(video)) if case in ('mixed', 'corrupt', 'truncated') \
            else framelib.list_videos(str(video))
    message = str(e.value)
    assert '\n' not in message
    assert {'missing': 'no such frame directory', 'empty': 'holds no video',
            'mixed': 'f1.png: is 8x9', 'corrupt': 'f0.png: not a readable image',
            'truncated': 'f0.png: not a readable image',
            'text': 'v: is a file but not a video'}[case] in message
