"""Turn folders of video frames into motion-filtered training clips.

    python process_data.py                       # train and test clips, defaults below
    python process_data.py -n 20000 --num-test-clips 1000

Reads TRAIN_DIR/<video>/ and TEST_DIR/<video>/ (folders of PNG/JPEG frames, or
.mp4/.gif/.avi files) and writes clips of HIST_LEN + 1 frames, cropped to
CROP_SIZE x CROP_SIZE, as uint8 shards of many clips in compressed .npz files
(format in utils/shards.py and the README). A clip is kept when its crop moves
(see MOVEMENT_THRESHOLD); a small fraction is kept without that test. Each video
is read once and all its clips are cut at once, in parallel over videos.

An existing clip directory is never silently replaced: --resume finishes an
interrupted run, --append adds clips of a new run, --overwrite starts over.
"""
import argparse
import os
import time

import numpy

import constants
from utils import clips as cliplib
from utils import frames as framelib
from utils import shards, workers
from utils.errors import UserError, cli, warn


def _video_job(job):
    """Read one video, cut its clips and write them as shards; runs in a worker."""
    (out, run, index, path, num_filtered, num_unfiltered, seed, round_, threshold) = job
    frames = framelib.read_video(path)
    _, h, w, _ = frames.shape
    if min(h, w) < constants.CROP_SIZE:
        raise UserError('{}: frames are {}x{}, smaller than the {}x{} crops; use larger '
                        'frames'.format(path, w, h, constants.CROP_SIZE, constants.CROP_SIZE))
    rng = numpy.random.default_rng(numpy.random.SeedSequence([seed, run, index, ord(round_)]))
    mask = cliplib.motion_mask(frames, threshold)
    moving = bool(mask.any())
    if not moving:
        num_filtered = 0
    s, y, x, filtered = cliplib.sample_positions(mask, num_filtered, num_unfiltered, rng)
    order = rng.permutation(len(s))  # mix filtered and unfiltered clips within shards
    s, y, x, filtered = s[order], y[order], x[order], filtered[order]
    for part, lo in enumerate(range(0, len(s), constants.SHARD_SIZE)):
        sl = slice(lo, lo + constants.SHARD_SIZE)
        shards.write_shard(os.path.join(out, shards.shard_name(run, index, round_, part)),
                           cliplib.cut(frames, s[sl], y[sl], x[sl]), index,
                           s[sl], y[sl], x[sl], filtered[sl])
    return index, round_, len(s), moving


def _allocate(num, weights, rng):
    return rng.multinomial(num, numpy.asarray(weights, float) / numpy.sum(weights))


def _start_run(out, manifest, args, videos, append):
    """Choose this run's number, after checking what ``out`` already holds."""
    params = dict(source=os.path.abspath(args.src), num_clips=args.num, seed=args.seed,
                  threshold=args.threshold, unfiltered_fraction=constants.UNFILTERED_FRACTION,
                  videos=[v for v, _ in videos], frames=[n for _, n in videos])
    existing = shards.shard_paths(out)
    if manifest is None:
        if existing:
            raise UserError('{}: holds clip shards but no {}; pass --overwrite to replace '
                            'them'.format(out, shards.MANIFEST))
        return dict(format=shards.FORMAT, hist_len=constants.HIST_LEN,
                    crop_size=constants.CROP_SIZE, runs=[]), dict(params, complete=False, done={})
    last = manifest['runs'][-1] if manifest['runs'] else None
    if last is not None and not last['complete']:
        if args.resume:
            changed = [k for k in params if last.get(k) != params[k]]
            if changed:
                raise UserError('{}: the interrupted run used other {}; resume with the '
                                'same arguments, or pass --overwrite'.format(out, ', '.join(changed)))
            return manifest, manifest['runs'].pop()
        raise UserError('{}: holds an interrupted run; pass --resume to finish it or '
                        '--overwrite to start over'.format(out))
    if args.resume:
        return manifest, None
    if not append:
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


