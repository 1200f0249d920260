"""Atomic writes and pickle-free reads of every file a later run reads back.

A writer puts its bytes under a temporary name in the target's directory and
renames it into place, so a reader sees the old file or the whole new one, never
half of one. Every ``.npz`` is opened with ``allow_pickle=False``: a crafted file
cannot run code, and any broken file becomes a one-line ``UserError`` naming it.
"""
import contextlib
import json
import os
import zipfile
import zlib

import numpy

from utils.errors import UserError

TMP_MARK = '.tmp-'
# Every .npz is a zip archive (one without members starts with the second); a
# pickle of protocol 2 or later starts with PROTO.
ZIP_MAGIC = (b'PK\x03\x04', b'PK\x05\x06')
PICKLE_MAGIC = b'\x80'


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it to ``path`` on success."""
    directory, name = os.path.split(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, '.{}{}{}'.format(name, TMP_MARK, os.getpid()))
    try:
        yield tmp
        with open(tmp, 'rb+') as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def check_out_dir(path, flag):
    """Refuse, before any work, an output folder (given with ``flag``) that cannot be
    made: one that is a file or lies under a file, or whose nearest existing folder
    cannot be written."""
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        where = '' if existing == os.path.abspath(path) else ' ' + existing
        raise UserError('{}:{} is a file, not a folder; pass another {}'.format(
            path, where, flag))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError('{}: cannot write in {}; pass another {}'.format(path, existing, flag))


def write_json(path, obj):
    with atomic_path(path) as tmp:
        with open(tmp, 'w') as f:
            json.dump(obj, f, indent=2)
            f.write('\n')


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise UserError('{}: cannot read it ({}); delete it or restore it from a backup'.format(
            path, e))


def save_npz(path, arrays, compresslevel=6):
    """Write ``arrays`` (name -> array) as a standard ``.npz``, atomically: compressed
    at zlib's ``compresslevel``, or stored as they are (as ``numpy.savez``) where it
    is None.

    ``numpy.savez_compressed`` has no compression level; clip shards use a low
    one, where the speed matters more than a few percent of disk.
    """
    method = zipfile.ZIP_STORED if compresslevel is None else zipfile.ZIP_DEFLATED
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, 'w', method, compresslevel=compresslevel) as zf:
            for name, array in arrays.items():
                with zf.open(name + '.npy', 'w', force_zip64=True) as f:
                    numpy.lib.format.write_array(f, numpy.asanyarray(array), allow_pickle=False)


def load_npz(path, what='file'):
    """Read every array of an ``.npz`` into a dict, refusing pickles.

    Reading all arrays up front checks the whole file (zip CRCs included), so a
    truncated or corrupt file fails here, before any of it is used.
    """
    if not os.path.isfile(path):
        raise UserError('{}: no such {}'.format(path, what))
    pickled = UserError('{}: holds pickled Python objects, which are never loaded (they could '
                        'run code); use a {} written by this project'.format(path, what))
    try:
        with open(path, 'rb') as f:
            head = f.read(4)
    except OSError as e:
        raise UserError('{}: cannot read it ({})'.format(path, e))
    # numpy.load takes any file that is not a zip for a lone array or a pickle;
    # told apart here, a text file or a .npy is not reported as a pickle.
    if not head.startswith(ZIP_MAGIC):
        if head[:1] == PICKLE_MAGIC:
            raise pickled
        raise UserError('{}: not a {} (it is no .npz archive); use one written by this '
                        'project'.format(path, what))
    try:
        with numpy.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except ValueError as e:
        if 'allow_pickle' in str(e):
            raise pickled
        raise UserError('{}: not a readable {} ({}); delete it or write it again'.format(
            path, what, e))
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as e:
        raise UserError('{}: not a readable {} ({}: {}); delete it or write it again'.format(
            path, what, type(e).__name__, e))


def require_arrays(path, arrays, spec, what):
    """Check that ``arrays`` holds each ``name: (dtype, ndim)`` of ``spec``."""
    for name, (dtype, ndim) in spec.items():
        if name not in arrays:
            raise UserError('{}: not a {} (no "{}" array); write it again with this project'.format(
                path, what, name))
        a = arrays[name]
        if a.dtype != numpy.dtype(dtype) or a.ndim != ndim:
            raise UserError('{}: "{}" is {} with {} dims, expected {} with {}; write it again '
                            'with this project'.format(path, name, a.dtype, a.ndim,
                                                       numpy.dtype(dtype), ndim))
