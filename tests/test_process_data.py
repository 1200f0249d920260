"""process_data.py: the motion filter, determinism, the shard format, bad input, resuming."""
import json
import os
import shutil

import numpy
import pytest
from PIL import Image

import constants
import process_data
import reference
from conftest import run_cli
from utils.data import clips as cliplib
from utils.data import shards
from utils.data.dataset import ClipDataset


def _args(frames_dir, out, *extra, n=300):
    return ['-n', str(n), '--train-dir', str(frames_dir),
            '--train-clips', str(out), '--workers', '1'] + list(extra)


def _all(directory):
    arrays = [shards.read_shard(p, 4) for p in shards.shard_paths(directory)]
    return {k: numpy.concatenate([a[k] for a in arrays]) for k in shards.SHARD_SPEC}


def _write_video(directory, frames):
    directory.mkdir(parents=True)
    for k, f in enumerate(frames):
        Image.fromarray(f).save(directory / 'frame{}.png'.format(k))


@pytest.mark.parametrize('motion_frames', constants.MOTION_FRAMES_CHOICES)
def test_moving_crops_match_brute_force(frames_dir, motion_frames):
    from utils.data import frames as framelib
    video = framelib.read_video(str(frames_dir / 'train' / 'video000'))[:12]
    mask = cliplib.moving_crops(video, motion_frames=motion_frames)
    assert mask.shape == (12 - constants.HIST_LEN, 210 - 31, 160 - 31)
    assert 0 < mask.mean() < 1
    measured = 5 if motion_frames == 'clip' else 4  # frames the motion is summed over
    rng = numpy.random.default_rng(0)
    for _ in range(60):
        s, y, x = (int(rng.integers(d)) for d in mask.shape)
        clip = video[s:s + measured, y:y + 32, x:x + 32]
        assert mask[s, y, x] == (reference.clip_motion(clip) > constants.CLIP_MOTION_THRESHOLD)


def test_large_crops_and_histories_sum_motion_without_overflow():
    """A 64x64 crop over 7 frame pairs can sum to more than int32 holds: frames that
    flip from black to white move by the most there is, and must still pass a
    threshold just below that."""
    frames = numpy.zeros((8, 70, 66, 3), numpy.uint8)
    frames[1::2] = 255
    most = 64 * 64 * 3 * 7 * 2 ** 2  # every channel of every pixel moves by 2 on [-1, 1]
    mask = cliplib.moving_crops(frames, most - 1, hist_len=7, crop=64)
    assert mask.shape == (1, 7, 3) and mask.all()
    assert not cliplib.moving_crops(frames, most, hist_len=7, crop=64).any()


def test_crop_size_makes_larger_clips_and_is_kept_by_the_directory(frames_dir, tmp_path,
                                                                   capsys):
    src, out = frames_dir / 'train', tmp_path / 'c'
    assert run_cli(process_data.main, _args(src, out, '--crop-size', '64', n=50), capsys)[0] == 0
    assert json.load(open(out / shards.MANIFEST))['crop_size'] == shards.crop_size(str(out)) == 64
    clips = numpy.concatenate([shards.read_shard(p, 4, crop=64)['clips']
                               for p in shards.shard_paths(str(out))])
    assert clips.shape == (50, 5, 64, 64, 3)
    history, target = ClipDataset(str(out), 4, crop=64)[0]
    assert history.shape == (12, 64, 64) and target.shape == (3, 64, 64)
    code, _, err = run_cli(process_data.main, _args(src, out, '--append', n=50), capsys)
    assert code == 2 and 'holds clips for 64x64 crops, not 32x32 crops; pass --crop-size 64' in err
    code, _, err = run_cli(process_data.main, _args(src, tmp_path / 'd', '--crop-size', '200'),
                           capsys)
    assert code == 2 and 'video000: frames are 160x210, smaller than the 200x200 crops' in err
    assert '--crop-size' in err


