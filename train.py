"""Train the multi-scale generator, adversarially or not, with Chainer's Trainer.

    python train.py --preset tiny -i 2000          # a quick CPU run
    python train.py -g 0                           # the paper's model on GPU 0
    python train.py -r                             # resume from the newest snapshot
    mpiexec -n 4 python train.py -g 0 --communicator pure_nccl   # data-parallel

Writes to OUT (result/ by default): snapshot_iter_<n>.npz (the whole trainer,
the last few kept), TRAINED_ADVERSARIAL.model (or TRAINED_L2.model with
--no-adversarial), log, loss.png, adversarial.png, psnr.png and samples/.
"""
import argparse
import collections
import contextlib
import os
import random
import signal
import sys
import warnings

import numpy

from utils import compat  # noqa: F401  (before chainer)
import chainer  # noqa: E402
from chainer import training  # noqa: E402
from chainer.training import extensions  # noqa: E402

import constants  # noqa: E402
import models  # noqa: E402
from models import checkpoint  # noqa: E402
from models.generator import longer_history, more_copy_frames  # noqa: E402
from utils import workers  # noqa: E402
from utils.data import shards  # noqa: E402
from utils.data.dataset import ClipDataset, SeededShuffle  # noqa: E402
from utils.device import compute_dtype, get_device  # noqa: E402
from utils.errors import UserError, cli, add_common_flags, warn  # noqa: E402
from utils.evaluation import predict  # noqa: E402
from utils import run_folder, safe_io  # noqa: E402
from utils.training import losses  # noqa: E402
from utils.training import optimizers as optimizer_lib  # noqa: E402
from utils.training import settings  # noqa: E402
from utils.training import trainer_extensions as ext  # noqa: E402
from utils.training.updater import PredictionUpdater  # noqa: E402

