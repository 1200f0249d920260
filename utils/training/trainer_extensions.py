"""Trainer extensions: the model saved beside each snapshot, sample pictures,
full-frame evaluation, and a clean stop on SIGINT/SIGTERM."""
import os
import signal

import chainer
import numpy
from chainer import training

from models import checkpoint
from utils import pixels, workers
from utils.evaluation import pictures, predict
from utils.training import run_folder


def save_model(trainer):
    """Write the generator to OUT/TRAINED_*.model; return the path."""
    gen = trainer.updater.get_optimizer('gen').target
    path = run_folder.model_path(trainer.out, trainer.updater.adversarial)
    checkpoint.save(path, gen, gen.config)
    return path


class SampleImages(training.Extension):
    """Writes ``samples/iter_<n>.png``: for fixed clips, the last input frame, the
    prediction and the truth side by side."""

    priority = training.PRIORITY_READER

    def __init__(self, dataset, count=4):
        picked = numpy.linspace(0, len(dataset) - 1, count).astype(int)
        self.history, self.target = chainer.dataset.concat_examples(
            [dataset[int(i)] for i in picked])

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

    priority = training.PRIORITY_WRITER

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
