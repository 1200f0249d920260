"""Losses, and what the updater's two steps do to each network's parameters."""
import numpy
import pytest

import chainer

import reference
from conftest import make_updater, weights
from models import pyramid
from utils.training import losses
from utils.training.updater import Step


def _images(seed, n=2, size=8):
    return numpy.random.default_rng(seed).uniform(-1, 1, (n, 3, size, size))


@pytest.mark.parametrize('alpha', [1, 2])
def test_gdl_is_per_channel(alpha):
    p, t = _images(0), _images(1)
    got = losses.gdl_loss([chainer.Variable(p)], [t], alpha).array
    assert numpy.isclose(got, reference.gdl(p, t, alpha))
    # the old defect: gradients of the channel sum give another number
    summed = reference.gdl(p.sum(1, keepdims=True), t.sum(1, keepdims=True), alpha)
    assert not numpy.isclose(got, summed)


def test_lp_and_gdl_vanish_for_identical_images_and_average_scales():
    a = [_images(0, size=4), _images(1, size=8)]
    for p in (1, 2):
        assert losses.lp_loss([chainer.Variable(x) for x in a], a, p).array == 0
    assert losses.gdl_loss([chainer.Variable(x) for x in a], a, 1).array == 0
    b = [x + 0.5 for x in a]
    expected = (4 * 4 * 3 * 0.25 + 8 * 8 * 3 * 0.25) / 2  # per image, mean over scales
    assert numpy.isclose(losses.lp_loss([chainer.Variable(x) for x in b], a, 2).array, expected)


def test_adversarial_loss_is_stable_for_huge_logits():
    logits = [chainer.Variable(numpy.array([1e4, -1e4]))]
    real, fake = losses.adversarial_loss(logits, True), losses.adversarial_loss(logits, False)
    assert numpy.isclose(real.array, 1e4 / 2) and numpy.isclose(fake.array, 1e4 / 2)
    with numpy.errstate(over='ignore'):  # Chainer's softplus backward overflows exp() to inf,
        real.backward()                  # which still gives the right gradient
    assert numpy.isfinite(logits[0].grad).all()


def test_dis_step_leaves_gen_alone_and_changes_dis():
    updater = make_updater()
    gen = updater.get_optimizer('gen').target
    dis = updater.get_optimizer('dis').target
    histories, (targets,) = updater.next_batch()
    gen.cleargrads()
    predictions = gen(histories)
    before_g, before_d = weights(gen), weights(dis)
    with updater.make_reporter().scope({}):
        updater.update_dis([Step(histories, targets, predictions)])
    assert all(numpy.array_equal(before_g[n], p.array) for n, p in gen.namedparams())
    assert all(p.grad is None for _, p in gen.namedparams())
    assert any(not numpy.array_equal(before_d[n], p.array) for n, p in dis.namedparams())


def test_gen_step_holds_dis_fixed_and_skips_its_convolution_gradients():
    updater = make_updater()
    gen = updater.get_optimizer('gen').target
    dis = updater.get_optimizer('dis').target
    histories, (targets,) = updater.next_batch()
    before_g, before_d = weights(gen), weights(dis)
    dis.cleargrads()  # fresh parameters hold NaN gradients until cleared
    with updater.make_reporter().scope({}):
        updater.update_gen([Step(histories, targets, gen(histories))])
    assert any(not numpy.array_equal(before_g[n], p.array) for n, p in gen.namedparams())
    assert all(numpy.array_equal(before_d[n], p.array) for n, p in dis.namedparams())
    convolutions = [p for n, p in dis.namedparams() if '/W' in n and p.ndim == 4]
    assert convolutions and all(p.grad is None for p in convolutions)
    assert all(p.update_rule.enabled for p in dis.params())  # D trains again next step


def _adv_grads(lambda_adv):
    """G's gradient from the adversarial term alone (pixel losses weighted 0)."""
    updater = make_updater(weights={'lp': 0, 'gdl': 0, 'adv': lambda_adv})
    gen = updater.get_optimizer('gen').target
    histories, (targets,) = updater.next_batch()
    gen.cleargrads()
    loss = updater.gen_loss(histories, targets, gen(histories))[0]
    loss.backward()
    return numpy.concatenate([p.grad.ravel() for _, p in sorted(gen.namedparams())])


def test_adversarial_gradient_reaches_gen_and_scales_with_lambda():
    g1, g2 = _adv_grads(0.05), _adv_grads(0.5)
    assert numpy.abs(g1).max() > 0
    assert numpy.allclose(g2, 10 * g1, rtol=1e-4, atol=1e-5 * numpy.abs(g2).max())


def test_no_adversarial_trains_gen_alone():
    updater = make_updater(adversarial=False)
    assert set(updater.get_all_optimizers()) == {'gen'}
    gen = updater.get_optimizer('gen').target
    before = weights(gen)
    observation = {}
    with updater.make_reporter().scope(observation):
        updater.update()
    assert 'gen/loss_lp' in observation and 'gen/loss_adv' not in observation
    assert 'dis/loss' not in observation
    assert any(not numpy.array_equal(before[n], p.array) for n, p in gen.namedparams())


