"""Pictures for people: labelled frame grids (PNG) and animations (GIF)."""
import io

import numpy
from PIL import Image, ImageDraw

import constants
from utils.safe_io import atomic_path

LABEL_HEIGHT = 12
GAP = 2


def _upscale(frame, scale):
    return numpy.repeat(numpy.repeat(frame, scale, axis=0), scale, axis=1)


def _labelled(frame, label, scale):
    """uint8 (H*scale + LABEL_HEIGHT, W*scale, 3): the frame under a text label."""
    image = Image.new('RGB', (frame.shape[1] * scale, frame.shape[0] * scale + LABEL_HEIGHT))
    image.paste(Image.fromarray(_upscale(frame, scale)), (0, LABEL_HEIGHT))
    ImageDraw.Draw(image).text((2, 0), label, fill=(255, 255, 255))
    return numpy.asarray(image)


def _row(frames, labels, scale):
    tiles = [_labelled(f, l, scale) for f, l in zip(frames, labels)]
    gap = numpy.zeros((tiles[0].shape[0], GAP, 3), numpy.uint8)
    return numpy.concatenate(sum([[t, gap] for t in tiles], [])[:-1], axis=1)


def grid(rows, labels, scale=constants.GIF_SCALE):
    """One image of ``rows`` (lists of uint8 (H, W, 3) frames) with per-tile labels."""
    strips = [_row(r, l, scale) for r, l in zip(rows, labels)]
    width = max(s.shape[1] for s in strips)
    strips = [numpy.pad(s, ((0, GAP), (0, width - s.shape[1]), (0, 0))) for s in strips]
    return numpy.concatenate(strips, axis=0)


def save_png(path, image):
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format='PNG')


def save_gif(path, frames, labels, scale=constants.GIF_SCALE, ms=constants.GIF_FRAME_MS):
    """An animation whose k-th frame shows ``frames[k]`` (a list of panels) side by side."""
    images = [Image.fromarray(_row(panels, names, scale)) for panels, names in zip(frames, labels)]
    buffer = io.BytesIO()
    images[0].save(buffer, format='GIF', save_all=True, append_images=images[1:], duration=ms,
                   loop=0)
    with atomic_path(path) as tmp:
        with open(tmp, 'wb') as f:
            f.write(buffer.getvalue())
