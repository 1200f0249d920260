"""Make Chainer 7.8.1 import and run on today's Python, NumPy, setuptools and CuPy.

Chainer is no longer maintained; rather than editing the installed package, this
module restores, at run time, the few names Chainer still reaches for. It must be
imported before ``chainer``: every entry point (the scripts, the benchmarks, the
tests' conftest) imports it first. Importing it applies the shims listed below,
and nothing else in the project changes global state on import. Each shim is
applied only where the name is really missing, so on old stacks this module
changes nothing.

What it covers, and why:
- ``numpy.sctypes`` (removed in NumPy 2.0): read by ``chainer.functions.as_strided``
  when Chainer is imported.
- ``numpy.float`` (removed in NumPy 1.24): used by ``F.resize_images``.
- ``numpy.distutils.system_info`` (gone on Python >= 3.12): imported by Chainer's
  environment check at import time; only ever queried on macOS.
- ``pkg_resources`` (removed from setuptools 81): imported by the same check to
  look up optional packages (CuPy, iDeep); a small stand-in built on
  ``importlib.metadata`` answers the three calls Chainer makes.
- CuPy 14 has no cuDNN: Chainer then runs its own kernels (``models/conv.py`` for
  the convolutions) but warns, on the first GPU use, to reinstall CuPy with
  cuDNN, which no CuPy 14 can follow; that warning is silenced. The rest of
  CuPy 14's API that Chainer reaches for is there (checked name by name).
"""
import importlib.metadata
import importlib.util
import os
import sys
import types
import warnings

import numpy

# Chainer asks for exact CuPy versions it knew in 2020 and warns on any other one;
# CuPy 13/14 work for what this project uses, so the warning would only mislead.
os.environ.setdefault('CHAINER_WARN_VERSION_MISMATCH', '0')

SHIMS = []


def _numpy_aliases():
    if 'sctypes' not in vars(numpy):
        try:
            numpy.sctypes  # NumPy 1.x: still present
        except AttributeError:
            numpy.sctypes = {
                'int': [numpy.int8, numpy.int16, numpy.int32, numpy.int64],
                'uint': [numpy.uint8, numpy.uint16, numpy.uint32, numpy.uint64],
                'float': [numpy.float16, numpy.float32, numpy.float64, numpy.longdouble],
                'complex': [numpy.complex64, numpy.complex128, numpy.clongdouble],
                'others': [bool, object, bytes, str, numpy.void],
            }
            SHIMS.append('numpy.sctypes')
    try:
        numpy.float
    except AttributeError:
        numpy.float = float
        SHIMS.append('numpy.float')


def _numpy_distutils():
    try:
        import numpy.distutils.system_info  # noqa: F401
    except Exception:
        system_info = types.ModuleType('numpy.distutils.system_info')
        system_info.get_info = lambda name, notfound_action=0: {}
        distutils = types.ModuleType('numpy.distutils')
        distutils.system_info = system_info
        sys.modules['numpy.distutils'] = distutils
        sys.modules['numpy.distutils.system_info'] = system_info
        SHIMS.append('numpy.distutils')


class _DistributionNotFound(Exception):
    pass


class _VersionConflict(Exception):
    pass


def _require(requirement):
    """Answer ``pkg_resources.require`` for a bare name or ``name<spec>``."""
    name = requirement
    for sep in '<>=!~':
        name = name.split(sep)[0]
    try:
        importlib.metadata.version(name.strip())
    except importlib.metadata.PackageNotFoundError:
        raise _DistributionNotFound(requirement)
    return []


def _pkg_resources():
    with warnings.catch_warnings():
        # setuptools 67-80 warn that pkg_resources is deprecated on every import.
        warnings.simplefilter('ignore')
        try:
            import pkg_resources  # noqa: F401
            return
        except ImportError:
            pass
    module = types.ModuleType('pkg_resources')
    module.DistributionNotFound = _DistributionNotFound
    module.VersionConflict = _VersionConflict
    module.ResolutionError = Exception
    module.require = _require
    module.get_distribution = lambda name: types.SimpleNamespace(
        version=importlib.metadata.version(name))
    sys.modules['pkg_resources'] = module
    SHIMS.append('pkg_resources')


def cupy_major():
    """The installed CuPy's major version, from its package metadata (CuPy is not
    imported here), or None."""
    if importlib.util.find_spec('cupy') is None:
        return None
    for dist in importlib.metadata.distributions():
        name = (dist.metadata['Name'] or '').lower()
        if name == 'cupy' or name.startswith(('cupy-cuda', 'cupy-rocm')):
            return int(dist.version.split('.')[0])
    return None


def _cupy_without_cudnn():
    major = cupy_major()
    if major is not None and major >= 14:
        warnings.filterwarnings('ignore', message='cuDNN is not enabled')
        SHIMS.append('cuDNN warning (CuPy >= 14)')


_numpy_aliases()
_numpy_distutils()
_pkg_resources()
_cupy_without_cudnn()