@pytest.mark.parametrize('d_patch', [False, True])
def test_one_iteration_reports_everything(d_patch):
    updater = make_updater(d_patch=d_patch)
    before = {name: weights(opt.target) for name, opt in updater.get_all_optimizers().items()}
    observation = {}
    with updater.make_reporter().scope(observation):
        updater.update()
    for key in ('gen/loss', 'gen/loss_adv', 'gen/loss_lp', 'gen/loss_gdl', 'dis/loss',
                'dis/accuracy', 'dis/accuracy_real', 'dis/accuracy_fake', 'psnr'):
        assert key in observation, key
    assert 0 < float(observation['psnr']) < 100
    assert 0 <= float(observation['dis/accuracy']) <= 1
    for name, opt in updater.get_all_optimizers().items():
        assert all(not numpy.array_equal(before[name][n], p.array)
                   for n, p in opt.target.namedparams()), name


def test_branch_loss_trains_the_generated_frame_where_the_mask_copies():
    """With a mask that copies everywhere, the blended prediction ignores the
    generated branch; the branch term alone still trains its convolutions."""
    updater = make_updater(adversarial=False, copy_mask=True)
    gen = updater.get_optimizer('gen').target
    for tower in gen.towers:
        tower[-1].b.array[3:] = 50  # sigmoid(50): copy the last frame everywhere
    histories, (targets,) = updater.next_batch()
    predictions = gen(histories)
    assert len(predictions.generated) == len(predictions)
    expected = (losses.lp_loss(predictions.generated, targets, 2)
                + losses.gdl_loss(predictions.generated, targets, 1))
    assert float(losses.branch_loss(predictions, targets, 2, 1).array) == \
        pytest.approx(float(expected.array), rel=1e-6)
    l2_only = losses.branch_loss(predictions, targets, 2, 1, lp_weight=0.5, gdl_weight=0)
    assert float(l2_only.array) == pytest.approx(
        0.5 * float(losses.lp_loss(predictions.generated, targets, 2).array), rel=1e-6)
    hidden = gen.towers[-1][0].W
    for name in ('lp', 'branch'):
        gen.cleargrads()
        term = [t for t in updater.terms if t.name == name][0]
        term.function(gen(histories), targets, histories, None).backward()
        reaches = float(numpy.abs(hidden.grad).max())
        assert (reaches > 1e-3) if name == 'branch' else (reaches < 1e-12), (name, reaches)


def test_mask_loss_is_the_cross_entropy_against_the_unchanged_pixels():
    updater = make_updater(adversarial=False, copy_mask=True)
    gen = updater.get_optimizer('gen').target
    histories, (targets,) = updater.next_batch()
    last = [h[:, -3:].copy() for h in histories]
    targets = [l.copy() for l in last]
    targets[-1][:, :, 10:14, 10:14] += 0.5   # a patch that changes at the finest scale
    predictions = gen(histories)
    expected = []
    for logits, t, l in zip(predictions.keep_logits, targets, last):
        z = logits.array
        static = (numpy.abs(t - l) <= 20 / 255).all(axis=1, keepdims=True)
        expected.append((numpy.logaddexp(0, z) - z * static).sum() / len(t))
    value = float(losses.mask_loss(predictions, targets, histories).array)
    assert value == pytest.approx(numpy.mean(expected), rel=1e-5)
    # the loss asks to generate (logit down) on the changed patch and to copy elsewhere
    gen.cleargrads()
    finest = predictions.keep_logits[-1]
    losses.mask_loss(predictions, targets, histories).backward(retain_grad=True)
    assert (finest.grad[:, :, 10:14, 10:14] > 0).all() and (finest.grad[:, :, :8, :8] < 0).all()


