"""Test a trained generator on full frames: recursive predictions, scores, pictures.

    python test.py                                  # result/BEST_ADVERSARIAL.model
    python test.py -m result/TRAINED_L2.model -s 4 --gifs 5
    python test.py -m result/snapshot_iter_2000.npz --save-predictions

For each test video, windows of the model's history length (4 frames by default)
and STEPS target frames
start at frame 0 and every STRIDE frames. The model predicts STEPS frames, each
fed back as the newest input; the copy-last-frame baseline is scored by the same
code. Writes OUT/metrics.json, OUT/metrics.png, and OUT/sample_<i>.gif/.png.
"""
import argparse
import dataclasses
import os

import numpy

from utils import compat  # noqa: F401  (before chainer)
import constants  # noqa: E402
from models.config import check_palette_radius  # noqa: E402
from utils import run_folder, safe_io  # noqa: E402
from utils.evaluation import metrics, pictures, predict  # noqa: E402
from utils.data import pacman  # noqa: E402
from utils.data.frames import add_frame_options, check_frame_options, frame_options  # noqa
from utils.device import get_device  # noqa: E402
from utils.errors import UserError, cli, add_common_flags  # noqa: E402



def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                epilog=__doc__.split('\n\n', 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    d = ' (default: %(default)s)'
    p.add_argument('-m', '--model',
                   help='a generator: a .model file, a trainer snapshot (snapshot_iter_<n>.npz) '
                        'to read it from, or a run folder, for its best generator, else its '
                        'last (default: {0}/{1}, else {0}/{2}, else the same for '
                        'L2)'.format(constants.RESULT_DIR, constants.BEST_ADVERSARIAL,
                                     constants.MODEL_ADVERSARIAL))
    p.add_argument('-t', '--test-dir', default=constants.TEST_DIR,
                   help='test videos: frame folders or video files, searched recursively, or one '
                        'video' + d)
    p.add_argument('--test-list', metavar='LIST',
                   help='take the videos this split list names (UCF101 testlist01.txt: '
                        '"Class/v_..._gXX_cYY.avi" per line) from --test-dir')
    add_frame_options(p)
    p.add_argument('-s', '--steps', type=int, default=constants.TEST_STEPS,
                   help='frames predicted recursively' + d)
    p.add_argument('--stride', type=int, help="frames between window starts (default: the "
                                              "model's history length + steps: windows do not "
                                              "overlap)")
    p.add_argument('--max-windows', type=int, help='score at most this many windows, spread '
                   'evenly over every video (default: all)')
    p.add_argument('-o', '--out', default=constants.TEST_OUT_DIR, help='output directory' + d)
    p.add_argument('-g', '--gpu', type=int, default=-1, help='GPU id; -1 is the CPU' + d)
    p.add_argument('--device', help="a Chainer device string ('@numpy', '@cupy:0'); overrides -g")
    p.add_argument('-b', '--batch-size', type=int, default=constants.TEST_BATCH,
                   help='windows predicted at once' + d)
    p.add_argument('--motion-threshold', type=float, default=constants.PIXEL_CHANGE_THRESHOLD,
                   help='a pixel moves when a channel of the target differs from the last input '
                        'frame by more than this (0..255)' + d)
    p.add_argument('--gifs', type=int, default=constants.NUM_GIFS,
                   help='windows drawn as GIF and PNG' + d)
    p.add_argument('--palette', action=argparse.BooleanOptionalAction,
                   help="predict in the colours of each window's input frames, or not "
                        "(default: as the model was trained, train.py --palette)")
    p.add_argument('--palette-radius', type=int, metavar='PIXELS',
                   help='with the palette: only the colours the input frames show within this '
                        "many pixels; 0: anywhere in the frame (default: the model's, train.py "
                        '--palette-radius)')
    p.add_argument('--save-predictions', action='store_true',
                   help='also write OUT/predictions.npz: every window\'s inputs, truth and '
                        'model predictions as uint8, and its scores, for scoring with other '
                        'tools')
    add_common_flags(p)
    return p


def table(per_step):
    names = list(metrics.LABELS)
    lines = ['step  ' + ''.join('{:>27}'.format(metrics.LABELS[n] + ' model/last') for n in names)]
    for row in per_step:
        cells = []
        for n in names:
            m, b = row['model'][n], row['last_frame'][n]
            cells.append('{:>27}'.format('{} / {}'.format(
                *('-' if v is None else '{:.3f}'.format(v) for v in (m, b)))))
        lines.append('{:<6}'.format(row['step']) + ''.join(cells))
    return '\n'.join(lines)


def plot(path, per_step):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    steps = [r['step'] for r in per_step]
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.6))
    for ax, keys in zip(axes, (('psnr', 'psnr_moving'), ('sharpdiff', 'sharpdiff_moving'),
                               ('ssim',), ('colour_moving',))):
        for key in keys:
            for who, style in (('model', '-o'), ('last_frame', '--s')):
                values = [r[who][key] for r in per_step]
                ax.plot(steps, [float('nan') if v is None else v for v in values], style,
                        label='{} ({})'.format(metrics.LABELS[key], 'model' if who == 'model' else
                                               'copy last frame'))
        ax.set_xlabel('predicted step')
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel('dB')
    fig.tight_layout()
    with safe_io.atomic_path(path) as tmp:
        fig.savefig(tmp, format='png', dpi=90)
    plt.close(fig)


