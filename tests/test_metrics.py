"""Metrics against independent computations, and the evaluation protocol."""
import numpy
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import chainer

import reference
import models
from utils.evaluation import metrics, predict


def _frames(seed, n=3, h=24, w=20):
    rng = numpy.random.default_rng(seed)
    y = rng.uniform(0, 255, (n, h, w, 3))
    return y, numpy.clip(y + rng.normal(0, 25, y.shape), 0, 255)


def test_psnr_and_ssim_match_scikit_image():
    y, y_hat = _frames(0)
    for i in range(len(y)):
        assert metrics.psnr(y, y_hat)[i] == pytest.approx(
            peak_signal_noise_ratio(y[i], y_hat[i], data_range=255))
        assert metrics.ssim(y, y_hat)[i] == pytest.approx(structural_similarity(
            y[i], y_hat[i], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
            data_range=255, channel_axis=-1))


def test_sharpdiff_matches_loops():
    y, y_hat = _frames(1, n=2, h=9, w=7)
    for i in range(2):
        assert metrics.sharpdiff(y, y_hat)[i] == pytest.approx(reference.sharpdiff(y[i], y_hat[i]))


def test_exact_matches_are_capped_not_infinite():
    y, _ = _frames(2)
    for f in (metrics.psnr, metrics.sharpdiff):
        assert (f(y, y) == 100).all()
    assert numpy.allclose(metrics.ssim(y, y), 1)
    scores = metrics.psnr(y, numpy.concatenate([y[:1], y[1:] + 1]))
    assert numpy.isfinite(metrics.mean(scores))


def test_moving_pixels_only():
    y, y_hat = _frames(3, n=2)
    last = y.copy()
    last[0, 5:9, 4:8] += 50          # frame 0: a moving patch; frame 1: nothing moves
    mask = metrics.changed_pixels(y, last)
    assert mask[0].sum() == 16 and not mask[1].any()
    psnr = metrics.psnr(y, y_hat, mask)
    expected = 10 * numpy.log10(255 ** 2 / numpy.mean((y[0, 5:9, 4:8] - y_hat[0, 5:9, 4:8]) ** 2))
    assert psnr[0] == pytest.approx(expected) and numpy.isnan(psnr[1])
    assert metrics.mean(psnr) == pytest.approx(expected)   # the frame without motion is left out
    assert metrics.mean([numpy.nan]) is None


def test_colour_share_counts_moving_pixels_in_their_own_colour():
    y = numpy.zeros((2, 16, 16, 3))                     # as large as SSIM's window
    y[:, 1:3, 1:3] = [200, 50, 50]                      # a 2x2 red sprite
    mask = numpy.zeros((2, 16, 16), bool)
    mask[:, 1:3, 1:3] = True
    y_hat = y.copy()
    y_hat[0, 1, 1] = [200, 50, 50 + 40]                 # one channel off by more than 32
    y_hat[0, 1, 2] = [200 - 30, 50 + 30, 50]            # every channel within 32
    y_hat[1, 1:3, 1:3] = y[1, 1:3, 1:3] / 2 + 0         # the sprite blurred to half: all wrong
    y_hat[:, 4, 4] = 255                                # outside the mask: not counted
    assert metrics.colour_share(y, y_hat, mask).tolist() == [75.0, 0.0]
    assert numpy.isnan(metrics.colour_share(y, y_hat, numpy.zeros_like(mask))).all()
    assert set(metrics.frame_scores(y, y_hat, mask)) == set(metrics.LABELS)


def test_a_sprites_pixels_are_those_of_its_colour():
    her = (210, 164, 74)
    y = numpy.zeros((2, 16, 16, 3))
    y[:, 2:4, 2:4] = her                                # a 2x2 Ms. Pac-Man
    y[:, 8, 8] = (211, 164, 74)                         # one grey level off: another colour
    mask = metrics.colour_pixels(y, her)
    assert mask.sum() == 8 and mask[:, 2:4, 2:4].all()
    y_hat = y.copy()
    y_hat[0, 2, 2] = (0, 28, 136)                       # a bite out of her
    y_hat[1] = 0                                        # gone
    assert metrics.colour_share(y, y_hat, mask).tolist() == [75.0, 0.0]
    assert not metrics.colour_pixels(y, (200, 72, 72)).any()


