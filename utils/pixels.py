"""The one place where pixel values change scale: uint8 0..255 on disk and in
pictures, [-1, 1] in the models, float 0..255 in the metrics.

Frames on disk are (..., H, W, 3), channels last; model arrays are (N, C, H, W).
"""
import numpy

HALF = 127.5  # 0..255 = (x + 1) * HALF for x in [-1, 1]


def to_model_scale(frames):
    """uint8 0..255 -> float32 [-1, 1], same layout."""
    x = numpy.asarray(frames, numpy.float32) * (1 / HALF)
    x -= 1
    return x


def to_0_255(x):
    """[-1, 1] model values (N, 3, H, W) -> float64 (N, H, W, 3) on 0..255."""
    return (numpy.asarray(x, numpy.float64).transpose(0, 2, 3, 1) + 1) * HALF


def to_uint8(x):
    """[-1, 1] model values (N, 3, H, W) -> uint8 (N, H, W, 3), rounded and clipped."""
    return numpy.clip(to_0_255(x) + 0.5, 0, 255).astype(numpy.uint8)


def difference_to_model_scale(value):
    """A difference of pixel values on the 0..255 scale, on the [-1, 1] scale."""
    return value / HALF


def squared_difference_to_0_255(value):
    """A sum of squared differences on the [-1, 1] scale, on the 0..255 scale."""
    return value * HALF ** 2
