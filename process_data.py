"""Turn videos into motion-filtered training clips.

    python process_data.py                       # defaults below
    python process_data.py -n 20000 --train-dir data/images/train

Reads TRAIN_DIR/<video>/ (folders of PNG/JPEG frames, or .mp4/.gif/.avi files)
and writes clips of HIST_LEN + 1 frames, cropped to CROP_SIZE x CROP_SIZE, as
uint8 shards of many clips in compressed .npz files (format in
utils/data/shards.py and the README). A clip is kept when its crop moves (see
CLIP_MOTION_THRESHOLD); a small fraction is kept without that test. Each video
is read once and all its clips are cut at once, in parallel over videos. Test
videos need no clips: train.py's evaluation and test.py read full frames.

An existing clip directory is never silently replaced: --resume finishes an
interrupted run, --append adds clips of a new run, --overwrite starts over.
"""
import argparse
import collections
import os
import time

import numpy

import constants
from utils import safe_io, workers
from utils.data import clips as cliplib
from utils.data import frames as framelib
from utils.data import shards
from utils.data.frames import add_frame_options, check_frame_options
from utils.errors import UserError, cli, add_common_flags, warn


class VideoJob(collections.namedtuple('VideoJob', 'out run index path num_filtered '
                                                  'num_unfiltered seed round threshold '
                                                  'hist_len motion_frames crop options')):
    """The clips to cut from one video: ``num_filtered`` that move and
    ``num_unfiltered`` taken anywhere, in round ``p`` (planned) or ``t`` (topping
    up what videos without motion, or that failed to decode, could not give);
    ``crop``: the clips' side; ``options``: the ``FrameOptions`` its frames are read
    with."""

    @property
    def key(self):
        """Its entry in the manifest's ``done``."""
        return '{}{}'.format(self.round, self.index)


def _cut_video(job, paths):
    """Cut ``job``'s clips in two passes over its frames, appending the shards
    written to ``paths``; (clips, moving)."""
    def frames():
        return framelib.iter_frames(job.path, job.options)

    index = cliplib.MotionIndex(frames(), job.threshold, job.hist_len, job.motion_frames,
                                job.crop)
    try:
        if index.counts is None:
            raise UserError('{}: frames are {}x{}, smaller than the {}x{} crops; use larger '
                            'frames, --resize or a smaller --crop-size'.format(
                                job.path, index.shape[1], index.shape[0], job.crop, job.crop))
        if not len(index.counts):
            raise framelib.VideoError('{}: decodes to fewer than {} frames'.format(
                job.path, job.hist_len + 1))
        rng = numpy.random.default_rng(numpy.random.SeedSequence(
            [job.seed, job.run, job.index, ord(job.round)]))
        moving = bool(index.counts.any())
        positions = cliplib.plan(index, job.num_filtered if moving else 0, job.num_unfiltered,
                                 rng)
    finally:
        index.close()
    pending = []  # (clips, start, y, x, filtered) not written yet

    def write(final):
        """Write full shards (and with ``final`` the rest) of the pending clips."""
        while pending and (final or sum(len(p[0]) for p in pending) >= constants.SHARD_SIZE):
            arrays = [numpy.concatenate(a) for a in zip(*pending)]
            head = [a[:constants.SHARD_SIZE] for a in arrays]
            rest = [a[constants.SHARD_SIZE:] for a in arrays]
            pending[:] = [rest] if len(rest[0]) else []
            paths.append(os.path.join(job.out, shards.shard_name(job.run, job.index, job.round,
                                                                 len(paths))))
            shards.write_shard(paths[-1], head[0], job.index, *head[1:])

    for block in cliplib.cut_planned(frames(), positions, job.hist_len, job.crop):
        pending.append(block)
        write(False)
    write(True)
    return len(positions[0]), moving


def _video_job(job):
    """Cut one video's clips and write them as shards; runs in a worker. A video that
    fails to decode leaves no shard and reports why: (key, clips, moving, problem)."""
    paths = []
    try:
        count, moving = _cut_video(job, paths)
    except framelib.VideoError as e:
        for path in paths:
            os.remove(path)
        return job.key, 0, False, str(e)
    return job.key, count, moving, None


def _allocate(num, weights, rng):
    return rng.multinomial(num, numpy.asarray(weights, float) / numpy.sum(weights))


