"""One-line errors for users, instead of tracebacks."""
import functools
import sys
import traceback


class UserError(Exception):
    """A problem with the user's input or environment, with the fix in the message."""


def cli(main):
    """Run ``main(argv)``; a ``UserError`` prints one line and exits with code 2.

    ``--debug`` anywhere on the command line shows the traceback as well.
    """
    @functools.wraps(main)
    def wrapper(argv=None):
        argv = sys.argv[1:] if argv is None else list(argv)
        try:
            return main(argv)
        except UserError as e:
            if '--debug' in argv:
                traceback.print_exc()
            print('error: {}'.format(e), file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print('interrupted', file=sys.stderr)
            sys.exit(130)
    return wrapper


def add_common_flags(parser):
    """The flags every script ends with: ``--no-progress``, and ``--debug``, which
    ``cli`` reads."""
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument('--debug', action='store_true', help='show tracebacks of errors')


def warn(message):
    """A one-line warning on stderr, for input that is skipped but not fatal.

    Written through tqdm so that it lands above a live progress bar, not inside it.
    """
    from tqdm import tqdm
    tqdm.write('warning: {}'.format(message), file=sys.stderr)
