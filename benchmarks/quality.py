"""The paper's comparison of loss variants (its Table 1) on your clips and test videos.

    python benchmarks/quality.py -d data/trainclips -t data/images/test -o result/quality \\
        --preset small -i 5000 -s 4 --max-windows 64
    python benchmarks/quality.py ... --variants l2 gdl adv_gdl adv_gdl_residual -- --lr-g 5e-4
    python benchmarks/quality.py --pretrained -t data/images/test   # the shipped models
    python benchmarks/quality.py --pool result/q_a result/q_b -o result/q_ab   # together

Trains every variant with train.py on the same clips, with the same seed and
iteration budget (OUT/<variant>/), scores its last generator with test.py's
protocol (OUT/<variant>/test/), then writes OUT/table.md and OUT/table.json
(PSNR, SSIM and sharpness difference, full frame and moving pixels, and the
share of moving pixels in their own colour, per step, every variant and copying
the last frame), OUT/curves.png (the per-step curves), the sprite table in
both (for each of Ms. Pac-Man and the four ghosts, the share of the truth's
pixels in its colour that a prediction draws in that colour: the sprite kept,
where it is and in its shape), OUT/sprites.png (its curves), the
differences that decide the paper's claims (each variant against the one before
it and against copy-last, per metric and step, with an interval from resampling
whole test videos, and how many videos each way) in both, the windows each
row predicts exactly on every moving pixel (which carry the moving-pixel
means) in both, and OUT/compare_<i>.gif (truth | each variant | copy-last,
side by side). It prints the JSON table too. Arguments after -- go to every
train.py run.
With --pretrained, nothing is trained: the variants are the generators shipped
in DIR/pacman_<variant>.model, scored and compared the same way. With --pool,
nothing is trained or scored: the windows earlier runs scored into their OUTs
(on several sets of test videos, say) are put together, and the tables, curves
and differences written of all of them.

Killed, it continues where it stopped when run again with the same arguments:
each variant's training resumes from its newest snapshot (train.py -r) and a
variant already scored at its budget is not scored again. A larger -i extends
every run.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy

import common  # puts the project on the path
from utils import compat  # noqa: F401  (before chainer)
import constants  # noqa: E402
from utils import run_folder, safe_io  # noqa: E402
from utils.data import pacman  # noqa: E402
from utils.errors import UserError, cli, add_common_flags  # noqa: E402
from utils.evaluation import metrics, pictures  # noqa: E402

# Each variant: its train.py flags and its label in the tables.
VARIANTS = {
    'l2': (['--no-adversarial', '--lambda-gdl', '0'], 'L2'),
    'gdl': (['--no-adversarial'], 'GDL'),
    'adv_gdl': ([], 'Adv+GDL'),
    'adv_gdl_residual': (['--residual'], 'Adv+GDL residual'),
    'adv_gdl_frame_only': (['--d-frame-only'], 'Adv+GDL, D frame only'),
    'adv_gdl_copy_mask': (['--copy-mask'], 'Adv+GDL, copy mask'),
    'adv_gdl_copy_mask_d_generated': (['--copy-mask', '--d-generated'],
                                      'Adv+GDL, copy mask, D on the generated branch'),
    'adv_gdl_d_change': (['--d-change'], 'Adv+GDL, D on the change'),
    'adv_gdl_copy_mask_d_change': (['--copy-mask', '--d-change'],
                                   'Adv+GDL, copy mask, D on the change'),
    'adv_gdl_d_change_patch': (['--d-change', '--d-patch'],
                               'Adv+GDL, D on the change, per patch'),
    'adv_gdl_d_local': (['--d-change', '--d-local', '--d-optimizer', 'adam'],
                        'Adv+GDL, local D on the change'),
    'gdl_copy_mask': (['--no-adversarial', '--copy-mask'], 'GDL, copy mask'),
    'l2_copy_mask': (['--no-adversarial', '--lambda-gdl', '0', '--copy-mask'], 'L2, copy mask'),
}
DEFAULT_VARIANTS = ['l2', 'gdl', 'adv_gdl']
METRICS = tuple(metrics.LABELS.items())
COPY = 'copy last frame'


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                epilog=__doc__.split('\n\n', 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    d = ' (default: %(default)s)'
    p.add_argument('-d', '--data', default=constants.TRAIN_CLIPS_DIR, help='training clips' + d)
    p.add_argument('-t', '--test-dir', default=constants.TEST_DIR,
                   help='test videos training never saw' + d)
    p.add_argument('-o', '--out', default=os.path.join(constants.RESULT_DIR, 'quality'),
                   help='output directory' + d)
    p.add_argument('--variants', nargs='+', default=DEFAULT_VARIANTS, choices=sorted(VARIANTS),
                   help='variants to train and compare' + d)
    p.add_argument('--preset', default='small', choices=sorted(constants.PRESETS), help=d[1:])
    p.add_argument('-i', '--iterations', type=int, default=5000,
                   help='training iterations of every variant' + d)
    p.add_argument('-s', '--steps', type=int, default=4, help='frames predicted recursively' + d)
    p.add_argument('--max-windows', type=int, default=64, help='test windows scored' + d)
    p.add_argument('--gifs', type=int, default=3, help='windows drawn side by side' + d)
    p.add_argument('--seed', type=int, default=constants.SEED, help=d[1:])
    p.add_argument('--pretrained', nargs='?', const=constants.PRETRAINED_DIR, metavar='DIR',
                   help='score the generators shipped in DIR (default {}) as '
                   'pacman_<variant>.model instead of training'.format(
                       constants.PRETRAINED_DIR))
    p.add_argument('--pool', nargs='+', metavar='OUT',
                   help='train and score nothing: pool the windows that earlier runs scored '
                   'into these OUT directories (each on other test videos, say) and write the '
                   'tables, curves and differences of all of them together to -o')
    add_common_flags(p)
    return p


def _script(name):
    return [sys.executable, os.path.join(common.ROOT, name)]


def _run(cmd, log):
    """Run ``cmd`` with its output in ``log``; a failure names the log's last line."""
    with open(log, 'a') as f:
        code = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode
    if code:
        with open(log) as f:
            last = ([l for l in f.read().splitlines() if l.strip()] or ['(no output)'])[-1]
        raise UserError('{} failed (exit code {}): {}; see {}'.format(
            os.path.basename(cmd[1]), code, last, log))