def _start_run(out, manifest, args, videos):
    """(manifest, this run's entry, or None when there is nothing to resume), after
    checking what ``out`` already holds against the mode asked for."""
    params = dict(source=os.path.abspath(args.train_dir), num_clips=args.num_clips,
                  seed=args.seed,
                  threshold=args.threshold, motion_frames=args.motion_frames,
                  unfiltered_fraction=args.unfiltered_fraction,
                  videos=[v for v, _ in videos], frames=[n for _, n in videos],
                  frame_step=args.frame_step,
                  resize=list(args.resize) if args.resize else None, max_frames=args.max_frames)
    if manifest is None:
        if shards.shard_paths(out) and not args.overwrite:
            raise UserError('{}: holds clip shards but no {}; pass --overwrite to replace '
                            'them'.format(out, shards.MANIFEST))
        return dict(format=shards.FORMAT, hist_len=args.hist_len,
                    crop_size=args.crop_size, runs=[]), dict(params, complete=False, done={})
    for name, flag, what in (('hist_len', '--hist-len', 'a history of {} frames'),
                             ('crop_size', '--crop-size', '{0}x{0} crops')):
        kept = manifest.get(name)
        if kept != getattr(args, name):
            raise UserError('{}: holds clips for {}, not {}; pass {} {}, another --train-clips, '
                            'or --overwrite'.format(out, what.format(kept),
                                                    what.format(getattr(args, name)), flag, kept))
    last = manifest['runs'][-1] if manifest['runs'] else None
    if last is not None and not last['complete']:
        if args.resume:
            # Runs recorded before the frame options existed read them all.
            recorded = dict(dict(frame_step=1, resize=None, max_frames=None,
                                 motion_frames='clip'), **last)
            changed = [k for k in params if recorded.get(k) != params[k]]
            if changed:
                raise UserError('{}: the interrupted run used other {}; resume with the '
                                'same arguments, or pass --overwrite'.format(out, ', '.join(changed)))
            return manifest, manifest['runs'].pop()
        raise UserError('{}: holds an interrupted run; pass --resume to finish it or '
                        '--overwrite to start over'.format(out))
    if args.resume:
        return manifest, None
    if not args.append:
        total = sum(r['num_clips'] for r in manifest['runs'])
        raise UserError('{}: already holds {} clips; pass --append to add more or --overwrite '
                        'to replace them'.format(out, total))
    return manifest, dict(params, complete=False, done={})


def _clear(out):
    for path in shards.shard_paths(out):
        os.remove(path)
    manifest = os.path.join(out, shards.MANIFEST)
    if os.path.exists(manifest):
        os.remove(manifest)


