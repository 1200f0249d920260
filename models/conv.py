"""A stride-1 2D convolution laid out for large matrix products, on NumPy and CuPy.

Chainer's own convolution, without cuDNN (always on CPU, and on GPU with CuPy
14, which has no cuDNN), builds the im2col buffer as (N, C, kh, kw, oh, ow) and
hands it to ``tensordot``, which copies it once more, one product per sample.
Here the arrays are channels-last and the batch is folded into the product:
the columns are (N*oh*ow, k*k*C), each row copied from k runs of k*C
contiguous numbers, and the output comes out as (N, oh, ow, O), returned as an
(N, O, oh, ow) view that the next layer reads without a copy. Bias and ReLU
are applied in the same pass.

On the CPU the columns are built a block of output rows at a time and
multiplied at once, while they are still in cache (``constants.CONV_BLOCK_*``):
a layer's whole column array runs to 100 MB for a training batch and to
hundreds of MB on full frames, and writing it to memory and reading it back
cost as much as its product. So such columns are not kept for the backward
pass either: the weight gradient builds them again, block by block. Columns
that make one block (small layers, and every layer on a GPU, which takes the
whole batch at once) are kept.

The input gradient takes the cheaper of two routes (``constants.CONV_FLIP_RATIO``):
convolving the output gradient with the flipped kernel, which copies O channels
per window, or scattering the column gradient back, k*k strided additions of C
channels, which pays when the layer widens a lot.

Numerically it is the same convolution (tests compare it with Chainer's and run
``chainer.gradient_check``, float16 included).
"""
import threading

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
from chainer import function_node

import constants
from utils.device import gemm_convolution


def _matmul(a, b):
    """a @ b, in float32 for float16 arrays on the CPU: NumPy has no float16 BLAS
    and its fallback is about 100x slower (GPUs accumulate float16 in float32 too)."""
    xp = chainer.backend.get_array_module(a)
    if xp is numpy and a.dtype == numpy.float16:
        return numpy.matmul(a.astype(numpy.float32), b.astype(numpy.float32)).astype(a.dtype)
    return xp.matmul(a, b)


def _channels_last(x, pad):
    """An (N, C, H, W) batch of any layout as a contiguous, zero-padded (N, H', W', C)."""
    xp = chainer.backend.get_array_module(x)
    x = x.transpose(0, 2, 3, 1)
    if not pad:
        return xp.ascontiguousarray(x)
    n, h, w, c = x.shape
    out = xp.zeros((n, h + 2 * pad, w + 2 * pad, c), x.dtype)
    out[:, pad:pad + h, pad:pad + w] = x
    return out


def _windows(x, k, pad):
    """The (N, oh, ow, k, k, C) view of an (N, C, H, W) batch's k x k windows."""
    xp = chainer.backend.get_array_module(x)
    padded = _channels_last(x, pad)
    n, h, w, c = padded.shape
    s = padded.strides
    return xp.lib.stride_tricks.as_strided(padded, (n, h - k + 1, w - k + 1, k, k, c),
                                           (s[0], s[1], s[2], s[1], s[2], s[3]))


def _kernel_matrix(w):
    """The (k*k*C, O) matrix of an (O, C, k, k) kernel, in the columns' order."""
    return w.transpose(2, 3, 1, 0).reshape(-1, len(w))