def _trained_to(out):
    """The iteration the newest snapshot in ``out`` reached (0: none)."""
    paths = run_folder.snapshot_paths(out)
    return run_folder.snapshot_iteration(paths[0]) if paths else 0


def train(args, variant, extra):
    out = os.path.join(args.out, variant)
    reached = _trained_to(out)
    if reached >= args.iterations:
        return
    flags, _ = VARIANTS[variant]
    cmd = _script('train.py') + ['-d', args.data, '-o', out, '-i', str(args.iterations),
                                 '--preset', args.preset, '--seed', str(args.seed),
                                 '--eval-dir', args.test_dir, '--no-progress'] + flags + extra
    if reached:
        cmd.append('-r')
    os.makedirs(out, exist_ok=True)
    _run(cmd, os.path.join(out, 'train.log'))


def pretrained_path(args, variant):
    return os.path.join(args.pretrained, 'pacman_{}.model'.format(variant))


def score(args, variant):
    """test.py's metrics of the variant's last generator, or of its shipped one
    (scored once per budget or shipped file)."""
    out = os.path.join(args.out, variant)
    test_out = os.path.join(out, 'test')
    metrics_path = os.path.join(test_out, 'metrics.json')
    done = os.path.join(test_out, 'scored.json')
    # The differences need each window's scores, which test.py has saved beside its
    # predictions since 2026-11-28: a variant scored before then lacks window_scores
    # here, so it is scored again.
    settings = dict(steps=args.steps, max_windows=args.max_windows,
                    test_dir=os.path.abspath(args.test_dir), window_scores=True)
    if args.pretrained:
        model = pretrained_path(args, variant)
        stat = os.stat(model)
        settings.update(model=os.path.abspath(model), size=stat.st_size, mtime=stat.st_mtime_ns)
    else:
        model = run_folder.model_path(out, '--no-adversarial' not in VARIANTS[variant][0])
        settings.update(iteration=_trained_to(out))
    os.makedirs(out, exist_ok=True)
    if not (os.path.exists(done) and safe_io.read_json(done) == settings):
        _run(_script('test.py') + ['-m', model, '-t', args.test_dir, '-s', str(args.steps),
                                   '--max-windows', str(args.max_windows), '-o', test_out,
                                   '--gifs', '0', '--save-predictions', '--no-progress'],
             os.path.join(out, 'test.log'))
        safe_io.write_json(done, settings)
    return safe_io.read_json(metrics_path)


