"""Image pyramids: the sizes of the scales and the resizing between them.

Scale k of n has size ceil(size_{k+1} / 2), the finest being the input, so any
frame size works: Ms. Pac-Man's 210x160 gives 27x20, 53x40, 105x80, 210x160.
Each coarser scale is resized from the next finer one (bilinear, pixel centres
aligned), which for even sizes is exactly a 2x2 average.
"""
import chainer.functions as F
import numpy


def sizes(height, width, num_scales):
    """[(h, w)] from the coarsest scale to (height, width)."""
    out = [(height, width)]
    for _ in range(num_scales - 1):
        h, w = out[0]
        out.insert(0, (-(-h // 2), -(-w // 2)))
    return out


def resize(x, size):
    """Resize an (N, C, H, W) batch to ``size``; a no-op when it already has it."""
    if tuple(x.shape[2:]) == tuple(size):
        return x
    # Chainer's resize accepts float32 only; under mixed16 it runs in float32.
    y = F.resize_images(F.cast(x, numpy.float32), size, align_corners=False)
    return F.cast(y, x.dtype)


def pyramid(x, num_scales):
    """[x at each scale], coarsest first, each halved from the next finer one."""
    levels = [x]
    for size in reversed(sizes(*x.shape[2:], num_scales=num_scales)[:-1]):
        levels.insert(0, resize(levels[0], size))
    return levels
