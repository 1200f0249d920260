"""A stride-1 2D convolution laid out for one matrix product per pass, on NumPy and CuPy.

Chainer's own convolution, without cuDNN (always on CPU, and on GPU with CuPy
14, which has no cuDNN), builds the im2col buffer as (N, C, kh, kw, oh, ow) and
hands it to ``tensordot``, which copies it once more; a product per sample
leaves the weight gradient and the small late layers of the discriminator to
many small matrix products. Here the batch is folded into the product instead:
the columns are (C*k*k, N*oh*ow), so the forward pass, the weight gradient and
the input gradient are each one large product, and the output comes out laid
out as (O, N, oh, ow), returned as an (N, O, oh, ow) view; the next layer reads
that layout without a copy. ReLU can be fused into the same pass.

The input gradient takes the cheaper of two routes: scattering the column
gradient back (k*k strided additions of C channels), or, when the layer does
not widen (O <= C), convolving the output gradient with the flipped kernel,
which copies O channels once instead.

Numerically it is the same convolution (tests compare it with Chainer's and run
``chainer.gradient_check``, float16 included).
"""
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


def _channels_first(x, pad):
    """An (N, C, H, W) batch of any layout as a contiguous, zero-padded (C, N, H', W')."""
    xp = chainer.backend.get_array_module(x)
    x = x.transpose(1, 0, 2, 3)
    if not pad:
        return xp.ascontiguousarray(x)
    c, n, h, w = x.shape
    out = xp.zeros((c, n, h + 2 * pad, w + 2 * pad), x.dtype)
    out[:, :, pad:pad + h, pad:pad + w] = x
    return out


def _windows(x, k, pad):
    """The (C, k, k, N, oh, ow) view of an (N, C, H, W) batch's k x k windows."""
    xp = chainer.backend.get_array_module(x)
    padded = _channels_first(x, pad)
    c, n, h, w = padded.shape
    s = padded.strides
    return xp.lib.stride_tricks.as_strided(padded, (c, k, k, n, h - k + 1, w - k + 1),
                                           (s[0], s[2], s[3], s[1], s[2], s[3]))


def _im2col(x, k, pad):
    """(columns (C*k*k, N*oh*ow), (oh, ow)) of an (N, C, H, W) batch."""
    xp = chainer.backend.get_array_module(x)
    windows = _windows(x, k, pad)
    return xp.ascontiguousarray(windows).reshape(-1, windows[0, 0, 0].size), windows.shape[4:]


_workspaces = {}


def _workspace(size, dtype):
    """A scratch array reused across calls: fresh memory of a column block's size
    would be page-faulted in again at every layer."""
    buf = _workspaces.get(dtype)
    if buf is None or buf.size < size:
        buf = _workspaces[dtype] = numpy.empty(size, dtype)
    return buf[:size]


