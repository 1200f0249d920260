"""Trainer extensions: the model saved beside each snapshot, the best model kept,
sample pictures, full-frame evaluation, divergence noticed, a clean stop on
SIGINT/SIGTERM, and a printed log that resumes where it stopped."""
import collections
import os
import signal
import sys

import chainer
import numpy
from chainer import training
from chainer.training import extensions

from models import checkpoint
from utils import pixels, run_folder, workers
from utils.errors import warn
from utils.evaluation import pictures, predict


def save_model(trainer):
    """Write the generator to OUT/TRAINED_*.model; return the path."""
    gen = trainer.updater.get_optimizer('gen').target
    path = run_folder.model_path(trainer.out, trainer.updater.adversarial)
    checkpoint.save(path, gen, gen.config)
    return path


class PrintReport(extensions.PrintReport):
    """Chainer's PrintReport, printing after a resume only what is new: Chainer's own
    does not keep how much of the log it printed, and prints the whole restored log
    (thousands of lines for a long run) again. It prints to the ``sys.stdout`` of
    when it is made (Chainer's default is the one of when Chainer was imported), so
    a caller that redirects stdout gets the table too."""

    def __init__(self, entries, log_report='LogReport', out=None):
        super().__init__(entries, log_report, out or sys.stdout)

    def initialize(self, trainer):
        log_report = self._log_report
        if isinstance(log_report, str):
            log_report = trainer.get_extension(log_report)
        self._log_len = len(log_report.log)


class LearningRateSteps(training.Extension):
    """G's Adam step by iteration: ``base`` until the first of ``steps`` ((iteration,
    rate) pairs, sorted), then each rate for the updates after its iteration.

    It keeps no state and reads only the iteration, so a resumed run takes the rate
    of where it resumes from its first update."""

    trigger = 1, 'iteration'

    def __init__(self, base, steps):
        self.base, self.steps = base, [tuple(s) for s in steps]

    def rate(self, iteration):
        return next((r for i, r in reversed(self.steps) if iteration >= i), self.base)

    def initialize(self, trainer):
        self(trainer)

    def __call__(self, trainer):
        # The rate of the next update, the iteration's (iteration + 1)th.
        trainer.updater.get_optimizer('gen').alpha = self.rate(trainer.updater.iteration)


class SampleImages(training.Extension):
    """Writes ``samples/iter_<n>.png``: for fixed clips, the last input frame, the
    prediction and the truth side by side."""

    priority = training.PRIORITY_READER

    def __init__(self, dataset, count=4):
        picked = numpy.linspace(0, len(dataset) - 1, count).astype(int)
        self.history, future = chainer.dataset.concat_examples(
            [dataset[int(i)] for i in picked])
        self.target = future[:, :3]

    def __call__(self, trainer):
        gen = trainer.updater.get_optimizer('gen').target
        device = trainer.updater.device
        with chainer.using_config('train', False), chainer.no_backprop_mode():
            prediction = chainer.backend.CpuDevice().send(
                gen.predict(device.send(self.history)).array)
        rows = list(zip(*(pixels.to_uint8(x) for x in (self.history[:, -3:], prediction,
                                                       self.target))))
        image = pictures.grid(rows, [['last input', 'predicted', 'truth']] * len(rows), scale=4)
        pictures.save_png(os.path.join(trainer.out, 'samples',
                                       'iter_{}.png'.format(trainer.updater.iteration)), image)


class FullFrameEvaluation(training.Extension):
    """Scores one-step predictions on a few full test windows and reports
    ``eval/psnr``, ``eval/psnr_moving`` and the copy-last-frame baseline's."""

    # Before DivergenceWatch and KeepBest, which read its report, and LogReport.
    priority = training.PRIORITY_WRITER + 2

    def __init__(self, videos, windows):
        self.videos, self.windows = videos, windows

    def __call__(self, trainer):
        gen = trainer.updater.get_optimizer('gen').target
        result = predict.evaluate(gen, self.videos, self.windows, 1, trainer.updater.device)
        step = result.per_step()[0]
        report = {}
        for who, suffix in (('model', ''), ('last_frame', '_last_frame')):
            for metric in ('psnr', 'psnr_moving'):
                if step[who][metric] is not None:
                    report['eval/{}{}'.format(metric, suffix)] = step[who][metric]
        chainer.report(report)


def _best_text(out, adversarial):
    record = run_folder.best_record(out, adversarial)
    if record is None:
        return 'no best model is kept yet'
    return 'the best model is {} (iteration {}, evaluation PSNR {:.2f} dB)'.format(
        run_folder.best_model_path(out, adversarial), record['iteration'], record['eval/psnr'])


