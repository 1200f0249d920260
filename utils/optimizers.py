"""The generator's and discriminator's optimizers, single-process or data-parallel."""
import chainer

import constants


def build(gen, dis, lr_g=constants.LR_G, lr_d=constants.LR_D, comm=None):
    """{'gen': Adam, 'dis': SGD} (no 'dis' when ``dis`` is None), as in the TF code.

    With a ChainerMN communicator each is wrapped to average gradients over ranks.
    """
    optimizers = {'gen': chainer.optimizers.Adam(alpha=lr_g, beta1=constants.ADAM_BETA1)}
    targets = {'gen': gen}
    if dis is not None:
        optimizers['dis'] = chainer.optimizers.SGD(lr=lr_d)
        targets['dis'] = dis
    for name, opt in list(optimizers.items()):
        if comm is not None:
            import chainermn
            opt = optimizers[name] = chainermn.create_multi_node_optimizer(opt, comm)
        opt.setup(targets[name])
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
