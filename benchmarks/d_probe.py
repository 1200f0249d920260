"""How well a fresh discriminator tells a trained generator's predictions from the truth.

    python benchmarks/d_probe.py -m pretrained/pacman_adv_gdl.model -d data/trainclips \\
        --fakes train -i 4000 --d-change 8

Draws --train-clips + --test-clips clips (seeded), has the generator predict each
clip's next frame, and trains a discriminator of the generator's own configuration,
from scratch, on the first clips' true frames against those predictions (Adam,
batch -b). Every --eval-interval iterations it prints a JSON line: the loss, and
the accuracy on the held-out clips, each frame called real where D's logits,
averaged over each scale's positions and summed over the scales, are above 0 (the
mean of the real frames' and the predictions' shares called right). The last
line also says how many held-out predictions equal the truth (every channel within
1 of 255) and so the best accuracy any discriminator can reach on them: an exact
prediction is a coin toss.

--fakes train: the finest prediction as in training (the copy mask blending);
test: as test.py predicts (the model's hard mask and palette); copy: the last
input frame. D judges each frame's pyramid, conditioned on the history's.
"""
import argparse
import dataclasses
import json
import time

import numpy

import common  # puts the project on the path
from utils import compat  # noqa: F401  (before chainer)
import chainer  # noqa: E402
import constants  # noqa: E402
from models import pyramid  # noqa: E402
from models.discriminator import Discriminator  # noqa: E402
from utils import pixels, run_folder  # noqa: E402
from utils.data.dataset import ClipDataset  # noqa: E402
from utils.errors import UserError, cli, add_common_flags  # noqa: E402
from utils.training import losses  # noqa: E402

FAKES = ('train', 'test', 'copy')
PREDICT_BATCH = 256


def predictions(gen, histories, fakes):
    """The next frame of each history, as ``fakes`` names."""
    if fakes == 'copy':
        return histories[:, -gen.config.frame_channels:]
    out = []
    for s in range(0, len(histories), PREDICT_BATCH):
        with chainer.using_config('train', fakes == 'train'), chainer.no_backprop_mode():
            out.append(gen.predict(histories[s:s + PREDICT_BATCH]).array)
    return numpy.concatenate(out).astype(numpy.float32)


def levels(dis, x):
    """``x``'s pyramid at D's scales, as arrays, coarsest first."""
    return [chainer.as_array(v) for v in pyramid.pyramid(x, dis.config.num_scales)]


def called_real(logits):
    """(N,) bool: the per-scale mean logits summed over scales, above 0."""
    return sum(x.array.reshape(len(x.array), -1).mean(1) for x in logits) > 0


def accuracy(dis, truth, fake, histories):
    """The mean of the shares of ``truth`` called real and of ``fake`` called not."""
    real_right, fake_right = [], []
    with chainer.no_backprop_mode():
        for s in range(0, len(truth), PREDICT_BATCH):
            part = slice(s, s + PREDICT_BATCH)
            history = levels(dis, histories[part])
            real_right.append(called_real(dis(levels(dis, truth[part]), history)))
            fake_right.append(~called_real(dis(levels(dis, fake[part]), history)))
    return float((numpy.concatenate(real_right).mean()
                  + numpy.concatenate(fake_right).mean()) / 2)


@cli
def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('-m', '--model', required=True, help='a generator (.model file)')
    p.add_argument('-d', '--data', default=constants.TRAIN_CLIPS_DIR,
                   help='clips (default: %(default)s)')
    p.add_argument('--fakes', choices=FAKES, default='train', help='(default: %(default)s)')
    p.add_argument('-i', '--iterations', type=int, default=1000, help='(default: %(default)s)')
    p.add_argument('-b', '--batch-size', type=int, default=32, help='(default: %(default)s)')
    p.add_argument('--lr', type=float, default=1e-4, help="D's Adam step (default: %(default)s)")
    p.add_argument('--d-change', type=float, metavar='GAIN',
                   help="D judges the change from the last input frame times GAIN; 0: the "
                        "frame (default: the model's)")
    p.add_argument('--d-patch', action='store_true', help='a logit per patch (train.py --d-patch)')
    p.add_argument('--d-local', nargs='?', type=int, const=constants.D_LOCAL_MAPS,
                   metavar='MAPS', help="one small tower at the finest scale (train.py "
                                        "--d-local; default: the model's)")
    p.add_argument('--train-clips', type=int, default=6000, help='(default: %(default)s)')
    p.add_argument('--test-clips', type=int, default=1024, help='(default: %(default)s)')
    p.add_argument('--eval-interval', type=int, default=250, help='(default: %(default)s)')
    p.add_argument('--seed', type=int, default=constants.SEED, help='(default: %(default)s)')
    add_common_flags(p)
    args = p.parse_args(argv)
    if min(args.iterations, args.batch_size, args.train_clips, args.test_clips,
           args.eval_interval) < 1:
        raise UserError('--iterations, -b, --train-clips, --test-clips and --eval-interval '
                        'must be at least 1')
    gen = run_folder.load_generator(args.model)
    config = gen.config
    data = ClipDataset(args.data, config.hist_len)
    need = args.train_clips + args.test_clips
    if len(data) < need:
        raise UserError('{}: {} clips, fewer than --train-clips + --test-clips ({}); pass '
                        'fewer'.format(args.data, len(data), need))
    rng = numpy.random.RandomState(args.seed)
    numpy.random.seed(args.seed)  # D's initial weights
    pairs = [data[i] for i in rng.permutation(len(data))[:need]]
    histories = numpy.stack([h for h, _ in pairs])
    truth = numpy.stack([y for _, y in pairs])
    fake = predictions(gen, histories, args.fakes)
    test = slice(args.train_clips, need)
    exact = (numpy.abs(fake[test] - truth[test]).reshape(args.test_clips, -1).max(1)
             <= pixels.difference_to_model_scale(1))
    dis = Discriminator(dataclasses.replace(
        config, d_patch=args.d_patch or config.d_patch,
        d_change=config.d_change if args.d_change is None else args.d_change,
        d_local=config.d_local if args.d_local is None else args.d_local))
    opt = chainer.optimizers.Adam(alpha=args.lr)
    opt.setup(dis)
    start = time.time()
    for it in range(1, args.iterations + 1):
        b = rng.randint(0, args.train_clips, args.batch_size)
        history = levels(dis, histories[b])
        loss = (losses.adversarial_loss(dis(levels(dis, truth[b]), history), True)
                + losses.adversarial_loss(dis(levels(dis, fake[b]), history), False))
        dis.cleargrads()
        loss.backward()
        opt.update()
        if it % args.eval_interval == 0 or it == args.iterations:
            line = dict(iteration=it, loss=float(loss.array), heldout_accuracy=accuracy(
                dis, truth[test], fake[test], histories[test]),
                seconds=round(time.time() - start, 1))
            if it == args.iterations:
                line.update(fakes=args.fakes, d_local=dis.config.d_local,
                            d_change=dis.config.d_change, d_patch=dis.config.d_patch,
                            exact=int(exact.sum()), heldout=args.test_clips,
                            best_accuracy=float(1 - exact.mean() / 2),
                            machine=common.machine(chainer.get_device('@numpy')))
            print(json.dumps(line), flush=True)


if __name__ == '__main__':
    main()
