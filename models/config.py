"""A model's configuration: a preset's tables plus the options, as plain JSON data.

The configuration travels inside every saved model and snapshot, so loading
never needs the user to repeat it.
"""
import constants
from utils.errors import UserError


def model_config(preset=constants.PRESET, residual=constants.RESIDUAL,
                 d_conditioned=constants.D_CONDITIONED):
    if preset not in constants.PRESETS:
        raise UserError('unknown preset "{}"; choose one of {}'.format(
            preset, ', '.join(sorted(constants.PRESETS))))
    config = dict(constants.PRESETS[preset], preset=preset, residual=bool(residual),
                  d_conditioned=bool(d_conditioned), hist_len=constants.HIST_LEN,
                  crop_size=constants.CROP_SIZE)
    return config