def table(args, scored):
    """{'steps': k, 'rows': {label: [{metric: value} per step]}} with the copy-last row."""
    rows = {VARIANTS[v][1]: [r['model'] for r in m['per_step']] for v, m in scored.items()}
    first = next(iter(scored.values()))
    rows[COPY] = [r['last_frame'] for r in first['per_step']]
    if args.pretrained:
        return dict(steps=args.steps, windows=first['windows'], pretrained=args.pretrained,
                    rows=rows)
    return dict(steps=args.steps, windows=first['windows'], iterations=args.iterations,
                preset=args.preset, rows=rows)


def load_predictions(out, variants):
    """Each variant's predictions.npz in ``out``, as test.py saved them with every
    window's scores, by variant."""
    saved = {}
    for v in variants:
        path = os.path.join(out, v, 'test', 'predictions.npz')
        saved[v] = safe_io.load_npz(path, 'predictions file')
        if 'model_' + METRICS[0][0] not in saved[v]:
            raise UserError('{}: no scores per window (an older test.py saved it); run '
                            'quality.py with -o {} again to score it anew'.format(path, out))
    return saved


def pooled_predictions(outs, variants):
    """``load_predictions`` of every OUT in ``outs``, their windows one after another."""
    sets = []
    for out in outs:
        for v in variants:
            if not os.path.isfile(os.path.join(out, v, 'test', 'predictions.npz')):
                raise UserError('{}: no predictions of {} there; score it with -o {} first, '
                                'or leave it out of --variants'.format(out, v, out))
        sets.append(load_predictions(out, variants))

    def protocol(saved):
        inputs, truth = saved[variants[0]]['inputs'], saved[variants[0]]['truth']
        return '{} input and {} predicted frames of {}x{}'.format(
            inputs.shape[1], truth.shape[1], truth.shape[3], truth.shape[2])
    for out, saved in zip(outs[1:], sets[1:]):
        if protocol(saved) != protocol(sets[0]):
            raise UserError('{}: windows of {}, but {} has {}; pool runs of one protocol and '
                            'frame size'.format(out, protocol(saved), outs[0], protocol(sets[0])))
    # The inputs and the truth are the same for every variant: one copy serves them all.
    shared = {key: numpy.concatenate([s[variants[0]][key] for s in sets])
              for key in ('inputs', 'truth', 'video', 'start')}
    own = set.intersection(*(set(s[v]) for s in sets for v in variants)) - set(shared)
    return {v: dict(shared, **{key: numpy.concatenate([s[v][key] for s in sets]) for key in own})
            for v in variants}


def predicted_frames(saved):
    """{row label: uint8 frames (windows, steps, H, W, 3)}: each variant's saved
    predictions, then copying the last frame (each window's last input, repeated)."""
    first = next(iter(saved.values()))
    frames = {VARIANTS[v][1]: s['model'] for v, s in saved.items()}
    frames[COPY] = numpy.broadcast_to(first['inputs'][:, -1:], first['truth'].shape)
    return frames