# Options that shape the model; when resuming or loading, those not given come
# from the file.
MODEL_OPTIONS = models.config.OPTIONS + ('adversarial',)
# The generator options a loaded generator may grow (see ``_widened``).
WIDENED = ('hist_len', 'copy_frames')


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                epilog=__doc__.split('\n\n', 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    d = ' (default: %(default)s)'

    def kept(name):
        return " (default: {}, or the resumed snapshot's)".format(settings.DEFAULTS[name])
    p.add_argument('-r', '--resume_training', nargs='?', const='latest', metavar='SNAPSHOT',
                   help='resume from SNAPSHOT, or without a value from the newest intact '
                        'snapshot in OUT')
    p.add_argument('-l', '--load', metavar='MODEL',
                   help='start the generator from a saved one: a .model file, a snapshot, or '
                        'a run folder (its best generator, else its last)')
    p.add_argument('-g', '--gpu', type=int, default=-1, help='GPU id; -1 is the CPU' + d)
    p.add_argument('--device', help="a Chainer device string ('@numpy', '@cupy:0'); overrides -g")
    p.add_argument('-d', '--data', default=constants.TRAIN_CLIPS_DIR, help='training clips' + d)
    p.add_argument('-o', '--out', default=constants.RESULT_DIR, help='output directory' + d)
    p.add_argument('-i', '--iterations', type=int, default=constants.ITERATIONS,
                   help='total iterations (one D step + one G step each)' + d)
    p.add_argument('-b', '--batch-size', type=int, help='clips per iteration' + kept('batch_size'))
    p.add_argument('--preset', choices=sorted(constants.PRESETS),
                   help='layer tables from constants.py (default: {}, or the resumed/loaded '
                        "file's)".format(constants.PRESET))
    p.add_argument('--residual', action='store_const', const=True,
                   help="add the upscaled previous scale before the tanh (the Torch code's)")
    p.add_argument('--copy-mask', action='store_const', const=True,
                   help='G predicts a mask at each scale and copies the last input frame where '
                        'it says so, generating the rest')
    p.add_argument('--copy-frames', type=int, metavar='F',
                   help='with --copy-mask: the mask may copy from the F newest input frames, '
                        'not the last alone, as a sprite that flickers needs (default: {}, or '
                        "the resumed/loaded file's; with -l, more widen the loaded generator, "
                        'the older frames starting unchosen)'.format(constants.COPY_FRAMES))
    p.add_argument('--d-frame-only', dest='d_conditioned', action='store_const', const=False,
                   help='D sees the frame alone (TF code), not the history with it (paper)')
    p.add_argument('--d-generated', action='store_const', const=True,
                   help="with --copy-mask: D judges the mask's generated branch, not the "
                        'blended frame that copies the static pixels exactly')
    p.add_argument('--d-change', nargs='?', type=float, const=constants.D_CHANGE_GAIN,
                   metavar='GAIN',
                   help='D judges the change from the last input frame, times GAIN (default '
                        '{}), instead of the frame, which mostly repeats the last one; 0 turns '
                        "it off where a loaded file's run had it".format(
                            constants.D_CHANGE_GAIN))
    p.add_argument('--d-patch', action='store_const', const=True,
                   help='each D scale gives a logit per patch (1x1 convolution, as PatchGAN) '
                        "instead of the paper's one per image (pooling, fully connected)")
    p.add_argument('--d-local', nargs='?', type=int, const=constants.D_LOCAL_MAPS,
                   metavar='MAPS',
                   help='D is one small tower at the finest scale: VALID convolutions of '
                        'kernel sizes {} with MAPS maps (default {}), then a logit per '
                        "position, instead of the paper's towers; 0: the paper's, where a "
                        "loaded file's run had it".format(
                            ', '.join(map(str, constants.D_LOCAL_KERNELS)),
                            constants.D_LOCAL_MAPS))
    p.add_argument('--hard-mask', action='store_const', const=True,
                   help='with --copy-mask: predictions outside training (evaluation, test.py) '
                        'take the last or the generated frame at each pixel, whichever the mask '
                        'favours, instead of blending them')
    p.add_argument('--palette', action=argparse.BooleanOptionalAction,
                   help='predictions outside training (evaluation, test.py) take, at each '
                        'pixel, the nearest colour of their input frames: for video drawn from a '
                        "small palette, such as Atari games (--no-palette: not, where a loaded "
                        "file's run did)")
    p.add_argument('--palette-radius', type=int, metavar='PIXELS',
                   help='with --palette: only the colours the input frames show within this '
                        'many pixels of a pixel, as far as a sprite moves in a few frames; 0: '
                        'anywhere in the frame (default: {}, or the loaded file\'s)'.format(
                            constants.PALETTE_RADIUS))
    p.add_argument('--no-adversarial', dest='adversarial', action='store_const', const=False,
                   help="train G with Lp + GDL only (the paper's baseline)")
    p.add_argument('--num-scales', type=int,
                   help='scales of G and D, finest rows of the tables (default: {}, or the '
                        "resumed/loaded file's)".format(constants.NUM_SCALES))
    p.add_argument('--hist-len', type=int,
                   help='input frames per prediction (default: {}, or the resumed/loaded '
                        "file's; with -l, a longer history widens the loaded generator, its "
                        'extra oldest frames starting at zero weights); clips cut for a longer '
                        'history serve'.format(constants.HIST_LEN))
    p.add_argument('--dtype', choices=constants.DTYPES,
                   help='mixed16: float16 weights and activations with float32 losses, updates '
                        'and loss scaling, for GPUs (default: {}, or the resumed '
                        "snapshot's)".format(constants.DTYPE))
    p.add_argument('--lr-g', type=float, help='Adam step of G' + kept('lr_g'))
    p.add_argument('--lr-g-steps', type=_steps, metavar='ITER:LR[,ITER:LR...]',
                   help="G's Adam step LR for the updates after iteration ITER (as if resumed "
                        "there with --lr-g LR), to finish a run at a lower rate; '' for none "
                        "(default: none, or the resumed snapshot's)")
    p.add_argument('--d-optimizer', choices=sorted(constants.LR_D),
                   help="D's optimizer; a run resumes with its own" + kept('d_optimizer'))
    p.add_argument('--lr-d', type=float,
                   help="D's step (default: {}, or the resumed snapshot's)".format(
                       ', '.join('{} for {}'.format(r, o) for o, r in constants.LR_D.items())))
    p.add_argument('--d-warmup', type=int, metavar='ITER',
                   help='adversarial runs: D learns alone, G held, until iteration ITER, so '
                        'that a D started afresh beside a loaded generator first learns what '
                        'it gets wrong'
                        + kept('d_warmup'))
    for name in constants.LOSS_WEIGHTS:
        p.add_argument('--lambda-' + name, type=float,
                       help='weight of the generator loss term "{}"'.format(name)
                            + kept('lambda_' + name))
    p.add_argument('--rollout', type=int, metavar='K',
                   help='frames to predict in a row from each clip, each from the previous '
                        'predictions, as test.py -s does; the clips need --hist-len + K '
                        'frames (process_data.py --hist-len)' + kept('rollout'))
    p.add_argument('--l-num', type=int, choices=(1, 2), help='p of the Lp loss' + kept('l_num'))
    p.add_argument('--alpha-num', type=float, help='alpha of the GDL' + kept('alpha_num'))
    p.add_argument('--snapshot-interval', type=int, default=constants.SNAPSHOT_INTERVAL,
                   help='iterations between snapshots and model saves' + d)
    p.add_argument('--snapshots-kept', type=int, default=constants.SNAPSHOTS_KEPT, help=d[1:])
    p.add_argument('--log-interval', type=int, default=constants.LOG_INTERVAL, help=d[1:])
    p.add_argument('--sample-interval', type=int, default=constants.SAMPLE_INTERVAL,
                   help='iterations between sample pictures; 0: none' + d)
    p.add_argument('--eval-interval', type=int, default=constants.EVAL_INTERVAL,
                   help='iterations between full-frame evaluations; 0: none' + d)
    p.add_argument('--eval-dir', default=constants.TEST_DIR,
                   help='videos (or one video) for the full-frame evaluation; none when '
                        'missing' + d)
    p.add_argument('--eval-windows', type=int, default=constants.EVAL_WINDOWS,
                   help='windows (of one predicted frame) each evaluation scores, spread '
                   'evenly over the videos; 0: all' + d)
    p.add_argument('--divergence-factor', type=float, default=constants.DIVERGENCE_LOSS_FACTOR,
                   help="warn when G's loss over the last tenth of --divergence-window "
                        'iterations averages this many times its average before; 0: off' + d)
    p.add_argument('--divergence-window', type=int, default=constants.DIVERGENCE_WINDOW,
                   help="iterations of G's loss the divergence check compares against" + d)
    p.add_argument('--divergence-psnr-drop', type=float,
                   default=constants.DIVERGENCE_PSNR_DROP,
                   help='warn when the evaluation PSNR falls this many dB below the best; '
                        '0: off' + d)
    p.add_argument('--stop-on-divergence', action='store_true',
                   help='end the run, with a snapshot, when it diverges')
    p.add_argument('--loaderjobs', type=int, default=constants.LOADER_PROCESSES,
                   help='processes preparing batches; 0 loads in the main process' + d)
    p.add_argument('--communicator',
                   help='ChainerMN communicator (naive, flat, pure_nccl, ...): train data-parallel '
                        'under mpiexec')
    p.add_argument('--overwrite', action='store_true',
                   help='start afresh in OUT, deleting the snapshots and models of an earlier run')
    p.add_argument('--seed', type=int, help=kept('seed')[1:])
    add_common_flags(p)
    return p


def _steps(text):
    try:
        return settings.parse_steps(text) if text else []
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))


