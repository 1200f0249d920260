"""Generator and discriminator shapes, the pyramid, the GEMM convolution, saved models."""
import dataclasses
import zipfile

import numpy
import pytest

import chainer
import chainer.functions as F
from chainer import gradient_check

import constants
import models
import reference
from models import checkpoint, generator, palette, pyramid
from models.conv import Convolution2D, GemmConvolution2D
from utils import pixels, run_folder
from utils.device import stock_convolution
from utils.errors import UserError


def test_pyramid_sizes_round_up():
    assert pyramid.sizes(210, 160, 4) == [(27, 20), (53, 40), (105, 80), (210, 160)]
    assert pyramid.sizes(32, 32, 4) == [(4, 4), (8, 8), (16, 16), (32, 32)]
    assert pyramid.sizes(9, 8, 4) == [(2, 1), (3, 2), (5, 4), (9, 8)]
    x = numpy.arange(16, dtype=numpy.float32).reshape(1, 1, 4, 4)
    levels = pyramid.pyramid(x, 2)
    assert numpy.allclose(levels[0].array, [[[[2.5, 4.5], [10.5, 12.5]]]])  # 2x2 averages


@pytest.mark.parametrize('size', [(32, 32), (210, 160), (37, 29)])
def test_generator_predicts_any_frame_size(size):
    gen = models.Generator(models.model_config('tiny'))
    history = numpy.zeros((2, 12) + size, numpy.float32)
    predictions = gen(pyramid.pyramid(history, 4))
    assert [p.shape[2:] for p in predictions] == pyramid.sizes(*size, 4)
    assert predictions[-1].shape == (2, 3) + size
    assert numpy.abs(predictions[-1].array).max() <= 1


def test_generator_layers_follow_the_tables():
    gen = models.Generator(models.model_config('paper'))
    finest = gen.towers[3]
    assert [c.W.shape for c in finest] == [(128, 15, 7, 7), (256, 128, 5, 5), (512, 256, 5, 5),
                                           (256, 512, 5, 5), (128, 256, 5, 5), (3, 128, 7, 7)]
    assert gen.towers[0][0].W.shape == (128, 12, 3, 3)


@pytest.mark.parametrize('conditioned', [True, False])
def test_discriminator_one_logit_per_image(conditioned):
    config = models.model_config('paper', d_conditioned=conditioned)
    dis = models.Discriminator(config)
    assert dis.scales[0].convs[0].W.shape[1] == (15 if conditioned else 3)
    assert [s.fcs[0].W.shape[1] for s in dis.scales] == [64, 128, 1024, 4608]
    frames = [numpy.zeros((3, 3, s, s), numpy.float32) for s in (4, 8, 16, 32)]
    history = [numpy.zeros((3, 12, s, s), numpy.float32) for s in (4, 8, 16, 32)]
    assert [l.shape for l in dis(frames, history)] == [(3,)] * 4


@pytest.mark.parametrize('conditioned', [True, False])
def test_d_change_judges_the_change_from_the_last_input_frame(conditioned):
    """With d_change, D scores (frame - last input frame) * gain at every scale: the
    logits of a frame-judging D with the same weights on those changes, which are
    the same for every frame that repeats the last one."""
    config = models.model_config('tiny', d_conditioned=conditioned)
    changed = dataclasses.replace(config, d_change=constants.D_CHANGE_GAIN)
    rng = numpy.random.default_rng(0)
    history = [rng.uniform(-1, 1, (2, 12, s, s)).astype(numpy.float32) for s in (4, 8, 16, 32)]
    frames = [rng.uniform(-1, 1, (2, 3, s, s)).astype(numpy.float32) for s in (4, 8, 16, 32)]
    plain, judge = models.Discriminator(config), models.Discriminator(changed)
    judge.copyparams(plain)
    change = [(f - h[:, -3:]) * constants.D_CHANGE_GAIN for f, h in zip(frames, history)]
    for a, b in zip(judge(frames, history), plain(change, history)):
        numpy.testing.assert_allclose(a.array, b.array, rtol=1e-5, atol=1e-5)
    repeats = judge([h[:, -3:] for h in history], history)
    for a, b in zip(repeats, plain([numpy.zeros_like(f) for f in frames], history)):
        numpy.testing.assert_allclose(a.array, b.array, rtol=1e-5, atol=1e-5)
    with pytest.raises(UserError, match='--d-change must be 0 or more'):
        models.model_config('tiny', d_change=-1)


