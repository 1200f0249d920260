"""Signal state: training puts its handlers back, and worker processes always die
when their pool terminates them, whatever handlers their parent had."""
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy
from PIL import Image

import train
from conftest import ROOT, run_cli

# A hang must fail the test, not the whole CI run: every scenario below runs in
# a child process with this deadline (seconds); each normally takes a few.
DEADLINE = 120


def _run_python(code, tmp_path):
    """Run ``code`` as a script whose ``main()`` runs under the ``__main__`` guard that
    pools of fresh interpreters need."""
    script = tmp_path / 'scenario.py'
    script.write_text('import sys\nsys.path.insert(0, {!r})\n'.format(ROOT)
                      + textwrap.dedent(code) + "\nif __name__ == '__main__':\n    main()\n")
    try:
        return subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              timeout=DEADLINE, cwd=str(tmp_path))
    except subprocess.TimeoutExpired:
        raise AssertionError('hung for {} s'.format(DEADLINE))


def _handlers():
    return {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGXFSZ)}


def test_training_in_process_puts_the_signal_handlers_back(clip_dirs, tmp_path, capsys):
    before = _handlers()
    argv = ['-d', clip_dirs[0], '-o', str(tmp_path), '--preset', 'tiny', '-i', '2', '-b', '2',
            '--no-progress', '--sample-interval', '0', '--eval-interval', '0',
            '--loaderjobs', '0']
    assert run_cli(train.main, argv, capsys)[0] == 0
    assert _handlers() == before
    # and when training ends in an error (here: NaN), too
    code, _, _ = run_cli(train.main, argv + ['-i', '50', '-r', '--lr-g', '1e10', '--lr-d',
                                             '1e30'], capsys)
    assert code == 2
    assert _handlers() == before


def _small_video(directory, n=12):
    directory.mkdir(parents=True)
    for k in range(n):
        Image.fromarray(numpy.full((20, 20, 3), k * 10, numpy.uint8)).save(
            directory / 'frame{}.png'.format(k))


def test_process_data_after_training_in_one_process_ends(clip_dirs, frames_dir, tmp_path):
    """Training, then clip making whose pool is terminated by a failing video, in one
    process: the pool's workers must not inherit a handler that ignores SIGTERM."""
    videos = tmp_path / 'videos'
    for name in ('video000', 'video001'):
        shutil.copytree(frames_dir / 'train' / name, videos / name)
    _small_video(videos / 'video002')  # 20x20 frames: its job fails in a worker
    run = _run_python('''
        import process_data, train

        def main():
            try:
                train.main(['-d', {data!r}, '-o', 'run', '--preset', 'tiny', '-i', '2',
                            '-b', '2', '--no-progress', '--sample-interval', '0',
                            '--eval-interval', '0', '--loaderjobs', '1'])
            except SystemExit as e:
                assert not e.code, e.code
            process_data.main(['-n', '3000', '--train-dir', {src!r},
                               '--train-clips', 'clips', '--workers', '3'])
    '''.format(data=clip_dirs[0], src=str(videos)), tmp_path)
    assert run.returncode == 2, run.stderr
    assert 'video002: frames are 20x20, smaller than the 32x32 crops' in run.stderr


def test_pool_terminates_although_the_parent_swallows_sigterm(tmp_path):
    run = _run_python('''
        import os, signal
        from utils import workers

        def swallow(signum, frame):  # records the signal and carries on, as a trainer does
            signal.signal(signum, signal.SIG_DFL)

        def main():
            signal.signal(signal.SIGTERM, swallow)
            with workers.pool(2) as pool:
                try:
                    list(pool.imap_unordered(int, ['1', 'x', '2', '3']))
                except ValueError:
                    pass
            assert signal.getsignal(signal.SIGTERM) is swallow
            print('ended')
    ''', tmp_path)
    assert run.returncode == 0 and 'ended' in run.stdout, run.stderr


def test_workers_start_with_default_signal_handlers(tmp_path):
    run = _run_python('''
        import signal
        from utils import workers

        def probe(_):
            return [signal.getsignal(s) == signal.SIG_DFL for s in (signal.SIGINT, signal.SIGTERM)]

        def main():
            signal.signal(signal.SIGTERM, lambda *a: None)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            with workers.pool(2) as pool:
                print(pool.map(probe, range(2)))
    ''', tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == '[[True, True], [True, True]]'


def test_a_forked_child_of_training_lives_through_one_sigterm_not_two(tmp_path):
    """Chainer forks its loader processes with the trainer's handler. A signal to the
    whole process group must leave them be (the trainer stops, then closes its loader
    in order), and a second one ends them as by default."""
    run = _run_python('''
        import os, signal, time
        from utils import compat  # noqa: F401  (before chainer)
        from utils.training.trainer_extensions import StopOnSignal

        def main():
            stop = StopOnSignal(lambda trainer: [])
            stop.initialize(None)
            pid = os.fork()
            if pid == 0:
                time.sleep(5)
                os._exit(7)
            time.sleep(0.3)
            os.kill(pid, signal.SIGTERM)
            time.sleep(0.3)
            print(os.waitpid(pid, os.WNOHANG) == (0, 0))  # alive after the first
            os.kill(pid, signal.SIGTERM)
            _, status = os.waitpid(pid, 0)
            print(os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM)
            print(stop.signum is None)  # the child's signal is not the trainer's
            stop.finalize()
            print(signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)
    ''', tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ['True'] * 4
