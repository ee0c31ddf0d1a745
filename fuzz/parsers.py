"""Run the parser fuzz targets with atheris: `python -m fuzz.parsers [--seconds N] [--target NAME]`.

Each target runs in a child process of its own (atheris takes the process over), for N seconds,
from its committed seeds (`fuzz/corpus/<target>`, `fuzz/regressions/<target>`) and a working
corpus that grows between runs (`fuzz/.work/<target>`, not committed). A crashing input is
written to `fuzz/crashes/<target>/`; the libFuzzer log of each run is `fuzz/.work/<target>.log`.
Prints executions and crashes per target and exits non-zero when any target crashed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fuzz.targets import TARGETS, load

ROOT = Path(__file__).resolve().parent.parent
FUZZ_DIR = ROOT / "fuzz"
WORK_DIR = FUZZ_DIR / ".work"
DEFAULT_SECONDS = 30
# Modules whose branches guide the fuzzer: the layer, and the parsers it delegates to.
INSTRUMENTED = ["railguard", "jwt", "ipaddress"]
# A run that outlives its time budget by this much is hung, not slow: it is stopped.
GRACE_SECONDS = 120
_EXECUTIONS = re.compile(rb"stat::number_of_executed_units:\s*(\d+)")
_PROGRESS = re.compile(rb"^#(\d+)\s", re.MULTILINE)


@dataclass(frozen=True)
class Outcome:
    target: str
    executions: int | None
    crash_files: tuple[Path, ...]
    exit_code: int
    log: Path

    @property
    def crashed(self) -> bool:
        return self.exit_code != 0 or bool(self.crash_files)


def _seed_dirs(target: str) -> list[Path]:
    dirs = [FUZZ_DIR / kind / target for kind in ("corpus", "regressions")]
    return [directory for directory in dirs if directory.is_dir()]


def _executions(log: bytes) -> int | None:
    final = _EXECUTIONS.search(log)
    if final is not None:
        return int(final[1])
    progress = _PROGRESS.findall(log)  # a crash ends the run before the final statistics
    return int(progress[-1]) if progress else None


def run_child(target: str, seconds: int) -> None:
    """In the child process: instrument the layer, then let libFuzzer drive the target."""
    import atheris  # noqa: PLC0415 - only the child needs it; the replay tests must not

    with atheris.instrument_imports(include=INSTRUMENTED):
        one_input = load(target)
    crash_dir = FUZZ_DIR / "crashes" / target
    work_dir = WORK_DIR / target
    work_dir.mkdir(parents=True, exist_ok=True)
    crash_dir.mkdir(parents=True, exist_ok=True)
    libfuzzer_args = [
        f"-max_total_time={seconds}",
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        f"-artifact_prefix={crash_dir}/",
        # The first directory receives the new inputs; the seeds are only read.
        str(work_dir),
        *(str(directory) for directory in _seed_dirs(target)),
    ]
    atheris.Setup([sys.argv[0], *libfuzzer_args], one_input)
    atheris.Fuzz()


def run_target(target: str, seconds: int) -> Outcome:
    """One target in a child process; its log is kept beside the working corpus."""
    crash_dir = FUZZ_DIR / "crashes" / target
    before = set(crash_dir.iterdir()) if crash_dir.is_dir() else set()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    log = WORK_DIR / f"{target}.log"
    path = os.pathsep.join([str(ROOT / "layers" / "security"), str(ROOT)])
    environment = {**os.environ, "PYTHONPATH": path}
    command = [sys.executable, "-m", "fuzz.parsers", "--child", target, "--seconds", str(seconds)]
    try:
        finished = subprocess.run(  # noqa: S603 - our own interpreter and module, no shell
            command,
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=seconds + GRACE_SECONDS,
            check=False,
        )
        output, exit_code = finished.stdout, finished.returncode
    except subprocess.TimeoutExpired as hung:
        output, exit_code = hung.stdout or b"", -1
    log.write_bytes(output)
    after = set(crash_dir.iterdir()) if crash_dir.is_dir() else set()
    if crash_dir.is_dir() and not after:
        crash_dir.rmdir()  # only crashes are kept there
        with contextlib.suppress(OSError):  # another target's crashes are still there
            crash_dir.parent.rmdir()
    return Outcome(target, _executions(output), tuple(sorted(after - before)), exit_code, log)


def _report(outcomes: list[Outcome]) -> None:
    print(f"{'target':<20} {'executions':>12}  result")
    for outcome in outcomes:
        executions = "?" if outcome.executions is None else f"{outcome.executions:,}"
        if not outcome.crashed:
            result = "ok"
        elif outcome.crash_files:
            names = ", ".join(str(path.relative_to(ROOT)) for path in outcome.crash_files)
            result = f"CRASH: {names} (log: {outcome.log.relative_to(ROOT)})"
        else:
            result = f"FAILED (exit {outcome.exit_code}; log: {outcome.log.relative_to(ROOT)})"
        print(f"{outcome.target:<20} {executions:>12}  {result}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz.parsers", description=__doc__)
    parser.add_argument("--seconds", type=int, default=DEFAULT_SECONDS, help="per target")
    parser.add_argument(
        "--target", action="append", choices=sorted(TARGETS), help="repeatable; default: all"
    )
    parser.add_argument("--child", choices=sorted(TARGETS), help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.child is not None:
        run_child(arguments.child, arguments.seconds)
        return 0
    outcomes = []
    for target in arguments.target or list(TARGETS):
        started = time.monotonic()
        print(f"fuzzing {target} for {arguments.seconds} s ...", flush=True)
        outcomes.append(run_target(target, arguments.seconds))
        print(f"  done in {time.monotonic() - started:.0f} s", flush=True)
    _report(outcomes)
    return 1 if any(outcome.crashed for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
