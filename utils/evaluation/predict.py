"""Recursive prediction on full frames, and the per-step evaluation protocol.

For each video, windows of ``hist_len`` input frames followed by ``steps`` target
frames start at frame 0 and every ``stride`` frames; every complete window is
used, or ``max_windows`` of them spread evenly over every video. Each prediction
is fed back as the newest input frame. Scores are per predicted step, averaged
over windows, for the model and for the copy-last-frame baseline, both through
the same code.
"""
import collections
import collections.abc

import chainer
import numpy

import constants
from models import palette
from utils import pixels
from utils.data import clips as cliplib
from utils.data import frames as framelib
from utils.errors import UserError, warn
from utils.evaluation import metrics

METRICS = tuple(metrics.LABELS)


class Videos(collections.abc.Mapping):
    """Full-frame videos by path, decoded when first used and the last ``keep`` kept
    (None: all): windows are scored video by video, so a long test list never sits
    in memory whole. ``counts`` and ``shapes``: each video's frames and their shape."""

    def __init__(self, options, keep=2):
        self.options, self.keep = options, keep
        self.counts, self.shapes = {}, {}
        self._cache = collections.OrderedDict()

    def __getitem__(self, path):
        if path not in self._cache:
            self.store(path, framelib.read_video(path, self.options))
        return self._cache[path]

    def store(self, path, frames):
        """Keep ``frames``, already decoded, as ``path``'s."""
        self._cache[path] = frames
        while self.keep is not None and len(self._cache) > self.keep:
            self._cache.popitem(last=False)

    def __iter__(self):
        return iter(self.counts)

    def __len__(self):
        return len(self.counts)


def load_videos(directory, min_frames, config, what, options=framelib.ALL_FRAMES,
                listfile=None, pick=None, keep=2):
    """``Videos`` under ``directory`` (or those ``listfile`` names there) that decode
    to at least ``min_frames`` frames (others are skipped with a warning), checked to
    be large enough for every scale of ``config``'s generator. Each is decoded here
    to know it is whole, and kept as ``Videos`` keeps what it reads, so the first
    windows need not decode it again. ``pick``, given every video's frame count as
    it reports it (path -> count), names those to decode (default: all)."""
    videos = Videos(options, keep)

    def decoded_frames(path):  # the whole video decodes, and into how many frames
        frames = list(framelib.iter_frames(path, options))
        if len(frames) >= min_frames:
            videos.shapes[path] = frames[0].shape
            videos.store(path, numpy.stack(frames))
        return len(frames)

    counted = framelib.usable_videos(directory, min_frames, what, options, listfile)
    chosen = set(pick(dict(counted))) if pick else None
    listed = [path for path, _ in counted if chosen is None or path in chosen]
    for path, count in framelib.usable(listed, decoded_frames, min_frames, what):
        shape = videos.shapes[path]
        if min(shape[:2]) < config.min_frame_size:
            raise UserError('{}: frames are {}x{}; the generator needs at least {} pixels a side '
                            'for its {} scales'.format(path, shape[1], shape[0],
                                                       config.min_frame_size, config.num_scales))
        videos.counts[path] = count
    if not videos:
        raise UserError('{}: no video could be decoded; see the warnings above'.format(directory))
    return videos


def load_windows(directory, steps, stride, config, what, options=framelib.ALL_FRAMES,
                 listfile=None, max_windows=None, keep=2):
    """``(videos, windows)``: ``make_windows`` of the videos under ``directory`` as their
    frame counts are reported, so that ``max_windows`` spread over every video and only
    the videos they fall in are decoded (``load_videos``), less any window of a video
    that decoded to fewer frames than it reported."""
    planned = []

    def pick(counts):
        planned.extend(make_windows(counts, steps, stride, config.hist_len, max_windows))
        return {name for name, _ in planned}
    videos = load_videos(directory, config.hist_len + steps, config, what, options, listfile,
                         pick, keep)
    windows = [(name, start) for name, start in planned if name in videos.counts and
               start + config.hist_len + steps <= videos.counts[name]]
    if not windows:
        raise UserError('{}: no video decodes to the {} frames one window needs'.format(
            directory, config.hist_len + steps))
    return videos, windows


def window_starts(num_frames, steps, stride, hist_len):
    return list(range(0, num_frames - (hist_len + steps) + 1, stride))


