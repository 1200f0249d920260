"""The compatibility module makes Chainer 7.8.1 work with the installed NumPy."""
import os
import subprocess
import sys

import numpy
import pytest

from utils import compat

import reference
from conftest import ROOT

import chainer  # noqa: E402
import chainer.functions as F  # noqa: E402
import chainer.links as L  # noqa: E402
from chainer import gradient_check, training  # noqa: E402


def test_versions_and_shims():
    assert chainer.__version__ == '7.8.1'
    if int(numpy.__version__.split('.')[0]) >= 2:
        assert 'numpy.sctypes' in compat.SHIMS
    assert numpy.float is float
    assert numpy.int64 in numpy.sctypes['int']


def test_pkg_resources_stand_in():
    assert compat._require('numpy') == []
    with pytest.raises(compat._DistributionNotFound):
        compat._require('no-such-package-here>=1')


def test_convolution_forward_backward():
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    y = F.convolution_2d(x, w, pad=1)
    assert numpy.allclose(y.array, reference.conv2d(x, w, pad=1))
    gradient_check.check_backward(lambda x, w: F.convolution_2d(x, w, pad=1), (x, w),
                                  rng.standard_normal(y.shape), dtype=numpy.float64)


def test_pooling_and_resize():
    x = numpy.arange(2 * 1 * 4 * 4, dtype=numpy.float32).reshape(2, 1, 4, 4)
    assert F.max_pooling_2d(x, 2).array[0, 0].tolist() == [[5, 7], [13, 15]]
    # resize_images reads numpy.float, removed in NumPy 1.24
    half = F.resize_images(x, (2, 2), align_corners=False).array
    assert numpy.allclose(half[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    gradient_check.check_backward(lambda v: F.max_pooling_2d(v, 2),
                                  numpy.random.default_rng(1).standard_normal((1, 1, 4, 4)),
                                  numpy.ones((1, 1, 2, 2)), dtype=numpy.float64)


def test_serializers_and_trainer(tmp_path):
    model = L.Classifier(L.Linear(3, 2))
    opt = chainer.optimizers.Adam()
    opt.setup(model)
    rng = numpy.random.default_rng(0)
    data = [(rng.standard_normal(3).astype(numpy.float32), numpy.int32(i % 2)) for i in range(16)]
    it = chainer.iterators.SerialIterator(data, 4)
    trainer = training.Trainer(training.updaters.StandardUpdater(it, opt), (5, 'iteration'),
                               out=str(tmp_path))
    trainer.run()
    assert trainer.updater.iteration == 5
    path = str(tmp_path / 'm.npz')
    chainer.serializers.save_npz(path, model)
    other = L.Classifier(L.Linear(3, 2))
    chainer.serializers.load_npz(path, other)
    assert numpy.array_equal(other.predictor.W.array, model.predictor.W.array)


@pytest.mark.parametrize('version, silenced', [('14.2.0', True), ('13.6.0', False)])
def test_cudnn_warning_silenced_for_cupy_14_only(tmp_path, version, silenced):
    # An installed CuPy as Python sees one: a package and its metadata (only the
    # metadata is read; CuPy is never imported by the compatibility module).
    (tmp_path / 'cupy').mkdir()
    (tmp_path / 'cupy' / '__init__.py').write_text('')
    info = tmp_path / 'cupy_cuda13x-{}.dist-info'.format(version)
    info.mkdir()
    (info / 'METADATA').write_text('Metadata-Version: 2.1\nName: cupy-cuda13x\n'
                                   'Version: {}\n'.format(version))
    code = ('import warnings; from utils import compat; print(compat.cupy_major()); '
            "warnings.warn('cuDNN is not enabled.\\nPlease reinstall CuPy')")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]))
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env,
                          cwd=str(tmp_path), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [version.split('.')[0]]
    assert ('cuDNN is not enabled' in proc.stderr) != silenced
