"""Predictions in the colours of their input frames (``ModelConfig.palette``).

A game draws every frame from a small palette, so a pixel between two of its
colours is a hedge, right for neither: the blend of a ghost that is drawn on
some frames and not on others, or of a sprite's edge a pixel either way. Taking
the nearest colour of the input frames turns each such pixel into a choice, and
the prediction fed back as the next input frame is again a frame the game could
draw. A sprite moves a few pixels a frame, so with a radius a pixel chooses only
among the colours its input frames show near it: a blurred ghost then becomes
that ghost, or what lies around it, not a third colour that happens to lie
nearer, such as that of the score's digits at the bottom of the frame.
"""
import chainer
import numpy

import constants
from utils import pixels
from utils.errors import UserError

_LEVELS = 256


class TooManyColours(UserError):
    """A window's input frames are not drawn from a palette; ``window`` is its index
    in the batch."""

    def __init__(self, message, window):
        super().__init__(message)
        self.window = window


def nearest_colours(frames, history, channels, radius=0,
                    max_colours=constants.PALETTE_MAX_COLOURS):
    """Each pixel of ``frames`` (N, channels, H, W) replaced by the colour of its
    own window's ``history`` (N, k * channels, H, W) nearest to it (squared
    distance), both on the model's [-1, 1] scale; with ``radius`` > 0, nearest
    among the colours the history shows within ``radius`` pixels of it (a square
    of side 2 * radius + 1, in any of its frames). A window whose history holds
    more than ``max_colours`` colours is refused: such video is not drawn from a
    palette, and the search grows with the colours."""
    xp = chainer.backend.get_array_module(frames)
    levels = xp.clip(xp.rint((history + 1) * pixels.HALF), 0, _LEVELS - 1)
    n, _, h, w = history.shape
    keys = colour_keys(levels.reshape(n, -1, channels, h, w), axis=2)
    out = xp.empty_like(frames)
    for i in range(n):
        palette, inverse = xp.unique(keys[i], return_inverse=True)
        if len(palette) > max_colours:
            raise TooManyColours(
                'its frames hold {} colours, and predicting in the input frames\' colours (the '
                "model's palette option) is for video drawn from at most {}, such as Atari "
                'games; test with --no-palette, or train without --palette'.format(
                    len(palette), max_colours), i)
        rgb = xp.stack([(palette // _LEVELS ** (channels - 1 - c)) % _LEVELS
                        for c in range(channels)]).astype(frames.dtype)  # (channels, P)
        rgb = rgb / pixels.HALF - 1
        flat = frames[i].reshape(channels, -1)
        distance = sum(xp.square(rgb[c][:, None] - flat[c][None]) for c in range(channels))
        if radius:
            # The history's own colour at each pixel is always near, so none is left
            # without a candidate.
            allowed = near(shown(inverse, len(palette), h, w), radius)
            distance[~allowed.reshape(len(palette), -1)] = numpy.inf
        out[i] = rgb[:, distance.argmin(axis=0)].reshape(frames[i].shape)
    return out


def colour_keys(levels, axis):
    """One int64 key per colour of ``levels`` (0..255 per channel, the channels on
    ``axis``), the first channel most significant, so that equal colours have equal
    keys and ``numpy.unique`` of the keys finds the palette."""
    xp = chainer.backend.get_array_module(levels)
    channels = xp.moveaxis(levels, axis, 0).astype(numpy.int64)
    keys = channels[0]
    for channel in channels[1:]:
        keys = keys * _LEVELS + channel
    return keys


def shown(inverse, colours, h, w):
    """(colours, H, W): whether any history frame shows each colour at each pixel,
    from ``xp.unique``'s inverse indices of the (k, H, W) colour keys."""
    xp = chainer.backend.get_array_module(inverse)
    inverse = inverse.reshape(-1, h * w)
    where = xp.zeros((colours, h * w), bool)
    where[inverse, xp.arange(h * w)] = True
    return where.reshape(colours, h, w)


def near(mask, radius):
    """(M, H, W): whether ``mask`` (M, H, W) holds within ``radius`` pixels (a square)
    of each pixel; from running sums, so the cost does not grow with the radius."""
    xp = chainer.backend.get_array_module(mask)
    for axis in (1, 2):
        rows = xp.moveaxis(mask, axis, -1)
        sums = xp.concatenate([xp.zeros(rows.shape[:-1] + (1,), numpy.int32),
                               xp.cumsum(rows, axis=-1, dtype=numpy.int32)], axis=-1)
        size = rows.shape[-1]
        upper = xp.minimum(xp.arange(size) + radius + 1, size)
        lower = xp.maximum(xp.arange(size) - radius, 0)
        mask = xp.moveaxis(sums[..., upper] > sums[..., lower], -1, axis)
    return mask
