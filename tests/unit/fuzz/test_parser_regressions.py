"""Every committed fuzz input, replayed through its target without atheris: the seeds
(`fuzz/corpus`), the crashes found and fixed (`fuzz/regressions`), and any crash not yet fixed
(`fuzz/crashes`, which fails here until the bug is fixed and the input moved to regressions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.targets import TARGETS, load

FUZZ_DIR = Path(__file__).resolve().parents[3] / "fuzz"
INPUT_KINDS = ("corpus", "regressions", "crashes")


def _target_dirs() -> list[Path]:
    return [
        target_dir
        for kind in INPUT_KINDS
        if (FUZZ_DIR / kind).is_dir()
        for target_dir in sorted((FUZZ_DIR / kind).iterdir())
        if target_dir.is_dir()
    ]


def _inputs() -> list[object]:
    return [
        pytest.param(
            target_dir.name, path, id=f"{target_dir.parent.name}/{target_dir.name}/{path.name}"
        )
        for target_dir in _target_dirs()
        for path in sorted(target_dir.iterdir())
        if path.is_file()
    ]


@pytest.mark.parametrize(("target", "path"), _inputs())
def test_input_is_handled(target: str, path: Path) -> None:
    # Given a committed input of a target
    one_input = load(target)
    # When the target runs it / Then it returns: any unexpected exception or broken invariant
    # raises out of one_input and fails the test
    one_input(path.read_bytes())


def test_every_input_dir_names_a_target() -> None:
    # Given the directories of committed inputs
    names = {target_dir.name for target_dir in _target_dirs()}
    # When compared with the registered targets / Then none is a typo that would never be run
    assert names <= set(TARGETS)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_target_has_seeds(target: str) -> None:
    # Given a registered target / When its seed directory is listed
    seeds = list((FUZZ_DIR / "corpus" / target).glob("*"))
    # Then the fuzzer starts from real inputs, not from nothing
    assert seeds
