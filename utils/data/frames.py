"""Read videos: folders of frame images, or video files, as uint8 RGB arrays.

A video directory holds one entry per video: a folder of images (PNG or JPEG,
any naming, ``frame2`` sorted before ``frame10``) or a video file (``.mp4``,
``.gif``, ``.avi``, read by imageio where it has a plugin). Other files are
ignored. Frames come back as one array of shape (T, H, W, 3).
"""
import os
import re

import numpy
from PIL import Image

import constants
from utils.errors import UserError, warn


def natural_key(name):
    """Sort key putting ``frame2`` before ``frame10``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r'(\d+)', name)]


def _is_image(name):
    return name.lower().endswith(constants.IMAGE_EXTENSIONS)


def _is_video_file(name):
    return name.lower().endswith(constants.VIDEO_EXTENSIONS)


def list_videos(root):
    """Paths of the videos under ``root``, in natural order."""
    if not os.path.isdir(root):
        raise UserError('{}: no such frame directory; make frames with '
                        '"python -m utils.data.pacman" or point to your own'.format(root))
    videos = []
    for name in sorted(os.listdir(root), key=natural_key):
        path = os.path.join(root, name)
        if (os.path.isdir(path) and any(_is_image(n) for n in os.listdir(path))) \
                or (os.path.isfile(path) and _is_video_file(name)):
            videos.append(path)
    if not videos:
        raise UserError('{}: holds no video (a folder of PNG/JPEG frames, or an .mp4/.gif/.avi '
                        'file, per video)'.format(root))
    return videos


def frame_paths(video):
    return [os.path.join(video, n) for n in sorted(os.listdir(video), key=natural_key)
            if _is_image(n)]


def _to_rgb(image, path):
    """uint8 (H, W, 3) from any PIL mode or array (gray, palette, RGBA, 16-bit)."""
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


def _read_video_file(path):
    import imageio.v3 as iio
    try:
        frames = [_to_rgb(f, path) for f in iio.imiter(path)]
    except UserError:
        raise
    except Exception as e:  # imageio raises plugin-specific errors
        raise UserError('{}: cannot read this video ({}); install a plugin for it '
                        '(pip install imageio[ffmpeg]) or convert it to frames'.format(path, e))
    return frames


def read_video(path):
    """All frames of one video as uint8 (T, H, W, 3)."""
    if os.path.isdir(path):
        frames = [read_image(p) for p in frame_paths(path)]
        names = frame_paths(path)
    else:
        frames = _read_video_file(path)
        names = ['{} frame {}'.format(path, i) for i in range(len(frames))]
    if not frames:
        raise UserError('{}: has no frames'.format(path))
    first = frames[0].shape
    for name, frame in zip(names, frames):
        if frame.shape != first:
            raise UserError('{}: is {}x{} but the first frame of its video is {}x{}; frames '
                            'of one video must share one size'.format(
                                name, frame.shape[1], frame.shape[0], first[1], first[0]))
    return numpy.stack(frames)


def count_frames(video):
    """Frames in a video, without decoding a folder's images."""
    if os.path.isdir(video):
        return len(frame_paths(video))
    return len(_read_video_file(video))


def usable_videos(root, min_frames, what):
    """(path, frame count) of the videos under ``root`` with at least ``min_frames``
    frames; the others are skipped with a warning."""
    kept = []
    for video in list_videos(root):
        n = count_frames(video)
        if n < min_frames:
            warn('{}: skipped, it has {} frames and {} needs at least {}'.format(
                video, n, what, min_frames))
            continue
        kept.append((video, n))
    if not kept:
        raise UserError('{}: no video has the {} frames that {} needs'.format(
            root, min_frames, what))
    return kept
