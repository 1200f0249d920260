"""Clip processing speed and memory: process_data.py on Ms. Pac-Man videos.

    python benchmarks/process_clips.py [--videos 20] [--frames 1000] [-n 500000]
                                       [--reference 300]

Makes the videos once (kept in --frames-dir), then times process_data.py on
them in a fresh process for each clip count in -n, and prints one JSON line per
run with clips/s and the peak resident memory of the largest process. With
--reference N it also times the one-clip-at-a-time reference
(../shared/bench/ref_process_dyelax.py) on N clips.
"""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import common

REFERENCE = os.path.join(common.ROOT, '..', 'shared', 'bench', 'ref_process_dyelax.py')


def run(cmd):
    """(seconds, peak RSS in MiB of the largest process of the run)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, (peak if peak > before else None) and peak / 1024


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--videos', type=int, default=20)
    p.add_argument('--frames', type=int, default=1000)
    p.add_argument('-n', '--num-clips', type=int, nargs='+', default=[500000])
    p.add_argument('--workers', type=int, default=os.cpu_count())
    p.add_argument('--frames-dir', default=os.path.join(tempfile.gettempdir(), 'pacman_bench'))
    p.add_argument('--reference', type=int, default=0, metavar='N',
                   help='also time the reference on N clips')
    args = p.parse_args()
    frames = os.path.join(args.frames_dir, 'train')
    if not os.path.isdir(frames) or len(os.listdir(frames)) != args.videos:
        shutil.rmtree(args.frames_dir, ignore_errors=True)
        subprocess.run([sys.executable, '-m', 'utils.data.pacman', '--out', args.frames_dir,
                        '--train-videos', str(args.videos), '--test-videos', '0', '--frames',
                        str(args.frames)], check=True, cwd=common.ROOT)
    for n in args.num_clips:
        out = tempfile.mkdtemp(prefix='clips_')
        seconds, peak = run([sys.executable, os.path.join(common.ROOT, 'process_data.py'), '-n',
                             str(n), '--train-dir', frames,
                             '--train-clips', out, '--workers', str(args.workers)])
        size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
        shutil.rmtree(out)
        common.emit(dict(benchmark='process_clips', impl='process_data.py', clips=n,
                         videos=args.videos, frames_per_video=args.frames, workers=args.workers,
                         seconds=seconds, clips_per_sec=n / seconds, peak_rss_mib=peak,
                         disk_mib=size / 2 ** 20))
    if args.reference:
        out = tempfile.mkdtemp(prefix='refclips_')
        seconds, _ = run([sys.executable, REFERENCE, frames, out, str(args.reference)])
        shutil.rmtree(out)
        common.emit(dict(benchmark='process_clips', impl='reference (one clip at a time)',
                         clips=args.reference, seconds=seconds,
                         clips_per_sec=args.reference / seconds))


if __name__ == '__main__':
    main()
