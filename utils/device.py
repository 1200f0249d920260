"""The compute device from -g/--device, with a clear error when CUDA is missing;
the number format computed in; and the speed/precision choices that go with them.

Choices made here, and only when a script asks for a device:
- On a GPU, float32 matrix products use TF32 (CuPy reads ``CUPY_TF32`` at its
  first product); export ``CUPY_TF32=0`` beforehand for strict float32.
- On a GPU, ``chainer.config.autotune`` picks the fastest cuDNN algorithms.
- Stride-1 convolutions run through ``models/conv.py`` unless the config
  ``gemm_conv`` is False (``stock_convolution()``), which runs Chainer's own.
- On the CPU, glibc's malloc keeps freed memory for reuse (``keep_freed_memory``).
"""
import ctypes
import os

import chainer
import numpy

from utils.errors import UserError


def get_device(gpu=-1, spec=None):
    """The Chainer device for ``--device SPEC`` or ``-g GPU`` (-1: CPU), made current.

    Model and data both go to this one device (the old ``-g 1`` put them on two).
    """
    spec = spec or ('@cupy:{}'.format(gpu) if gpu >= 0 else '@numpy')
    if 'cupy' in spec or spec.startswith('cuda'):
        from chainer.backends import cuda
        if not cuda.available:
            raise UserError('{}: CuPy is not installed or cannot load CUDA; install it (make '
                            'setup-gpu) or run on the CPU with -g -1'.format(spec))
        try:
            count = cuda.cupy.cuda.runtime.getDeviceCount()
        except Exception as e:  # CuPy raises its own CUDARuntimeError
            raise UserError('{}: no usable CUDA GPU ({}); run on the CPU with -g -1'.format(spec, e))
        index = int(spec.rsplit(':', 1)[-1]) if ':' in spec else 0
        if not 0 <= index < count:
            raise UserError('{}: this machine has {} GPU(s), numbered from 0'.format(spec, count))
    try:
        device = chainer.get_device(spec)
    except Exception as e:  # Chainer raises ValueError/RuntimeError for bad specs
        raise UserError('--device {}: {}'.format(spec, e))
    device.use()
    if device.xp is not chainer.backend.CpuDevice().xp:
        os.environ.setdefault('CUPY_TF32', '1')
        chainer.global_config.autotune = True
    else:
        keep_freed_memory()
    return device


def keep_freed_memory():
    """Make glibc's malloc serve large arrays from its heap and keep what is freed.

    A training step allocates and frees the same large column arrays every
    iteration. By default glibc maps each one afresh and unmaps it when freed,
    so every iteration page-faults them in again: a sixth of a ``paper`` step on
    a 2-core machine. The process's memory then stays at its peak, which a
    training run reaches every iteration anyway. A no-op where the C library is
    not glibc.
    """
    try:
        libc = ctypes.CDLL('libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 1 << 30)
    mallopt(m_trim_threshold, 1 << 30)


def gemm_convolution():
    """Whether stride-1 convolutions run through ``models/conv.py`` (the default)."""
    return getattr(chainer.config, 'gemm_conv', True)


def stock_convolution(stock=True):
    """``with stock_convolution():`` runs Chainer's own convolution instead, for
    comparisons."""
    return chainer.using_config('gemm_conv', not stock)


def compute_dtype(name):
    """The ``chainer.config.dtype`` for --dtype NAME (one of constants.DTYPES).

    Under mixed16 links create float16 weights; the models take inputs of any
    dtype, the losses are computed in float32 and the optimizers update float32
    master weights with loss scaling (see utils/optimizers.py).
    """
    return chainer.mixed16 if name == 'mixed16' else numpy.dtype(name)
