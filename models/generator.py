"""The multi-scale generator: one tower per scale, coarse to fine."""
import chainer
import chainer.functions as F
import numpy

import constants
from models import palette, pyramid
from models.tower import ConvTower


class Predictions(list):
    """The prediction at each scale, coarsest first. With a copy mask,
    ``generated`` holds the generated branch at each scale (what the mask blends
    with the input frames) and ``keep_logits`` the mask's logits (N, copy_frames,
    H, W): one for each frame it may copy, newest first, against 0 for the
    generated frame."""
    generated = None
    keep_logits = None
    d_generated = False

    @property
    def judged(self):
        """What the discriminator judges: the predictions, or with
        ``config.d_generated`` the generated branch."""
        return self.generated if self.d_generated else self


class Generator(chainer.Chain):
    """Predicts the next frame at every scale from the ``config.hist_len`` previous frames.

    Scale 0 sees the downscaled history; scale k > 0 also sees the prediction of
    scale k - 1 upscaled to its size. SAME padding keeps it fully convolutional,
    so weights trained on crops predict full frames of any size.

    With ``config.copy_mask`` each scale also outputs a mask m and predicts
    ``m * last input frame + (1 - m) * generated``: what does not move is copied
    exactly, and the towers spend their capacity on what moves. The mask starts
    near "copy" (``constants.COPY_MASK_BIAS``), so training starts from the
    copy-last-frame prediction rather than from noise. With ``config.copy_frames``
    = F > 1 the mask is a softmax over the F newest input frames and the
    generated frame, so a sprite that flickers is copied from the frame that last
    showed it. With ``config.hard_mask``, outside training
    (``chainer.config.train`` off: evaluation, test.py) the finest scale takes,
    at each pixel, the one choice the mask weighs most: the choice the blend is
    trained to make, without the blend's partial copies.
    """

    def __init__(self, config):
        super().__init__()
        self.config = config
        with self.init_scope():
            self.towers = chainer.ChainList(*[
                ConvTower(maps, kernels, same=True, last_relu=False)
                for maps, kernels in zip(config.g_maps, config.g_kernels)])
        if config.copy_mask:
            c = config.frame_channels
            for tower in self.towers:
                tower[-1].b.array[c] = constants.COPY_MASK_BIAS
                tower[-1].b.array[c + 1:] = constants.COPY_OLDER_BIAS

    @property
    def dtype(self):
        return self.towers[0].dtype

    def forward(self, history_pyramid):
        """``Predictions`` at each scale, coarsest first, each in [-1, 1], in ``self.dtype``."""
        c = self.config.frame_channels
        predictions = Predictions()
        generated, keep_logits = [], []
        finest = len(self.towers) - 1
        for k, (tower, history) in enumerate(zip(self.towers, history_pyramid)):
            history = F.cast(history, self.dtype)
            if predictions:
                previous = pyramid.resize(predictions[-1], history.shape[2:])
                out = tower(F.concat([history, previous], axis=1))
                image = out[:, :c] + previous if self.config.residual else out[:, :c]
            else:
                out = tower(history)
                image = out[:, :c]
            prediction = F.tanh(image)
            if self.config.copy_mask:
                generated.append(prediction)
                keep_logits.append(out[:, c:])
                hard = k == finest and self.config.hard_mask and not chainer.config.train
                prediction = _blend(out[:, c:], prediction, history, hard)
            predictions.append(prediction)
        if self.config.copy_mask:
            predictions.generated, predictions.keep_logits = generated, keep_logits
            predictions.d_generated = self.config.d_generated
        return predictions

    def predict(self, history):
        """The finest-scale float32 prediction for an (N, hist_len * 3, H, W) history;
        with ``config.palette``, outside training, in the colours of the history (those
        within ``config.palette_radius`` pixels)."""
        y = F.cast(self.forward(pyramid.pyramid(history, self.config.num_scales))[-1],
                   numpy.float32)
        if self.config.palette and not chainer.config.train:
            return chainer.Variable(palette.nearest_colours(
                y.array, chainer.as_array(history), self.config.frame_channels,
                self.config.palette_radius))
        return y


def mask_scores(logits):
    """The copy mask's scores (N, 1 + F, H, W): 0 for the generated frame, then its
    ``logits`` (N, F, H, W) for the F newest input frames, newest first."""
    xp = chainer.backend.get_array_module(logits)
    return F.concat([xp.zeros_like(chainer.as_array(logits)[:, :1]), logits], axis=1)


def copyable_frames(history, channels, count):
    """The ``count`` newest frames of ``history`` (N, frames * channels, H, W), newest
    first: what the copy mask's logits choose among."""
    end = history.shape[1]
    return [history[:, end - channels * (j + 1):end - channels * j] for j in range(count)]


def _blend(logits, generated, history, hard):
    """The copy mask's prediction: the generated frame and the newest input frames of
    ``history``, weighed by the softmax of ``mask_scores``, or with ``hard`` each
    pixel the one they weigh most (the generated frame where they tie)."""
    xp = chainer.backend.get_array_module(generated)
    scores = mask_scores(logits)
    if hard:
        weights = (xp.arange(scores.shape[1])[:, None, None] == scores.array.argmax(
            axis=1)[:, None]).astype(generated.dtype)
    else:
        weights = F.softmax(scores, axis=1)
    choices = [generated] + copyable_frames(history, generated.shape[1], logits.shape[1])
    return sum(F.broadcast_to(weights[:, j:j + 1], generated.shape) * choice
               for j, choice in enumerate(choices))


def longer_history(arrays, config, hist_len):
    """The arrays of a generator of ``config`` widened to a history of ``hist_len``
    frames: each scale's first layer gets zero weights for the extra, oldest frames
    (its inputs are the history oldest first, then the coarser prediction), so the
    widened generator predicts as the saved one did and fine-tuning starts there."""
    extra = config.frame_channels * (hist_len - config.hist_len)
    widened = dict(arrays)
    for k in range(config.num_scales):
        key = 'towers/{}/0/W'.format(k)
        w = arrays[key]
        widened[key] = numpy.concatenate(
            [numpy.zeros((w.shape[0], extra) + w.shape[2:], w.dtype), w], axis=1)
    return widened


def more_copy_frames(arrays, config, copy_frames):
    """The arrays of a copy-mask generator of ``config`` whose mask may copy from the
    ``copy_frames`` newest input frames: each scale's last layer gets a logit for
    each extra, older frame, with zero weights and ``constants.COPY_OLDER_BIAS``,
    so the widened generator predicts as the saved one did, but for the older
    frames' tiny weights, and fine-tuning starts there."""
    extra = copy_frames - config.copy_frames
    widened = dict(arrays)
    for k, kernels in enumerate(config.g_kernels):
        key = 'towers/{}/{}/'.format(k, len(kernels) - 1)
        w, b = arrays[key + 'W'], arrays[key + 'b']
        widened[key + 'W'] = numpy.concatenate(
            [w, numpy.zeros((extra,) + w.shape[1:], w.dtype)])
        widened[key + 'b'] = numpy.concatenate(
            [b, numpy.full(extra, constants.COPY_OLDER_BIAS, b.dtype)])
    return widened