def make_windows(counts, steps, stride, hist_len, max_windows=None, quiet=False):
    """[(video name, start)] over videos of ``counts`` (name -> frames), shorter ones
    skipped (with a warning unless ``quiet``); at most ``max_windows``, evenly spaced
    in that list."""
    windows = []
    for name, count in counts.items():
        starts = window_starts(count, steps, stride, hist_len)
        if not starts and not quiet:
            warn('{}: skipped, its {} frames are fewer than one window ({} inputs + {} '
                 'steps)'.format(name, count, hist_len, steps))
        windows += [(name, s) for s in starts]
    if not windows:
        raise UserError('no test video has the {} frames one window needs; lower --steps or '
                        'add longer videos'.format(hist_len + steps))
    if max_windows and len(windows) > max_windows:
        # Evenly spaced over the list, so over every video and the whole of each: the
        # first windows alone would be the opening frames of the first video or two.
        windows = [windows[i * len(windows) // max_windows] for i in range(max_windows)]
    return windows


def model_predictor(gen):
    return lambda history: gen.predict(history).array


def copy_last_predictor(history):
    return history[:, -3:]


def rollout(predictor, history, steps):
    """[prediction] for ``steps`` steps, each fed back as the newest input frame."""
    xp = chainer.backend.get_array_module(history)
    predictions = []
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        for _ in range(steps):
            y = predictor(history)
            predictions.append(y)
            history = xp.concatenate([history[:, 3:], y], axis=1)
    return predictions


class Evaluation:
    """Per-step frame scores of the model and of the copy-last-frame baseline."""

    def __init__(self, steps):
        self.scores = {who: [{m: [] for m in METRICS} for _ in range(steps)]
                       for who in ('model', 'last_frame')}
        self.samples = []
        self.predictions = []  # uint8 (batch, steps, H, W, 3) of the model, if kept

    def add(self, who, step, y, y_hat, mask):
        """Scores of frames ``y_hat`` against ``y`` (0..255), ``mask`` marking moving pixels."""
        for name, values in metrics.frame_scores(y, y_hat, mask).items():
            self.scores[who][step][name].extend(values.tolist())

    def per_step(self):
        return [dict(step=k + 1, **{who: {m: metrics.mean(self.scores[who][k][m]) for m in METRICS}
                                    for who in ('model', 'last_frame')})
                for k in range(len(self.scores['model']))]

    def per_window(self):
        """{'<who>_<metric>': float64 (windows, steps)}: every window's scores, NaN where
        a frame has nothing to score (no moving pixels)."""
        return {'{}_{}'.format(who, m): numpy.array([step[m] for step in self.scores[who]],
                                                    numpy.float64).T
                for who in self.scores for m in METRICS}


def evaluate(gen, videos, windows, steps, device, batch_size=constants.TEST_BATCH,
             motion_threshold=constants.PIXEL_CHANGE_THRESHOLD, num_samples=0, predictor=None,
             progress=False, keep_predictions=False):
    """Score ``steps``-step rollouts on ``windows``; keep the first ``num_samples`` as
    uint8 pictures, and with ``keep_predictions`` every window's model predictions."""
    from tqdm import tqdm
    predictor = predictor or model_predictor(gen)
    hist_len = gen.config.hist_len
    cpu = chainer.backend.CpuDevice()
    result = Evaluation(steps)
    bar = tqdm(total=len(windows), unit='window', desc='predicting', disable=not progress)
    for lo in range(0, len(windows), batch_size):
        chunk = windows[lo:lo + batch_size]
        clips = numpy.stack([videos[name][s:s + hist_len + steps] for name, s in chunk])
        history, _ = cliplib.to_model_input(clips[:, :hist_len], hist_len)  # truths stay uint8
        last_input = clips[:, hist_len - 1].astype(numpy.float64)
        on_device = device.send(history)
        try:
            predicted = rollout(predictor, on_device, steps)
        except palette.TooManyColours as e:
            name, start = chunk[e.window]
            raise UserError('{} (frames {} on): {}'.format(name, start, e)) from None
        outputs = {'model': predicted,
                   'last_frame': rollout(copy_last_predictor, on_device, steps)}
        # The predictions are scored as the frames they are (uint8 pictures, as saved and
        # drawn), like the truth and the copied frame: where nothing moves, a prediction
        # that rounds to the truth is an exact match.
        frames = {who: numpy.stack([pixels.to_uint8(cpu.send(p)) for p in preds], axis=1)
                  for who, preds in outputs.items()}
        for k in range(steps):
            y = clips[:, hist_len + k].astype(numpy.float64)
            mask = metrics.changed_pixels(y, last_input, motion_threshold)
            for who, predicted in frames.items():
                result.add(who, k, y, predicted[:, k].astype(numpy.float64), mask)
        if keep_predictions:
            result.predictions.append(frames['model'])
        for i in range(min(len(chunk), num_samples - len(result.samples))):
            result.samples.append(dict(history=clips[i, :hist_len], truth=clips[i, hist_len:],
                                       **{who: list(f[i]) for who, f in frames.items()}))
        bar.update(len(chunk))
    bar.close()
    return result