def _check_args(args):
    for name in ('iterations', 'batch_size', 'snapshot_interval', 'log_interval',
                 'snapshots_kept', 'divergence_window', 'rollout'):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise UserError('--{} must be at least 1'.format(name.replace('_', '-')))
    for name in ('sample_interval', 'eval_interval', 'loaderjobs', 'eval_windows',
                 'divergence_factor', 'divergence_psnr_drop', 'd_warmup'):
        if getattr(args, name) is not None and getattr(args, name) < 0:
            raise UserError('--{} must be at least 0'.format(name.replace('_', '-')))
    if args.resume_training and args.overwrite:
        raise UserError('-r and --overwrite contradict each other; pick one')
    safe_io.check_out_dir(args.out, '-o')


class Plan(collections.namedtuple('Plan', 'config adversarial dtype training device dataset '
                                          'terms snapshot load evaluation')):
    """Everything a run is made of, resolved and checked before any file is written."""

    @property
    def saved_config(self):
        """What the run's snapshots record: the model, and how it is trained."""
        return dict(self.config.to_dict(), adversarial=self.adversarial, dtype=self.dtype,
                    training=self.training)


def _model_options(args, source, loaded):
    """The model options of this run: given on the command line, else the resumed or
    loaded file's, else the defaults. Contradicting the file is refused, except, for a
    ``loaded`` generator, a longer history or more frames to copy (see ``_widened``)
    and the options that do not shape it (D's and the loss's: its run starts D
    afresh)."""
    saved = source.options() if source else {}
    default_config = models.model_config()
    defaults = dict({name: getattr(default_config, name) for name in models.config.OPTIONS},
                    adversarial=True)
    options = {}
    for name in MODEL_OPTIONS:
        given, kept = getattr(args, name), saved.get(name)
        contradicts = given is not None and kept is not None and given != kept
        free = loaded and contradicts and (name not in models.config.GENERATOR_OPTIONS
                                           or name in WIDENED and given > kept)
        if contradicts and not free:
            raise UserError('{}: was made with {} = {}, but this run asks for {}; drop the '
                            'option to continue it as it was'.format(source.path, name, kept,
                                                                     given))
        options[name] = next(v for v in (given, kept, defaults[name]) if v is not None)
    return options


