"""A model's configuration: one frozen object that every component receives.

It travels inside every saved model and snapshot (as JSON), so loading never
needs the user to repeat it, and what was saved is what is built: the number of
scales, the history length and the layer tables all come from here, never from
``constants.py`` behind its back. ``constants.py`` only supplies the defaults of
``model_config``.
"""
import dataclasses

import constants
from utils.errors import UserError

# Fields a saved generator must agree on to load into a generator of a config.
GENERATOR_FIELDS = ('g_maps', 'g_kernels', 'residual', 'hist_len', 'num_scales', 'copy_mask',
                    'copy_frames')
# The options of ``model_config``: what a user chooses; the rest follows.
OPTIONS = ('preset', 'residual', 'd_conditioned', 'hist_len', 'num_scales', 'copy_mask',
           'copy_frames', 'd_generated', 'hard_mask', 'd_change', 'd_patch', 'd_local',
           'palette', 'palette_radius')
# The options that shape the generator's weights; the others choose how D judges
# and how predictions are used, and a generator loaded into a new run may change them.
GENERATOR_OPTIONS = ('preset', 'residual', 'hist_len', 'num_scales', 'copy_mask', 'copy_frames')


def _tuples(table):
    return tuple(tuple(row) for row in table)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The generator's and discriminator's layer tables (coarsest scale first) and
    the options that shape them; see ``model_config`` for how presets fill them."""
    preset: str
    g_maps: tuple
    g_kernels: tuple
    d_maps: tuple
    d_kernels: tuple
    d_fc: tuple
    residual: bool
    d_conditioned: bool
    hist_len: int
    num_scales: int
    crop_size: int
    copy_mask: bool = False  # files written before this option existed have none
    d_generated: bool = False  # likewise
    hard_mask: bool = False  # likewise
    d_change: float = 0.0  # likewise
    d_patch: bool = False  # likewise
    palette: bool = False  # likewise
    palette_radius: int = 0  # likewise: they chose from the whole frame
    copy_frames: int = 1  # likewise: their masks copied the last frame alone
    d_local: int = 0  # likewise: the paper's towers

    def __post_init__(self):
        for name in ('g_maps', 'g_kernels', 'd_maps', 'd_kernels', 'd_fc'):
            object.__setattr__(self, name, _tuples(getattr(self, name)))
            if len(getattr(self, name)) != self.num_scales:
                raise ValueError('{} has {} rows for {} scales'.format(
                    name, len(getattr(self, name)), self.num_scales))
        outputs = self.frame_channels + (self.copy_frames if self.copy_mask else 0)
        for k, (maps, kernels) in enumerate(zip(self.g_maps, self.g_kernels)):
            inputs = self.frame_channels * (self.hist_len + (1 if k else 0))
            if maps[0] != inputs or maps[-1] != outputs \
                    or len(maps) != len(kernels) + 1:
                raise ValueError('generator scale {} ({} maps, {} kernels) does not fit a '
                                 'history of {} frames'.format(k, maps, kernels, self.hist_len))

    frame_channels = 3

    @property
    def clip_len(self):
        """Frames a training clip needs: the history and the frame to predict."""
        return self.hist_len + 1

    @property
    def min_frame_size(self):
        """The smallest frame side whose coarsest scale still has a pixel."""
        return 2 ** (self.num_scales - 1)

    def to_dict(self):
        return {k: [list(r) for r in v] if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, saved):
        """The configuration a file recorded; other keys (a snapshot's run settings)
        are ignored. Files written before ``num_scales`` was recorded have one scale
        per row of their tables."""
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in saved.items() if k in fields}
        values.setdefault('num_scales', len(values.get('g_maps', ())))
        return cls(**values)


def _narrow(table, div):
    """Divide hidden widths by ``div``, keeping each row's input and output."""
    return [[w if i in (0, len(row) - 1) else max(4, w // div) for i, w in enumerate(row)]
            for row in table]


def _check_crop(crop_size, d_kernels):
    """Crops must halve exactly down to D's coarsest scale, whose fully connected
    layers are sized for them, and every scale must keep an even side, at least 2,
    after its VALID kernels (``d_kernels``, coarsest first), for its 2x2 pooling."""
    num_scales = len(d_kernels)
    step = 2 ** num_scales
    smallest = max(2 ** (num_scales - 1 - s) * (sum(k - 1 for k in kernels) + 2)
                   for s, kernels in enumerate(d_kernels))
    smallest = -(-smallest // step) * step
    if crop_size % step or crop_size < smallest:
        raise UserError('crops of {0}x{0} do not fit {1} scale{2}: they need a side '
                        'divisible by {3} and at least {4}; make clips with process_data.py '
                        '--crop-size {5}'.format(crop_size, num_scales, 's' * (num_scales > 1),
                                                 step, smallest,
                                                 max(smallest, crop_size // step * step)))


def check_palette_radius(radius):
    if radius < 0:
        raise UserError('--palette-radius must be 0 (the whole frame) or more, not {}'.format(
            radius))


def model_config(preset=constants.PRESET, residual=constants.RESIDUAL,
                 d_conditioned=constants.D_CONDITIONED, hist_len=constants.HIST_LEN,
                 num_scales=constants.NUM_SCALES, copy_mask=constants.COPY_MASK,
                 copy_frames=constants.COPY_FRAMES,
                 d_generated=constants.D_GENERATED, hard_mask=constants.HARD_MASK,
                 d_change=constants.D_CHANGE, d_patch=constants.D_PATCH,
                 d_local=constants.D_LOCAL,
                 palette=constants.PALETTE, palette_radius=constants.PALETTE_RADIUS,
                 crop_size=constants.CROP_SIZE):
    """A preset's tables for ``num_scales`` scales (the finest rows of the paper's
    tables), a history of ``hist_len`` frames and training crops of ``crop_size``
    (which sizes D's fully connected layers; G predicts frames of any size). With
    ``copy_mask`` each scale outputs a mask too, a logit for each of the
    ``copy_frames`` newest input frames it may copy (see ``Generator``); with
    it, ``d_generated`` has D judge the mask's generated branch (see
    ``Predictions.judged``), and ``hard_mask`` has predictions outside training
    choose rather than blend (see ``Generator``). ``d_change`` > 0 has D judge
    the change from the last input frame times ``d_change``, and ``d_patch`` has
    each of D's scales give a logit per patch rather than per image (see
    ``Discriminator``); ``d_local`` > 0 makes D one small tower of that many maps
    at the finest scale, with a logit per position. ``palette`` has predictions
    outside training take the colours of their input frames, those within
    ``palette_radius`` pixels (0: the whole frame; see ``models/palette.py``)."""
    if preset not in constants.PRESETS:
        raise UserError('unknown preset "{}"; choose one of {}'.format(
            preset, ', '.join(sorted(constants.PRESETS))))
    rows = len(constants.PAPER_G_HIDDEN)
    if not 1 <= num_scales <= rows:
        raise UserError('--num-scales must be between 1 and {} (the rows of the layer tables '
                        'in constants.py), not {}'.format(rows, num_scales))
    if hist_len < 1:
        raise UserError('--hist-len must be at least 1, not {}'.format(hist_len))
    if not d_change >= 0:
        raise UserError('--d-change must be 0 or more, not {}'.format(d_change))
    if d_local < 0:
        raise UserError('--d-local must be 0 (the paper\'s towers) or more maps, not {}'.format(
            d_local))
    check_palette_radius(palette_radius)
    last = slice(rows - num_scales, None)
    _check_crop(crop_size, constants.PAPER_D_KERNELS[last])
    if not 1 <= copy_frames <= hist_len:
        raise UserError('--copy-frames must be between 1 and --hist-len ({}), not {}'.format(
            hist_len, copy_frames))
    for name, needs_mask in (('--d-generated', d_generated), ('--hard-mask', hard_mask),
                             ('--copy-frames', copy_frames > 1)):
        if needs_mask and not copy_mask:
            raise UserError('{} needs --copy-mask: it works on the mask'.format(name))
    div = constants.PRESETS[preset]
    c = ModelConfig.frame_channels
    g_maps = [[c * hist_len if k == 0 else c * (hist_len + 1)] + list(hidden)
              + [c + (copy_frames if copy_mask else 0)]
              for k, hidden in enumerate(constants.PAPER_G_HIDDEN[last])]
    return ModelConfig(
        preset=preset, g_maps=_narrow(g_maps, div), g_kernels=constants.PAPER_G_KERNELS[last],
        d_maps=_narrow(constants.PAPER_D_MAPS[last], div),
        d_kernels=constants.PAPER_D_KERNELS[last],
        d_fc=[[max(4, w // div) if w > 1 else 1 for w in row]
              for row in constants.PAPER_D_FC[last]],
        residual=bool(residual), d_conditioned=bool(d_conditioned), hist_len=hist_len,
        num_scales=num_scales, crop_size=crop_size, copy_mask=bool(copy_mask),
        copy_frames=int(copy_frames),
        d_generated=bool(d_generated), hard_mask=bool(hard_mask), d_change=float(d_change),
        d_patch=bool(d_patch), d_local=int(d_local), palette=bool(palette),
        palette_radius=int(palette_radius))
