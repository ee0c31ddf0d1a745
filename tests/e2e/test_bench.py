"""`make bench` cannot break unnoticed: its quick run (every measurement, few iterations, nothing
written, no goal checked) is part of the test tiers. The full run's goals are unit-tested
(tests/unit/test_bench_goals.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from benchmarks.run import FIGURES, RESULTS
from tests.e2e.local_stack import ROOT

# It starts an emulator and a local stack of its own, and imports the authorizer in fresh
# processes: about half a minute on a quiet machine.
pytestmark = pytest.mark.timeout(300)


def test_the_quick_bench_measures_every_figure_and_writes_nothing() -> None:
    # Given the results and the README as they are
    results_before = RESULTS.read_bytes() if RESULTS.exists() else None
    readme_before = (ROOT / "README.md").read_bytes()
    # When `make bench`'s code runs in its quick mode
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick"],
        cwd=ROOT,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    # Then it finishes, with every figure of the README's table measured
    assert completed.returncode == 0, completed.stderr[-4000:]
    printed = {line.split()[0] for line in completed.stdout.splitlines() if line.strip()}
    assert set(FIGURES) <= printed, completed.stdout
    # And it wrote neither the results nor the README's table
    assert (RESULTS.read_bytes() if RESULTS.exists() else None) == results_before
    assert (ROOT / "README.md").read_bytes() == readme_before


def _environment() -> dict[str, str]:
    environment = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'security'}:{ROOT}"}
    for name in ("AWS_ENDPOINT_URL", "TABLE_NAME"):
        environment.pop(name, None)
    return environment
