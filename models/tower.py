"""A stack of convolutions with ReLU between them: the building block of every scale."""
import chainer

from models.conv import Convolution2D


class ConvTower(chainer.ChainList):
    """Convolutions mapping ``maps[0]`` to ``maps[-1]`` channels with ``kernels``.

    ``same`` pads to keep the size (generator) or not (the discriminator's VALID
    convolutions). ``last_relu`` applies ReLU after the last layer too.
    """

    def __init__(self, maps, kernels, same, last_relu):
        # He initialisation suits ReLU stacks; the TF code's N(0, 0.01) trains far
        # slower at the start for the same final quality.
        init = chainer.initializers.HeNormal()
        super().__init__(*[Convolution2D(maps[i], maps[i + 1], k, pad=k // 2 if same else 0,
                                           initialW=init) for i, k in enumerate(kernels)])
        self.last_relu = last_relu

    @property
    def dtype(self):
        """The weights' dtype: float16 under mixed16, float32 otherwise."""
        return self[0].W.dtype

    def forward(self, x):
        for i, conv in enumerate(self):
            x = conv(x, relu=self.last_relu or i < len(self) - 1)
        return x