def sprite_table(saved):
    """{row label: {sprite: [share per step]}}: for each sprite of
    ``constants.PACMAN_SPRITES``, the share (%) of the truth's pixels in its colour that
    each variant, and copying the last frame, draw in that colour (a mean over the frames
    that show it; None at a step where none does)."""
    truth = next(iter(saved.values()))['truth'].astype(numpy.float32)
    sprites = [(name, [metrics.colour_pixels(truth[:, k], colour)
                       for k in range(truth.shape[1])])
               for name, colour in constants.PACMAN_SPRITES]
    return {label: {name: [metrics.mean(metrics.colour_share(
        truth[:, k], frames[:, k].astype(numpy.float32), mask)) for k, mask in enumerate(masks)]
        for name, masks in sprites} for label, frames in predicted_frames(saved).items()}


def window_scores(saved):
    """{row label: [{metric: score per window} per step]}: test.py's scores of every
    window, as it saved them."""
    first = next(iter(saved.values()))
    arrays = {VARIANTS[v][1]: {m: s['model_' + m] for m, _ in METRICS} for v, s in saved.items()}
    arrays[COPY] = {m: first['last_frame_' + m] for m, _ in METRICS}
    return {label: [{m: a[:, k] for m, a in row.items()} for k in range(first['truth'].shape[1])]
            for label, row in arrays.items()}


def exact_windows(scores):
    """{row label: [{'exact', 'of', 'sharpdiff_moving_rest'} per step]}: of the ``of``
    windows with moving pixels, how many the row predicts with every moving pixel
    right (PSNR moving at its cap), and its sharpness on moving pixels over the
    windows that no row predicts exactly. An exact window scores the cap, far above
    a typical one, so a few of them carry a moving-pixel mean; the rest shows the
    typical window."""
    exact = {label: [step['psnr_moving'] >= constants.MAX_DB for step in steps]
             for label, steps in scores.items()}
    anyone = [numpy.any([e[k] for e in exact.values()], axis=0)
              for k in range(len(scores[COPY]))]
    return {label: [dict(exact=int(exact[label][k].sum()),
                         of=int((~numpy.isnan(step['psnr_moving'])).sum()),
                         sharpdiff_moving_rest=metrics.mean(step['sharpdiff_moving'][~anyone[k]]))
                    for k, step in enumerate(steps)]
            for label, steps in scores.items()}


def differences(scores, videos):
    """[{'a', 'b', metric: [metrics.paired_difference per step]}]: each variant against
    the one listed before it (the paper's claims, with the default order: GDL above L2,
    Adv+GDL above GDL) and against copying the last frame."""
    labels = [label for label in scores if label != COPY]
    pairs = list(zip(labels[1:], labels[:-1])) + [(label, COPY) for label in labels]
    return [dict(a=a, b=b, **{m: [metrics.paired_difference(sa[m], sb[m], videos)
                                  for sa, sb in zip(scores[a], scores[b])] for m, _ in METRICS})
            for a, b in pairs]