def test_d_patch_gives_a_logit_per_patch_that_sees_only_its_patch():
    """With d_patch each scale scores every position its VALID convolutions reach
    (32 - 6 - 6 - 4 - 4 = 12 at the finest scale of the tables), and a pixel changed
    outside a position's receptive field (21 pixels wide there) leaves its logit as
    it was, while the positions that see the pixel change."""
    config = models.model_config('tiny', d_patch=True)
    dis = models.Discriminator(config)
    assert not hasattr(dis.scales[-1], 'fcs')
    rng = numpy.random.default_rng(0)
    history = [rng.uniform(-1, 1, (2, 12, s, s)).astype(numpy.float32) for s in (4, 8, 16, 32)]
    frames = [rng.uniform(-1, 1, (2, 3, s, s)).astype(numpy.float32) for s in (4, 8, 16, 32)]
    before = [l.array for l in dis(frames, history)]
    assert [l.shape for l in before] == [(2, 2, 2), (2, 2, 2), (2, 4, 4), (2, 12, 12)]
    frames[-1][:, :, 31, 31] += 1  # the bottom-right pixel: seen by position (11, 11) only
    after = dis(frames, history)[-1].array
    assert (after[:, 11, 11] != before[-1][:, 11, 11]).all()
    numpy.testing.assert_array_equal(after[:, :11, :], before[-1][:, :11, :])
    numpy.testing.assert_array_equal(after[:, :, :11], before[-1][:, :, :11])


def test_d_local_is_one_small_tower_at_the_finest_scale():
    """With d_local, D scores the finest frame alone, a logit per position of its
    three 3x3 VALID convolutions (32 - 6 = 26), each seeing a 7x7 patch; the coarser
    frames it is given change nothing."""
    config = models.model_config('tiny', d_local=8, d_change=constants.D_CHANGE_GAIN)
    dis = models.Discriminator(config)
    assert [c.W.shape for c in dis.scales[0].convs] == [(8, 15, 3, 3), (8, 8, 3, 3),
                                                        (8, 8, 3, 3)]
    assert len(dis.scales) == 1
    rng = numpy.random.default_rng(0)
    history = [rng.uniform(-1, 1, (2, 12, s, s)).astype(numpy.float32) for s in (4, 8, 16, 32)]
    frames = [rng.uniform(-1, 1, (2, 3, s, s)).astype(numpy.float32) for s in (4, 8, 16, 32)]
    (before,) = [l.array for l in dis(frames, history)]
    assert before.shape == (2, 26, 26)
    frames[0] += 1
    numpy.testing.assert_array_equal(dis(frames, history)[0].array, before)
    frames[-1][:, :, 31, 31] += 1  # the bottom-right pixel: seen by position (25, 25) alone
    after = dis(frames, history)[0].array
    assert (after[:, 25, 25] != before[:, 25, 25]).all()
    numpy.testing.assert_array_equal(after[:, :25, :], before[:, :25, :])
    numpy.testing.assert_array_equal(after[:, :, :25], before[:, :, :25])
    with pytest.raises(UserError, match='--d-local must be 0'):
        models.model_config('tiny', d_local=-1)


def test_residual_option_adds_the_previous_guess():
    history = numpy.random.default_rng(0).uniform(-1, 1, (1, 12, 16, 16)).astype(numpy.float32)
    plain = models.Generator(models.model_config('tiny'))
    residual = models.Generator(models.model_config('tiny', residual=True))
    residual.copyparams(plain)
    a, b = plain(pyramid.pyramid(history, 4)), residual(pyramid.pyramid(history, 4))
    assert numpy.allclose(a[0].array, b[0].array)  # nothing to add at the coarsest scale
    previous = pyramid.resize(a[0], (4, 4)).array
    expected = numpy.tanh(numpy.arctanh(numpy.clip(a[1].array, -0.999999, 0.999999)) + previous)
    assert numpy.allclose(b[1].array, expected, atol=1e-4)


