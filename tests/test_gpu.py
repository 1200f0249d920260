"""The GPU path: skipped where CuPy or a CUDA GPU is absent, run on a GPU machine."""
import numpy
import pytest

import chainer
import chainer.functions as F

from models.conv import GemmConvolution2D


def _gpu_count():
    from chainer.backends import cuda
    if not cuda.available:
        return 0
    try:
        return cuda.cupy.cuda.runtime.getDeviceCount()
    except Exception:  # no driver or no device
        return 0


pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(_gpu_count() == 0, reason='needs CuPy and a CUDA GPU')]


@pytest.fixture
def device():
    d = chainer.get_device('@cupy:0')
    d.use()
    return d


# TF32 matmuls on Ampere and newer round to about 1e-3, float16 to about 1e-3 of
# the largest value.
@pytest.mark.parametrize('dtype, tol', [(numpy.float32, 1e-3), (numpy.float16, 3e-2)])
def test_gemm_convolution_on_gpu_matches_cpu(device, dtype, tol):
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((2, 5, 17, 13)).astype(dtype)
    w = rng.standard_normal((4, 5, 5, 5)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    gy = rng.standard_normal((2, 4, 17, 13)).astype(dtype)
    results = []
    for dev in (chainer.get_device('@numpy'), device):
        xs = [chainer.Variable(dev.send(a)) for a in (x, w, b)]
        y = GemmConvolution2D(2).apply(xs)[0]
        y.grad = dev.send(gy)
        y.backward()
        cpu = chainer.backend.CpuDevice()
        results.append([cpu.send(y.array)] + [cpu.send(v.grad) for v in xs])
    for a, g in zip(*results):
        assert g.dtype == dtype
        assert numpy.allclose(a, g, rtol=tol, atol=tol * numpy.abs(a).max())
    ref = F.convolution_2d(*(a.astype(numpy.float32) for a in (x, w, b)), pad=2).array
    assert numpy.allclose(results[1][0], ref, rtol=tol, atol=tol * numpy.abs(ref).max())


@pytest.mark.parametrize('dtype', ['float32', 'mixed16'])
def test_train_and_test_scripts_on_gpu(clip_dirs, frames_dir, tmp_path, capsys, dtype):
    import test as test_script
    import train
    from conftest import run_cli
    code, _, err = run_cli(train.main, ['-g', '0', '-d', clip_dirs[0], '-o', str(tmp_path),
                                        '--preset', 'tiny', '-i', '4', '-b', '4', '--dtype', dtype,
                                        '--snapshot-interval', '2', '--no-progress',
                                        '--sample-interval', '2', '--eval-interval', '2',
                                        '--eval-dir', str(frames_dir / 'test')], capsys)
    assert code == 0, err
    code, _, err = run_cli(train.main, ['-g', '0', '-d', clip_dirs[0], '-o', str(tmp_path),
                                        '-i', '6', '-b', '4', '-r', '--no-progress'], capsys)
    assert code == 0, err
    code, out, err = run_cli(test_script.main, ['-g', '0', '-m',
                                                str(tmp_path / 'TRAINED_ADVERSARIAL.model'),
                                                '-t', str(frames_dir / 'test'), '-s', '2',
                                                '-o', str(tmp_path / 'test'), '--no-progress'],
                             capsys)
    assert code == 0, err


@pytest.mark.parametrize('radius', [0, 3])
def test_palette_on_gpu_matches_cpu(device, radius):
    from models import palette
    rng = numpy.random.default_rng(0)
    history = rng.integers(0, 5, (2, 15, 21, 16)).astype(numpy.float32) / 2 - 1
    frames = rng.uniform(-1, 1, (2, 3, 21, 16)).astype(numpy.float32)
    expected = palette.nearest_colours(frames, history, 3, radius)
    got = palette.nearest_colours(device.send(frames), device.send(history), 3, radius)
    numpy.testing.assert_array_equal(chainer.backend.CpuDevice().send(got), expected)