def markdown(result):
    def cell(v):
        return '-' if v is None else '{:.3f}'.format(v) if abs(v) < 10 else '{:.2f}'.format(v)

    def row(cells):
        return '| ' + ' | '.join(cells) + ' |'

    def header(cells):
        return [row(cells), '|' + '---|' * len(cells)]

    if 'pooled' in result:
        source = 'pooled from {}'.format(', '.join('`{}`'.format(d) for d in result['pooled']))
    elif 'pretrained' in result:
        source = 'the generators shipped in `{}`'.format(result['pretrained'])
    else:
        source = '{} iterations of the `{}` preset per variant'.format(result['iterations'],
                                                                       result['preset'])
    lines = ['{} windows, {}; dB except SSIM and the colour share (%).'.format(
        result['windows'], source), '']
    head = ['variant'] + ['{} +{}'.format(label, k + 1) for _, label in METRICS
                          for k in range(result['steps'])]
    lines += header(head)
    for name, steps in result['rows'].items():
        lines.append(row([name] + [cell(steps[k][m]) for m, _ in METRICS
                                   for k in range(result['steps'])]))
    lines += ['', 'Sprite pixels kept (%): of the pixels the truth draws in a sprite\'s colour, '
              'the share predicted in that colour (every channel within {}).'.format(
                  constants.COLOUR_TOLERANCE), '']
    head = ['variant', 'sprite'] + ['+{}'.format(k + 1) for k in range(result['steps'])]
    lines += header(head)
    for name, sprites in result['sprites'].items():
        for sprite, shares in sprites.items():
            lines.append(row([name, sprite] + [cell(v) for v in shares]))

    def difference(d, metric):
        if d is None:
            return '-'
        number = '{:+.4f}' if metric == 'ssim' else '{:+.2f}'
        return (number + ' [' + number + ', ' + number + '], {} / {} of {}, median '
                + number).format(d['mean'], d['low'], d['high'], d['ahead'], d['behind'],
                                 d['videos'], d['median'])
    lines += ['', 'A - B: the mean difference over windows, its {:.0%} interval from '
              'resampling whole test videos {:,} times, on how many videos A is ahead / '
              'behind, and the median difference over windows.'.format(
                  constants.INTERVAL_LEVEL, constants.INTERVAL_RESAMPLES), '']
    head = ['A - B', 'metric'] + ['+{}'.format(k + 1) for k in range(result['steps'])]
    lines += header(head)
    for pair in result['differences']:
        for metric, label in METRICS:
            lines.append(row(['{} - {}'.format(pair['a'], pair['b']), label] +
                             [difference(d, metric) for d in pair[metric]]))
    lines += ['', 'Windows predicted exactly: of the windows with moving pixels, how many a row '
              'predicts with every moving pixel right (PSNR moving at its cap of {:g} dB), and '
              'its sharpness on moving pixels over the windows that no row predicts exactly. '
              'An exact window scores the cap, so a few carry the moving-pixel means.'.format(
                  constants.MAX_DB), '']
    head = ['variant'] + ['+{}'.format(k + 1) for k in range(result['steps'])]
    lines += header(head)
    for name, steps in result['exact'].items():
        lines.append(row([name] + ['{} of {}; {}'.format(
            s['exact'], s['of'], cell(s['sharpdiff_moving_rest'])) for s in steps]))
    return '\n'.join(lines) + '\n'


