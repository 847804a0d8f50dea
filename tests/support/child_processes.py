"""Child Python processes that a test drives line by line over stdin/stdout."""

import os
import subprocess
import sys
from pathlib import Path

from support import TESTS


class Children:
    """Starts a script as child processes; on exit, kills those still running."""

    def __init__(self, script: Path) -> None:
        self.script = script
        self.procs: list[subprocess.Popen] = []

    def start(self, *args: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, str(self.script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])},
        )
        self.procs.append(proc)
        return proc

    def __enter__(self) -> "Children":
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def read_line(proc: subprocess.Popen) -> str:
    """The child's next line; fails with its stderr if it exited instead."""
    line = proc.stdout.readline()
    assert line, f"child exited with {proc.wait()}: {proc.stderr.read()}"
    return line.strip()


def send_line(proc: subprocess.Popen, text: str) -> None:
    proc.stdin.write(text + "\n")
    proc.stdin.flush()