def test_history_motion_does_not_pick_clips_by_the_frame_to_predict(tmp_path, capsys):
    """A sprite that stands still and jumps every sixth frame: measured on the whole
    clip, the filter keeps a clip whose history is still only when the sprite jumps
    next; measured on the history, it keeps no such clip (the unfiltered share has
    them, whatever comes next)."""
    frames = numpy.zeros((60, 40, 40, 3), numpy.uint8)
    for t in range(60):
        x = 8 if t % 6 == 5 else 4
        frames[t, 10:20, x:x + 10] = 255
    _write_video(tmp_path / 'v' / 'jumps', list(frames))
    for how in constants.MOTION_FRAMES_CHOICES:
        out = tmp_path / how
        code, _, _ = run_cli(process_data.main, _args(tmp_path / 'v', out, '--motion-frames', how,
                                                      n=2000), capsys)
        assert code == 0
        assert json.load(open(out / shards.MANIFEST))['runs'][0]['motion_frames'] == how
        got = _all(str(out))
        clips = got['clips'][got['filtered']].astype(int)
        moves = (numpy.abs(numpy.diff(clips, axis=1)) > 0).any(axis=(2, 3, 4))  # (n, 4 pairs)
        still_history = ~moves[:, :3].any(axis=1)
        if how == 'clip':
            assert still_history.any() and moves[still_history, 3].all()
        else:
            assert len(clips) and not still_history.any()
    code, _, _ = run_cli(process_data.main, _args(tmp_path / 'v', tmp_path / 'half',
                                                  '--unfiltered-fraction', '0.5', n=2000), capsys)
    assert code == 0
    assert json.load(open(tmp_path / 'half' / shards.MANIFEST))['runs'][0][
        'unfiltered_fraction'] == 0.5
    assert 0.45 < (~_all(str(tmp_path / 'half'))['filtered']).mean() < 0.55


def test_clips_move_static_video_gives_only_unfiltered(frames_dir, tmp_path, capsys):
    src = tmp_path / 'videos'
    shutil.copytree(frames_dir / 'train' / 'video000', src / 'moving')
    still = numpy.asarray(Image.open(frames_dir / 'train' / 'video000' / 'frame0.png'))
    _write_video(src / 'still', [still] * 30)
    code, _, err = run_cli(process_data.main, _args(src, tmp_path / 'c', '--no-progress',
                                                    n=2000), capsys)
    assert code == 0 and 'still: no 32x32 crop moves' in err
    assert 'clips:' not in err  # the warning alone, no progress bar
    got = _all(str(tmp_path / 'c'))
    assert len(got['clips']) == 2000
    videos = json.load(open(tmp_path / 'c' / shards.MANIFEST))['runs'][0]['videos']
    still_index = videos.index(str(src / 'still'))
    from_still = got['video'] == still_index
    assert from_still.any() and not got['filtered'][from_still].any()
    assert 0.02 < got['filtered'].__invert__().mean() < 0.08  # about UNFILTERED_FRACTION
    for clip in got['clips'][got['filtered']][:200]:
        assert reference.clip_motion(clip) > constants.CLIP_MOTION_THRESHOLD


def test_no_motion_anywhere_is_an_error(frames_dir, tmp_path, capsys):
    still = numpy.asarray(Image.open(frames_dir / 'train' / 'video000' / 'frame0.png'))
    _write_video(tmp_path / 'videos' / 'still', [still] * 10)
    code, _, err = run_cli(process_data.main, _args(tmp_path / 'videos', tmp_path / 'c'), capsys)
    assert code == 2 and 'no crop of any video moves' in err and 'Traceback' not in err


def test_same_seed_same_clips_whatever_the_workers(frames_dir, tmp_path, capsys):
    src = frames_dir / 'train'
    run_cli(process_data.main, _args(src, tmp_path / 'a'), capsys)
    run_cli(process_data.main, _args(src, tmp_path / 'b', '--workers', '2'), capsys)
    run_cli(process_data.main, _args(src, tmp_path / 'c', '--seed', '1'), capsys)
    a, b, c = (_all(str(tmp_path / d)) for d in 'abc')
    for key in shards.SHARD_SPEC:
        assert numpy.array_equal(a[key], b[key])
    assert not numpy.array_equal(a['clips'], c['clips'])


