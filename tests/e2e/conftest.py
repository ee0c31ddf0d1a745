"""One local stack process for the whole e2e session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.local_stack import StackProcess, launch


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    running = launch(tmp_path_factory.mktemp("local-stack"))
    running.wait_until_healthy()
    yield running
    status = running.interrupt()
    assert status == 0, running.stderr
