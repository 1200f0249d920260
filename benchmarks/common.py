"""Shared set-up for the benchmark scripts: run from the repository root or anywhere."""
import json
import os
import platform
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def model_parser(description, batch_size, iters):
    """An argument parser with the options every model benchmark takes."""
    import argparse
    import constants
    p = argparse.ArgumentParser(description=description)
    p.add_argument('--preset', default='paper', choices=sorted(constants.PRESETS))
    p.add_argument('-b', '--batch-size', type=int, default=batch_size)
    p.add_argument('--iters', type=int, default=iters)
    p.add_argument('-g', '--gpu', type=int, default=-1)
    p.add_argument('--stock-conv', action='store_true',
                   help="time Chainer's own convolution instead of models/conv.py")
    p.add_argument('--dtype', default=constants.DTYPE, choices=constants.DTYPES)
    return p


def device_for(args):
    """(device, synchronize) for parsed model-benchmark arguments; models built
    afterwards get ``--dtype``."""
    import chainer
    from utils.device import compute_dtype, get_device
    chainer.global_config.gemm_conv = not args.stock_conv
    chainer.global_config.dtype = compute_dtype(args.dtype)
    device = get_device(args.gpu)
    if device.xp.__name__ == 'cupy':
        return device, device.xp.cuda.Stream.null.synchronize
    return device, lambda: None


def timed(step, iters, sync):
    """(wall seconds, host seconds) per call of ``step``: the host's share is the time
    to issue the work, before ``sync`` waits for a GPU to finish it."""
    import time
    sync()
    t = time.perf_counter()
    for _ in range(iters):
        step()
    issued = time.perf_counter()
    sync()
    done = time.perf_counter()
    return (done - t) / iters, (issued - t) / iters


def impl(args):
    name = 'chainer-stock-conv' if args.stock_conv else 'chainer'
    return name if args.dtype == 'float32' else '{}-{}'.format(name, args.dtype)


def machine(device):
    """A short description of where a figure was measured."""
    if device.xp.__name__ == 'cupy':
        import cupy
        props = cupy.cuda.runtime.getDeviceProperties(device.device.id)
        return props['name'].decode() if isinstance(props['name'], bytes) else props['name']
    return '{} ({} cores)'.format(platform.processor() or platform.machine(), os.cpu_count())


def emit(figures):
    print(json.dumps(figures))
