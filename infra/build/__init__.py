"""Build the Lambda artifacts with the AWS SAM CLI: for arm64, as deployed, and for this machine.

`make build` runs `python -m infra.build`, then `python -m infra.build.sizes`. Two builds of the
one template:

- the deployed one, `.aws-sam/build`: the template's default `Architecture` (arm64). This is what
  `sam deploy` uploads. Its native extensions are aarch64 and cannot be loaded on an x86_64 machine.
- this machine's, `.aws-sam/host/build`: the same template and sources with
  `Architecture=<this machine's>`, so the packaging test (`tests/packaging`) can import every
  handler from built artifacts alone. On an arm64 Linux machine the deployed build is this
  machine's, and there is one build.

The SAM CLI lives in `.venv-sam` (hash-locked in `infra/build/requirements-sam.txt`): it pins
versions that clash with the project's. The host build runs in `.aws-sam/host/` as its working
directory because `sam build --cached` keeps downloaded dependencies in `./.aws-sam/deps` and
deletes whatever another build graph put there: sharing it, the two builds would download the
layer's dependencies again each time. A lock file serialises builds from concurrent runs, and
keeps them from replacing builds a test session is importing from (`unchanged`).
"""

from __future__ import annotations

import fcntl
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAMCONFIG = ROOT / "samconfig.toml"
SAM_DIR = ROOT / ".aws-sam"
SAM_CLI = Path(os.environ.get("RAILGUARD_SAM_CLI", ROOT / ".venv-sam" / "bin" / "sam"))
DEPLOYED_ARCHITECTURE = "arm64"  # the template's `Architecture` default
# What a build is made from. Directories count too: removing a file changes its directory's mtime.
INPUTS = (
    TEMPLATE,
    SAMCONFIG,
    ROOT / "functions",
    ROOT / "layers" / "security",
    ROOT / "infra" / "build" / "requirements-sam.txt",
)
_STAMP = ".railguard-inputs"  # in the build directory, beside template.yaml: in no artifact

# ELF e_machine values (the 2 bytes at offset 18 of a little-endian ELF file).
ELF_MACHINES = {183: "arm64", 62: "x86_64"}
_MACHINE_ARCHITECTURES = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "aarch64": "arm64",
    "arm64": "arm64",
}
_OUTPUT_TAIL_LINES = 40


class BuildError(Exception):
    """`sam build` failed, or what it built is not what the template asks for."""


@dataclass(frozen=True)
class Build:
    """One `sam build` of template.yaml: for which architecture, into which directory."""

    architecture: str
    workdir: Path  # where `sam build` runs; its build.toml and .aws-sam/deps are kept here
    directory: Path  # the artifacts: template.yaml and one directory per function and layer

    @property
    def template(self) -> Path:
        return self.directory / "template.yaml"


def host_architecture() -> str:
    """This machine's instruction set, in Lambda's words (arm64, x86_64)."""
    machine = platform.machine().lower()
    if machine not in _MACHINE_ARCHITECTURES:
        raise BuildError(f"no Lambda architecture for this machine ({machine})")
    return _MACHINE_ARCHITECTURES[machine]


def deployed_build() -> Build:
    """The build `sam deploy` uploads: `.aws-sam/build`, for arm64."""
    return Build(DEPLOYED_ARCHITECTURE, ROOT, SAM_DIR / "build")


def host_build() -> Build:
    """A build this machine can import: the deployed one on arm64, else `.aws-sam/host/build`."""
    architecture = host_architecture()
    if architecture == DEPLOYED_ARCHITECTURE:
        return deployed_build()
    workdir = SAM_DIR / "host"
    return Build(architecture, workdir, workdir / "build")


def builds() -> tuple[Build, ...]:
    """What `make build` builds: the deployed build, and this machine's when it differs."""
    deployed, host = deployed_build(), host_build()
    return (deployed,) if host == deployed else (deployed, host)


