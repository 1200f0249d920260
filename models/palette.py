"""Predictions in the colours of their input frames (``ModelConfig.palette``).

A game draws every frame from a small palette, so a pixel between two of its
colours is a hedge, right for neither: the blend of a ghost that is drawn on
some frames and not on others, or of a sprite's edge a pixel either way. Taking
the nearest colour of the input frames turns each such pixel into a choice, and
the prediction fed back as the next input frame is again a frame the game could
draw.
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


def nearest_colours(frames, history, channels, max_colours=constants.PALETTE_MAX_COLOURS):
    """Each pixel of ``frames`` (N, channels, H, W) replaced by the colour of its
    own window's ``history`` (N, k * channels, H, W) nearest to it (squared
    distance), both on the model's [-1, 1] scale. A window whose history holds
    more than ``max_colours`` colours is refused: such video is not drawn from a
    palette, and the search grows with the colours."""
    xp = chainer.backend.get_array_module(frames)
    levels = xp.clip(xp.rint((history + 1) * pixels.HALF), 0, _LEVELS - 1).astype(numpy.int64)
    n, _, h, w = history.shape
    levels = levels.reshape(n, -1, channels, h, w)
    keys = levels[:, :, 0]
    for c in range(1, channels):
        keys = keys * _LEVELS + levels[:, :, c]
    out = xp.empty_like(frames)
    for i in range(n):
        palette = xp.unique(keys[i])
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
        out[i] = rgb[:, distance.argmin(axis=0)].reshape(frames[i].shape)
    return out
