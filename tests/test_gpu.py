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


def test_copy_mask_over_older_frames_on_gpu_matches_cpu(device):
    import models
    from models import pyramid
    from utils.training import losses
    numpy.random.seed(0)
    gen = models.Generator(models.model_config('tiny', copy_mask=True, copy_frames=3,
                                               hard_mask=True))
    gen.towers[-1][-1].b.array[3:] = 0  # every choice made somewhere
    history = numpy.random.default_rng(0).uniform(-1, 1, (2, 12, 24, 16)).astype(numpy.float32)
    target = numpy.concatenate([history[:, 3:6, :12], history[:, 9:, 12:]], axis=2)
    results = []
    for d in (chainer.backend.CpuDevice(), device):
        gen.to_device(d)
        histories = pyramid.pyramid(d.send(history), 4)
        predictions = gen(histories)
        loss = losses.mask_loss(predictions, pyramid.pyramid(d.send(target), 4), histories)
        with chainer.using_config('train', False):
            chosen = gen.predict(d.send(history))
        results.append([chainer.backend.CpuDevice().send(a) for a in (
            predictions[-1].array, loss.array, chosen.array)])
    (blend, loss, chosen), (gpu_blend, gpu_loss, gpu_chosen) = results
    assert numpy.allclose(blend, gpu_blend, atol=1e-3) and numpy.isclose(loss, gpu_loss, rtol=1e-3)
    # TF32 rounding may flip a choice between two logits within 1e-3 of each other
    assert (numpy.abs(chosen - gpu_chosen) > 1e-3).mean() < 0.01
