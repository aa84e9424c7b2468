"""The benchmark and timing scripts run end to end (tiny sizes: this checks wiring, not speed).

The numbers they print belong in the README, not in assertions: a timed test would fail on a busy
machine. What is asserted is what a user relies on: each script runs from the README's command line,
prints its numbers, and rejects bad arguments with a clear message.
"""
import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT

pytestmark = pytest.mark.skipif(not os.environ.get("GAN_LESSONS_DATA"), reason="needs the datasets")


def _run(*args, timeout=300):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_benchmark_throughput_prints_all_four_loops_and_ratios():
    r = _run("scripts/benchmark.py", "--what", "throughput", "--steps", "2", "--warmup", "1",
             "--rounds", "1", "--width", "8", "--batch-size", "16", "--workers", "0", "--threads", "1")
    assert r.returncode == 0, r.stderr[-3000:]
    rates = re.findall(r"([\d.]+) img/s", r.stdout)
    assert len(rates) >= 8 and all(float(v) > 0 for v in rates), r.stdout
    assert len(re.findall(r"\d+\.\d\dx \(a\)", r.stdout)) == 3, r.stdout  # (b), (b1), (b2) against (a)


def test_benchmark_ring_and_quality_report_their_targets():
    r = _run("scripts/benchmark.py", "--what", "ring,quality", "--seeds", "0", "--ring-seconds", "0.5",
             "--max-seconds", "0.5", "--eval-every", "2", "--datasets", "mnist", "--width", "8",
             "--batch-size", "16", "--threads", "1")
    assert r.returncode == 0, r.stderr[-3000:]
    assert re.search(r"average: [\d.]+ of 8 modes", r.stdout), r.stdout
    assert "FID" in r.stdout and "not reached within" in r.stdout, r.stdout


def test_benchmark_rejects_bad_arguments():
    r = _run("scripts/benchmark.py", "--what", "speed")
    assert r.returncode == 2 and "unknown --what" in r.stderr