def draw_sample(out, i, sample):
    """A grid (rows: truth, model, copy; columns: time) and the GIF of its columns."""
    hist = list(sample['history'])
    steps = len(sample['truth'])
    rows = [hist + list(sample['truth']), hist + sample['model'], hist + sample['last_frame']]
    labels = [['input {}'.format(k + 1) for k in range(len(hist))]
              + ['{} +{}'.format(who, k + 1) for k in range(steps)]
              for who in ('truth', 'model', 'copy last')]
    pictures.save_png(os.path.join(out, 'sample_{}.png'.format(i)), pictures.grid(rows, labels))
    pictures.save_gif(os.path.join(out, 'sample_{}.gif'.format(i)), list(zip(*rows)),
                      list(zip(*labels)))


def save_predictions(path, videos, windows, hist_len, steps, result):
    """OUT/predictions.npz (format in the README): windows in scoring order, with their
    scores, so that other tools need not score them again."""
    clips = numpy.stack([videos[name][s:s + hist_len + steps] for name, s in windows])
    safe_io.save_npz(path, dict(
        inputs=clips[:, :hist_len], truth=clips[:, hist_len:],
        model=numpy.concatenate(result.predictions),
        video=numpy.array([name for name, _ in windows], dtype=str),
        start=numpy.array([s for _, s in windows], numpy.int64), **result.per_window()))


@cli
def main(argv):
    args = build_parser().parse_args(argv)
    if args.steps < 1:
        raise UserError('--steps must be at least 1 (got {})'.format(args.steps))
    if args.batch_size < 1 or args.gifs < 0 or (args.max_windows is not None and args.max_windows < 1):
        raise UserError('--batch-size and --max-windows must be at least 1, --gifs at least 0')
    if args.stride is not None and args.stride < 1:
        raise UserError('--stride must be at least 1')
    safe_io.check_out_dir(args.out, '-o')
    check_frame_options(args)
    if args.palette_radius is not None:
        check_palette_radius(args.palette_radius)
    model_path = run_folder.generator_file(args.model)
    gen = run_folder.load_generator(model_path)
    for name in ('palette', 'palette_radius'):
        if getattr(args, name) is not None:
            gen.config = dataclasses.replace(gen.config, **{name: getattr(args, name)})
    if not args.test_list:
        pacman.ensure_test_videos(args.test_dir, not args.no_progress)
    hist_len = gen.config.hist_len
    stride = args.stride or hist_len + args.steps

    # Only the videos the windows fall in are read, one or two at a time.
    videos, windows = predict.load_windows(args.test_dir, args.steps, stride, gen.config,
                                           'one test window', frame_options(args),
                                           args.test_list, args.max_windows)
    sizes = {videos.shapes[name][:2] for name, _ in windows}
    if args.save_predictions and len(sizes) > 1:
        raise UserError('{}: --save-predictions needs test videos of one frame size, not {}; '
                        'test each size apart'.format(args.test_dir, ', '.join(
                            '{}x{}'.format(w, h) for h, w in sorted(sizes))))
    device = get_device(args.gpu, args.device)
    gen.to_device(device)
    result = predict.evaluate(gen, videos, windows, args.steps, device, args.batch_size,
                              args.motion_threshold, args.gifs, progress=not args.no_progress,
                              keep_predictions=args.save_predictions)
    per_step = result.per_step()
    os.makedirs(args.out, exist_ok=True)
    safe_io.write_json(os.path.join(args.out, 'metrics.json'), dict(
        model=model_path, palette=gen.config.palette, palette_radius=gen.config.palette_radius,
        steps=args.steps, windows=len(windows), per_step=per_step))
    plot(os.path.join(args.out, 'metrics.png'), per_step)
    for i, sample in enumerate(result.samples):
        draw_sample(args.out, i, sample)
    if args.save_predictions:
        save_predictions(os.path.join(args.out, 'predictions.npz'), videos, windows, hist_len,
                         args.steps, result)
    print(table(per_step))
    print('{} windows from {} videos; wrote metrics.json, metrics.png{} and {} sample GIF/PNG '
          'pairs to {}'.format(len(windows), len(videos),
                               ', predictions.npz' if args.save_predictions else '',
                               len(result.samples), args.out))


if __name__ == '__main__':
    main()