def test_shard_round_trip_and_dataset(clip_dirs):
    train, _ = clip_dirs
    got = _all(train)
    assert got['clips'].shape == (600, 5, 32, 32, 3) and got['clips'].dtype == numpy.uint8
    manifest = json.load(open(os.path.join(train, shards.MANIFEST)))
    from utils.data import frames as framelib
    video = framelib.read_video(manifest['runs'][0]['videos'][got['video'][7]])
    s, y, x = got['start'][7], got['y'][7], got['x'][7]
    assert numpy.array_equal(got['clips'][7], video[s:s + 5, y:y + 32, x:x + 32])
    dataset = ClipDataset(train, constants.HIST_LEN)
    history, target = dataset[7]
    assert history.shape == (12, 32, 32) and target.shape == (3, 32, 32)
    assert history.dtype == numpy.float32 and -1 <= history.min() and history.max() <= 1
    assert numpy.allclose((target.transpose(1, 2, 0) + 1) * 127.5, got['clips'][7][4], atol=1e-3)
    assert numpy.allclose((history[3:6].transpose(1, 2, 0) + 1) * 127.5, got['clips'][7][1],
                          atol=1e-3)


@pytest.mark.parametrize('hist_len,future', [(5, 1), (4, 2), (3, 1)])
def test_dataset_serves_every_clip_of_every_shard_in_order(clips_hist5, hist_len, future):
    """Clips of 6 frames serve any history and number of frames to predict that
    they hold, with their last frames, across shard boundaries."""
    clips = _all(clips_hist5)['clips']
    assert len(shards.shard_paths(clips_hist5)) > 1
    dataset = ClipDataset(clips_hist5, hist_len, future=future)
    assert len(dataset) == len(clips)
    expected = cliplib.to_model_input(clips[:, -hist_len - future:], hist_len)
    for i in range(len(dataset)):
        history, target = dataset[i]
        assert target.shape == (3 * future, 32, 32)
        assert numpy.array_equal(history, expected[0][i])
        assert numpy.array_equal(target, expected[1][i])


def test_existing_clips_are_never_silently_replaced(frames_dir, tmp_path, capsys):
    src, out = frames_dir / 'train', tmp_path / 'c'
    assert run_cli(process_data.main, _args(src, out), capsys)[0] == 0
    code, _, err = run_cli(process_data.main, _args(src, out), capsys)
    assert code == 2 and 'already holds 300 clips; pass --append' in err
    assert run_cli(process_data.main, _args(src, out, '--append'), capsys)[0] == 0
    assert len(_all(str(out))['clips']) == 600
    assert run_cli(process_data.main, _args(src, out, '--overwrite', n=100), capsys)[0] == 0
    assert len(_all(str(out))['clips']) == 100


def test_interrupted_run_resumes_to_the_same_clips(frames_dir, tmp_path, capsys):
    src = frames_dir / 'train'
    run_cli(process_data.main, _args(src, tmp_path / 'whole', n=25000), capsys)
    out = tmp_path / 'cut'
    run_cli(process_data.main, _args(src, out, n=25000), capsys)
    # What a kill leaves: the last video unfinished (a shard missing, a temporary
    # file half written, the manifest not marked complete).
    manifest = json.load(open(out / shards.MANIFEST))
    run = manifest['runs'][0]
    run['complete'] = False
    del run['done']['p1']
    json.dump(manifest, open(out / shards.MANIFEST, 'w'))
    last = shards.shard_paths(str(out))[-1]
    os.remove(last)
    (out / ('.' + os.path.basename(last) + '.tmp-999')).write_bytes(b'half a shard')
    assert len(ClipDataset(str(out), constants.HIST_LEN)) < 25000  # the temporary file is never read
    code, _, err = run_cli(process_data.main, _args(src, out, n=25000), capsys)
    assert code == 2 and 'interrupted run; pass --resume' in err
    code, _, err = run_cli(process_data.main, _args(src, out, '--seed', '5', '--resume',
                                                    n=25000), capsys)
    assert code == 2 and 'other seed' in err
    code, _, err = run_cli(process_data.main, _args(src, out, '--motion-frames', 'history',
                                                    '--resume', n=25000), capsys)
    assert code == 2 and 'other motion_frames' in err
    assert run_cli(process_data.main, _args(src, out, '--resume', n=25000), capsys)[0] == 0
    a, b = _all(str(tmp_path / 'whole')), _all(str(out))
    assert numpy.array_equal(a['clips'], b['clips'])