def _training_settings(args, snapshot, say):
    """Learning rates, loss weights, batch size and seed: given, else the resumed
    snapshot's, else the defaults. Changing one on resuming is allowed, and said
    (when ``say``: by one process of many)."""
    given = {name: getattr(args, name) for name in settings.DEFAULTS}
    recorded = snapshot.saved.get('training') if snapshot else None
    train_settings, changes = settings.resolve(given, recorded)
    if snapshot and snapshot.saved.get('adversarial', True):
        # The snapshot holds its optimizer's state, which another one cannot take.
        kept = (recorded or {}).get('d_optimizer', constants.D_OPTIMIZER)
        if train_settings['d_optimizer'] != kept:
            raise UserError('{}: its D learned with {}; resume without --d-optimizer, or start '
                            'a new run with -l'.format(snapshot.path, kept))
    if not say:
        return train_settings
    if snapshot and recorded is None:
        warn('{}: written before snapshots recorded how they train; continuing with {} (give '
             'the flags the run started with where they differ)'.format(
                 snapshot.path, settings.describe(train_settings)))
    for name, kept, value in changes:
        print('resuming with {} {} instead of the snapshot\'s {}'.format(
            settings.flag(name), settings.format_value(value), settings.format_value(kept)))
    return train_settings


def _widened(load, config, say):
    """The loaded generator, widened to this run's longer history (see
    ``generator.longer_history``) and more frames for its mask to copy (see
    ``generator.more_copy_frames``) where it asks for them."""
    saved = checkpoint.model_config_of(load.path, load.saved)
    arrays = load.arrays
    if saved.hist_len != config.hist_len:
        if say:
            print('{}: widened from {} to {} input frames; the new, oldest ones start with '
                  'zero weights'.format(load.path, saved.hist_len, config.hist_len))
        arrays = longer_history(arrays, saved, config.hist_len)
    if saved.copy_frames != config.copy_frames:
        if say:
            print('{}: its mask now copies from the {} newest input frames instead of {}; the '
                  'older ones start unchosen'.format(load.path, config.copy_frames,
                                                     saved.copy_frames))
        arrays = more_copy_frames(arrays, saved, config.copy_frames)
    return load._replace(arrays=arrays)


def _dataset(args, config, comm, train_settings):
    rank, size = (comm.rank, comm.size) if comm else (0, 1)
    dataset = ClipDataset(args.data, config.hist_len, part=(rank, size),
                          future=train_settings['rollout'], crop=config.crop_size)
    batch_size = train_settings['batch_size']
    if comm:
        # Equal lengths on every rank keep iterator states identical, so rank 0's
        # snapshot resumes every rank.
        from mpi4py import MPI
        dataset = chainer.datasets.SubDataset(
            dataset, 0, comm.mpi_comm.allreduce(len(dataset), op=MPI.MIN))
    if batch_size > len(dataset):
        raise UserError('{}: holds {} clips, fewer than the batch size {}; make more clips or '
                        'lower -b'.format(args.data, len(dataset), batch_size))
    return dataset


def _check_snapshot(plan, data):
    """The snapshot fits this run: the same model and training, the same clips."""
    path, arrays, saved = plan.snapshot
    recorded = dict(checkpoint.model_config_of(path, saved).to_dict(),
                    adversarial=saved.get('adversarial', True))
    expected = dict(plan.saved_config)
    del expected['dtype'], expected['training']  # a run may change these
    if recorded['crop_size'] != expected['crop_size']:
        raise UserError('{0}: was trained on {1}x{1} crops, but {2} holds {3}x{3} ones; resume '
                        'with the same -d'.format(path, recorded['crop_size'], data,
                                                  expected['crop_size']))
    checkpoint.check_config(path, 'snapshot', recorded, expected, sorted(expected))
    order = arrays.get('updater/iterator:main/order')
    if order is not None and len(order) != len(plan.dataset):
        raise UserError('{}: was trained on {} clips, but {} holds {}; resume with the same '
                        '-d (and number of processes)'.format(path, len(order), data,
                                                              len(plan.dataset)))


def resolve(args, comm=None):
    """Read and check every input of the run: the files it starts from, its model and
    loss, device, clips and evaluation videos. Writes nothing."""
    _check_args(args)
    snapshot = run_folder.resume_source(args.out, args.resume_training) \
        if args.resume_training else None
    load = run_folder.generator_source(run_folder.generator_file(args.load)) \
        if args.load else None
    loading = load is not None and snapshot is None  # -r wins over -l
    options = _model_options(args, snapshot or load, loading)
    adversarial = options.pop('adversarial')
    config = models.model_config(crop_size=shards.crop_size(args.data), **options)
    say = comm is None or comm.rank == 0
    if loading:
        load = _widened(load, config, say)
    # The precision is the run's, not the model's: a snapshot continues in its own
    # unless --dtype says otherwise.
    dtype = args.dtype or (snapshot.saved.get('dtype') if snapshot else None) or constants.DTYPE
    train_settings = _training_settings(args, snapshot, say)
    gpu = comm.intra_rank if comm and args.gpu >= 0 else args.gpu
    device = get_device(gpu, args.device)
    terms = losses.generator_terms(
        settings.loss_weights(train_settings), train_settings['l_num'],
        train_settings['alpha_num'], adversarial, config.copy_mask)
    evaluation = None
    if args.eval_interval and os.path.exists(args.eval_dir):
        # (videos, windows): only the videos the windows fall in, kept in memory.
        evaluation = predict.load_windows(args.eval_dir, 1, config.clip_len, config,
                                          'the full-frame evaluation',
                                          max_windows=args.eval_windows, keep=None)
    plan = Plan(config, adversarial, dtype, train_settings, device,
                _dataset(args, config, comm, train_settings), terms, snapshot,
                load, evaluation)
    if snapshot:
        _check_snapshot(plan, args.data)
        run_folder.best_record(args.out, adversarial)  # the best so far, read when evaluating
    return plan


def _communicator(args):
    if not args.communicator:
        return None
    try:
        import chainermn
        return chainermn.create_communicator(args.communicator)
    except ImportError as e:
        raise UserError('--communicator needs ChainerMN with mpi4py and MPI ({}); run make '
                        'setup-mpi'.format(e))


