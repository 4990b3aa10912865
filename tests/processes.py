"""Real server processes for integration tests, started and stopped by fixtures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

BIN = Path(sys.executable).parent


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    """Poll url until it answers, failing fast if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def start(command: list[str], *, env: dict[str, str], log: Path, cwd: Path | None = None):
    """Start a process in its own session, its output going to log."""
    handle = log.open("wb")
    return subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        start_new_session=True,
    )


def stop(process: subprocess.Popen, timeout: float = 20.0) -> int:
    """SIGTERM the process group, then SIGKILL it if it lingers; returns the exit status."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode
