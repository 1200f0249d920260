"""Process-wide signal state, changed only while it is needed, and worker pools
whose processes start clean.

An entry point that installs signal handlers puts the previous ones back when it
is done, so that a notebook, a test run or a user's script that calls it keeps
its own Ctrl-C. Worker processes start from a fresh interpreter (``forkserver``
where the platform has it, ``spawn`` elsewhere) rather than a fork of a parent
that may hold threads, locks or handlers, and reset SIGINT and SIGTERM to their
defaults, so ``Pool.terminate()`` always ends them.
"""
import contextlib
import multiprocessing
import signal
import threading

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
START_METHOD = 'forkserver' if 'forkserver' in multiprocessing.get_all_start_methods() \
    else 'spawn'


def install(handlers):
    """Install ``{signum: handler}``; return the handlers replaced, for ``restore``.

    Python lets only the main thread install handlers; elsewhere (a trainer run
    from a thread) this installs nothing, and signals keep their current meaning.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}


def restore(previous):
    """Put back handlers returned by ``install``."""
    for signum, handler in previous.items():
        # None: the handler was not installed from Python; the default is the best match.
        signal.signal(signum, signal.SIG_DFL if handler is None else handler)


@contextlib.contextmanager
def handlers(mapping):
    """``install(mapping)`` for the duration of a ``with`` block."""
    previous = install(mapping)
    try:
        yield
    finally:
        restore(previous)


def default_signals():
    """Pool initializer: SIGINT and SIGTERM do what they do by default (end the process)."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


def pool(processes):
    """A ``multiprocessing.Pool`` of clean workers (see the module's docstring)."""
    return multiprocessing.get_context(START_METHOD).Pool(processes, initializer=default_signals)
