"""Video files in: real .mp4/.avi files written from Ms. Pac-Man frames, frame
options, the UCF101 layout with split lists, and videos that cannot be used."""
import json
import os
import shutil

import imageio.v3 as iio
import numpy
import pytest

import constants
import models
import process_data
import reference
import test as test_script
from conftest import run_cli
from models import checkpoint
from utils.data import frames as framelib
from utils.data import shards
from utils.evaluation import predict


def _write(path, frames, lossless):
    """A real video file: lossless FFV1 (RGB) or lossy H.264 (YUV 4:2:0)."""
    if lossless:
        iio.imwrite(path, frames, plugin='pyav', codec='ffv1', fps=15, out_pixel_format='bgr0')
    else:
        iio.imwrite(path, frames, plugin='pyav', codec='libx264', fps=15)
    return str(path)


@pytest.fixture(scope='module')
def pacman(frames_dir):
    """40 real Ms. Pac-Man frames (210x160)."""
    return framelib.read_video(str(frames_dir / 'train' / 'video000'))


def _clips(directory):
    arrays = [shards.read_shard(p, 4) for p in shards.shard_paths(directory)]
    return {k: numpy.concatenate([a[k] for a in arrays]) for k in shards.SHARD_SPEC}


def _make_clips(capsys, src, out, *extra, n=300):
    code, _, err = run_cli(process_data.main, ['-n', str(n), '--train-dir', str(src),
                                               '--train-clips', str(out), '--workers', '1']
                           + list(extra), capsys)
    return code, err


def test_lossless_video_gives_the_clips_of_its_frames(pacman, frames_dir, tmp_path, capsys):
    folder = tmp_path / 'folder'
    shutil.copytree(frames_dir / 'train' / 'video000', folder / 'video000')
    (tmp_path / 'file').mkdir()
    _write(tmp_path / 'file' / 'video000.avi', pacman, lossless=True)
    for src in ('folder', 'file'):
        assert _make_clips(capsys, tmp_path / src, tmp_path / (src + '_clips'))[0] == 0
    a, b = _clips(str(tmp_path / 'folder_clips')), _clips(str(tmp_path / 'file_clips'))
    for key in shards.SHARD_SPEC:
        assert numpy.array_equal(a[key], b[key]), key


def test_lossy_mp4_keeps_geometry_and_motion(pacman, tmp_path, capsys):
    (tmp_path / 'v').mkdir()
    path = _write(tmp_path / 'v' / 'game.mp4', pacman, lossless=False)
    decoded = framelib.read_video(path)
    assert decoded.shape == pacman.shape
    mse = numpy.square(decoded.astype(float) - pacman).mean()
    assert 10 * numpy.log10(255 ** 2 / mse) > 20  # lossy (4:2:0 colour), but the same frames
    assert _make_clips(capsys, tmp_path / 'v', tmp_path / 'c')[0] == 0
    got = _clips(str(tmp_path / 'c'))
    assert got['clips'].shape == (300, 5, 32, 32, 3)
    for clip, s, y, x in zip(got['clips'], got['start'], got['y'], got['x']):
        assert numpy.array_equal(clip, decoded[s:s + 5, y:y + 32, x:x + 32])
    for clip in got['clips'][got['filtered']]:
        assert reference.clip_motion(clip) > constants.CLIP_MOTION_THRESHOLD


def test_frame_step_resize_and_max_frames(pacman, tmp_path, capsys):
    (tmp_path / 'v').mkdir()
    _write(tmp_path / 'v' / 'game.mkv', pacman, lossless=True)
    code, err = _make_clips(capsys, tmp_path / 'v', tmp_path / 'c', '--frame-step', '2',
                            '--resize', '105x80', '--max-frames', '15')
    assert code == 0, err
    got = _clips(str(tmp_path / 'c'))
    kept = framelib.read_video(str(tmp_path / 'v' / 'game.mkv'),
                               framelib.FrameOptions(2, (105, 80), 15))
    assert kept.shape == (15, 105, 80, 3)
    assert numpy.array_equal(kept[3], framelib.read_video(
        str(tmp_path / 'v' / 'game.mkv'), framelib.FrameOptions(1, (105, 80), None))[6])
    assert got['start'].max() <= 15 - 5
    for clip, s, y, x in zip(got['clips'], got['start'], got['y'], got['x']):
        assert numpy.array_equal(clip, kept[s:s + 5, y:y + 32, x:x + 32])


def _ucf101(root, pacman):
    """A miniature UCF101 tree, its split lists, and the paths listed in each."""
    videos = {}
    for k, (name, cls) in enumerate((('v_Run_g01_c01', 'Run'), ('v_Run_g02_c01', 'Run'),
                                     ('v_Jump_g01_c01', 'Jump'))):
        (root / 'UCF-101' / cls).mkdir(parents=True, exist_ok=True)
        videos[name] = _write(root / 'UCF-101' / cls / (name + '.avi'),
                              numpy.roll(pacman, 8 * k, axis=0), lossless=True)
    (root / 'trainlist01.txt').write_text('Run/v_Run_g01_c01.avi 1\nJump/v_Jump_g01_c01.avi 2\n')
    (root / 'testlist01.txt').write_text('Run/v_Run_g02_c01.avi\n')
    return videos


def test_ucf101_layout_and_split_lists(pacman, tmp_path, capsys):
    videos = _ucf101(tmp_path, pacman)
    root = tmp_path / 'UCF-101'
    # without a list, every video of the class folders
    assert sorted(v for v, _ in framelib.usable_videos(str(root), 5, 'a clip')) == \
        sorted(videos.values())
    code, err = _make_clips(capsys, root, tmp_path / 'c', '--train-list',
                            str(tmp_path / 'trainlist01.txt'))
    assert code == 0, err
    manifest = json.load(open(tmp_path / 'c' / shards.MANIFEST))
    assert manifest['runs'][0]['videos'] == [videos['v_Run_g01_c01'], videos['v_Jump_g01_c01']]
    model = str(tmp_path / 'g.model')
    config = models.model_config('tiny')
    checkpoint.save(model, models.Generator(config), config)
    code, text, err = run_cli(test_script.main, [
        '-m', model, '-t', str(root), '--test-list', str(tmp_path / 'testlist01.txt'), '-s', '2',
        '-o', str(tmp_path / 'test'), '--gifs', '0', '--no-progress', '--save-predictions'],
        capsys)
    assert code == 0, err
    assert json.load(open(tmp_path / 'test' / 'metrics.json'))['windows'] == 40 // 6
    with numpy.load(tmp_path / 'test' / 'predictions.npz') as saved:
        assert set(saved['video']) == {videos['v_Run_g02_c01']}


def _bad_videos(directory, pacman, tmp_path):
    """One video file per way of being unusable; their names and the reason expected."""
    good = _write(tmp_path / 'good.avi', pacman, lossless=True)
    data = open(good, 'rb').read()
    (directory / 'truncated.avi').write_bytes(data[:len(data) // 2])
    (directory / 'not_a_video.mp4').write_text('this is text, not a video')
    (directory / 'empty.mkv').write_bytes(b'')
    (directory / 'unknown_codec.avi').write_bytes(data.replace(b'FFV1', b'ZZZZ'))
    _write(directory / 'short.avi', pacman[:3], lossless=True)
    return {'truncated.avi': 'cannot decode it', 'not_a_video.mp4': 'cannot decode it',
            'empty.mkv': 'is an empty file', 'unknown_codec.avi': 'Decoder not found',
            'short.avi': 'skipped, it has 3 frames'}


def test_unusable_videos_are_skipped_with_a_reason(pacman, frames_dir, tmp_path, capsys):
    src = tmp_path / 'videos'
    src.mkdir()
    expected = _bad_videos(src, pacman, tmp_path)
    shutil.copy(tmp_path / 'good.avi', src / 'zz_good.avi')
    code, err = _make_clips(capsys, src, tmp_path / 'c', n=500)
    assert code == 0 and 'Traceback' not in err, err
    warnings = [l for l in err.splitlines() if l.startswith('warning:')]
    for name, reason in expected.items():
        line = [l for l in warnings if name in l]
        assert len(line) == 1 and reason in line[0], (name, warnings)
    got = _clips(str(tmp_path / 'c'))
    assert len(got['clips']) == 500  # the skipped videos' share comes from the good one
    assert not [p for p in os.listdir(tmp_path / 'c') if '.tmp-' in p]
    # test.py skips them the same way
    model = str(tmp_path / 'g.model')
    config = models.model_config('tiny')
    checkpoint.save(model, models.Generator(config), config)
    code, _, err = run_cli(test_script.main, ['-m', model, '-t', str(src), '-s', '1', '-o',
                                              str(tmp_path / 't'), '--gifs', '0',
                                              '--no-progress'], capsys)
    assert code == 0, err
    for name in expected:
        assert name in err


@pytest.mark.parametrize('case', ['none-usable', 'missing-listed'])
def test_nothing_usable_or_a_missing_listed_video_is_one_line(pacman, tmp_path, capsys, case):
    src = tmp_path / 'videos'
    src.mkdir()
    argv = []
    if case == 'none-usable':
        _bad_videos(src, pacman, tmp_path)
    else:
        _write(src / 'v_A_g01_c01.avi', pacman, lossless=True)
        (tmp_path / 'list.txt').write_text('v_A_g01_c01.avi 1\nv_B_g01_c01.avi 2\n')
        argv = ['--train-list', str(tmp_path / 'list.txt')]
    code, err = _make_clips(capsys, src, tmp_path / 'c', *argv)
    lines = [l for l in err.splitlines() if l.startswith('error:')]
    assert code == 2 and len(lines) == 1 and 'Traceback' not in err, err
    assert {'none-usable': 'videos: no video could be decoded; see the warnings above',
            'missing-listed': 'list.txt: lists v_B_g01_c01.avi, which is not in'}[case] in lines[0]
    assert not shards.shard_paths(str(tmp_path / 'c'))


def test_test_videos_are_read_as_needed_and_not_kept(pacman, tmp_path):
    for k in range(4):
        _write(tmp_path / 'v{}.avi'.format(k), pacman[:10 + k], lossless=True)
    config = models.model_config('tiny')
    # 6 windows of 4 + 2 frames in all (1, 1, 2 and 2); 2 of them, spread over the list,
    # fall in the 1st and 3rd videos: the others are not even decoded
    videos, windows = predict.load_windows(str(tmp_path), 2, 6, config, 'a window',
                                           max_windows=2)
    names = [str(tmp_path / 'v{}.avi'.format(k)) for k in range(4)]
    assert windows == [(names[0], 0), (names[2], 6)]
    assert videos.counts == {names[0]: 10, names[2]: 12}
    videos = predict.load_videos(str(tmp_path), 6, config, 'a window')
    for path in videos:
        assert len(videos[path]) == videos.counts[path]
    assert len(videos._cache) == 2  # the last two read, not all four
