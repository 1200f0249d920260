"""The generator's and discriminator's optimizers, single-process or data-parallel."""
import contextlib
import warnings

import chainer
import numpy

import constants


@contextlib.contextmanager
def overflow_warnings_hidden():
    """Dynamic loss scaling finds overflow by design and skips that step; Chainer
    warns for every parameter each time, which would bury the training log."""
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='Non finite number found in param.grad')
        yield


def build(gen, dis, lr_g=constants.LR_G, lr_d=None, comm=None,
          d_optimizer=constants.D_OPTIMIZER):
    """{'gen': Adam, 'dis': SGD} (no 'dis' when ``dis`` is None), as in the TF code;
    with ``d_optimizer`` 'adam', D's is Adam. ``lr_d`` None: that optimizer's
    ``constants.LR_D``.

    With a ChainerMN communicator each is wrapped to average gradients over ranks.
    Float16 models (mixed16) are updated through float32 copies of their weights,
    with dynamic loss scaling: losses are multiplied before backward so small
    gradients survive float16, and a step that overflows is skipped at a lower scale.
    """
    optimizers = {'gen': chainer.optimizers.Adam(alpha=lr_g, beta1=constants.ADAM_BETA1)}
    targets = {'gen': gen}
    if dis is not None:
        lr_d = constants.LR_D[d_optimizer] if lr_d is None else lr_d
        optimizers['dis'] = chainer.optimizers.Adam(alpha=lr_d, beta1=constants.ADAM_BETA1) \
            if d_optimizer == 'adam' else chainer.optimizers.SGD(lr=lr_d)
        targets['dis'] = dis
    for name, opt in list(optimizers.items()):
        if comm is not None:
            import chainermn
            opt = optimizers[name] = chainermn.create_multi_node_optimizer(opt, comm)
        opt.setup(targets[name])
        if targets[name].dtype == numpy.float16:
            opt.use_fp32_update()
            opt.loss_scaling(interval=constants.LOSS_SCALE_INTERVAL)
    return optimizers


def synchronize(optimizers, comm):
    """Give every rank rank 0's weights now, once the starting state is final.

    ChainerMN's optimizer otherwise spends its first ``update()`` broadcasting
    instead of stepping, so a run (and every resumed run) would silently lose an
    iteration and differ from single-process training.
    """
    for opt in optimizers.values():
        comm.bcast_data(opt.target)
        opt.is_changed(opt.target)  # records the parameters: the next update steps