def _blocks(xp, shape, row_bytes, min_rows):
    """Index tuples into the (N, oh) axes of an (N, oh, ow, ...) output, one per
    block: a few samples, or a few rows of one, whose columns (``row_bytes`` per
    output row) fit ``constants.CONV_BLOCK_BYTES``, but with at least
    ``min_rows`` output pixels, below which a product packs its weights for
    too little work. A GPU takes the whole batch at once."""
    if xp is not numpy:
        return [(slice(None),)]
    n, oh, ow = shape[:3]
    rows = max(1, constants.CONV_BLOCK_BYTES // row_bytes, -(-min_rows // ow))
    if rows >= oh:
        samples = rows // oh
        return [(slice(i, i + samples),) for i in range(0, n, samples)]
    return [(slice(i, i + 1), slice(r, r + rows)) for i in range(n) for r in range(0, oh, rows)]


def _window_blocks(windows, min_rows=None):
    """``_blocks`` of an (N, oh, ow, k, k, C) window view."""
    return _blocks(chainer.backend.get_array_module(windows), windows.shape,
                   windows[0, 0].nbytes, min_rows or constants.CONV_BLOCK_ROWS)


_scratch = threading.local()


def _columns(block):
    """A block of (n, rows, ow, k, k, C) windows copied into (n*rows*ow, k*k*C) columns.

    On the CPU they go to a scratch array reused across calls (one per thread):
    fresh memory would be page-faulted in again at every block.
    """
    xp = chainer.backend.get_array_module(block)
    if xp is numpy:
        buf = getattr(_scratch, block.dtype.name, None)
        if buf is None or buf.size < block.size:
            buf = numpy.empty(block.size, block.dtype)
            setattr(_scratch, block.dtype.name, buf)
        col = buf[:block.size].reshape(block.shape)
        col[...] = block
    else:
        col = xp.ascontiguousarray(block)
    return col.reshape(-1, block[0, 0, 0].size)


def _convolve(x, w, pad):
    """(y (N, oh, ow, O), columns) of a bias-free stride-1 convolution. The
    columns come back when the whole batch makes one block, for the weight
    gradient to use again; otherwise they were built a block at a time into
    scratch memory, and None comes back."""
    xp = chainer.backend.get_array_module(x)
    windows = _windows(x, w.shape[2], pad)
    w2 = _kernel_matrix(w)
    blocks = _window_blocks(windows)
    if len(blocks) == 1:
        col = xp.ascontiguousarray(windows).reshape(-1, len(w2))
        return _matmul(col, w2).reshape(windows.shape[:3] + (len(w),)), col
    y = xp.empty(windows.shape[:3] + (len(w),), x.dtype)
    for b in blocks:
        y[b] = _matmul(_columns(windows[b]), w2).reshape(y[b].shape)
    return y, None


def _kernel_gradient(x, gy, k, pad, col):
    """The (O, C, k, k) gradient of the kernel, given the (N, oh, ow, O) output
    gradient and the forward pass's columns if it kept them; otherwise summed
    over blocks of columns built again."""
    xp = chainer.backend.get_array_module(x)
    out_c = gy.shape[3]
    if col is not None:
        gw = _matmul(gy.reshape(-1, out_c).T, col)
    else:
        windows = _windows(x, k, pad)
        # Summed over blocks large enough that the sums cost little next to the
        # products, and for float16 in float32, as the products themselves are.
        gw = xp.zeros((out_c, windows[0, 0, 0].size),
                      numpy.promote_types(x.dtype, numpy.float32))
        for b in _window_blocks(windows, constants.CONV_GRAD_ROWS_PER_CHANNEL * out_c):
            gw += _matmul(gy[b].reshape(-1, out_c).T, _columns(windows[b]))
    return gw.astype(x.dtype).reshape(out_c, k, k, -1).transpose(0, 3, 1, 2)


def _scattered_gradient(gy, w, x_shape, pad):
    """The (N, C, H, W) gradient of the input: each block's column gradient,
    gy @ W, added back onto the windows it came from."""
    xp = chainer.backend.get_array_module(gy)
    n, c, h, width = x_shape
    out_c, _, k, _ = w.shape
    ow = gy.shape[2]
    wt = _kernel_matrix(w).T
    padded = xp.zeros((n, h + 2 * pad, width + 2 * pad, c), gy.dtype)
    for b in _blocks(xp, gy.shape, ow * wt.nbytes // out_c, constants.CONV_BLOCK_ROWS):
        block = gy[b]
        gcol = _matmul(block.reshape(-1, out_c), wt).reshape(block.shape[:3] + (k, k, c))
        top = b[1].start if len(b) > 1 else 0
        for i in range(k):
            for j in range(k):
                padded[b[0], top + i:top + i + gcol.shape[1], j:j + ow] += gcol[:, :, :, i, j]
    return padded[:, pad:pad + h, pad:pad + width].transpose(0, 3, 1, 2)


class GemmConvolution2D(function_node.FunctionNode):
    """y = conv(x, W) + b with stride 1 and symmetric padding ``pad``, followed by
    ReLU when ``relu``."""

    def __init__(self, pad, relu=False):
        self.pad = pad
        self.relu = relu

    def forward(self, inputs):
        x, w = inputs[:2]
        xp = chainer.backend.get_array_module(x)
        y, col = _convolve(x, w, self.pad)
        if chainer.config.enable_backprop:
            self.col = col
            self.retain_inputs((0, 1))
            if self.relu:
                self.retain_outputs((0,))
        if len(inputs) == 3:
            y += inputs[2]
        if self.relu:
            xp.maximum(y, 0, out=y)
        # (N, oh, ow, O) viewed as (N, O, oh, ow): the next layer reads it as it is.
        return y.transpose(0, 3, 1, 2),

    def backward(self, indexes, grad_outputs):
        xp = chainer.backend.get_array_module(grad_outputs[0].array)
        gy = grad_outputs[0].array.transpose(0, 2, 3, 1)
        if self.relu:
            gy = gy * (self.get_retained_outputs()[0].array.transpose(0, 2, 3, 1) > 0)
        gy = xp.ascontiguousarray(gy)
        out_c = gy.shape[3]
        x, w = (v.array for v in self.get_retained_inputs())
        k = w.shape[2]
        grads = []
        if 0 in indexes:
            # Numbers each route moves per kernel tap: the flipped convolution
            # copies O channels at each of the H x W input pixels; the scatter adds
            # C channels at each of the oh x ow output pixels, at a higher cost each.
            copied = x.shape[2] * x.shape[3] * out_c
            added = gy.shape[1] * gy.shape[2] * x.shape[1]
            if self.pad <= k - 1 and copied <= constants.CONV_FLIP_RATIO * added:
                flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
                gx = _convolve(gy.transpose(0, 3, 1, 2), flipped,
                               k - 1 - self.pad)[0].transpose(0, 3, 1, 2)
            else:
                gx = _scattered_gradient(gy, w, x.shape, self.pad)
            grads.append(chainer.Variable(gx))
        if 1 in indexes:
            grads.append(chainer.Variable(xp.ascontiguousarray(
                _kernel_gradient(x, gy, k, self.pad, self.col))))
        if 2 in indexes:
            grads.append(chainer.Variable(gy.reshape(-1, out_c).sum(axis=0)))
        return grads


class Convolution2D(L.Convolution2D):
    """``L.Convolution2D`` that runs stride-1 convolutions through ``GemmConvolution2D``,
    without the parameters' gradients while an optimizer holds them fixed (the
    discriminator during the generator's step)."""

    def forward(self, x, relu=False):
        """The convolution of ``x``, followed by ReLU when ``relu``."""
        if self.W.array is None:
            self._initialize_params(x.shape[1])
        if not gemm_convolution() \
                or self.stride != (1, 1) or self.dilate != (1, 1) or self.groups != 1 \
                or self.pad[0] != self.pad[1] or self.W.array.shape[2] != self.W.array.shape[3]:
            y = super().forward(x)
            return F.relu(y) if relu else y
        params = [self.W] if self.b is None else [self.W, self.b]
        inputs = [x] + [chainer.Variable(p.array, requires_grad=False) if _held_fixed(p) else p
                        for p in params]
        return GemmConvolution2D(self.pad[0], relu).apply(inputs)[0]


def _held_fixed(param):
    """Whether an optimizer holds ``param`` fixed (``Link.disable_update``): the
    backward pass then skips its gradient, which nothing would read."""
    rule = param.update_rule
    return rule is not None and not rule.enabled
