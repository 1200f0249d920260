"""Run by test_mpi.py: a few updates of the real updater, alone or as one MPI rank.

Alone it trains on 8 fixed clips in batches of 8; as rank r of 2 it trains on
clips [4r, 4r + 4) with ChainerMN's naive communicator. Writes the generator's
parameters to OUT/gen_<rank>_of_<size>.npz.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from utils import compat  # noqa: E402,F401

import chainer  # noqa: E402
import numpy  # noqa: E402

import models  # noqa: E402
from utils.training import losses, optimizers  # noqa: E402
from utils.training.updater import PredictionUpdater  # noqa: E402


def main(out, distributed):
    comm = None
    rank, size = 0, 1
    if distributed:
        import chainermn
        comm = chainermn.create_communicator('naive')
        rank, size = comm.rank, comm.size
    config = models.model_config('tiny')
    clips = numpy.random.default_rng(0).uniform(-1, 1, (8, 15, 32, 32)).astype(numpy.float32)
    per_rank = len(clips) // size
    mine = clips[rank * per_rank:(rank + 1) * per_rank]
    data = [(c[:12], c[12:]) for c in mine]
    numpy.random.seed(rank)  # ranks start apart: rank 0's weights must reach them all
    links = [models.Generator(config), models.Discriminator(config)]
    opts = optimizers.build(*links, lr_g=1e-3, lr_d=0.02, comm=comm)
    # Adam's first steps are about lr * sign(gradient), which turns rounding noise
    # in near-zero gradients into lr-sized differences; a large eps makes its step
    # linear in the gradient, so the comparison tests the averaging alone.
    opts['gen'].eps = 1e3
    if comm:
        optimizers.synchronize(opts, comm)
    it = chainer.iterators.SerialIterator(data, len(data), shuffle=False)
    updater = PredictionUpdater(it, opts, chainer.get_device('@numpy'),
                                losses.generator_terms())
    with updater.make_reporter().scope({}):
        for _ in range(3):
            updater.update()
    numpy.savez(os.path.join(out, 'gen_{}_of_{}.npz'.format(rank, size)),
                **{n: p.array for n, p in links[0].namedparams()})


if __name__ == '__main__':
    main(sys.argv[1], len(sys.argv) > 2 and sys.argv[2] == 'mpi')