# The input gradient scatters the column gradient back when the layer widens
# several times (o >> c) or the padding exceeds k - 1, and convolves with the
# flipped kernel otherwise (constants.CONV_FLIP_RATIO).
@pytest.mark.parametrize('n,c,h,w,o,k,pad', [(2, 3, 9, 7, 4, 3, 1), (2, 5, 8, 8, 3, 5, 0),
                                            (1, 2, 6, 5, 3, 7, 3), (2, 6, 7, 9, 4, 5, 2),
                                            (3, 4, 5, 6, 4, 3, 1), (1, 3, 4, 4, 2, 3, 3),
                                            (2, 2, 6, 6, 8, 3, 1), (2, 1, 7, 7, 5, 3, 0)])
@pytest.mark.parametrize('relu', [False, True])
def test_gemm_convolution_matches_chainer(n, c, h, w, o, k, pad, relu):
    rng = numpy.random.default_rng(0)
    x, W = rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, k, k))
    b = rng.standard_normal(o)
    y = GemmConvolution2D(pad, relu).apply((x, W, b))[0].array
    expected = F.convolution_2d(x, W, b, pad=pad).array
    if relu:
        expected = numpy.maximum(expected, 0)
    assert numpy.allclose(y, expected)
    assert numpy.allclose(y, numpy.maximum(reference.conv2d(x, W, b, pad), 0) if relu
                          else reference.conv2d(x, W, b, pad))
    gradient_check.check_backward(lambda x, W, b: GemmConvolution2D(pad, relu).apply((x, W, b)),
                                  (x, W, b), rng.standard_normal(y.shape), dtype=numpy.float64,
                                  atol=1e-5, rtol=1e-4)


# On the CPU the columns are built and multiplied a block at a time: (bytes, rows)
# giving one row of one sample per block, three rows, two whole samples, and all.
@pytest.mark.parametrize('block_bytes,block_rows', [(1, 1), (12600, 1), (1, 154), (1 << 20, 1)])
@pytest.mark.parametrize('o', [4, 12])  # both routes of the input gradient
def test_gemm_convolution_in_blocks(monkeypatch, block_bytes, block_rows, o):
    """Any block size gives the same output and the same gradients, with or
    without backprop."""
    rng = numpy.random.default_rng(1)
    x = rng.standard_normal((3, 3, 11, 7))
    W, b = rng.standard_normal((o, 3, 5, 5)), rng.standard_normal(o)
    gy = rng.standard_normal((3, o, 11, 7))
    expected = numpy.maximum(F.convolution_2d(x, W, b, pad=2).array, 0)
    monkeypatch.setattr(constants, 'CONV_BLOCK_BYTES', block_bytes)
    monkeypatch.setattr(constants, 'CONV_BLOCK_ROWS', block_rows)
    monkeypatch.setattr(constants, 'CONV_GRAD_ROWS_PER_CHANNEL', 0)
    with chainer.no_backprop_mode():
        y = GemmConvolution2D(2, relu=True).apply((x, W, b))[0].array
    assert numpy.allclose(y, expected)
    # Without ReLU: among this many outputs some lie within the check's step of its kink.
    gradient_check.check_backward(lambda x, W, b: GemmConvolution2D(2).apply((x, W, b)),
                                  (x, W, b), gy, dtype=numpy.float64, atol=1e-5, rtol=1e-4)


def test_link_held_fixed_skips_its_parameter_gradients():
    """With its updates disabled, a convolution's backward pass computes the
    input's gradient alone, the same as when its parameters train."""
    link = Convolution2D(3, 4, 3, pad=1)
    chainer.optimizers.SGD().setup(link)
    x = chainer.Variable(numpy.random.default_rng(0).standard_normal((2, 3, 6, 5)).astype(
        numpy.float32))
    grads = {}
    for fixed in (False, True):
        if fixed:
            link.disable_update()
        link.cleargrads()
        x.grad = None
        F.sum(link(x) ** 2).backward()
        grads[fixed] = x.grad, link.W.grad, link.b.grad
    assert grads[False][1] is not None and grads[False][2] is not None
    assert grads[True][1] is None and grads[True][2] is None
    assert numpy.allclose(grads[True][0], grads[False][0])


