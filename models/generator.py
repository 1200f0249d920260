"""The multi-scale generator: one tower per scale, coarse to fine."""
import chainer
import chainer.functions as F
import numpy

from models.tower import ConvTower
from models import pyramid


class Generator(chainer.Chain):
    """Predicts the next frame at every scale from the ``config.hist_len`` previous frames.

    Scale 0 sees the downscaled history; scale k > 0 also sees the prediction of
    scale k - 1 upscaled to its size. SAME padding keeps it fully convolutional,
    so weights trained on crops predict full frames of any size.
    """

    def __init__(self, config):
        super().__init__()
        self.config = config
        with self.init_scope():
            self.towers = chainer.ChainList(*[
                ConvTower(maps, kernels, same=True, last_relu=False)
                for maps, kernels in zip(config.g_maps, config.g_kernels)])

    @property
    def dtype(self):
        return self.towers[0].dtype

    def forward(self, history_pyramid):
        """[prediction at each scale], coarsest first, each in [-1, 1], in ``self.dtype``."""
        predictions = []
        for tower, history in zip(self.towers, history_pyramid):
            history = F.cast(history, self.dtype)
            if predictions:
                previous = pyramid.resize(predictions[-1], history.shape[2:])
                out = tower(F.concat([history, previous], axis=1))
                if self.config.residual:
                    out = out + previous
            else:
                out = tower(history)
            predictions.append(F.tanh(out))
        return predictions

    def predict(self, history):
        """The finest-scale float32 prediction for an (N, hist_len * 3, H, W) history."""
        return F.cast(self.forward(pyramid.pyramid(history, self.config.num_scales))[-1],
                      numpy.float32)