def _videos(frames_dir):
    from utils.data import frames as framelib
    return {str(p): framelib.read_video(str(p)) for p in sorted((frames_dir / 'test').iterdir())}


def _counts(videos):
    return {name: len(frames) for name, frames in videos.items()}


def test_paired_difference_resamples_whole_videos():
    # Video a: differences 1 and 1; video b: 3 and 3. A draw of two videos gives a mean
    # of 1, 2 or 3, each of 1 and 3 a quarter of the time: the 95% interval is [1, 3].
    d = metrics.paired_difference([2, 2, 5, 5], [1, 1, 2, 2], ['a', 'a', 'b', 'b'])
    assert d == dict(mean=2.0, low=1.0, high=3.0, ahead=2, behind=0, videos=2, median=2.0)
    # The mean is over frames, not videos; a video whose differences cancel is neither
    # ahead nor behind; frames without a score (NaN) are left out, with their video.
    nan = float('nan')
    d = metrics.paired_difference([0, 0, 0, 4, nan, 1, 7], [0, 1, -1, 0, 2, nan, 5],
                                  ['a', 'a', 'a', 'b', 'c', 'c', 'd'])
    assert (d['mean'], d['ahead'], d['behind'], d['videos']) == (1.2, 2, 0, 3)
    assert d['median'] == 1.0  # of 0, -1, 1, 4 and 2: one large difference moves the mean
    assert d['low'] <= d['mean'] <= d['high']
    assert metrics.paired_difference([nan], [1.0], ['a']) is None
    # Seeded: the same call, the same interval.
    again = metrics.paired_difference([0, 0, 0, 4, nan, 1, 7], [0, 1, -1, 0, 2, nan, 5],
                                      ['a', 'a', 'a', 'b', 'c', 'c', 'd'])
    assert again == d


def test_windows_protocol(frames_dir):
    videos = _videos(frames_dir)                   # 2 videos of 24 frames
    windows = predict.make_windows(_counts(videos), steps=4, stride=8, hist_len=4)
    assert [s for _, s in windows] == [0, 8, 16, 0, 8, 16]
    # Fewer windows are spread over every video and the whole of each.
    spread = predict.make_windows(_counts(videos), 4, 8, 4, max_windows=4)
    assert spread == [windows[0], windows[1], windows[3], windows[4]]
    few = predict.make_windows(_counts(videos), 4, 8, 4, max_windows=2)
    assert [s for _, s in few] == [0, 0] and len({name for name, _ in few}) == 2
    assert predict.make_windows(_counts(videos), 4, 8, 4, max_windows=9) == windows


def test_baseline_equals_model_that_copies_the_last_frame(frames_dir):
    videos = _videos(frames_dir)
    windows = predict.make_windows(_counts(videos), steps=3, stride=7, hist_len=4)
    gen = models.Generator(models.model_config('tiny'))  # gives the history length
    result = predict.evaluate(gen, videos, windows, 3, chainer.get_device('@numpy'),
                              predictor=predict.copy_last_predictor, num_samples=1)
    for row in result.per_step():
        assert row['model'] == row['last_frame']
        assert row['model']['psnr'] < 100  # Ms. Pac-Man moves, so copying is not perfect
    sample = result.samples[0]
    assert len(sample['model']) == 3 and sample['model'][0].dtype == numpy.uint8
    assert numpy.array_equal(sample['model'][2], sample['history'][-1])


def test_predictions_are_scored_as_the_frames_they_round_to(frames_dir):
    """A prediction within a fraction of a grey level of the copy is the copy's
    picture, and scores as it does (an exact match included), not 50 dB below."""
    videos = _videos(frames_dir)
    windows = predict.make_windows(_counts(videos), steps=2, stride=6, hist_len=4)
    gen = models.Generator(models.model_config('tiny'))
    result = predict.evaluate(gen, videos, windows, 2, chainer.get_device('@numpy'),
                              predictor=lambda h: h[:, -3:] + numpy.float32(1e-3))
    for row in result.per_step():
        assert row['model'] == row['last_frame']
    off = predict.evaluate(gen, videos, windows, 2, chainer.get_device('@numpy'),
                           predictor=lambda h: h[:, -3:] + numpy.float32(1e-2))
    assert off.per_step()[0]['model']['psnr'] < result.per_step()[0]['last_frame']['psnr']