def make_clips(args):
    """Write ``args.num_clips`` clips of the videos under ``args.train_dir`` into
    ``args.train_clips``, after checking both."""
    from tqdm import tqdm
    src, out, num = args.train_dir, args.train_clips, args.num_clips
    options = framelib.frame_options(args)
    videos = framelib.usable_videos(src, args.hist_len + 1, 'a clip', options, args.train_list)
    manifest = None if args.overwrite else shards.read_manifest(out)
    manifest, run = _start_run(out, manifest, args, videos)
    if run is None:
        print('{}: already complete, nothing to resume'.format(out))
        return 0
    # Every input is checked: from here on, files are written.
    if args.overwrite:
        _clear(out)
    os.makedirs(out, exist_ok=True)
    run_index = len(manifest['runs'])
    manifest['runs'].append(run)
    shards.write_manifest(out, manifest)

    rng = numpy.random.default_rng(numpy.random.SeedSequence([args.seed, run_index]))
    starts = [n - args.hist_len for _, n in videos]
    num_unfiltered = rng.binomial(num, args.unfiltered_fraction)
    filtered = _allocate(num - num_unfiltered, starts, rng)
    unfiltered = _allocate(num_unfiltered, starts, rng)

    bar = tqdm(total=num, unit='clip', desc='clips', unit_scale=True, smoothing=0.1,
               disable=args.no_progress)
    bar.update(sum(d['clips'] for d in run['done'].values()))
    t0 = time.time()

    def job(round_, index, num_filtered, num_unfiltered):
        return VideoJob(out, run_index, index, videos[index][0], int(num_filtered),
                        int(num_unfiltered), args.seed, round_, args.threshold, args.hist_len,
                        args.motion_frames, args.crop_size, options)

    def run_jobs(jobs):
        todo = [j for j in jobs if j.key not in run['done'] and j.num_filtered + j.num_unfiltered]
        with workers.pool(max(1, min(args.workers, len(todo)))) as pool:
            for key, count, moving, problem in pool.imap_unordered(_video_job, todo):
                run['done'][key] = dict(clips=count, moving=moving, problem=problem)
                shards.write_manifest(out, manifest)
                bar.update(count)
                if problem:
                    warn('{}; skipped'.format(problem))

    try:  # the bar must end its line before any error is printed
        run_jobs([job('p', i, filtered[i], unfiltered[i]) for i in range(len(videos))])
        planned = {int(k[1:]): d for k, d in run['done'].items() if k[0] == 'p'}
        failed = [i for i, d in planned.items() if d.get('problem')]
        static = [i for i, d in planned.items() if not d['moving'] and i not in failed]
        good = [i for i in planned if i not in failed]
        moving = [i for i in good if planned[i]['moving']]
        for i in static:
            warn('{}: no {}x{} crop moves more than the threshold ({}); it gives only '
                 'unfiltered clips'.format(videos[i][0], args.crop_size, args.crop_size,
                                           args.threshold))
        short = sum(int(filtered[i]) for i in static + failed)
        short_unfiltered = sum(int(unfiltered[i]) for i in failed)
        if not good:
            raise UserError('{}: no video could be decoded; see the warnings above'.format(src))
        if short and not moving:
            raise UserError('{}: no crop of any video moves more than the motion threshold '
                            '({}); lower --threshold or use videos with motion'.format(
                                src, args.threshold))
        topup, topup_unfiltered = numpy.zeros(len(videos), int), numpy.zeros(len(videos), int)
        if short:
            topup[moving] = _allocate(short, [starts[i] for i in moving], rng)
        if short_unfiltered:
            topup_unfiltered[good] = _allocate(short_unfiltered, [starts[i] for i in good], rng)
        run_jobs([job('t', i, topup[i], topup_unfiltered[i]) for i in good])
        if any(d.get('problem') for k, d in run['done'].items() if k[0] == 't'):
            raise UserError('{}: a video failed on its second reading; see the warning '
                            'above'.format(src))
    finally:
        bar.close()
    run['complete'] = True
    shards.write_manifest(out, manifest)
    elapsed = time.time() - t0
    print('{}: {} clips in {} shards, {:.1f} s ({:.0f} clips/s)'.format(
        out, num, len(shards.shard_paths(out)), elapsed, num / max(elapsed, 1e-9)))
    return num


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                epilog=__doc__.split('\n\n', 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    d = ' (default: %(default)s)'
    p.add_argument('-n', '--num-clips', type=int, default=constants.NUM_CLIPS,
                   help='training clips to make' + d)
    p.add_argument('--train-dir', default=constants.TRAIN_DIR, help='training videos' + d)
    p.add_argument('--train-list', metavar='LIST',
                   help='take the videos this split list names (UCF101 trainlist01.txt: '
                        '"Class/v_..._gXX_cYY.avi [label]" per line) from --train-dir')
    p.add_argument('--train-clips', default=constants.TRAIN_CLIPS_DIR,
                   help='where training clips go' + d)
    add_frame_options(p)
    p.add_argument('--hist-len', type=int, default=constants.HIST_LEN,
                   help='history frames per clip (plus the frame to predict); clips serve '
                        'train.py --hist-len up to this' + d)
    p.add_argument('--crop-size', type=int, default=constants.CROP_SIZE,
                   help='side of the square crops; train.py takes it from the clips, and '
                        'with its 4 scales needs a side divisible by 16, at least 32' + d)
    p.add_argument('--threshold', type=float, default=constants.CLIP_MOTION_THRESHOLD,
                   help='motion a clip needs: summed squared difference of consecutive '
                        'frames on the [-1, 1] scale' + d)
    p.add_argument('--motion-frames', choices=constants.MOTION_FRAMES_CHOICES,
                   default=constants.CLIP_MOTION_FRAMES,
                   help="frames the motion is measured on: 'clip', all of them (the TF code's), "
                        "or 'history', the input frames alone, so that the filter does not "
                        "pick clips by the frame to predict" + d)
    p.add_argument('--unfiltered-fraction', type=float, default=constants.UNFILTERED_FRACTION,
                   help='share of the clips taken without the motion test, so that the model '
                        'also sees how often still things stay still' + d)
    p.add_argument('--seed', type=int, default=constants.SEED, help='same seed, same clips' + d)
    p.add_argument('--workers', type=int, default=os.cpu_count(),
                   help='processes reading videos' + d)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument('--resume', action='store_true',
                      help='finish an interrupted run with the same arguments')
    mode.add_argument('--append', action='store_true',
                      help='add the clips of a new run to existing ones')
    mode.add_argument('--overwrite', action='store_true',
                      help='delete existing clips and start over')
    add_common_flags(p)
    return p


@cli
def main(argv):
    args = build_parser().parse_args(argv)
    if args.num_clips <= 0:
        raise UserError('-n/--num-clips must be at least 1 (got {})'.format(args.num_clips))
    if args.workers < 1 or args.hist_len < 1 or args.crop_size < 1:
        raise UserError('--workers, --hist-len and --crop-size must be at least 1')
    safe_io.check_out_dir(args.train_clips, '--train-clips')
    if not 0 <= args.unfiltered_fraction <= 1:
        raise UserError('--unfiltered-fraction must be between 0 and 1 (got {})'.format(
            args.unfiltered_fraction))
    if args.motion_frames == 'history' and args.hist_len < 2:
        raise UserError('--motion-frames history needs --hist-len 2 or more: one input frame '
                        'has no motion of its own')
    check_frame_options(args)
    make_clips(args)

if __name__ == '__main__':
    main()
