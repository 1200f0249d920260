"""Inference speed: full 210x160 frames predicted per second by test.py's predictor.

    python benchmarks/predict_frames.py --preset paper [-b 4] [--iters 3] [-g 0] [--dtype mixed16]

Prints one JSON line. The generator is freshly initialised: speed does not
depend on the weights.
"""
import common  # puts the project on the path
from utils import compat  # noqa: F401
import numpy  # noqa: E402

import constants  # noqa: E402
import models  # noqa: E402
from utils.evaluation import predict  # noqa: E402
from utils.errors import cli  # noqa: E402


def build_predictor(preset, batch_size, device):
    """(test.py's predictor of a fresh ``preset`` generator, a batch of full-frame
    histories), on ``device``."""
    gen = models.Generator(models.model_config(preset))
    gen.to_device(device)
    history = device.send(numpy.zeros((batch_size, 3 * gen.config.hist_len, 210, 160),
                                      numpy.float32))
    return predict.model_predictor(gen), history


@cli
def main(argv):
    args = common.model_parser(__doc__.split('\n\n')[0], constants.TEST_BATCH, 3).parse_args(argv)
    device, sync = common.device_for(args)
    predictor, history = build_predictor(args.preset, args.batch_size, device)
    predict.rollout(predictor, history, 1)
    seconds, _ = common.timed(lambda: predict.rollout(predictor, history, args.iters), 1, sync)
    common.emit(dict(benchmark='predict_frames', impl=common.impl(args), preset=args.preset,
                     batch_size=args.batch_size, frame='210x160',
                     frames_per_sec=args.batch_size * args.iters / seconds,
                     device=common.machine(device)))


if __name__ == '__main__':
    main()
