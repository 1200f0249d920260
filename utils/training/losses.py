"""The generator's and discriminator's losses, each summed at every scale.

Arguments are lists over scales (coarsest first) of Chainer variables or arrays
of shape (N, 3, H, W) in [-1, 1]. Pixel losses are summed over pixels and
channels, averaged over the batch and over scales, so their size does not
depend on the batch size.
"""
import collections

import chainer
import chainer.functions as F
import numpy

import constants
from models import generator
from utils import pixels


def _mean_over_scales(terms):
    return sum(terms) / len(terms)


def _float32(xs):
    """Sums over a full frame overflow float16, so under mixed16 losses run in float32."""
    return [F.cast(x, numpy.float32) for x in xs]



def lp_loss(predictions, targets, p):
    """Sum over pixels of |Y_hat - Y|^p (p = 1 or 2)."""
    def one(y_hat, y):
        d = y_hat - y
        return F.sum(F.square(d) if p == 2 else F.absolute(d) ** p) / len(y)
    return _mean_over_scales([one(a, b)
                              for a, b in zip(_float32(predictions), _float32(targets))])


def _abs_gradients(x):
    """|x[i, j] - x[i-1, j]| and |x[i, j] - x[i, j-1]|, per channel."""
    return F.absolute(x[:, :, 1:, :] - x[:, :, :-1, :]), F.absolute(x[:, :, :, 1:] - x[:, :, :, :-1])


def gdl_loss(predictions, targets, alpha):
    """Gradient difference loss: sum of | |grad Y| - |grad Y_hat| |^alpha, both directions."""
    def one(y_hat, y):
        total = 0
        for g_hat, g in zip(_abs_gradients(y_hat), _abs_gradients(y)):
            d = F.absolute(g.array - g_hat)
            total += F.sum(d if alpha == 1 else d ** alpha)
        return total / len(y)
    return _mean_over_scales([one(a, b)
                              for a, b in zip(_float32(predictions), _float32(targets))])


def adversarial_loss(logits, real):
    """Binary cross-entropy of D's logits against all-real or all-fake labels.

    BCE(l, 1) = softplus(-l) and BCE(l, 0) = softplus(l): no log of a sigmoid
    that underflows.
    """
    return _mean_over_scales([F.mean(F.softplus(-l if real else l)) for l in _float32(logits)])


class Term(collections.namedtuple('Term', 'name weight function needs_dis needs_mask')):
    """One weighted term of the generator's loss.

    ``function(predictions, targets, histories, dis)`` returns a scalar variable;
    the value is reported as ``gen/loss_<name>``. ``needs_dis``: the term uses the
    discriminator, and is left out when training without one. ``needs_mask``: the
    term uses the copy mask's outputs (``predictions.generated``,
    ``predictions.keep_logits``), and is left out for generators without one.
    """


def branch_loss(predictions, targets, l_num, alpha_num, lp_weight=1.0, gdl_weight=1.0):
    """The pixel losses (``lp_weight`` * Lp + ``gdl_weight`` * GDL) of the copy
    mask's generated branch alone, so that it learns the whole frame, including
    where the mask copies."""
    loss = lp_weight * lp_loss(predictions.generated, targets, l_num)
    if gdl_weight:
        loss += gdl_weight * gdl_loss(predictions.generated, targets, alpha_num)
    return loss


def mask_loss(predictions, targets, histories):
    """Cross-entropy of the copy mask against the frames it may copy that hold the
    target pixel (every channel within ``constants.PIXEL_CHANGE_THRESHOLD``), or
    the generated frame where none does: -log of the weight the mask gives them
    together, summed over pixels like the pixel losses. A target that does not
    saturate once the mask copies, and that does not ask which of two frames
    showing the same colour to copy."""
    def one(logits, target, history):
        target, history = chainer.as_array(target), chainer.as_array(history)
        xp = chainer.backend.get_array_module(target)
        threshold = pixels.difference_to_model_scale(constants.PIXEL_CHANGE_THRESHOLD)
        holds = xp.stack([(xp.abs(target - frame) <= threshold).all(axis=1) for frame in
                          generator.copyable_frames(history, target.shape[1], logits.shape[1])],
                         axis=1)
        right = xp.concatenate([~holds.any(axis=1, keepdims=True), holds], axis=1)
        scores = generator.mask_scores(logits)
        chosen = F.where(right, scores, xp.full(scores.shape, -numpy.inf, scores.dtype))
        return F.sum(F.logsumexp(scores, axis=1) - F.logsumexp(chosen, axis=1)) / len(target)
    return _mean_over_scales([one(l, t, h) for l, t, h in zip(
        _float32(predictions.keep_logits), targets, histories)])


def generator_terms(weights=None, l_num=constants.L_NUM, alpha_num=constants.ALPHA_NUM,
                    adversarial=True, copy_mask=False):
    """The generator's loss, ``sum(weight * function)``, as terms.

    ``weights``: {name: weight}, defaults from ``constants.LOSS_WEIGHTS``; each
    name there has a ``--lambda-<name>`` flag in train.py. To add a term, add its
    default weight there and its function here.
    """
    weights = dict(constants.LOSS_WEIGHTS, **(weights or {}))
    functions = {
        'lp': (lambda pred, target, history, dis: lp_loss(pred, target, l_num), False, False),
        'gdl': (lambda pred, target, history, dis: gdl_loss(pred, target, alpha_num), False,
                False),
        'adv': (lambda pred, target, history, dis: adversarial_loss(
            dis(pred.judged, history), True), True, False),
        'branch': (lambda pred, target, history, dis: branch_loss(
            pred, target, l_num, alpha_num, weights['lp'], weights['gdl']), False, True),
        'mask': (lambda pred, target, history, dis: mask_loss(pred, target, history), False, True),
    }
    unknown = set(weights) - set(functions)
    if unknown:
        raise ValueError('no loss term is called {}'.format(', '.join(sorted(unknown))))
    return [Term(name, weights[name], function, needs_dis, needs_mask)
            for name, (function, needs_dis, needs_mask) in functions.items()
            if (adversarial or not needs_dis) and (copy_mask or not needs_mask)]
