"""The multi-scale discriminator: one tower per scale, one logit per image (or per patch);
or one small local tower at the finest scale."""
import chainer
import chainer.functions as F
import chainer.links as L

import constants
from models.conv import Convolution2D
from models.tower import ConvTower


class DiscriminatorScale(chainer.Chain):
    """VALID convolutions + ReLU, one 2x2 max-pool, then fully connected layers: a
    logit per image, (N,). With ``patch``, a 1x1 convolution after the VALID ones
    instead: a logit per position, (N, H', W')."""

    def __init__(self, maps, kernels, fc, size, patch=False):
        super().__init__()
        for k in kernels:
            size -= k - 1
        if size < 2:
            raise ValueError('a {}-pixel input is too small for kernels {}'.format(size, kernels))
        init = chainer.initializers.HeNormal()
        self.patch = patch
        with self.init_scope():
            self.convs = ConvTower(maps, kernels, same=False, last_relu=True)
            if patch:
                self.logits = Convolution2D(maps[-1], 1, 1, initialW=init)
            else:
                dims = [maps[-1] * (size // 2) ** 2] + list(fc)
                self.fcs = chainer.ChainList(*[L.Linear(dims[i], dims[i + 1], initialW=init)
                                               for i in range(len(fc))])

    def forward(self, x):
        if self.patch:
            return self.logits(self.convs(x))[:, 0]
        x = F.max_pooling_2d(self.convs(x), 2)
        for i, fc in enumerate(self.fcs):
            x = fc(x)
            if i < len(self.fcs) - 1:
                x = F.relu(x)
        return x[:, 0]


class Discriminator(chainer.Chain):
    """Scores frames at every scale as real (logit > 0) or generated.

    Conditioned (the paper), each scale sees the history at that scale stacked
    with the frame; otherwise (the TF code) the frame alone. With
    ``config.d_change`` it sees, instead of the frame, its change from the last
    input frame times ``d_change``. With ``config.d_patch`` each scale scores
    every patch its VALID convolutions reach rather than the whole image. With
    ``config.d_local`` it is one tower at the finest scale alone, of
    ``constants.D_LOCAL_KERNELS`` with ``d_local`` maps, a logit per position.
    """

    def __init__(self, config):
        super().__init__()
        self.config = config
        extra = config.frame_channels * config.hist_len if config.d_conditioned else 0
        n = config.num_scales
        if config.d_local:
            kernels = constants.D_LOCAL_KERNELS
            towers = [DiscriminatorScale(
                [config.frame_channels + extra] + [config.d_local] * len(kernels), kernels, (),
                config.crop_size, patch=True)]
        else:
            towers = [DiscriminatorScale([maps[0] + extra] + list(maps[1:]), kernels, fc,
                                         config.crop_size // 2 ** (n - 1 - s), config.d_patch)
                      for s, (maps, kernels, fc) in enumerate(zip(
                          config.d_maps, config.d_kernels, config.d_fc))]
        with self.init_scope():
            self.scales = chainer.ChainList(*towers)

    @property
    def dtype(self):
        return self.scales[0].convs.dtype

    def forward(self, frames, history_pyramid):
        """[logits (N,), or (N, H', W') with ``d_patch``, at each scale] for frames
        given coarsest first; [logits (N, H', W') at the finest] with ``d_local``."""
        if self.config.d_local:
            frames, history_pyramid = frames[-1:], history_pyramid[-1:]
        frames = [F.cast(f, self.dtype) for f in frames]
        history_pyramid = [F.cast(h, self.dtype) for h in history_pyramid]
        if self.config.d_change:
            c = self.config.frame_channels
            frames = [(f - h[:, -c:]) * self.config.d_change
                      for f, h in zip(frames, history_pyramid)]
        if self.config.d_conditioned:
            frames = [F.concat([h, f], axis=1) for h, f in zip(history_pyramid, frames)]
        return [scale(f) for scale, f in zip(self.scales, frames)]
