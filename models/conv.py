"""A stride-1 2D convolution laid out for matrix multiplication, on NumPy and CuPy.

Chainer's own convolution, without cuDNN (always on CPU, and on GPU with CuPy
14, which has no cuDNN), builds the im2col buffer as (N, C, kh, kw, oh, ow) and
then hands it to ``tensordot``, which copies it once more into another layout:
the copy, not the arithmetic, dominates. Here the same buffer is viewed as
(N, C*kh*kw, oh*ow) and multiplied batch by batch, which yields NCHW output
directly; backward reuses the forward's buffer instead of rebuilding it.
Numerically it is the same convolution (tests compare it with Chainer's and
run ``chainer.gradient_check``).
"""
import chainer
import chainer.links as L
import numpy
from chainer import function_node
from chainer.utils import conv

from utils.device import gemm_convolution


def _im2col(x, k, pad):
    xp = chainer.backend.get_array_module(x)
    if xp is chainer.backend.CpuDevice().xp:
        return conv.im2col_cpu(x, k, k, 1, 1, pad, pad)
    return conv.im2col_gpu(x, k, k, 1, 1, pad, pad)


def _col2im(col, pad, h, w):
    xp = chainer.backend.get_array_module(col)
    if xp is chainer.backend.CpuDevice().xp:
        return conv.col2im_cpu(col, 1, 1, pad, pad, h, w)
    return conv.col2im_gpu(col, 1, 1, pad, pad, h, w)


def _matmul(a, b):
    """a @ b, in float32 for float16 arrays on the CPU: NumPy has no float16 BLAS
    and its fallback is about 100x slower (GPUs accumulate float16 in float32 too)."""
    xp = chainer.backend.get_array_module(a)
    if xp is numpy and a.dtype == numpy.float16:
        return numpy.matmul(a.astype(numpy.float32), b.astype(numpy.float32)).astype(a.dtype)
    return xp.matmul(a, b)


class GemmConvolution2D(function_node.FunctionNode):
    """y = conv(x, W) + b with stride 1 and symmetric padding ``pad``."""

    def __init__(self, pad):
        self.pad = pad

    def forward(self, inputs):
        x, w = inputs[:2]
        n = len(x)
        out_c, in_c, k, _ = w.shape
        col = _im2col(x, k, self.pad)                      # (N, C, k, k, oh, ow)
        oh, ow = col.shape[4:]
        col = col.reshape(n, in_c * k * k, oh * ow)
        y = _matmul(w.reshape(out_c, -1), col)            # (N, O, oh*ow)
        if len(inputs) == 3:
            y += inputs[2][:, None]
        if chainer.config.enable_backprop:
            self.retain_inputs((1,))
            self.col = col
            self.x_shape = x.shape
        return y.reshape(n, out_c, oh, ow),

    def backward(self, indexes, grad_outputs):
        gy = grad_outputs[0].array
        n, out_c, oh, ow = gy.shape
        w = self.get_retained_inputs()[0].array
        _, in_c, k, _ = w.shape
        gy3 = gy.reshape(n, out_c, oh * ow)
        grads = []
        if 0 in indexes:
            gcol = _matmul(w.reshape(out_c, -1).T, gy3)  # (N, C*k*k, oh*ow)
            gx = _col2im(gcol.reshape(n, in_c, k, k, oh, ow), self.pad, *self.x_shape[2:])
            grads.append(chainer.Variable(gx))
        if 1 in indexes:
            gw = _matmul(gy3, self.col.transpose(0, 2, 1)).sum(axis=0)
            grads.append(chainer.Variable(gw.reshape(w.shape)))
        if 2 in indexes:
            grads.append(chainer.Variable(gy3.sum(axis=(0, 2))))
        return grads


class Convolution2D(L.Convolution2D):
    """``L.Convolution2D`` that runs stride-1 convolutions through ``GemmConvolution2D``."""

    def forward(self, x):
        if self.W.array is None:
            self._initialize_params(x.shape[1])
        if not gemm_convolution() \
                or self.stride != (1, 1) or self.dilate != (1, 1) or self.groups != 1 \
                or self.pad[0] != self.pad[1] or self.W.array.shape[2] != self.W.array.shape[3]:
            return super().forward(x)
        inputs = (x, self.W) if self.b is None else (x, self.W, self.b)
        return GemmConvolution2D(self.pad[0]).apply(inputs)[0]
