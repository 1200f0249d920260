"""One training iteration: a discriminator step (when there is one), then a
generator step."""
import collections

import chainer
import chainer.functions as F
import numpy
from chainer import training

from models import pyramid
from models.checkpoint import NonFiniteError
from utils import pixels
from utils.evaluation import metrics
from utils.training import losses, optimizers

HINT = ('lower the learning rates (--lr-g, --lr-d) or --lambda-adv, then resume from the last '
        'snapshot with -r')


def _arrays(variables):
    return [v.array if isinstance(v, chainer.Variable) else v for v in variables]


class Step(collections.namedtuple('Step', 'histories targets predictions')):
    """One predicted frame of a training clip: the generator's inputs, the truth and
    its ``Predictions``, each a pyramid (coarsest first)."""


def _mean_over_steps(results):
    """(loss, {name: value}) averaged over the steps' (loss, {name: value})."""
    n = len(results)
    if n == 1:
        return results[0]
    return (sum(loss for loss, _ in results) / n,
            {name: sum(values[name] for _, values in results) / n for name in results[0][1]})


def _check(name, value, iteration):
    """Stop before a non-finite loss updates any parameter."""
    if not bool(chainer.backend.get_array_module(value.array).isfinite(value.array)):
        raise NonFiniteError('{} became NaN or Inf at iteration {}; {}'.format(
            name, iteration, HINT))