class KeepBest(training.Extension):
    """Keeps the generator with the best full-frame evaluation PSNR (``eval/psnr``)
    as OUT/BEST_*.model, with its iteration and scores in OUT/BEST_*.json.

    The best so far is the one recorded on disk, so a resumed run, even one resumed
    from a snapshot older than the best, never replaces a better generator with a
    worse one. (Chainer's MaxValueTrigger keeps its best value in the snapshot
    instead: a best found after the last snapshot would be forgotten, and "no best
    yet" cannot be saved without pickle.)
    """

    priority = training.PRIORITY_READER

    def __call__(self, trainer):
        value = trainer.observation.get('eval/psnr')
        if value is None:
            return
        adversarial = trainer.updater.adversarial
        best = run_folder.best_record(trainer.out, adversarial)
        if best is not None and best['eval/psnr'] >= float(value):
            return
        record = {k: float(v) for k, v in trainer.observation.items() if k.startswith('eval/')}
        record['iteration'] = trainer.updater.iteration
        run_folder.write_best(trainer.out, trainer.updater.get_optimizer('gen').target,
                              adversarial, record)


class DivergenceWatch(training.Extension):
    """Says when training breaks, in one warning line and in the log.

    Two signs: the generator's loss, averaged over the last ``window // 10``
    iterations, above ``factor`` times its average over the ``window``
    iterations before them (logged as ``warning/gen_loss_jump``, the ratio); and
    the evaluation PSNR ``psnr_drop`` dB or more below the best kept (logged as
    ``warning/eval_psnr_drop``, in dB). Each warns once when it starts and again
    only after it has ended. A check with a threshold of 0 is off. With ``stop``,
    the run then ends: ``save(trainer)`` writes a snapshot and ``Diverged`` is
    raised.
    """

    # After the evaluation's report, before LogReport's.
    priority = training.PRIORITY_WRITER + 1
    trigger = 1, 'iteration'

    class Diverged(Exception):
        """args: the warning, and what ``save`` returned."""

    def __init__(self, factor, window, psnr_drop, stop=False, save=None):
        self.factor, self.psnr_drop, self.stop, self.save = factor, psnr_drop, stop, save
        self.recent = max(1, window // 10)
        self.losses = collections.deque(maxlen=window + self.recent)
        self.alarms = set()

    def _alarm(self, trainer, name, on, key, value, text):
        """Warn when ``name`` turns on; report ``key`` while it is on."""
        if not on:
            self.alarms.discard(name)
            return
        chainer.report({key: value})
        if name in self.alarms:
            return
        self.alarms.add(name)
        message = 'iteration {}: {}; {}'.format(
            trainer.updater.iteration, text,
            _best_text(trainer.out, trainer.updater.adversarial))
        warn('training may be diverging: ' + message)
        if self.stop:
            raise self.Diverged(message, self.save(trainer))

    def __call__(self, trainer):
        loss = trainer.observation.get('gen/loss')
        if loss is not None and self.factor:
            self.losses.append(float(getattr(loss, 'array', loss)))
            if len(self.losses) == self.losses.maxlen:
                history = list(self.losses)
                before = sum(history[:-self.recent]) / (len(history) - self.recent)
                now = sum(history[-self.recent:]) / self.recent
                self._alarm(trainer, 'loss', now > self.factor * before, 'warning/gen_loss_jump',
                            now / before, "G's loss averaged {:.4g} over the last {} iterations, "
                            '{:.1f}x its average of {:.4g} before them'.format(
                                now, self.recent, now / before, before))
        psnr = trainer.observation.get('eval/psnr')
        if psnr is not None and self.psnr_drop:
            best = run_folder.best_record(trainer.out, trainer.updater.adversarial)
            if best is not None:
                drop = best['eval/psnr'] - float(psnr)
                self._alarm(trainer, 'psnr', drop >= self.psnr_drop, 'warning/eval_psnr_drop',
                            drop, 'evaluation PSNR {:.2f} dB, {:.2f} dB below the best'.format(
                                float(psnr), drop))


class StopOnSignal(training.Extension):
    """Turns SIGINT/SIGTERM into a clean stop after the current iteration.

    ``save(trainer)`` runs here, before the trainer winds down: once it has, its
    MultiprocessIterator is finalized and can no longer be serialized. A second
    signal aborts at once (files stay whole: every write is atomic). The handlers
    are installed when the trainer starts and the previous ones put back when it
    ends, however it ends.
    """

    priority = 0  # after every other extension of the iteration
    trigger = 1, 'iteration'

    class Stopped(Exception):
        """args: the signal's name, and what ``save`` returned."""

    def __init__(self, save):
        self.save = save
        self.signum = None
        self._pid = None
        self._previous = {}

    def initialize(self, trainer):
        self._pid = os.getpid()
        self._previous = workers.install({s: self._handle for s in workers.STOP_SIGNALS})

    def finalize(self):
        workers.restore(self._previous)
        self._previous = {}

    def _handle(self, signum, frame):
        # Either way the next signal acts as by default: a second Ctrl-C aborts.
        signal.signal(signum, signal.SIG_DFL if signum == signal.SIGTERM
                      else signal.default_int_handler)
        if os.getpid() == self._pid:
            self.signum = signum
        # Otherwise this is a process forked from the trainer, one of Chainer's
        # loader workers, reached by a signal sent to the whole process group. It
        # must live on: a worker killed mid-batch hangs the MultiprocessIterator,
        # which the trainer's stop closes in order.

    def __call__(self, trainer):
        if self.signum is not None:
            raise self.Stopped(signal.Signals(self.signum).name, self.save(trainer))