def _convolve_in_blocks(x, w, pad):
    """y (O, N, oh, ow) of a bias-free convolution on the CPU, without gradients.

    The columns are built a block of output rows at a time, small enough
    (``constants.CONV_BLOCK_BYTES``) to stay in cache between the copy and the
    product that reads them: on full frames the whole column array runs to
    hundreds of MB per layer.
    """
    out_c, in_c, k, _ = w.shape
    windows = _windows(x, k, pad)
    n, oh, ow = windows.shape[3:]
    row_size = in_c * k * k * n * ow
    rows = max(1, constants.CONV_BLOCK_BYTES // (row_size * x.dtype.itemsize))
    buf = _workspace(row_size * min(rows, oh), x.dtype)
    w2 = w.reshape(out_c, -1)
    y = numpy.empty((out_c, n, oh, ow), x.dtype)
    for r in range(0, oh, rows):
        block = windows[..., r:r + rows, :]
        col = buf[:block.size].reshape(block.shape)
        col[...] = block
        y[:, :, r:r + rows] = _matmul(w2, col.reshape(w2.shape[1], -1)).reshape(out_c, n, -1, ow)
    return y


def _col2im(gcol, x_shape, k, pad, out_hw):
    """The (N, C, H, W) gradient of the input from the gradient of its columns."""
    xp = chainer.backend.get_array_module(gcol)
    n, c, h, w = x_shape
    oh, ow = out_hw
    gcol = gcol.reshape(c, k, k, n, oh, ow)
    padded = xp.zeros((c, n, h + 2 * pad, w + 2 * pad), gcol.dtype)
    for i in range(k):
        for j in range(k):
            padded[:, :, i:i + oh, j:j + ow] += gcol[:, i, j]
    return padded[:, :, pad:pad + h, pad:pad + w].transpose(1, 0, 2, 3)


def _convolve(x, w, pad):
    """(y (O, N, oh, ow), columns) of a bias-free stride-1 convolution."""
    out_c, _, k, _ = w.shape
    col, out_hw = _im2col(x, k, pad)
    return _matmul(w.reshape(out_c, -1), col).reshape(out_c, len(x), *out_hw), col


class GemmConvolution2D(function_node.FunctionNode):
    """y = conv(x, W) + b with stride 1 and symmetric padding ``pad``, followed by
    ReLU when ``relu``."""

    def __init__(self, pad, relu=False):
        self.pad = pad
        self.relu = relu

    def forward(self, inputs):
        x, w = inputs[:2]
        xp = chainer.backend.get_array_module(x)
        if chainer.config.enable_backprop:
            y, self.col = _convolve(x, w, self.pad)
            self.x_shape = x.shape
            self.retain_inputs((1,))
            if self.relu:
                self.retain_outputs((0,))
        elif xp is numpy:
            y = _convolve_in_blocks(x, w, self.pad)
        else:  # a GPU multiplies the whole column array fastest
            y = _convolve(x, w, self.pad)[0]
        if len(inputs) == 3:
            y += inputs[2][:, None, None, None]
        if self.relu:
            xp.maximum(y, 0, out=y)
        # (O, N, oh, ow) viewed as (N, O, oh, ow): the next layer reads it as it is.
        return y.transpose(1, 0, 2, 3),

    def backward(self, indexes, grad_outputs):
        xp = chainer.backend.get_array_module(grad_outputs[0].array)
        gy = grad_outputs[0].array
        if self.relu:
            gy = gy * (self.get_retained_outputs()[0].array > 0)
        out_c, oh, ow = gy.shape[1:]
        w = self.get_retained_inputs()[0].array
        in_c, k = w.shape[1], w.shape[2]
        gy2 = xp.ascontiguousarray(gy.transpose(1, 0, 2, 3)).reshape(out_c, -1)
        grads = []
        if 0 in indexes:
            if out_c <= in_c and self.pad <= k - 1:
                flipped = xp.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
                gx = _convolve(gy, flipped, k - 1 - self.pad)[0].transpose(1, 0, 2, 3)
            else:
                gx = _col2im(_matmul(w.reshape(out_c, -1).T, gy2), self.x_shape, k, self.pad,
                             (oh, ow))
            grads.append(chainer.Variable(gx))
        if 1 in indexes:
            # The same product as gy2 @ col.T, in the operand order that OpenBLAS
            # runs faster on these shapes (measured: up to 1.7x; benchmarks/RESULTS.md).
            gw = _matmul(self.col, gy2.T).T
            grads.append(chainer.Variable(xp.ascontiguousarray(gw).reshape(w.shape)))
        if 2 in indexes:
            grads.append(chainer.Variable(gy2.sum(axis=1)))
        return grads


class Convolution2D(L.Convolution2D):
    """``L.Convolution2D`` that runs stride-1 convolutions through ``GemmConvolution2D``."""

    def forward(self, x, relu=False):
        """The convolution of ``x``, followed by ReLU when ``relu``."""
        if self.W.array is None:
            self._initialize_params(x.shape[1])
        if not gemm_convolution() \
                or self.stride != (1, 1) or self.dilate != (1, 1) or self.groups != 1 \
                or self.pad[0] != self.pad[1] or self.W.array.shape[2] != self.W.array.shape[3]:
            y = super().forward(x)
            return F.relu(y) if relu else y
        inputs = (x, self.W) if self.b is None else (x, self.W, self.b)
        return GemmConvolution2D(self.pad[0], relu).apply(inputs)[0]
