"""The packaging tier's builds: `sam build` once per session, before its tests, when stale.

The builds `make build` makes are used when they are newer than every input (template, samconfig,
functions, layer, SAM lock); otherwise they are made again here, through SAM's cache, so a test
never imports stale artifacts and a fresh clone needs no `make build` first. The SAM CLI must be
installed (`make build` creates `.venv-sam`); without it, or on a failed build, the tier fails.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from infra.build import Build, BuildError, deployed_build, host_build, run, unchanged


@dataclass(frozen=True)
class Builds:
    deployed: Build  # arm64, .aws-sam/build: what `sam deploy` uploads
    host: Build  # this machine's architecture: what the tests import


@pytest.fixture(scope="session")
def builds() -> Iterator[Builds]:
    if sys.platform != "linux":
        pytest.fail(
            "the built artifacts hold Linux binaries: run this tier on Linux", pytrace=False
        )
    try:
        deployed = run(deployed_build(), quiet=True, if_stale=True)
        host = (
            deployed if host_build() == deployed else run(host_build(), quiet=True, if_stale=True)
        )
    except BuildError as exc:
        pytest.fail(str(exc), pytrace=False)
    # Another session's build must not replace these while this one imports from them.
    with unchanged():
        yield Builds(deployed, host)