def build_trainer(args, plan, comm=None):
    """The trainer of a resolved ``plan``, at the snapshot's state when resuming."""
    rank = comm.rank if comm else 0
    device = plan.device
    if plan.dtype == 'mixed16' and device.xp is numpy and rank == 0:
        warn('--dtype mixed16 pays off on GPUs; on the CPU float32 is faster')
    train_settings = plan.training
    random.seed(train_settings['seed'])
    numpy.random.seed(train_settings['seed'])
    if device.xp is not numpy:
        device.xp.random.seed(train_settings['seed'])

    with chainer.using_config('dtype', compute_dtype(plan.dtype)):
        gen = models.Generator(plan.config)
        dis = models.Discriminator(plan.config) if plan.adversarial else None
    if plan.load:
        checkpoint.load_into(plan.load.path, gen, plan.load.arrays, 'model file')
    gen.to_device(device)
    if dis is not None:
        dis.to_device(device)
    optimizers = optimizer_lib.build(gen, dis, train_settings['lr_g'],
                                     train_settings['lr_d'], comm,
                                     train_settings['d_optimizer'])

    order = SeededShuffle(train_settings['seed'])
    if args.loaderjobs:
        iterator = chainer.iterators.MultiprocessIterator(
            plan.dataset, train_settings['batch_size'], n_processes=args.loaderjobs,
            order_sampler=order)
    else:
        iterator = chainer.iterators.SerialIterator(plan.dataset, train_settings['batch_size'],
                                                    order_sampler=order)
    updater = PredictionUpdater(iterator, optimizers, device, plan.terms,
                                d_warmup=train_settings['d_warmup'])
    trainer = training.Trainer(updater, (args.iterations, 'iteration'), out=args.out)
    saved_config = plan.saved_config

    def save_point(t):
        it = t.updater.iteration
        return it % args.snapshot_interval == 0 or it == args.iterations

    def save(t):
        return _write_state(t, saved_config) if rank == 0 else None

    trainer.extend(ext.StopOnSignal(save))
    if train_settings['lr_g_steps']:
        trainer.extend(ext.LearningRateSteps(train_settings['lr_g'],
                                             train_settings['lr_g_steps']))
    trainer.extend(ext.DivergenceWatch(args.divergence_factor, args.divergence_window,
                                       args.divergence_psnr_drop, args.stop_on_divergence, save))
    if rank == 0:
        _extend_reporting(trainer, args, plan)
        trainer.extend(extensions.snapshot(
            savefun=lambda path, arrays: checkpoint.save(path, arrays, saved_config),
            filename=constants.SNAPSHOT_PREFIX + '{.updater.iteration}.npz',
            n_retains=args.snapshots_kept), trigger=save_point)
        trainer.extend(ext.save_model, trigger=save_point, name='save_model')
    if plan.snapshot:
        with warnings.catch_warnings():
            # A snapshot written before an extension existed lacks its trigger's
            # state; Chainer then warns and takes it from the current iteration,
            # which is right for the interval triggers used here.
            warnings.filterwarnings('ignore', message='The previous value of',
                                    category=UserWarning)
            checkpoint.load_into(plan.snapshot.path, trainer, plan.snapshot.arrays, 'snapshot')
    if comm:
        optimizer_lib.synchronize(optimizers, comm)
    return trainer