def test_mask_loss_over_older_frames_asks_for_any_frame_that_holds_the_pixel():
    """With a mask over the 3 newest frames the loss is -log of the weight on the
    frames that hold the target pixel, or on the generated frame where none does."""
    import models
    numpy.random.seed(0)
    gen = models.Generator(models.model_config('tiny', copy_mask=True, copy_frames=3))
    history = numpy.random.default_rng(4).uniform(-1, 1, (2, 12, 16, 16)).astype(numpy.float32)
    target = history[:, 9:].copy()                     # the last frame holds most pixels
    target[:, :, :4, :4] = history[:, 3:6, :4, :4]     # the frame 3 back holds a patch
    target[:, :, 8:, 8:] = 0.5                         # and none holds another
    target[:, :, 4:8, :4] = history[:, 6:9, 4:8, :4]   # the 2 frames back hold one more,
    history[:, 9:, 4:8, :4] = history[:, 6:9, 4:8, :4]  # and so does the last
    histories = pyramid.pyramid(history, 4)
    targets = [chainer.as_array(t) for t in pyramid.pyramid(target, 4)]
    predictions = gen(histories)
    expected = []
    for logits, t, h in zip(predictions.keep_logits, targets, histories):
        h = chainer.as_array(h)
        frames = [h[:, 9:], h[:, 6:9], h[:, 3:6]]
        holds = numpy.stack([(numpy.abs(t - f) <= 20 / 255).all(axis=1) for f in frames], 1)
        right = numpy.concatenate([~holds.any(1, keepdims=True), holds], 1)
        scores = numpy.concatenate([numpy.zeros_like(logits.array[:, :1]), logits.array], 1)
        w = numpy.exp(scores) / numpy.exp(scores).sum(1, keepdims=True)
        expected.append(-numpy.log((w * right).sum(1)).sum() / len(t))
    value = losses.mask_loss(predictions, targets, histories)
    assert float(value.array) == pytest.approx(numpy.mean(expected), rel=1e-5)
    finest = predictions.keep_logits[-1]
    finest.retain_grad = True
    value.backward(retain_grad=True)
    g = finest.grad
    assert (g[:, 2, :4, :4] < 0).all() and (g[:, 0, :4, :4] > 0).all()   # copy 3 back
    assert (g[:, :, 9:, 9:] > 0).all()                                     # generate
    assert (g[:, 0, 4:8, :4] < 0).all() and (g[:, 1, 4:8, :4] < 0).all()  # either
    assert (g[:, 0, 4:12, 5:8] < 0).all() and (g[:, 2, 4:12, 5:8] > 0).all()  # the last


@pytest.mark.parametrize('d_generated', [False, True])
def test_d_judges_the_blend_or_with_d_generated_the_generated_branch(d_generated):
    """Both D's step and G's adversarial term see ``predictions.judged``: the
    blended prediction, or with --d-generated the mask's generated branch."""
    updater = make_updater(copy_mask=True, d_generated=d_generated)
    gen, dis = updater.get_optimizer('gen').target, updater.get_optimizer('dis').target
    histories, (targets,) = updater.next_batch()
    predictions = gen(histories)
    judged = [p.array for p in (predictions.generated if d_generated else predictions)]
    other = [p.array for p in (predictions if d_generated else predictions.generated)]

    def verdict(frames, real):
        return float(losses.adversarial_loss(dis(frames, histories), real).array)
    assert abs(verdict(judged, True) - verdict(other, True)) > 1e-4  # the choice matters
    adv = [t for t in updater.terms if t.name == 'adv'][0]
    assert float(adv.function(predictions, targets, histories, dis).array) == \
        pytest.approx(verdict(judged, True), rel=1e-6)
    assert float(updater.dis_loss(histories, targets, predictions)[0].array) == \
        pytest.approx(verdict(targets, True) + verdict(judged, False), rel=1e-6)


def test_rollout_predicts_from_its_own_predictions_and_trains_through_them():
    """With --rollout 2 the second step's history is the first's shifted by the
    first's finest prediction; G's loss is the mean of the steps' losses, and the
    second step's loss reaches the first prediction."""
    updater = make_updater(rollout=2)
    gen = updater.get_optimizer('gen').target
    histories, futures = updater.next_batch()
    assert len(futures) == 2
    first, second = updater.rollout(histories, futures)
    assert first.histories is histories and first.targets is futures[0]
    assert second.targets is futures[1]
    shifted = numpy.concatenate([histories[-1][:, 3:], first.predictions[-1].array], axis=1)
    assert numpy.array_equal(second.histories[-1].array, shifted)
    for got, expected in zip(second.histories, pyramid.pyramid(shifted, len(histories))):
        numpy.testing.assert_allclose(chainer.as_array(got), chainer.as_array(expected),
                                      rtol=0, atol=1e-6)
    assert float(abs(second.histories[0].array[:, -3:] - first.predictions[0].array).max()) > 0
    with updater.make_reporter().scope({}):
        mean = updater.reported_gen_loss([first, second])
    each = [float(updater.gen_loss(*step)[0].array) for step in (first, second)]
    assert float(mean.array) == pytest.approx(sum(each) / 2, rel=1e-6)
    gen.cleargrads()
    updater.gen_loss(*second)[0].backward(retain_grad=True)
    assert float(abs(first.predictions[-1].grad).max()) > 0


def test_rollout_dis_step_leaves_gen_alone_and_one_update_trains_both():
    updater = make_updater(rollout=3)
    gen, dis = updater.get_optimizer('gen').target, updater.get_optimizer('dis').target
    steps = updater.rollout(*updater.next_batch())
    gen.cleargrads()
    before_g, before_d = weights(gen), weights(dis)
    with updater.make_reporter().scope({}):
        updater.update_dis(steps)
    assert all(p.grad is None for _, p in gen.namedparams())
    observation = {}
    with updater.make_reporter().scope(observation):
        updater.update()
    for key in ('gen/loss', 'gen/loss_adv', 'dis/loss', 'dis/accuracy', 'psnr'):
        assert key in observation, key
    for model, before in ((gen, before_g), (dis, before_d)):
        assert any(not numpy.array_equal(before[n], p.array) for n, p in model.namedparams())