def plot(path, panels):
    """One panel per (title, {row label: value per step}), the steps along x."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4), squeeze=False)
    axes = axes[0]
    for ax, (title, rows) in zip(axes, panels):
        for name, values in rows.items():
            values = [float('nan') if v is None else v for v in values]
            ax.plot(range(1, len(values) + 1), values, '--s' if name == COPY else '-o',
                    label=name)
        ax.set_xticks(range(1, len(values) + 1))
        ax.set_title(title)
        ax.set_xlabel('predicted step')
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    with safe_io.atomic_path(path) as tmp:
        fig.savefig(tmp, format='png', dpi=80)
    plt.close(fig)


def comparison_gifs(args, variants, saved):
    """compare_<i>.gif: the inputs, then truth | each variant | copy-last, per step."""
    first = saved[variants[0]]
    for i in range(min(args.gifs, len(first['start']))):
        inputs, truth = first['inputs'][i], first['truth'][i]
        last = inputs[-1]
        columns = [[f] * (2 + len(variants)) for f in inputs]
        labels = [['input {}'.format(k + 1)] * (2 + len(variants)) for k in range(len(inputs))]
        for k in range(len(truth)):
            columns.append([truth[k]] + [saved[v]['model'][i, k] for v in variants] + [last])
            labels.append(['truth +{}'.format(k + 1)] + ['{} +{}'.format(VARIANTS[v][1], k + 1)
                                                         for v in variants] + ['copy last'])
        pictures.save_gif(os.path.join(args.out, 'compare_{}.gif'.format(i)), columns, labels)


@cli
def main(argv):
    argv, extra = list(argv), []
    if '--' in argv:
        argv, extra = argv[:argv.index('--')], argv[argv.index('--') + 1:]
    args = build_parser().parse_args(argv)
    if min(args.iterations, args.steps, args.max_windows) < 1 or args.gifs < 0:
        raise UserError('-i, -s and --max-windows must be at least 1, --gifs at least 0')
    safe_io.check_out_dir(args.out, '-o')
    variants = list(dict.fromkeys(args.variants))
    if args.pool:
        saved = pooled_predictions(args.pool, variants)
        scores = window_scores(saved)
        rows = {label: [{m: metrics.mean(step[m]) for m, _ in METRICS} for step in steps]
                for label, steps in scores.items()}
        report(args, variants, saved, scores, dict(
            steps=len(rows[COPY]), windows=len(saved[variants[0]]['video']), pooled=args.pool,
            rows=rows))
        return
    if args.pretrained:
        paths = [pretrained_path(args, v) for v in variants]
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            raise UserError('{}: no such shipped model; pick --variants among the files in {}'
                            .format(missing[0], args.pretrained))
        # Each variant is scored on windows of its own history length; the table and
        # the GIFs line them up, so they must be the same windows.
        lengths = {p: run_folder.generator_source(p).options()['hist_len'] for p in paths}
        if len(set(lengths.values())) > 1:
            ordered = sorted(lengths.items(), key=lambda item: item[1])
            (a, n), (b, m) = ordered[0], ordered[-1]
            raise UserError('{}: predicts from {} frames but {} from {}; compare generators of '
                            'one history length'.format(a, n, b, m))
    elif not os.path.isdir(args.data):
        raise UserError('{}: no such clip directory'.format(args.data))
    pacman.ensure_test_videos(args.test_dir, not args.no_progress)
    if not os.path.isdir(args.test_dir):
        raise UserError('{}: no such test video directory'.format(args.test_dir))
    from tqdm import tqdm
    bar = tqdm(total=(1 if args.pretrained else 2) * len(variants), unit='step', desc='quality',
               disable=args.no_progress)
    scored = {}
    try:
        for v in variants:
            if not args.pretrained:
                bar.set_postfix_str('training ' + v)
                train(args, v, extra)
                bar.update()
            bar.set_postfix_str('scoring ' + v)
            scored[v] = score(args, v)
            bar.update()
    finally:
        bar.close()
    saved = load_predictions(args.out, variants)
    report(args, variants, saved, window_scores(saved), table(args, scored))


def report(args, variants, saved, scores, result):
    """Adds the sprite table, the differences and the windows predicted exactly to
    ``result`` and writes it all to OUT."""
    result['sprites'] = sprite_table(saved)
    result['differences'] = differences(scores, saved[variants[0]]['video'])
    result['exact'] = exact_windows(scores)
    os.makedirs(args.out, exist_ok=True)
    safe_io.write_json(os.path.join(args.out, 'table.json'), result)
    with safe_io.atomic_path(os.path.join(args.out, 'table.md')) as tmp:
        with open(tmp, 'w') as f:
            f.write(markdown(result))
    plot(os.path.join(args.out, 'curves.png'), [
        (label, {name: [r[metric] for r in rows] for name, rows in result['rows'].items()})
        for metric, label in METRICS])
    plot(os.path.join(args.out, 'sprites.png'), [
        (sprite + ' kept %', {name: shares[sprite] for name, shares in result['sprites'].items()})
        for sprite, _ in constants.PACMAN_SPRITES])
    comparison_gifs(args, variants, saved)
    print(json.dumps(result))
    print('wrote table.md, table.json, curves.png, sprites.png and {} compare_<i>.gif to {}'
          .format(min(args.gifs, result['windows']), args.out), file=sys.stderr)


if __name__ == '__main__':
    main()
