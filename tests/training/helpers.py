"""What the training tests share: running the command line in a subprocess, free ports,
small recipes."""

import os
import pathlib
import socket
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DIGITS = str(ROOT / "recipes" / "lenet5.py") + ":digits"
# The xdist group of the tests that use the main job's run (the `digits_job` fixture of
# tests/conftest.py): one worker trains it once for all of them.
DIGITS_JOB = pytest.mark.xdist_group("digits_job")


def environment(**extra):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def command(*args):
    return [sys.executable, "-m", "keras_backbones.cli", *map(str, args)]


def run_cli(*args, timeout=300, env=None):
    """Runs `keras-backbones ARGS`; returns the CompletedProcess (stdout and stderr as text)."""
    return subprocess.run(command(*args), cwd=ROOT, env=env or environment(), text=True,
                          capture_output=True, timeout=timeout)


def start_cli(*args, env=None, log=None):
    """Starts `keras-backbones ARGS` (output to the file `log`); returns the Popen."""
    out = open(log, "w") if log else subprocess.DEVNULL
    return subprocess.Popen(command(*args), cwd=ROOT, env=env or environment(), stdout=out,
                            stderr=subprocess.STDOUT, text=True)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def tail(text, lines=40):
    return "\n".join(str(text).splitlines()[-lines:])


def usage_error_failures(cases, timeout=120):
    """Runs every case, {name: (args, expected text)}, as `keras-backbones ARGS` at once (each
    starts a Python that loads the package: seconds); returns what failed to exit 2 with the
    expected text on stderr and no traceback."""
    running = {name: subprocess.Popen(command(*args), cwd=ROOT, env=environment(), text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for name, (args, _) in cases.items()}
    failures = []
    for name, process in running.items():
        _, stderr = process.communicate(timeout=timeout)
        expected = cases[name][1]
        if process.returncode != 2 or expected not in stderr or "Traceback" in stderr:
            failures.append(f"{name}: exit {process.returncode}, expected {expected!r} in:\n"
                            + stderr[-1500:])
    return failures
