"""Seconds per training iteration (one D step + one G step) with the real updater.

    python benchmarks/train_step.py --preset paper [--iters 5] [--batch-size 8] [-g 0]
                                    [--dtype mixed16] [--d-frame-only] [--crop-size 64]
    mpiexec -n 2 python benchmarks/train_step.py --communicator naive   # per rank: -b clips

Prints one JSON line. Random clips stand in for data, as in the PyTorch
reference (../shared/bench/torch_ref.py), so only the model's work is timed.
"""
import common  # puts the project on the path
from utils import compat  # noqa: F401
import chainer  # noqa: E402
import numpy  # noqa: E402

import constants  # noqa: E402
import models  # noqa: E402
from utils.errors import cli  # noqa: E402
from utils.training import losses, optimizers  # noqa: E402
from utils.training.updater import PredictionUpdater  # noqa: E402


def build_updater(preset, batch_size, device, adversarial=True, comm=None, d_conditioned=True,
                  crop_size=constants.CROP_SIZE):
    config = models.model_config(preset, d_conditioned=d_conditioned, crop_size=crop_size)
    rng = numpy.random.default_rng(0)
    clips = rng.uniform(-1, 1, (batch_size, 3 * config.clip_len, config.crop_size,
                                config.crop_size)).astype(numpy.float32)
    data = [(c[:-3], c[-3:]) for c in clips]
    gen = models.Generator(config)
    gen.to_device(device)
    dis = models.Discriminator(config) if adversarial else None
    if dis is not None:
        dis.to_device(device)
    opts = optimizers.build(gen, dis, comm=comm)
    if comm is not None:
        optimizers.synchronize(opts, comm)
    iterator = chainer.iterators.SerialIterator(data, batch_size, shuffle=False)
    return PredictionUpdater(iterator, opts, device,
                             losses.generator_terms(adversarial=adversarial))


@cli
def main(argv):
    p = common.model_parser(__doc__.split('\n\n')[0], constants.BATCH_SIZE, 5)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--communicator', help='ChainerMN communicator, under mpiexec')
    p.add_argument('--crop-size', type=int, default=constants.CROP_SIZE,
                   help="side of the training crops (process_data.py's) (default: %(default)s)")
    p.add_argument('--d-frame-only', action='store_true',
                   help="D sees the frame alone (train.py's --d-frame-only), as in the "
                        'PyTorch twin')
    args = p.parse_args(argv)
    comm = None
    if args.communicator:
        import chainermn
        comm = chainermn.create_communicator(args.communicator)
        if args.gpu >= 0:
            args.gpu = comm.intra_rank
    device, sync = common.device_for(args)
    updater = build_updater(args.preset, args.batch_size, device, comm=comm,
                            d_conditioned=not args.d_frame_only, crop_size=args.crop_size)
    with updater.make_reporter().scope({}):
        for _ in range(args.warmup):
            updater.update()
        seconds, _ = common.timed(updater.update, args.iters, sync)
    ranks = comm.size if comm else 1
    if comm is None or comm.rank == 0:
        common.emit(dict(benchmark='train_step', impl=common.impl(args), preset=args.preset,
                         d_conditioned=not args.d_frame_only, crop_size=args.crop_size,
                         batch_size=args.batch_size, ranks=ranks, iters=args.iters,
                         sec_per_iter=seconds, clips_per_sec=ranks * args.batch_size / seconds,
                         device=common.machine(device)))


if __name__ == '__main__':
    main()
