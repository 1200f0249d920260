"""Read videos, frame by frame: folders of frame images, or video files.

A video root holds videos: folders of images (PNG or JPEG, any naming, ``frame2``
sorted before ``frame10``) and video files (``.mp4``, ``.avi``, ``.mkv``,
``.webm``, ``.mov``, ``.gif``, decoded by FFmpeg through imageio's PyAV plugin).
A folder without images is searched for videos in turn, so a UCF101 root of
class folders works as it is; a split list (``Class/v_X_g01_c01.avi [label]``
per line) picks videos from a root instead. Other files are ignored.

Frames stream one at a time as uint8 (H, W, 3) RGB, so a long video is never
held in memory whole; ``FrameOptions`` keep every n-th frame, resize (with
antialiasing) and cap the count, in that order.
"""
import argparse
import collections
import os
import re

import numpy
from PIL import Image

import constants
from utils.errors import UserError, warn


class FrameOptions(collections.namedtuple('FrameOptions', 'step resize max_frames')):
    """Keep every ``step``-th frame, resize to ``resize`` (height, width) or not
    (None), and keep at most ``max_frames`` (None: all)."""

    def count(self, decoded):
        """Frames kept of ``decoded`` ones."""
        kept = -(-decoded // self.step)
        return kept if self.max_frames is None else min(kept, self.max_frames)


ALL_FRAMES = FrameOptions(1, None, None)


class VideoError(UserError):
    """A video that cannot be decoded: skipped where other videos remain."""


def add_frame_options(parser):
    """The --frame-step, --resize and --max-frames flags, for every script that reads
    videos."""
    parser.add_argument('--frame-step', type=int, default=1,
                        help='keep every N-th frame, for footage that moves little per frame '
                             '(default: %(default)s)')
    parser.add_argument('--resize', type=parse_size, metavar='HxW',
                        help='resize frames to H x W pixels (antialiased) before anything else; '
                             'the paper works at 240x320 for UCF101 (default: keep their size)')
    parser.add_argument('--max-frames', type=int, metavar='N',
                        help='use at most N frames of each video (after --frame-step; '
                             'default: all)')


def check_frame_options(args):
    if args.frame_step < 1 or (args.max_frames is not None and args.max_frames < 1):
        raise UserError('--frame-step and --max-frames must be at least 1')


def frame_options(args):
    return FrameOptions(args.frame_step, args.resize, args.max_frames)


def parse_size(text):
    """'240x320' -> (240, 320): height x width."""
    try:
        h, w = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError('give HEIGHTxWIDTH, for example 240x320')
    if min(h, w) < 1:
        raise argparse.ArgumentTypeError('both sides must be at least 1')
    return h, w


def natural_key(name):
    """Sort key putting ``frame2`` before ``frame10``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r'(\d+)', name)]


def _is_image(name):
    return name.lower().endswith(constants.IMAGE_EXTENSIONS)


def _is_video_file(name):
    return name.lower().endswith(constants.VIDEO_EXTENSIONS)


def _find(directory):
    """Videos under ``directory``, recursively, in natural order."""
    videos = []
    for name in sorted(os.listdir(directory), key=natural_key):
        path = os.path.join(directory, name)
        if os.path.isdir(path):
            if any(_is_image(n) for n in os.listdir(path)):
                videos.append(path)
            else:
                videos += _find(path)
        elif _is_video_file(name):
            videos.append(path)
    return videos


def _listed(root, listfile):
    """The videos a split list names, as paths under ``root``."""
    try:
        with open(listfile) as f:
            names = [line.split()[0] for line in f if line.strip()]
    except (OSError, UnicodeDecodeError) as e:
        raise UserError('{}: cannot read this video list ({})'.format(listfile, e))
    if not names:
        raise UserError('{}: lists no video'.format(listfile))
    paths = [os.path.join(root, n.replace('/', os.sep)) for n in names]
    for name, path in zip(names, paths):
        if not os.path.exists(path):
            raise UserError('{}: lists {}, which is not in {}; check the list and the '
                            'root'.format(listfile, name, root))
    return paths


def _is_frame_folder(directory):
    """Frames and no videos: a folder of videos with a stray picture beside them (a
    thumbnail, say) stays a folder of videos."""
    names = os.listdir(directory)
    return any(map(_is_image, names)) and not any(
        _is_video_file(n) or os.path.isdir(os.path.join(directory, n)) for n in names)


def list_videos(root, listfile=None):
    """Paths of the videos under ``root`` (or those ``listfile`` names there); ``root``
    may also be one video, a video file or a folder of frames, which is then the only
    one."""
    if not listfile and (_is_video_file(root) and os.path.isfile(root)
                         or os.path.isdir(root) and _is_frame_folder(root)):
        return [root]
    if os.path.isfile(root):
        raise UserError('{}: is a file but not a video ({}); pass a video file, a folder '
                        'of frames, or a folder of those'.format(
                            root, ' '.join(constants.VIDEO_EXTENSIONS)))
    if not os.path.isdir(root):
        raise UserError('{}: no such frame directory; make frames with '
                        '"python -m utils.data.pacman" or point to your own'.format(root))
    videos = _listed(root, listfile) if listfile else _find(root)
    if not videos:
        raise UserError('{}: holds no video (a folder of PNG/JPEG frames, or a video file: {}), '
                        'nor folders of them'.format(root, ' '.join(constants.VIDEO_EXTENSIONS)))
    return videos


def frame_paths(video):
    return [os.path.join(video, n) for n in sorted(os.listdir(video), key=natural_key)
            if _is_image(n)]


def _to_rgb(image, path):
    """uint8 (H, W, 3) from any PIL mode or array (gray, palette, RGBA)."""
    if isinstance(image, Image.Image):
        if image.mode != 'RGB':
            image = image.convert('RGB')
        return numpy.asarray(image, dtype=numpy.uint8)
    array = numpy.asarray(image)
    if array.dtype != numpy.uint8:
        raise UserError('{}: frames of type {} are not supported; save them as 8-bit '
                        'images'.format(path, array.dtype))
    if array.ndim == 2:
        array = numpy.repeat(array[:, :, None], 3, axis=2)
    return numpy.ascontiguousarray(array[:, :, :3])


def read_image(path):
    try:
        with Image.open(path) as image:
            image.load()
            return _to_rgb(image, path)
    except (OSError, ValueError, SyntaxError) as e:
        raise UserError('{}: not a readable image ({}); delete or replace it'.format(path, e))


def _undecodable(path, e):
    """The VideoError for ``path`` that failed with ``e``."""
    if os.path.getsize(path) == 0:
        return VideoError('{}: is an empty file'.format(path))
    reason = re.sub(r'^\[Errno -?\d+\]\s*', '', str(e).strip()) or 'no detail'
    return VideoError('{}: cannot decode it ({}: {})'.format(path, type(e).__name__, reason))


def _decoded(path):
    """(label, frame) of each decoded frame of a video file, streamed."""
    import imageio.v3 as iio
    try:
        for i, frame in enumerate(iio.imiter(path, plugin='pyav', format='rgb24')):
            yield '{} frame {}'.format(path, i), frame
    except Exception as e:  # PyAV and imageio raise many kinds; each means "cannot decode"
        raise _undecodable(path, e)


def _resized(frame, size):
    if frame.shape[:2] == tuple(size):
        return frame
    return numpy.asarray(Image.fromarray(frame).resize((size[1], size[0]),
                                                       Image.Resampling.LANCZOS))


def iter_frames(path, options=ALL_FRAMES):
    """The frames of one video as uint8 (H, W, 3), one at a time, all of one size."""
    if os.path.isdir(path):  # only the kept images are read
        kept_paths = frame_paths(path)[::options.step][:options.max_frames]
        source = ((p, read_image(p)) for p in kept_paths)
    else:
        source = (f for i, f in enumerate(_decoded(path)) if i % options.step == 0)
    first, kept = None, 0
    for label, frame in source:
        if options.max_frames is not None and kept >= options.max_frames:
            break
        frame = _to_rgb(frame, label)
        if first is None:
            first = frame.shape
        elif frame.shape != first:
            raise UserError('{}: is {}x{} but the first frame of its video is {}x{}; frames '
                            'of one video must share one size'.format(
                                label, frame.shape[1], frame.shape[0], first[1], first[0]))
        kept += 1
        yield frame if options.resize is None else _resized(frame, options.resize)


def read_video(path, options=ALL_FRAMES):
    """All frames of one video as uint8 (T, H, W, 3)."""
    frames = list(iter_frames(path, options))
    if not frames:
        raise UserError('{}: has no frames'.format(path))
    return numpy.stack(frames)


def _count_file(path):
    """Frames of a video file, from its index or, without one, by reading its packets
    (no decoding); the first frame is decoded to check that it can be."""
    import av
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise VideoError('{}: holds no video stream'.format(path))
            stream = container.streams.video[0]
            count = stream.frames
            if not count:
                count = sum(1 for packet in container.demux(stream) if packet.size)
                container.seek(0)
            next(container.decode(stream))
            return count
    except VideoError:
        raise
    except StopIteration:
        raise VideoError('{}: has no frame that decodes'.format(path))
    except Exception as e:  # a corrupt, truncated or foreign file, or a missing decoder
        raise _undecodable(path, e)


def count_frames(video, options=ALL_FRAMES):
    """Frames a video gives with ``options``, without decoding all of it."""
    decoded = len(frame_paths(video)) if os.path.isdir(video) else _count_file(video)
    return options.count(decoded)


def usable(videos, count, min_frames, what):
    """(video, ``count(video)``) of the ``videos`` that ``count`` can read and that
    have ``min_frames`` frames, lazily; the others are skipped with a warning that
    names them and the reason."""
    for video in videos:
        try:
            n = count(video)
        except VideoError as e:
            warn('{}; skipped'.format(e))
            continue
        if n < min_frames:
            warn('{}: skipped, it has {} frames and {} needs at least {}'.format(
                video, n, what, min_frames))
            continue
        yield video, n


def usable_videos(root, min_frames, what, options=ALL_FRAMES, listfile=None):
    """(path, frame count) of the videos under ``root`` (or in ``listfile``) that open,
    whose first frame decodes and that have at least ``min_frames`` frames."""
    kept = list(usable(list_videos(root, listfile), lambda v: count_frames(v, options),
                       min_frames, what))
    if not kept:
        raise UserError('{}: no video has the {} frames that {} needs'.format(
            root, min_frames, what))
    return kept
