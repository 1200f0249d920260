"""--dtype mixed16: float16 models, float32 losses and updates, dynamic loss scaling.

Mixed precision is meant for GPUs; these tests run the same code on the CPU.
"""
import numpy
import pytest

import chainer
import chainer.functions as F

import models
import train
from conftest import make_updater, run_cli, weights
from models import checkpoint, pyramid
from models.conv import GemmConvolution2D
from utils import run_folder
from utils.device import compute_dtype
from utils.training import losses

MIXED16 = compute_dtype('mixed16')


def _models(config):
    with chainer.using_config('dtype', MIXED16):
        return models.Generator(config), models.Discriminator(config)


@pytest.mark.parametrize('out_c', [4, 8])  # both routes of the input gradient
def test_float16_gemm_convolution_matches_float32(out_c):
    rng = numpy.random.default_rng(0)
    x, w, b, gy = (rng.uniform(-1, 1, s).astype(numpy.float32)
                   for s in [(2, 6, 9, 7), (out_c, 6, 3, 3), (out_c,), (2, out_c, 9, 7)])
    results = {}
    for dtype in (numpy.float32, numpy.float16):
        inputs = [chainer.Variable(a.astype(dtype)) for a in (x, w, b)]
        y = GemmConvolution2D(1).apply(inputs)[0]
        y.grad = gy.astype(dtype)
        y.backward()
        assert y.dtype == dtype and all(v.grad.dtype == dtype for v in inputs)
        results[dtype] = [y.array] + [v.grad for v in inputs]
    for half, single in zip(results[numpy.float16], results[numpy.float32]):
        scale = numpy.abs(single).max()
        assert numpy.abs(half.astype(numpy.float32) - single).max() < 2e-3 * scale


def test_mixed16_generator_follows_the_float32_one():
    config = models.model_config('tiny')
    gen32 = models.Generator(config)
    gen16, dis16 = _models(config)
    gen16.copyparams(gen32)
    assert gen16.dtype == dis16.dtype == numpy.float16
    history = numpy.random.default_rng(0).uniform(-1, 1, (2, 12, 32, 32)).astype(numpy.float32)
    predictions = gen16(pyramid.pyramid(history, 4))
    assert all(p.dtype == numpy.float16 for p in predictions)
    # Float16 resolves [-1, 1] to about 1e-3: far below one 8-bit grey level.
    y16, y32 = gen16.predict(history), gen32.predict(history)
    assert y16.dtype == numpy.float32
    assert numpy.abs(y16.array - y32.array).max() < 1 / 127.5
    logits = dis16(predictions, pyramid.pyramid(history, 4))
    assert all(numpy.isfinite(l.array).all() for l in logits)


# Chainer warns of every overflowing gradient; train.py silences it, pytest resets filters.
@pytest.mark.filterwarnings('ignore:Non finite number found')
def test_loss_scale_grows_until_overflow_which_skips_the_step():
    updater = make_updater(dtype='mixed16')
    gen = updater.get_optimizer('gen')
    observation = {}
    with updater.make_reporter().scope(observation):
        for _ in range(3):
            updater.update()
    assert gen._loss_scale == 8  # from 1, doubled after each step without overflow
    for name, opt in updater.get_all_optimizers().items():
        for _, param in opt.target.namedparams():
            assert param.dtype == numpy.float16
            assert param.update_rule._fp32_param.dtype == numpy.float32, name
    assert all(observation[k].dtype == numpy.float32 for k in ('gen/loss', 'dis/loss'))

    # A gradient beyond float16's range: the step is skipped and the scale halved.
    updater.terms = losses.generator_terms({'lp': 1e6})
    before = weights(gen.target)
    with updater.make_reporter().scope({}), numpy.errstate(over='ignore', invalid='ignore'):
        updater.update_gen(updater.rollout(*updater.next_batch()))
    assert gen._loss_scale == 4
    assert all(numpy.array_equal(before[n], p.array) for n, p in gen.target.namedparams())


def test_train_mixed16_resumes_and_switches_precision(clip_dirs, tmp_path, capsys):
    common = ['-d', clip_dirs[0], '-o', str(tmp_path), '--preset', 'tiny', '-b', '4',
              '--snapshot-interval', '2', '--no-progress', '--sample-interval', '0',
              '--eval-interval', '0', '--loaderjobs', '0']
    code, _, err = run_cli(train.main, common + ['-i', '2', '--dtype', 'mixed16'], capsys)
    assert code == 0, err
    assert 'mixed16 pays off on GPUs' in err

    def saved(iteration):
        arrays, config = checkpoint.read(str(tmp_path / 'snapshot_iter_{}.npz'.format(iteration)),
                                         'snapshot')
        return {a.dtype for a in arrays.values()} & {numpy.dtype(numpy.float16)}, config['dtype']

    # Files hold float32, so a run continues in mixed16 by default, or in float32.
    assert saved(2) == (set(), 'mixed16')
    code, out, err = run_cli(train.main, common + ['-i', '4', '-r'], capsys)
    assert code == 0 and 'at iteration 2' in out, err
    assert saved(4) == (set(), 'mixed16')
    code, out, err = run_cli(train.main, common + ['-i', '6', '-r', '--dtype', 'float32'],
                             capsys)
    assert code == 0 and 'at iteration 4' in out, err
    assert saved(6)[1] == 'float32'
    gen = run_folder.load_generator(str(tmp_path / 'TRAINED_ADVERSARIAL.model'))
    assert gen.dtype == numpy.float32


def test_mixed16_losses_are_float32_and_match():
    rng = numpy.random.default_rng(1)
    a, b = (rng.uniform(-1, 1, (2, 3, 210, 160)).astype(numpy.float32) for _ in range(2))
    for loss in (lambda p, t: losses.lp_loss(p, t, 2), lambda p, t: losses.gdl_loss(p, t, 1)):
        full = loss([a], [b])
        half = loss([F.cast(a, numpy.float16)], [b.astype(numpy.float16)])
        # Summed over a full frame, these would overflow float16 (max 65504).
        assert half.dtype == numpy.float32 and full.array > 65504
        assert abs(float(half.array) - float(full.array)) < 1e-3 * float(full.array)
