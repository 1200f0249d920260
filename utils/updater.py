"""One adversarial training iteration: a discriminator step, then a generator step."""
import chainer
import numpy
from chainer import training

from models.checkpoint import NonFiniteError
from utils import losses, metrics, pyramid

HINT = ('lower the learning rates (--lr-g, --lr-d) or --lambda-adv, then resume from the last '
        'snapshot with -r')


def _arrays(variables):
    return [v.array if isinstance(v, chainer.Variable) else v for v in variables]


def _check(name, value, iteration):
    """Stop before a non-finite loss updates any parameter."""
    if not bool(chainer.backend.get_array_module(value.array).isfinite(value.array)):
        raise NonFiniteError('{} became NaN or Inf at iteration {}; {}'.format(
            name, iteration, HINT))


class AdversarialUpdater(training.updaters.StandardUpdater):
    """The paper's training step, in the style of Chainer's DCGAN example.

    Optimizers: ``gen`` and, unless training without the adversary, ``dis``. Both
    steps use one batch: the generator's predictions at every scale are computed
    once; the discriminator learns from them detached (its step never reaches the
    generator), then the generator learns from the updated discriminator's
    verdict, whose gradient flows back through the discriminator into it.
    """

    def __init__(self, iterator, optimizers, device, lambda_adv, lambda_lp, lambda_gdl,
                 l_num, alpha_num, converter=chainer.dataset.concat_examples):
        super().__init__(iterator, optimizers, converter=converter, device=device)
        self.lambda_adv, self.lambda_lp, self.lambda_gdl = lambda_adv, lambda_lp, lambda_gdl
        self.l_num, self.alpha_num = l_num, alpha_num

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
        return _arrays(pyramid.pyramid(history)), _arrays(pyramid.pyramid(target))

    def dis_loss(self, histories, targets, predictions):
        """D's loss on the real frames and the detached predictions; reports accuracy."""
        dis = self.get_optimizer('dis').target
        real = dis(targets, histories)
        fake = dis(_arrays(predictions), histories)
        loss = losses.adversarial_loss(real, True) + losses.adversarial_loss(fake, False)
        _check('dis/loss', loss, self.iteration)
        acc_real = sum(float((r.array > 0).mean()) for r in real) / len(real)
        acc_fake = sum(float((f.array < 0).mean()) for f in fake) / len(fake)
        chainer.report({'loss': loss, 'accuracy_real': acc_real, 'accuracy_fake': acc_fake,
                        'accuracy': (acc_real + acc_fake) / 2}, dis)
        return loss

    def gen_loss(self, histories, targets, predictions):
        """The weighted generator loss and its terms (``adv`` is None without D)."""
        lp = losses.lp_loss(predictions, targets, self.l_num)
        gdl = losses.gdl_loss(predictions, targets, self.alpha_num)
        loss = self.lambda_lp * lp + self.lambda_gdl * gdl
        adv = None
        if self.adversarial:
            dis = self.get_optimizer('dis').target
            adv = losses.adversarial_loss(dis(predictions, histories), True)
            loss = loss + self.lambda_adv * adv
        return loss, lp, gdl, adv

    def reported_gen_loss(self, histories, targets, predictions):
        """``gen_loss``, checked and reported with the batch's PSNR."""
        loss, lp, gdl, adv = self.gen_loss(histories, targets, predictions)
        _check('gen/loss', loss, self.iteration)
        report = {'loss': loss, 'loss_lp': lp, 'loss_gdl': gdl}
        if adv is not None:
            report['loss_adv'] = adv
        chainer.report(report, self.get_optimizer('gen').target)
        cpu = chainer.backend.CpuDevice()
        chainer.report({'psnr': float(numpy.mean(metrics.psnr(
            metrics.to_0_255(cpu.send(targets[-1])),
            metrics.to_0_255(cpu.send(predictions[-1].array)))))})
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
        if self.adversarial:
            self.update_dis(histories, targets, predictions)
        self.update_gen(histories, targets, predictions)