def test_gemm_link_equals_stock_link():
    # Seeded: a ReLU input within rounding of 0 takes the other side in one of the two
    # convolutions now and then, and moves a gradient by more than rounding.
    numpy.random.seed(0)
    gen = models.Generator(models.model_config('tiny'))
    history = numpy.random.default_rng(1).uniform(-1, 1, (2, 12, 32, 32)).astype(numpy.float32)
    gen.cleargrads()  # fresh parameters hold NaN gradients until cleared
    fast = gen.predict(history)
    F.sum(fast).backward()
    fast_grads = [p.grad.copy() for _, p in sorted(gen.namedparams())]
    gen.cleargrads()
    with stock_convolution():
        stock = gen.predict(history)
        F.sum(stock).backward()
    assert numpy.allclose(fast.array, stock.array, atol=1e-5)
    for a, (_, p) in zip(fast_grads, sorted(gen.namedparams())):
        assert numpy.allclose(a, p.grad, atol=1e-4, rtol=1e-3)


def test_saved_model_carries_its_configuration(tmp_path):
    config = models.model_config('tiny', residual=True)
    gen = models.Generator(config)
    path = str(tmp_path / 'g.model')
    checkpoint.save(path, gen, config)
    with zipfile.ZipFile(path) as zf:  # stored, not deflated: see checkpoint.save
        assert {info.compress_type for info in zf.infolist()} == {zipfile.ZIP_STORED}
    loaded = run_folder.load_generator(path)
    assert loaded.config == config
    for (name, a), (_, b) in zip(sorted(gen.namedparams()), sorted(loaded.namedparams())):
        assert numpy.array_equal(a.array, b.array), name
    with pytest.raises(UserError, match='preset tiny.*not.*preset small'):
        run_folder.load_generator(path, expected=models.model_config('small'))


def test_model_file_whose_weights_do_not_fit_its_configuration(tmp_path):
    gen = models.Generator(models.model_config('tiny'))
    path = str(tmp_path / 'g.model')
    checkpoint.save(path, gen, models.model_config('small'))
    with pytest.raises(UserError, match='does not fit this model'):
        run_folder.load_generator(path)


def test_longer_history_predicts_as_before_and_its_new_weights_learn():
    numpy.random.seed(0)
    config = models.model_config('tiny', copy_mask=True)
    gen = models.Generator(config)
    arrays = chainer.serializers.npz.serialize(gen)
    wide = models.Generator(models.model_config('tiny', copy_mask=True, hist_len=6))
    chainer.serializers.NpzDeserializer(
        generator.longer_history(arrays, config, 6)).load(wide)
    history = numpy.random.default_rng(2).uniform(-1, 1, (2, 18, 40, 24)).astype(numpy.float32)
    assert numpy.allclose(wide.predict(history).array, gen.predict(history[:, 6:]).array,
                          atol=1e-5)
    # The two oldest frames' weights start at zero but learn.
    wide.cleargrads()
    F.sum(F.square(wide.predict(history))).backward()
    first = wide.towers[-1][0]
    assert not first.W.array[:, :6].any() and numpy.abs(first.W.grad[:, :6]).sum() > 0


def test_copy_frames_copy_from_an_older_frame_and_widen_a_saved_mask():
    """A mask over the 3 newest frames copies the one it favours (hard) or blends
    all with the generated frame by the softmax of (0, logits); a saved one-frame
    mask widened to 3 frames predicts as before (to within 1e-4: its older frames
    weigh e ** -8 at the coarser scales, which blend), and its new logits learn."""
    numpy.random.seed(0)
    history = numpy.random.default_rng(3).uniform(-1, 1, (2, 12, 24, 16)).astype(numpy.float32)
    config = models.model_config('tiny', copy_mask=True, hard_mask=True)
    gen = models.Generator(config)
    gen.towers[-1][-1].b.array[3] = 0  # the last frame copied at some pixels only
    three = models.Generator(models.model_config('tiny', copy_mask=True, hard_mask=True,
                                                 copy_frames=3))
    chainer.serializers.NpzDeserializer(generator.more_copy_frames(
        chainer.serializers.npz.serialize(gen), config, 3)).load(three)
    with chainer.using_config('train', False):
        assert numpy.allclose(three.predict(history).array, gen.predict(history).array,
                              atol=1e-4)
    trained = three(pyramid.pyramid(history, 4))
    z = trained.keep_logits[-1].array
    assert z.shape == (2, 3, 24, 16) and (z[:, 1:] == constants.COPY_OLDER_BIAS).all()
    scores = numpy.concatenate([numpy.zeros_like(z[:, :1]), z], axis=1)
    w = numpy.exp(scores) / numpy.exp(scores).sum(axis=1, keepdims=True)
    choices = [trained.generated[-1].array, history[:, 9:], history[:, 6:9], history[:, 3:6]]
    assert numpy.allclose(trained[-1].array, sum(w[:, j:j + 1] * c for j, c in
                                                 enumerate(choices)), atol=1e-6)
    three.cleargrads()
    F.sum(F.square(trained[-1] - history[:, 3:6])).backward()
    last = three.towers[-1][-1]
    assert not last.W.array[4:].any() and numpy.abs(last.W.grad[4:]).sum() > 0
    last.b.array[5] = 50  # the mask favours the frame 3 back everywhere
    with chainer.using_config('train', False):
        assert numpy.array_equal(three.predict(history).array, history[:, 3:6])