def _extend_reporting(trainer, args, plan):
    log = (args.log_interval, 'iteration')
    pixel_terms = ['gen/loss_' + t.name for t in plan.terms if not t.needs_dis]
    adversarial_terms = ['gen/loss_' + t.name for t in plan.terms if t.needs_dis]
    trainer.extend(extensions.LogReport(trigger=log))
    entries = ['iteration', 'elapsed_time', 'gen/loss'] + pixel_terms + adversarial_terms
    if plan.adversarial:
        entries += ['dis/loss', 'dis/accuracy']
    entries.append('psnr')
    if plan.evaluation:
        trainer.extend(ext.FullFrameEvaluation(*plan.evaluation),
                       trigger=(args.eval_interval, 'iteration'))
        trainer.extend(ext.KeepBest(), trigger=(args.eval_interval, 'iteration'))
        entries += ['eval/psnr', 'eval/psnr_moving']
    trainer.extend(ext.PrintReport(entries))
    if not args.no_progress:
        trainer.extend(extensions.ProgressBar(update_interval=1))
    if extensions.PlotReport.available():
        trainer.extend(extensions.PlotReport(pixel_terms, 'iteration', trigger=log,
                                             file_name='loss.png'))
        if plan.adversarial:
            trainer.extend(extensions.PlotReport(adversarial_terms + ['dis/loss'], 'iteration',
                                                 trigger=log, file_name='adversarial.png'))
        trainer.extend(extensions.PlotReport(
            ['psnr', 'eval/psnr', 'eval/psnr_moving', 'eval/psnr_last_frame',
             'eval/psnr_moving_last_frame'], 'iteration', trigger=log, file_name='psnr.png'))
    if args.sample_interval:
        trainer.extend(ext.SampleImages(plan.dataset),
                       trigger=(args.sample_interval, 'iteration'))


def _write_state(trainer, saved_config):
    """Snapshot and model of the current iteration, before a stop; their paths."""
    path = run_folder.snapshot_path(trainer.out, trainer.updater.iteration)
    checkpoint.save(path, trainer, saved_config)
    return [path, ext.save_model(trainer)]


@cli
def main(argv):
    args = build_parser().parse_args(argv)
    comm = _communicator(args)
    leader = comm is None or comm.rank == 0
    plan = resolve(args, comm)
    # One run per folder: the leader holds its lock from before it deletes or
    # writes anything there until it ends.
    with run_folder.Lock(args.out) if leader else contextlib.nullcontext():
        if not args.resume_training and leader:
            run_folder.claim(args.out, args.overwrite)
        _run(args, plan, comm, leader)


def _run(args, plan, comm, leader):
    trainer = build_trainer(args, plan, comm)
    if plan.snapshot and leader:
        print('resumed from {} at iteration {}'.format(plan.snapshot.path,
                                                       trainer.updater.iteration))
    elif plan.load and leader:
        print('the generator starts from {}'.format(plan.load.path))
    try:
        # Overflow on the way to NaN is reported by the updater's finiteness check.
        # A file-size limit (or a full disk) must surface as an error we can
        # report, not as SIGXFSZ killing the process mid-write.
        with numpy.errstate(over='ignore', invalid='ignore'), \
                workers.handlers({signal.SIGXFSZ: signal.SIG_IGN}):
            trainer.run(show_loop_exception_msg=False)
    except ext.StopOnSignal.Stopped as stop:
        name, written = stop.args
        if leader:
            print('\nstopped by {} at iteration {}; saved {}\nresume with: python train.py -r '
                  '-o {}'.format(name, trainer.updater.iteration, ' and '.join(written),
                                 args.out), file=sys.stderr)
        sys.exit(130 if name == 'SIGINT' else 143)
    except ext.DivergenceWatch.Diverged as stop:
        message, written = stop.args
        if leader:
            print('stopped (--stop-on-divergence) at {}; saved {}'.format(
                message, ' and '.join(written)), file=sys.stderr)
        sys.exit(3)
    except OSError as e:
        raise UserError('writing to {} failed ({}); free some space, then resume with python '
                        'train.py -r -o {} (earlier snapshots are intact)'.format(
                            args.out, e, args.out))
    except checkpoint.NonFiniteError as e:
        raise UserError('{}; the last good snapshot in {} is intact'.format(e, args.out))
    if leader:
        best = run_folder.best_model_path(args.out, plan.adversarial)
        print('done: {} iterations; model {}{}, log and plots in {}'.format(
            trainer.updater.iteration, run_folder.model_path(args.out, plan.adversarial),
            ' (best so far: {})'.format(best) if os.path.exists(best) else '', args.out))

if __name__ == '__main__':
    main()