def run(build: Build, *, quiet: bool = False, if_stale: bool = False) -> Build:
    """Run `sam build` (cached, so a build with nothing changed takes seconds), then check it.

    With `quiet`, the CLI's output is kept and only its tail is shown, in the error, on failure.
    With `if_stale`, a build newer than all its inputs (see `is_current`) is not run again.
    """
    if not SAM_CLI.is_file():
        raise BuildError(
            f"no SAM CLI at {SAM_CLI}: `make build` creates .venv-sam from"
            " infra/build/requirements-sam.txt"
        )
    build.workdir.mkdir(parents=True, exist_ok=True)
    command = [
        str(SAM_CLI),
        "build",
        "--template-file", str(TEMPLATE),
        "--config-file", str(SAMCONFIG),
        "--build-dir", str(build.directory),
        "--cache-dir", str(build.workdir / ".aws-sam" / "cache"),
        "--parameter-overrides", f"Architecture={build.architecture}",
    ]  # fmt: skip
    with _locked(fcntl.LOCK_EX):
        if if_stale and is_current(build):
            return build
        started = time.time_ns()
        completed = subprocess.run(  # noqa: S603 - our own command line, no shell
            command,
            cwd=build.workdir,
            env=_sam_environment(),
            stdout=subprocess.PIPE if quiet else None,
            stderr=subprocess.STDOUT if quiet else None,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            tail = "\n".join((completed.stdout or "").splitlines()[-_OUTPUT_TAIL_LINES:])
            raise BuildError(
                f"sam build for {build.architecture} failed ({completed.returncode}):\n{tail}"
            )
        foreign = {
            str(path.relative_to(build.directory)): machine
            for path, machine in native_libraries(build.directory).items()
            if machine != build.architecture
        }
        if foreign:
            raise BuildError(f"the {build.architecture} build holds other binaries: {foreign}")
        # Stamped with the time the build started: an input changed while it ran makes it stale.
        stamp = build.directory / _STAMP
        stamp.write_text(build.architecture)
        os.utime(stamp, ns=(started, started))
    return build


def is_current(build: Build) -> bool:
    """Whether `build` was made, for its architecture, after its inputs last changed."""
    stamp = build.directory / _STAMP
    try:
        if stamp.read_text() != build.architecture:
            return False
        built = stamp.stat().st_mtime_ns
    except FileNotFoundError:
        return False
    return all(mtime <= built for mtime in _input_mtimes())


def _input_mtimes() -> Iterator[int]:
    for root in INPUTS:
        yield root.stat().st_mtime_ns
        if root.is_dir():
            for path in root.rglob("*"):
                if "__pycache__" not in path.parts:
                    yield path.lstat().st_mtime_ns


def native_libraries(directory: Path) -> dict[Path, str]:
    """Every shared library (`*.so*`) under `directory`, with the architecture it was built for."""
    return {
        path: elf_architecture(path)
        for path in sorted(directory.rglob("*.so*"))
        if path.is_file() and not path.is_symlink()
    }


def elf_architecture(path: Path) -> str:
    """`arm64`, `x86_64`, or a description of what else the file is (read from its ELF header)."""
    with path.open("rb") as file:
        header = file.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return "not ELF"
    machine = int.from_bytes(header[18:20], "big" if header[5] == 2 else "little")
    return ELF_MACHINES.get(machine, f"ELF machine {machine}")


def _sam_environment() -> dict[str, str]:
    # BuildMethod python3.13 runs `python3.13 -m pip` from PATH: put this interpreter's
    # installation (not a virtual environment's) first, so pyenv's shims are not involved.
    if sys.version_info[:2] != (3, 13):
        raise BuildError(f"run the build with Python 3.13, not {platform.python_version()}")
    python_dir = Path(sys.base_prefix) / "bin"
    if not (python_dir / "python3.13").exists():
        raise BuildError(f"no python3.13 in {python_dir}")
    path = os.pathsep.join([str(python_dir), os.environ.get("PATH", os.defpath)])
    return {**os.environ, "PATH": path, "SAM_CLI_TELEMETRY": "0"}


@contextmanager
def unchanged() -> Iterator[None]:
    """While in this block, no `run` in another process replaces the builds (it waits)."""
    with _locked(fcntl.LOCK_SH):
        yield


@contextmanager
def _locked(operation: int) -> Iterator[None]:
    lock_path = SAM_DIR / "build.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as lock:
        fcntl.flock(lock, operation)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
