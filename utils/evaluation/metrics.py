"""Frame quality metrics, per frame, on the 0..255 scale.

Formulas are those of ``../shared/REFERENCE.md``. Inputs are float arrays of
shape (N, H, W, 3) with values in 0..255; every function returns one value per
frame. PSNR and sharpness difference of an exact match are MAX_DB, and every
value is capped at MAX_DB, so averages stay finite. Moving-pixel variants take a
bool mask (N, H, W); a frame with no moving pixel gets NaN, and ``mean`` leaves
such frames out.

``colour_moving`` is not the paper's: the share (%) of moving pixels predicted
in their own colour (every channel within ``constants.COLOUR_TOLERANCE``). PSNR
rewards a blur that averages a sprite into the background; this counts the
sprite pixels that survive.
"""
import numpy
from scipy.ndimage import gaussian_filter

import constants

PEAK = 255.0


def _db(denominator):
    with numpy.errstate(divide='ignore', invalid='ignore'):
        value = 10 * numpy.log10(PEAK ** 2 / denominator)
    value = numpy.where(denominator == 0, constants.MAX_DB, value)
    return numpy.minimum(value, constants.MAX_DB)


def _masked_mean(values, mask):
    """Mean over pixels (and channels) per frame; ``mask`` None means all pixels."""
    if mask is None:
        return values.reshape(len(values), -1).mean(axis=1)
    m = numpy.broadcast_to(mask[..., None], values.shape)
    count = m.reshape(len(values), -1).sum(axis=1)
    total = numpy.where(m, values, 0).reshape(len(values), -1).sum(axis=1)
    with numpy.errstate(invalid='ignore', divide='ignore'):
        return numpy.where(count > 0, total / numpy.maximum(count, 1), numpy.nan)


def psnr(y, y_hat, mask=None):
    mse = _masked_mean(numpy.square(y - y_hat), mask)
    return numpy.where(numpy.isnan(mse), numpy.nan, _db(numpy.nan_to_num(mse)))


def _sharpness(y):
    """g(Y)[i, j] = |Y[i,j] - Y[i-1,j]| + |Y[i,j] - Y[i,j-1]| for i, j >= 1."""
    c = y[:, 1:, 1:]
    return numpy.abs(c - y[:, :-1, 1:]) + numpy.abs(c - y[:, 1:, :-1])


def sharpdiff(y, y_hat, mask=None):
    d = numpy.abs(_sharpness(y) - _sharpness(y_hat))
    mean = _masked_mean(d, None if mask is None else mask[:, 1:, 1:])
    return numpy.where(numpy.isnan(mean), numpy.nan, _db(numpy.nan_to_num(mean)))


def ssim(y, y_hat):
    """Mean SSIM (Wang et al. 2004): Gaussian window (sigma 1.5, 11 wide), per channel.

    Matches scikit-image's ``structural_similarity`` with ``gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=255``.
    """
    sigma = constants.SSIM_SIGMA
    truncate = ((constants.SSIM_WIN - 1) / 2) / sigma  # the filter spans SSIM_WIN pixels
    pad = (constants.SSIM_WIN - 1) // 2
    c1 = (constants.SSIM_K1 * PEAK) ** 2
    c2 = (constants.SSIM_K2 * PEAK) ** 2

    def blur(a):  # over H and W only, per frame and channel
        return gaussian_filter(a, sigma=(0, sigma, sigma, 0), truncate=truncate, mode='reflect')

    ux, uy = blur(y), blur(y_hat)
    vx = blur(y * y) - ux * ux
    vy = blur(y_hat * y_hat) - uy * uy
    vxy = blur(y * y_hat) - ux * uy
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s[:, pad:s.shape[1] - pad, pad:s.shape[2] - pad].mean(axis=(1, 2, 3))


def changed_pixels(target, last_input, threshold=constants.PIXEL_CHANGE_THRESHOLD):
    """Pixels where a channel of the target differs from the last input by more than
    ``threshold`` (0..255): the "moving" pixels of the ``_moving`` metrics."""
    return (numpy.abs(target - last_input) > threshold).any(axis=-1)


def colour_share(y, y_hat, mask, tolerance=constants.COLOUR_TOLERANCE):
    """Per frame, the percentage of ``mask`` pixels whose every channel is within
    ``tolerance`` (0..255) of the truth."""
    right = (numpy.abs(y - y_hat) <= tolerance).all(axis=-1, keepdims=True)
    return 100 * _masked_mean(right.astype(numpy.float64), mask)


def colour_pixels(y, colour):
    """The pixels of ``y`` drawn in exactly ``colour`` (RGB, 0..255): a sprite's, in a
    game that gives each sprite a colour of its own."""
    return (y == numpy.asarray(colour, y.dtype)).all(axis=-1)


# Every metric, in the order tables show them, with its label.
LABELS = {'psnr': 'PSNR', 'ssim': 'SSIM', 'sharpdiff': 'sharp. diff',
          'psnr_moving': 'PSNR moving', 'sharpdiff_moving': 'sharp. moving',
          'colour_moving': 'colour moving %'}


def frame_scores(y, y_hat, mask):
    """Every metric of ``LABELS`` for every frame, as name -> per-frame array."""
    return dict(psnr=psnr(y, y_hat), ssim=ssim(y, y_hat), sharpdiff=sharpdiff(y, y_hat),
                psnr_moving=psnr(y, y_hat, mask), sharpdiff_moving=sharpdiff(y, y_hat, mask),
                colour_moving=colour_share(y, y_hat, mask))


def mean(values):
    """Mean over frames, leaving out NaN (frames without moving pixels); None if none."""
    values = numpy.asarray(values, numpy.float64)
    values = values[~numpy.isnan(values)]
    return float(values.mean()) if len(values) else None


def paired_difference(a, b, groups, resamples=constants.INTERVAL_RESAMPLES,
                      level=constants.INTERVAL_LEVEL, seed=constants.SEED):
    """How far scores ``a`` lie above ``b`` of the same frames, and how surely.

    ``groups`` names each frame's video. Returns None where no frame has both scores,
    else ``mean`` (of a - b over the frames, as ``mean`` averages), ``low`` and ``high``
    (a ``level`` percentile interval of that mean over ``resamples`` draws of whole
    videos with replacement: a video's windows overlap, so resampling frames would
    claim a certainty the data do not have), ``ahead`` / ``behind`` / ``videos``
    (on how many videos the mean difference is above / below zero, of how many) and
    ``median`` (of a - b over the frames: a mean that a few frames carry, as where
    one side draws the few moving pixels exactly and scores the 100 dB cap, shows
    against it).
    """
    d = numpy.asarray(a, numpy.float64) - numpy.asarray(b, numpy.float64)
    scored = ~numpy.isnan(d)
    if not scored.any():
        return None
    _, video = numpy.unique(numpy.asarray(groups)[scored], return_inverse=True)
    sums = numpy.bincount(video, weights=d[scored])
    counts = numpy.bincount(video)
    draws = numpy.random.default_rng(seed).integers(len(sums), size=(resamples, len(sums)))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    low, high = numpy.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return dict(mean=float(d[scored].mean()), low=float(low), high=float(high),
                ahead=int((sums > 0).sum()), behind=int((sums < 0).sum()), videos=len(sums),
                median=float(numpy.median(d[scored])))
