"""One training iteration: a discriminator step (when there is one), then a
generator step."""
import chainer
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


def _check(name, value, iteration):
    """Stop before a non-finite loss updates any parameter."""
    if not bool(chainer.backend.get_array_module(value.array).isfinite(value.array)):
        raise NonFiniteError('{} became NaN or Inf at iteration {}; {}'.format(
            name, iteration, HINT))


class PredictionUpdater(training.updaters.StandardUpdater):
    """The paper's training step, adversarial or not, in the style of Chainer's DCGAN
    example.

    Optimizers: ``gen`` and, for adversarial training, ``dis``. The generator's
    loss is the weighted sum of ``terms`` (``losses.generator_terms``). Both steps
    use one batch: the generator's predictions at every scale are computed once;
    the discriminator learns from them detached (its step never reaches the
    generator), then the generator learns from the updated discriminator's
    verdict, whose gradient flows back through the discriminator into it.
    """

    def __init__(self, iterator, optimizers, device, terms,
                 converter=chainer.dataset.concat_examples):
        super().__init__(iterator, optimizers, converter=converter, device=device)
        self.terms = list(terms)
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
        """History and target pyramids (coarsest first) of the next batch."""
        history, target = self.converter(self.get_iterator('main').next(), self.device)
        num_scales = self.get_optimizer('gen').target.config.num_scales
        return (_arrays(pyramid.pyramid(history, num_scales)),
                _arrays(pyramid.pyramid(target, num_scales)))

    def dis_loss(self, histories, targets, predictions):
        """D's loss on the real frames and the detached predictions (what
        ``predictions.judged`` holds); reports accuracy."""
        dis = self.get_optimizer('dis').target
        real = dis(targets, histories)
        fake = dis(_arrays(predictions.judged), histories)
        loss = losses.adversarial_loss(real, True) + losses.adversarial_loss(fake, False)
        _check('dis/loss', loss, self.iteration)
        acc_real = sum(float((r.array > 0).mean()) for r in real) / len(real)
        acc_fake = sum(float((f.array < 0).mean()) for f in fake) / len(fake)
        chainer.report({'loss': loss, 'accuracy_real': acc_real, 'accuracy_fake': acc_fake,
                        'accuracy': (acc_real + acc_fake) / 2}, dis)
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

    def reported_gen_loss(self, histories, targets, predictions):
        """``gen_loss``, checked and reported with the batch's PSNR."""
        loss, values = self.gen_loss(histories, targets, predictions)
        _check('gen/loss', loss, self.iteration)
        report = {'loss': loss}
        report.update({'loss_' + name: value for name, value in values.items()})
        chainer.report(report, self.get_optimizer('gen').target)
        cpu = chainer.backend.CpuDevice()
        chainer.report({'psnr': float(numpy.mean(metrics.psnr(
            pixels.to_0_255(cpu.send(targets[-1])),
            pixels.to_0_255(cpu.send(predictions[-1].array)))))})
        return loss

    # Each step goes through the optimizer's update(lossfun), which clears the
    # gradients, applies loss scaling under mixed16 and, with ChainerMN, averages
    # the gradients over ranks.
    def update_dis(self, histories, targets, predictions):
        self.get_optimizer('dis').update(self.dis_loss, histories, targets, predictions)

    def update_gen(self, histories, targets, predictions):
        self.get_optimizer('gen').update(self.reported_gen_loss, histories, targets, predictions)

    def update_core(self):
        histories, targets = self.next_batch()
        predictions = self.get_optimizer('gen').target(histories)
        with optimizers.overflow_warnings_hidden():
            if self.adversarial:
                self.update_dis(histories, targets, predictions)
            self.update_gen(histories, targets, predictions)