class PredictionUpdater(training.updaters.StandardUpdater):
    """The paper's training step, adversarial or not, in the style of Chainer's DCGAN
    example.

    Optimizers: ``gen`` and, for adversarial training, ``dis``. The generator's
    loss is the weighted sum of ``terms`` (``losses.generator_terms``), averaged
    over the frames each clip has to predict (one, or more with ``--rollout``; see
    ``rollout``). Both steps use one batch: the generator's predictions at every
    scale are computed once; the discriminator learns from them detached (its step
    never reaches the generator), then the generator learns from the updated
    discriminator's verdict, whose gradient flows back through the discriminator
    into it. Until iteration ``d_warmup`` only the discriminator learns: the
    generator predicts, without gradients, and is held.
    """

    def __init__(self, iterator, optimizers, device, terms,
                 converter=chainer.dataset.concat_examples, d_warmup=0):
        super().__init__(iterator, optimizers, converter=converter, device=device)
        self.terms = list(terms)
        self.d_warmup = d_warmup
        if any(t.needs_dis for t in self.terms) and not self.adversarial:
            raise ValueError('a loss term needs the discriminator, and there is none')
        if any(t.needs_mask for t in self.terms) \
                and not self.get_optimizer('gen').target.config.copy_mask:
            raise ValueError('a loss term needs a copy mask, and the generator has none')

    @property
    def adversarial(self):
        return 'dis' in self.get_all_optimizers()

    def make_reporter(self):
        """A reporter observing the models as the Trainer's would, for use without one."""
        reporter = chainer.Reporter()
        for name, opt in self.get_all_optimizers().items():
            reporter.add_observer(name, opt.target)
        return reporter

    def next_batch(self):
        """The history pyramid of the next batch, and one target pyramid per frame to
        predict (``--rollout``); pyramids are coarsest first."""
        history, future = self.converter(self.get_iterator('main').next(), self.device)
        config = self.get_optimizer('gen').target.config
        c = config.frame_channels
        return (_arrays(pyramid.pyramid(history, config.num_scales)),
                [_arrays(pyramid.pyramid(future[:, i:i + c], config.num_scales))
                 for i in range(0, future.shape[1], c)])

    def rollout(self, histories, futures):
        """One ``Step`` per target pyramid of ``futures``: the first predicts from
        ``histories``, each later one from the history before it shifted by that
        step's finest prediction, as test.py predicts several frames ahead. The
        later steps' losses reach the earlier predictions through their inputs, so
        the generator also learns to predict from its own predictions."""
        gen = self.get_optimizer('gen').target
        c = gen.config.frame_channels
        steps = []
        for targets in futures:
            if steps:
                # Resizing works channel by channel, so the shifted history's pyramid
                # is the last one's without its oldest frame, plus the new frame's.
                last = steps[-1]
                frame = F.cast(last.predictions[-1], last.histories[-1].dtype)
                histories = [F.concat([h[:, c:], f]) for h, f in zip(
                    last.histories, pyramid.pyramid(frame, gen.config.num_scales))]
            steps.append(Step(histories, targets, gen(histories)))
        return steps

    def dis_loss(self, histories, targets, predictions):
        """D's loss on the real frames and the detached predictions (what
        ``predictions.judged`` holds), given detached histories too, and its report
        (loss and accuracies)."""
        dis = self.get_optimizer('dis').target
        histories = _arrays(histories)
        real = dis(targets, histories)
        fake = dis(_arrays(predictions.judged), histories)
        loss = losses.adversarial_loss(real, True) + losses.adversarial_loss(fake, False)
        acc_real = sum(float((r.array > 0).mean()) for r in real) / len(real)
        acc_fake = sum(float((f.array < 0).mean()) for f in fake) / len(fake)
        return loss, {'loss': loss, 'accuracy_real': acc_real, 'accuracy_fake': acc_fake,
                      'accuracy': (acc_real + acc_fake) / 2}

    def reported_dis_loss(self, steps):
        """``dis_loss`` averaged over the steps, checked and reported."""
        loss, report = _mean_over_steps([self.dis_loss(*step) for step in steps])
        _check('dis/loss', loss, self.iteration)
        chainer.report(report, self.get_optimizer('dis').target)
        return loss

    def gen_loss(self, histories, targets, predictions):
        """The weighted generator loss, and {term name: its unweighted value}."""
        dis = self.get_optimizer('dis').target if self.adversarial else None
        values = {t.name: t.function(predictions, targets, histories, dis) for t in self.terms}
        loss = None
        for t in self.terms:
            weighted = t.weight * values[t.name]
            loss = weighted if loss is None else loss + weighted
        return loss, values

    def reported_gen_loss(self, steps):
        """``gen_loss`` averaged over the steps, checked and reported with the first
        step's PSNR."""
        loss, values = _mean_over_steps([self.gen_loss(*step) for step in steps])
        _check('gen/loss', loss, self.iteration)
        report = {'loss': loss}
        report.update({'loss_' + name: value for name, value in values.items()})
        chainer.report(report, self.get_optimizer('gen').target)
        cpu = chainer.backend.CpuDevice()
        chainer.report({'psnr': float(numpy.mean(metrics.psnr(
            pixels.to_0_255(cpu.send(steps[0].targets[-1])),
            pixels.to_0_255(cpu.send(steps[0].predictions[-1].array)))))})
        return loss

    # Each step goes through the optimizer's update(lossfun), which clears the
    # gradients, applies loss scaling under mixed16 and, with ChainerMN, averages
    # the gradients over ranks.
    def update_dis(self, steps):
        self.get_optimizer('dis').update(self.reported_dis_loss, steps)

    def update_gen(self, steps):
        # D's parameters stay as they are in G's step; held fixed, their
        # convolutions skip the gradients nobody would read (models/conv.py).
        dis = self.get_optimizer('dis').target if self.adversarial else None
        if dis is not None:
            dis.disable_update()
        try:
            self.get_optimizer('gen').update(self.reported_gen_loss, steps)
        finally:
            if dis is not None:
                dis.enable_update()

    def update_core(self):
        warming = self.adversarial and self.iteration < self.d_warmup
        with chainer.using_config('enable_backprop', not warming):
            steps = self.rollout(*self.next_batch())
        with optimizers.overflow_warnings_hidden():
            if self.adversarial:
                self.update_dis(steps)
            if not warming:
                self.update_gen(steps)
