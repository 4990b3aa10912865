"""The benchmark scripts still run (figures are read by people, never asserted on)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
BENCH = Path(__file__).parents[1] / "bench"


def run(script, *args):
    result = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True,
                            text=True, timeout=300, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_cpu_benchmark_prints_a_figure_per_step():
    out = run("cpu.py")
    for step in ("json.loads (baseline)", "parse_body", "verify", "normalize", "log line"):
        assert step in out


def test_the_delivery_benchmark_prints_rate_and_ratio():
    out = run("delivery_rate.py", "--events", "300", "--repeat", "1")
    assert "worker delivery: median" in out
    assert "ratio" in out


@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (.ci/run installs it)"
)
def test_the_web_benchmark_prints_the_table_and_every_target():
    out = run("web_throughput.py", "--duration", "1", "--repeat", "1", "--bodies", "5000")
    assert "receiver / bare req/s" in out
    assert out.count("[met]") + out.count("[MISSED]") == 7