def test_copy_frames_fit_the_history():
    with pytest.raises(UserError, match='--copy-frames must be between 1 and --hist-len '
                                        r'\(4\), not 5'):
        models.model_config('tiny', copy_mask=True, copy_frames=5)
    assert models.model_config('tiny', copy_mask=True, copy_frames=4).g_maps[-1][-1] == 7


def test_unknown_preset():
    with pytest.raises(UserError, match='unknown preset "huge"; choose one of paper, small, tiny'):
        models.model_config('huge')


def test_copy_mask_starts_near_the_last_frame_and_keeps_static_pixels():
    numpy.random.seed(0)  # the initial weights, which the first comparison depends on
    history = numpy.random.default_rng(0).uniform(-1, 1, (2, 12, 32, 32)).astype(numpy.float32)
    config = models.model_config('tiny', copy_mask=True)
    assert all(maps[-1] == 4 for maps in config.g_maps)  # RGB and the mask's logit
    gen = models.Generator(config)
    last = history[:, -3:]
    plain = models.Generator(models.model_config('tiny')).predict(history).array
    masked = gen.predict(history).array
    assert numpy.abs(masked - last).mean() < 0.2 * numpy.abs(plain - last).mean()
    for tower in gen.towers:  # a mask that says "copy" everywhere gives the last frame
        tower[-1].b.array[3:] = 50
    assert numpy.allclose(gen.predict(history).array, last, atol=1e-6)
    for tower in gen.towers:  # and one that says "generate" the generated frame alone
        tower[-1].b.array[3:] = -50
    generated = gen.predict(history).array
    assert numpy.abs(generated - last).mean() > 0.3


def test_later_options_are_saved_and_old_files_have_none(tmp_path):
    config = models.model_config('tiny', copy_mask=True, d_generated=True, hard_mask=True,
                                 d_change=2.0, d_patch=True, palette=True, palette_radius=3,
                                 copy_frames=2, d_local=16)
    path = str(tmp_path / 'g.model')
    checkpoint.save(path, models.Generator(config), config)
    saved = run_folder.load_generator(path).config
    assert saved == config
    old = dict(models.model_config('tiny').to_dict())
    for name in ('copy_mask', 'd_generated', 'hard_mask', 'd_change', 'd_patch', 'palette',
                 'palette_radius', 'copy_frames', 'd_local'):
        del old[name]
    # a palette file from before the radius chose from the whole frame, and still does
    assert models.ModelConfig.from_dict(old) == models.model_config('tiny', palette_radius=0)


@pytest.mark.parametrize('option, value', [('d_generated', True), ('hard_mask', True),
                                           ('copy_frames', 2)])
def test_mask_options_need_a_copy_mask(option, value):
    with pytest.raises(UserError, match='--{} needs --copy-mask'.format(option.replace('_', '-'))):
        models.model_config('tiny', **{option: value})


def _scaled(rgb):
    """0..255 colours on the model's [-1, 1] scale."""
    return numpy.asarray(rgb, numpy.float32) / 127.5 - 1


def test_nearest_colours_choose_among_each_windows_own_input_colours():
    """Each pixel takes the nearest colour its own window's input frames hold, exactly
    (it rounds to that uint8 colour); a window of more colours than allowed is refused
    by its index."""
    history = numpy.empty((2, 6, 1, 2), numpy.float32)  # 2 windows, 2 frames of 1x2 pixels
    history[0] = _scaled([[[0, 0]], [[0, 0]], [[0, 0]], [[200, 200]], [[0, 0]], [[0, 0]]])
    history[1] = _scaled([[[0, 0]], [[100, 100]], [[0, 0]], [[0, 0]], [[0, 0]], [[0, 200]]])
    # window 0 holds black and red (200, 0, 0); window 1 black, green (0, 100, 0) and
    # blue (0, 0, 200)
    frames = _scaled([[[[90, 110]], [[0, 60]], [[0, 0]]], [[[90, 10]], [[10, 40]], [[20, 180]]]])
    got = palette.nearest_colours(frames, history, 3)
    assert got.dtype == numpy.float32
    numpy.testing.assert_array_equal(pixels.to_uint8(got), [
        [[[0, 0, 0], [200, 0, 0]]],      # (90, 0, 0) is nearer black; (110, 60, 0) red
        [[[0, 0, 0], [0, 0, 200]]]])     # (90, 10, 20) black; (10, 40, 180) blue
    with pytest.raises(palette.TooManyColours, match='hold 3 colours') as e:
        palette.nearest_colours(frames, history, 3, max_colours=2)
    assert e.value.window == 1


def test_palette_radius_chooses_among_the_colours_near_each_pixel():
    """With a radius a pixel takes the nearest of the colours the history shows within
    that many pixels (a square, in any frame): a far colour is not a candidate even
    where it is the nearest; with radius 0 every colour is."""
    history = numpy.zeros((1, 2, 3, 3, 12), numpy.float32)  # 2 frames of 3x12, black
    history[0, 0, 0, 0, 0] = 200        # red at (0, 0) in the first frame
    history[0, 1, 2, 2, 11] = 200       # blue at (2, 11) in the second
    history = _scaled(history.reshape(1, 6, 3, 12))
    frames = numpy.zeros((1, 3, 3, 12), numpy.float32)
    for (y, x), rgb in {(2, 9): (160, 0, 120), (2, 8): (160, 0, 120), (0, 2): (0, 0, 190),
                        (1, 5): (150, 0, 0)}.items():
        frames[0, :, y, x] = rgb
    frames = _scaled(frames)
    black, red, blue = (0, 0, 0), (200, 0, 0), (0, 0, 200)

    def chosen(radius):
        got = pixels.to_uint8(palette.nearest_colours(frames, history, 3, radius))[0]
        return {p: tuple(got[p]) for p in ((2, 9), (2, 8), (0, 2), (1, 5))}
    # (2, 9) is 2 from the blue pixel, (2, 8) 3; (0, 2) is 2 from the red one
    assert chosen(2) == {(2, 9): blue, (2, 8): black, (0, 2): black, (1, 5): black}
    assert chosen(3) == {(2, 9): blue, (2, 8): blue, (0, 2): black, (1, 5): black}
    assert chosen(0) == {(2, 9): red, (2, 8): red, (0, 2): blue, (1, 5): red}


def test_palette_applies_outside_training_only():
    config = models.model_config('tiny', palette=True)
    gen = models.Generator(config)
    rng = numpy.random.default_rng(0)
    history = rng.integers(0, 4, (2, 12, 16, 16)).astype(numpy.float32) * (2 / 3) - 1
    with chainer.using_config('train', False):
        used = gen.predict(history).array
    assert set(numpy.unique(used)) <= set(numpy.unique(history))
    assert len(numpy.unique(gen.predict(history).array)) > 100  # in training: as generated


def test_hard_mask_chooses_the_last_or_the_generated_frame_outside_training():
    numpy.random.seed(0)
    history = numpy.random.default_rng(1).uniform(-1, 1, (2, 12, 32, 32)).astype(numpy.float32)
    gen = models.Generator(models.model_config('tiny', copy_mask=True, hard_mask=True))
    gen.towers[-1][-1].b.array[3:] = 0  # a mask that copies some pixels and not others
    pyr = pyramid.pyramid(history, gen.config.num_scales)
    trained = gen(pyr)
    keep = 1 / (1 + numpy.exp(-trained.keep_logits[-1].array))
    generated, last = trained.generated[-1].array, history[:, -3:]
    assert 0.05 < (keep > 0.5).mean() < 0.95  # both choices are made
    assert numpy.allclose(trained[-1].array, keep * last + (1 - keep) * generated, atol=1e-6)
    with chainer.using_config('train', False):
        chosen = gen.predict(history).array
    assert numpy.array_equal(chosen, numpy.where(keep > 0.5, last, generated))
    soft = models.Generator(models.model_config('tiny', copy_mask=True))
    soft.copyparams(gen)
    with chainer.using_config('train', False):
        assert numpy.allclose(soft.predict(history).array, trained[-1].array, atol=1e-6)
