"""Clip processing speed and memory: process_data.py on Ms. Pac-Man videos.

    python benchmarks/process_clips.py [--videos 20] [--frames 1000] [-n 500000]
                                       [--input frames mp4] [--long 10] [--reference 300]

Makes the videos once (kept in --frames-dir; with --input mp4 also as H.264
.mp4 files), then times process_data.py on them in a fresh process for each
input and clip count in -n, and prints one JSON line per run with clips/s and
the peak resident memory of the largest process. --long K also cuts clips from
one .mp4 video and from one K times longer, to show that memory does not grow
with a video's length. With --reference N it also times the one-clip-at-a-time
reference (../shared/bench/ref_process_dyelax.py) on N clips.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import common
import numpy

REFERENCE = os.path.join(common.ROOT, '..', 'shared', 'bench', 'ref_process_dyelax.py')


def _group_peak_mib(pgid):
    """The largest peak RSS (VmHWM) among the live processes of a process group."""
    peak = 0
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open('/proc/{}/stat'.format(pid)) as f:
                if int(f.read().rsplit(')', 1)[1].split()[2]) != pgid:
                    continue
            with open('/proc/{}/status'.format(pid)) as f:
                for line in f:
                    if line.startswith('VmHWM:'):
                        peak = max(peak, int(line.split()[1]) / 1024)
        except (OSError, ValueError, IndexError):
            continue
    return peak


def run(cmd):
    """(seconds, peak RSS in MiB of the largest process of the run), watching every
    process of the run (workers start from a fork server, so the run's own
    resource usage would not count them)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _group_peak_mib(proc.pid))
        time.sleep(0.05)
    if proc.returncode:
        raise SystemExit('{} failed with exit code {}'.format(' '.join(cmd), proc.returncode))
    return time.perf_counter() - t, peak


def encode_mp4(folders, out, repeat=1):
    """Each frame folder as an H.264 .mp4 in ``out`` (its frames ``repeat`` times over)."""
    import imageio.v3 as iio
    from utils.data import frames as framelib
    os.makedirs(out, exist_ok=True)
    for folder in folders:
        path = os.path.join(out, os.path.basename(folder) + '.mp4')
        if not os.path.exists(path):
            frames = framelib.read_video(folder)
            iio.imwrite(path, numpy.concatenate([frames] * repeat), plugin='pyav',
                        codec='libx264', fps=30)


def clips_run(source, n, args, **figures):
    out = tempfile.mkdtemp(prefix='clips_')
    seconds, peak = run([sys.executable, os.path.join(common.ROOT, 'process_data.py'), '-n',
                         str(n), '--train-dir', source, '--train-clips', out, '--workers',
                         str(args.workers)])
    size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    shutil.rmtree(out)
    common.emit(dict(dict(benchmark='process_clips', impl='process_data.py', clips=n,
                          workers=args.workers, seconds=seconds, clips_per_sec=n / seconds,
                          peak_rss_mib=peak, disk_mib=size / 2 ** 20), **figures))


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--videos', type=int, default=20)
    p.add_argument('--frames', type=int, default=1000)
    p.add_argument('-n', '--num-clips', type=int, nargs='+', default=[500000])
    p.add_argument('--workers', type=int, default=os.cpu_count())
    p.add_argument('--frames-dir', default=os.path.join(tempfile.gettempdir(), 'pacman_bench'))
    p.add_argument('--input', nargs='+', choices=('frames', 'mp4'), default=['frames'],
                   help='time PNG frame folders, the same videos as .mp4 files, or both')
    p.add_argument('--long', type=int, default=0, metavar='K',
                   help='also compare peak memory on one video and on one K times longer')
    p.add_argument('--reference', type=int, default=0, metavar='N',
                   help='also time the reference on N clips')
    args = p.parse_args()
    frames = os.path.join(args.frames_dir, 'train')
    if not os.path.isdir(frames) or len(os.listdir(frames)) != args.videos:
        shutil.rmtree(args.frames_dir, ignore_errors=True)
        subprocess.run([sys.executable, '-m', 'utils.data.pacman', '--out', args.frames_dir,
                        '--train-videos', str(args.videos), '--test-videos', '0', '--frames',
                        str(args.frames)], check=True, cwd=common.ROOT)
    folders = sorted(os.path.join(frames, v) for v in os.listdir(frames))
    for kind in args.input:
        source = frames
        if kind == 'mp4':
            source = os.path.join(args.frames_dir, 'mp4')
            encode_mp4(folders, source)
        for n in args.num_clips:
            clips_run(source, n, args, input=kind, videos=args.videos,
                      frames_per_video=args.frames)
    if args.long:
        for repeat in (1, args.long):
            source = os.path.join(args.frames_dir, 'long{}'.format(repeat))
            encode_mp4(folders[:1], source, repeat)
            clips_run(source, args.num_clips[0] // args.videos, args, input='mp4', videos=1,
                      frames_per_video=args.frames * repeat)
    if args.reference:
        out = tempfile.mkdtemp(prefix='refclips_')
        seconds, _ = run([sys.executable, REFERENCE, frames, out, str(args.reference)])
        shutil.rmtree(out)
        common.emit(dict(benchmark='process_clips', impl='reference (one clip at a time)',
                         clips=args.reference, seconds=seconds,
                         clips_per_sec=args.reference / seconds))


if __name__ == '__main__':
    main()
