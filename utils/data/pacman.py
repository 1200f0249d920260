"""Make real Ms. Pac-Man gameplay frames from the ROM that ale-py ships.

    python -m utils.data.pacman                # small set: seconds on 2 cores
    python -m utils.data.pacman --full         # the size a GPU user trains on

Writes ``OUT/train/video<i>/frame<k>.png`` and ``OUT/test/...`` (210x160 RGB),
the layout ``process_data.py`` and ``test.py`` read. A random agent with a sticky
policy (each action held for a random number of frames) plays, so Ms. Pac-Man
and the ghosts move; the start jingle, when nothing moves, is skipped, and a game
over starts a new game in the same video. Same seed, same frames.
"""
import argparse
import os
import shutil
import sys

import numpy
from PIL import Image

import constants
from utils import safe_io
from utils.errors import UserError, cli, add_common_flags


def _new_game(ale):
    ale.reset_game()
    for _ in range(constants.PACMAN_INTRO_FRAMES):
        ale.act(0)


def play(seed, num_frames, frame_skip, action_repeat=constants.PACMAN_ACTION_REPEAT):
    """``num_frames`` uint8 (210, 160, 3) screens of one game played from ``seed``."""
    import ale_py
    from ale_py import roms
    ale = ale_py.ALEInterface()
    ale.setLoggerMode(ale_py.LoggerMode.Error)
    ale.setInt('random_seed', int(seed % (2 ** 31)))
    # The policy below is already sticky; ALE's own stickiness would only add noise.
    ale.setFloat('repeat_action_probability', 0.0)
    ale.loadROM(roms.get_rom_path(constants.PACMAN_GAME))
    actions = ale.getMinimalActionSet()
    rng = numpy.random.default_rng(seed)
    _new_game(ale)
    frames = numpy.empty((num_frames,) + ale.getScreenRGB().shape, numpy.uint8)
    action, hold = actions[0], 0
    for k in range(num_frames):
        for _ in range(frame_skip):
            if hold == 0:
                action = actions[rng.integers(len(actions))]
                hold = rng.geometric(1.0 / action_repeat)
            ale.act(action)
            hold -= 1
            if ale.game_over():
                _new_game(ale)
        frames[k] = ale.getScreenRGB()
    return frames


def write_video(frames, path, overwrite):
    """Write frames as ``path/frame<k>.png``; the folder appears whole or not at all."""
    if os.path.exists(path):
        if not overwrite:
            raise UserError('{}: already exists; pass --overwrite to replace it'.format(path))
        shutil.rmtree(path)
    tmp = path + '.tmp'
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for k, frame in enumerate(frames):
        Image.fromarray(frame).save(os.path.join(tmp, 'frame{}.png'.format(k)), compress_level=1)
    os.replace(tmp, path)


def make_frames(out, train_videos, test_videos, frames, frame_skip, seed, overwrite=False,
                progress=True):
    from tqdm import tqdm
    jobs = [('train', i) for i in range(train_videos)] + [('test', i) for i in range(test_videos)]
    for split, i in tqdm(jobs, desc='Ms. Pac-Man videos', unit='video', disable=not progress):
        # Train and test games never share a seed, whatever the counts.
        video_seed = int(numpy.random.SeedSequence([seed, split == 'test', i]).generate_state(1)[0])
        write_video(play(video_seed, frames, frame_skip),
                    os.path.join(out, split, 'video{:03d}'.format(i)), overwrite)
    return [os.path.join(out, 'train'), os.path.join(out, 'test')]


def ensure_test_videos(test_dir, progress=True):
    """Make the built-in test videos in ``test_dir`` when it is the default and does
    not exist yet: the frames ``python -m utils.data.pacman`` writes there, in a few
    seconds, so that a fresh set-up can test a shipped model at once."""
    if os.path.normpath(test_dir) != os.path.normpath(constants.TEST_DIR) \
            or os.path.exists(test_dir):
        return
    print('making the built-in Ms. Pac-Man test videos in {}'.format(test_dir), file=sys.stderr)
    make_frames(os.path.dirname(constants.TEST_DIR), 0, constants.PACMAN_TEST_VIDEOS,
                constants.PACMAN_FRAMES, constants.PACMAN_FRAME_SKIP, constants.SEED,
                progress=progress)


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--out', default=os.path.dirname(constants.TRAIN_DIR),
                   help='writes OUT/train/video<i>/ and OUT/test/video<i>/')
    p.add_argument('--train-videos', type=int, default=constants.PACMAN_TRAIN_VIDEOS)
    p.add_argument('--test-videos', type=int, default=constants.PACMAN_TEST_VIDEOS)
    p.add_argument('--frames', type=int, default=constants.PACMAN_FRAMES,
                   help='frames per video')
    p.add_argument('--frame-skip', type=int, default=constants.PACMAN_FRAME_SKIP,
                   help='emulator frames between saved frames')
    p.add_argument('--full', action='store_true',
                   help='the full-size set: {train_videos} train and {test_videos} test videos '
                        'of {frames} frames'.format(**constants.PACMAN_FULL))
    p.add_argument('--seed', type=int, default=constants.SEED)
    p.add_argument('--overwrite', action='store_true', help='replace existing videos')
    add_common_flags(p)
    return p


@cli
def main(argv):
    args = build_parser().parse_args(argv)
    if args.full:
        args.train_videos = constants.PACMAN_FULL['train_videos']
        args.test_videos = constants.PACMAN_FULL['test_videos']
        args.frames = constants.PACMAN_FULL['frames']
    if min(args.train_videos, args.test_videos) < 0 or args.frames < constants.HIST_LEN + 1 \
            or args.frame_skip < 1:
        raise UserError('need --train-videos/--test-videos >= 0, --frames >= {} and '
                        '--frame-skip >= 1'.format(constants.HIST_LEN + 1))
    safe_io.check_out_dir(args.out, '--out')
    dirs = make_frames(args.out, args.train_videos, args.test_videos, args.frames,
                       args.frame_skip, args.seed, args.overwrite, not args.no_progress)
    print('wrote {} train and {} test videos of {} frames to {}'.format(
        args.train_videos, args.test_videos, args.frames, ' and '.join(dirs)))


if __name__ == '__main__':
    main()
