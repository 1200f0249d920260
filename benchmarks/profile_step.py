"""Where the time of a training iteration, or of a full-frame prediction, goes.

    python benchmarks/profile_step.py --preset paper -g 0 [--what train|predict] [--iters 10]

Prints one JSON line:
- ``sec_per_iter``: wall seconds per iteration (a batch of full frames for
  ``predict``), synchronized with the device;
- ``host_sec_per_iter``: the seconds the host takes to issue the same work
  without waiting for the device at the end. On a GPU, when it is close to
  ``sec_per_iter``, launching the work (Python, Chainer, CuPy) is the
  bottleneck, not the kernels;
- ``functions``: Chainer's function applications per iteration, forward and
  backward, and for each kind of function its calls and milliseconds per
  iteration, the slowest first (Chainer's ``TimerHook``, which times each call
  with CUDA events on a GPU, so the sum is the time the device spends in them);
- ``host_top``: the Python functions with the most own time on the host
  (cProfile), per iteration.
"""
import cProfile
import pstats

import common  # puts the project on the path
from utils import compat  # noqa: F401
import chainer  # noqa: E402

import constants  # noqa: E402
from predict_frames import build_predictor  # noqa: E402
from train_step import build_updater  # noqa: E402
from utils.errors import cli  # noqa: E402
from utils.evaluation import predict  # noqa: E402

TOP = 15


def work(args, device):
    """One iteration of what is profiled, as a function of no arguments."""
    if args.what == 'train':
        updater = build_updater(args.preset, args.batch_size, device)
        reporter = updater.make_reporter()

        def step():
            with reporter.scope({}):
                updater.update()
        return step
    predictor, history = build_predictor(args.preset, args.batch_size, device)
    return lambda: predict.rollout(predictor, history, 1)


def by_function(step, iters, sync):
    hook = chainer.function_hooks.TimerHook()
    with hook:
        for _ in range(iters):
            step()
        sync()
    rows = sorted(hook.summary().items(), key=lambda kv: -kv[1]['elapsed_time'])
    return {'calls_per_iter': sum(r['occurrence'] for _, r in rows) / iters,
            'ms_per_iter': 1000 * hook.total_time() / iters,
            'by_kind': [[name, r['occurrence'] / iters, round(1000 * r['elapsed_time'] / iters, 3)]
                        for name, r in rows[:TOP]]}


def host_top(step, iters, sync):
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(iters):
        step()
    sync()
    profile.disable()
    stats = pstats.Stats(profile).stats
    rows = sorted(stats.items(), key=lambda kv: -kv[1][2])[:TOP]
    return [['{}:{}({})'.format(f.split('site-packages/')[-1], line, name), calls / iters,
             round(1000 * own / iters, 3)]
            for (f, line, name), (_, calls, own, _, _) in rows]


@cli
def main(argv):
    p = common.model_parser(__doc__.split('\n\n')[0], constants.BATCH_SIZE, 10)
    p.add_argument('--what', choices=['train', 'predict'], default='train')
    p.add_argument('--warmup', type=int, default=2)
    args = p.parse_args(argv)
    if args.what == 'predict' and args.batch_size == constants.BATCH_SIZE:
        args.batch_size = constants.TEST_BATCH
    device, sync = common.device_for(args)
    step = work(args, device)
    for _ in range(args.warmup):
        step()
    seconds, host = common.timed(step, args.iters, sync)
    common.emit(dict(benchmark='profile_step', impl=common.impl(args), what=args.what,
                     preset=args.preset, batch_size=args.batch_size, iters=args.iters,
                     sec_per_iter=seconds, host_sec_per_iter=host,
                     functions=by_function(step, args.iters, sync),
                     host_top=host_top(step, args.iters, sync), device=common.machine(device)))


if __name__ == '__main__':
    main()