def make_clips(src, out, num, args, what):
    """Write ``num`` clips from the videos under ``src`` into ``out``."""
    from tqdm import tqdm
    args.src, args.num = src, num
    videos = framelib.usable_videos(src, constants.CLIP_LEN, 'a clip')
    if args.overwrite:
        _clear(out)
    os.makedirs(out, exist_ok=True)
    manifest = shards.read_manifest(out)
    manifest, run = _start_run(out, manifest, args, videos, args.append)
    if run is None:
        print('{}: already complete, nothing to resume'.format(out))
        return 0
    run_index = len(manifest['runs'])
    manifest['runs'].append(run)
    shards.write_manifest(out, manifest)

    rng = numpy.random.default_rng(numpy.random.SeedSequence([args.seed, run_index]))
    starts = [n - constants.HIST_LEN for _, n in videos]
    num_unfiltered = rng.binomial(num, constants.UNFILTERED_FRACTION)
    filtered = _allocate(num - num_unfiltered, starts, rng)
    unfiltered = _allocate(num_unfiltered, starts, rng)

    bar = tqdm(total=num, unit='clip', desc=what, unit_scale=True, smoothing=0.1)
    bar.update(sum(d['clips'] for d in run['done'].values()))
    t0 = time.time()

    def run_jobs(jobs):
        todo = [j for j in jobs if '{}{}'.format(j[7], j[2]) not in run['done'] and j[4] + j[5]]
        with workers.pool(max(1, min(args.workers, len(todo)))) as pool:
            for index, round_, count, moving in pool.imap_unordered(_video_job, todo):
                run['done']['{}{}'.format(round_, index)] = dict(clips=count, moving=moving)
                shards.write_manifest(out, manifest)
                bar.update(count)

    try:  # the bar must end its line before any error is printed
        run_jobs([(out, run_index, i, v, int(filtered[i]), int(unfiltered[i]), args.seed, 'p',
                   args.threshold) for i, (v, _) in enumerate(videos)])
        planned = {int(k[1:]): d for k, d in run['done'].items() if k[0] == 'p'}
        static = [videos[i][0] for i, d in planned.items() if not d['moving']]
        short = sum(int(filtered[i]) for i, d in planned.items() if not d['moving'])
        if static:
            moving = [i for i, d in planned.items() if d['moving']]
            for path in static:
                warn('{}: no {}x{} crop moves more than the threshold ({}); it gives only '
                     'unfiltered clips'.format(path, constants.CROP_SIZE, constants.CROP_SIZE,
                                               args.threshold))
            if short and not moving:
                raise UserError('{}: no crop of any video moves more than the motion threshold '
                                '({}); lower --threshold or use videos with motion'.format(
                                    src, args.threshold))
            topup = numpy.zeros(len(videos), int)
            topup[moving] = _allocate(short, [starts[i] for i in moving], rng)
            run_jobs([(out, run_index, i, videos[i][0], int(topup[i]), 0, args.seed, 't',
                       args.threshold) for i in moving])
    finally:
        bar.close()
    run['complete'] = True
    shards.write_manifest(out, manifest)
    elapsed = time.time() - t0
    print('{}: {} clips in {} shards, {:.1f} s ({:.0f} clips/s)'.format(
        out, num, len(shards.shard_paths(out)), elapsed, num / max(elapsed, 1e-9)))
    return num


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], epilog=__doc__.split('\n\n', 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    d = ' (default: %(default)s)'
    p.add_argument('-n', '--num-clips', type=int, default=constants.NUM_CLIPS,
                   help='training clips to make' + d)
    p.add_argument('--num-test-clips', type=int, default=constants.NUM_TEST_CLIPS,
                   help='test clips to make; 0 makes none' + d)
    p.add_argument('--train-dir', default=constants.TRAIN_DIR, help='training videos' + d)
    p.add_argument('--test-dir', default=constants.TEST_DIR, help='test videos' + d)
    p.add_argument('--train-clips', default=constants.TRAIN_CLIPS_DIR,
                   help='where training clips go' + d)
    p.add_argument('--test-clips', default=constants.TEST_CLIPS_DIR,
                   help='where test clips go' + d)
    p.add_argument('--threshold', type=float, default=constants.MOVEMENT_THRESHOLD,
                   help='motion a clip needs: summed squared difference of consecutive '
                        'frames on the [-1, 1] scale' + d)
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
    p.add_argument('--debug', action='store_true', help='show tracebacks of errors')
    return p


@cli
def main(argv):
    args = build_parser().parse_args(argv)
    if args.num_clips <= 0 or args.num_test_clips < 0:
        raise UserError('-n/--num-clips must be at least 1 and --num-test-clips at least 0 '
                        '(got {} and {})'.format(args.num_clips, args.num_test_clips))
    if args.workers < 1:
        raise UserError('--workers must be at least 1')
    make_clips(args.train_dir, args.train_clips, args.num_clips, args, 'train clips')
    if args.num_test_clips:
        make_clips(args.test_dir, args.test_clips, args.num_test_clips, args, 'test clips')


if __name__ == '__main__':
    main()
