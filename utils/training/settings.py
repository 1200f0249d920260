"""How a run trains, beside what it trains (the model's ``ModelConfig``): learning
rates, loss weights, batch size, seed and rollout.

Every snapshot records them, so ``train.py -r`` continues a run as it was started
without the user repeating its flags; Chainer's snapshots hold the optimizers'
moments but not their learning rates.
"""
import constants

# lr_d's default is its optimizer's (constants.LR_D), filled in by ``resolve``.
DEFAULTS = dict({'lr_g': constants.LR_G, 'lr_d': None, 'd_optimizer': constants.D_OPTIMIZER,
                 'd_warmup': constants.D_WARMUP,
                 'batch_size': constants.BATCH_SIZE, 'seed': constants.SEED,
                 'lr_g_steps': [], 'l_num': constants.L_NUM,
                 'alpha_num': constants.ALPHA_NUM, 'rollout': constants.ROLLOUT},
                **{'lambda_' + name: weight for name, weight in constants.LOSS_WEIGHTS.items()})


def resolve(given, recorded=None):
    """(settings, changes): each setting as ``given`` (None: not given), else as
    ``recorded`` by the snapshot resumed, else its default; ``changes`` lists
    (name, recorded, given) where the two differ, a deliberate change such as a lower
    learning rate to finish a run."""
    recorded = recorded or {}
    settings, changes = {}, []
    for name, default in DEFAULTS.items():
        value, kept = given.get(name), recorded.get(name)
        if value is not None and kept is not None and value != kept:
            changes.append((name, kept, value))
        settings[name] = next((v for v in (value, kept, default) if v is not None), None)
    if settings['lr_d'] is None:
        settings['lr_d'] = constants.LR_D[settings['d_optimizer']]
    return settings, changes


def parse_steps(text):
    """'6000:1e-4,8000:2e-5' -> [[6000, 0.0001], [8000, 2e-05]], sorted by iteration."""
    try:
        steps = sorted([int(i), float(r)] for i, r in (p.split(':') for p in text.split(',')))
    except ValueError:
        raise ValueError('expected ITERATION:RATE pairs separated by commas, such as '
                         '6000:1e-4,8000:2e-5, not {!r}'.format(text))
    if any(i < 1 or r <= 0 for i, r in steps) or len({i for i, _ in steps}) < len(steps):
        raise ValueError('iterations must be distinct and at least 1, rates above 0: '
                         '{!r}'.format(text))
    return steps


def loss_weights(settings):
    """{term name: weight} of the generator's loss."""
    return {name: settings['lambda_' + name] for name in constants.LOSS_WEIGHTS}


def flag(name):
    """The command-line flag of a setting: 'lr_g' -> '--lr-g'."""
    return '--' + name.replace('_', '-')


def describe(settings):
    return ', '.join('{} {}'.format(flag(name), format_value(value))
                     for name, value in settings.items())


def format_value(value):
    """A setting as its flag takes it."""
    if isinstance(value, list):
        return ','.join('{}:{}'.format(i, r) for i, r in value) or "''"
    return value
