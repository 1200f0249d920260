"""Plain NumPy reference implementations, written independently of the project's code."""
import numpy


def conv2d(x, w, b=None, pad=0):
    """Direct convolution (cross-correlation), stride 1."""
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    xp = numpy.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = h + 2 * pad - k + 1, wd + 2 * pad - k + 1
    y = numpy.zeros((n, o, oh, ow))
    for i in range(k):
        for j in range(k):
            y += numpy.einsum('oc,nchw->nohw', w[:, :, i, j], xp[:, :, i:i + oh, j:j + ow])
    return y if b is None else y + b[None, :, None, None]


def gdl(pred, truth, alpha=1):
    """Sum over pixels, per channel, of | |dY| - |dY_hat| |^alpha along rows and columns."""
    total = 0.0
    for img_p, img_t in zip(pred, truth):
        for ch in range(img_p.shape[0]):
            p, t = img_p[ch], img_t[ch]
            for axis in (0, 1):
                dp = numpy.abs(numpy.diff(p, axis=axis))
                dt = numpy.abs(numpy.diff(t, axis=axis))
                total += numpy.sum(numpy.abs(dt - dp) ** alpha)
    return total / len(pred)


def sharpdiff(y, y_hat):
    """10 log10(255^2 / mean |g(Y) - g(Y_hat)|) for one (H, W, 3) frame, by loops."""
    h, w, _ = y.shape
    diffs = []
    for i in range(1, h):
        for j in range(1, w):
            gy = numpy.abs(y[i, j] - y[i - 1, j]) + numpy.abs(y[i, j] - y[i, j - 1])
            gh = numpy.abs(y_hat[i, j] - y_hat[i - 1, j]) + numpy.abs(y_hat[i, j] - y_hat[i, j - 1])
            diffs.extend(numpy.abs(gy - gh))
    return 10 * numpy.log10(255.0 ** 2 / numpy.mean(diffs))


def clip_motion(clip):
    """Summed squared difference of consecutive frames, [-1, 1] scale, of one (T, H, W, 3) clip."""
    c = clip.astype(numpy.float64) / 127.5 - 1
    return sum(numpy.sum((c[i + 1] - c[i]) ** 2) for i in range(len(c) - 1))
