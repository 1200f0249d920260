"""Shared set-up for the benchmark scripts: run from the repository root or anywhere."""
import json
import os
import platform
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def machine(device):
    """A short description of where a figure was measured."""
    if device.xp.__name__ == 'cupy':
        import cupy
        props = cupy.cuda.runtime.getDeviceProperties(device.device.id)
        return props['name'].decode() if isinstance(props['name'], bytes) else props['name']
    return '{} ({} cores)'.format(platform.processor() or platform.machine(), os.cpu_count())


def emit(figures):
    print(json.dumps(figures))