@pytest.mark.parametrize('case', ['zero', 'negative', 'missing', 'empty', 'short', 'foreign',
                                  'corrupt', 'mixed', 'history_of_one', 'fraction'])
def test_bad_input_one_line_exit_2(frames_dir, tmp_path, capsys, case):
    src = frames_dir / 'train'
    argv = _args(src, tmp_path / 'c')
    if case in ('zero', 'negative'):
        argv[1] = '0' if case == 'zero' else '-5'
    if case == 'missing':
        argv = _args(tmp_path / 'nowhere', tmp_path / 'c')
    if case == 'fraction':
        argv += ['--unfiltered-fraction', '1.5']
    if case == 'history_of_one':
        argv += ['--hist-len', '1', '--motion-frames', 'history']
    if case == 'empty':
        (tmp_path / 'empty').mkdir()
        argv = _args(tmp_path / 'empty', tmp_path / 'c')
    if case == 'short':
        (tmp_path / 'short' / 'v').mkdir(parents=True)
        for k in range(3):
            shutil.copy(src / 'video000' / 'frame{}.png'.format(k), tmp_path / 'short' / 'v')
        argv = _args(tmp_path / 'short', tmp_path / 'c')
    if case in ('corrupt', 'mixed'):
        shutil.copytree(src / 'video000', tmp_path / 'bad' / 'v')
        frame = tmp_path / 'bad' / 'v' / 'frame7.png'
        if case == 'corrupt':
            frame.write_bytes(frame.read_bytes()[:300])
        else:
            Image.fromarray(numpy.zeros((100, 100, 3), numpy.uint8)).save(frame)
        argv = _args(tmp_path / 'bad', tmp_path / 'c')
    if case == 'foreign':
        (tmp_path / 'c').mkdir()
        (tmp_path / 'c' / 'run00_v0000_p000.npz').write_bytes(b'x')
    code, _, err = run_cli(process_data.main, argv, capsys)
    lines = [l for l in err.splitlines() if l.startswith('error:')]
    assert code == 2 and len(lines) == 1 and 'Traceback' not in err
    assert {'zero': '-n/--num-clips must be at least 1', 'negative': 'got -5',
            'missing': 'nowhere: no such frame directory', 'empty': 'empty: holds no video',
            'short': 'no video has the 5 frames', 'foreign': 'no clips.json',
            'corrupt': 'frame7.png: not a readable image',
            'mixed': 'frame7.png: is 100x100 but the first frame of its video is 160x210',
            'history_of_one': '--motion-frames history needs --hist-len 2 or more',
            'fraction': '--unfiltered-fraction must be between 0 and 1 (got 1.5)'
            }[case] in lines[0]
    if case == 'short':
        assert 'short/v: skipped, it has 3 frames' in err


def test_short_video_skipped_when_others_remain(frames_dir, tmp_path, capsys):
    src = tmp_path / 'videos'
    shutil.copytree(frames_dir / 'train' / 'video000', src / 'long')
    (src / 'short').mkdir()
    shutil.copy(frames_dir / 'train' / 'video000' / 'frame0.png', src / 'short')
    code, _, err = run_cli(process_data.main, _args(src, tmp_path / 'c', n=50), capsys)
    assert code == 0 and 'short: skipped, it has 1 frames' in err
    assert len(_all(str(tmp_path / 'c'))['clips']) == 50
