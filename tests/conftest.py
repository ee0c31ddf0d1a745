"""Settings shared by every tier: no test may reach real AWS."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _pytest.nodeid import coerce_node_id

# Set before any boto3 client exists; these credentials are only meaningful to moto.
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}.items():
    os.environ[_name] = _value
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)


# -- parallel runs (`pytest -n 2 --dist loadgroup`, as `make test` runs) --------------------------
# Each xdist worker is a process with emulators of its own (the integration tier's moto server,
# the e2e tier's local stack), started by session fixtures. A group runs whole on one worker, so
# what a group's tests share stays in one process: a module's stack and plaintext check, a
# permission-matrix route's world, a fault act's table, the one e2e stack, the browser tests'
# stack and browser, the packaging builds, the deploy rehearsal's worker.
def _group(item: pytest.Item) -> str | None:
    path = item.path.relative_to(Path(__file__).parent).as_posix()
    if path.startswith("unit/"):
        return None  # no shared state: spread test by test
    for tier in ("packaging", "deploy"):  # the builds; one rehearsal worker, each stage once
        if path.startswith(f"{tier}/"):
            return tier
    if path.startswith("e2e/browser/"):
        # A stack and a browser of their own, so they can run beside the HTTP tests.
        return "e2e-browser"
    if path.startswith("e2e/"):
        # The fuzzing and the bench start stacks of their own; the rest share the session's.
        return path if path.endswith(("test_openapi_fuzz.py", "test_bench.py")) else "e2e"
    params = (
        item.callspec.params
        if isinstance(item, pytest.Function) and hasattr(item, "callspec")
        else {}
    )
    for shared in ("route", "act"):  # one world or table each
        if shared in params:
            return f"{path}::{getattr(params[shared], 'key', params[shared])}"
    return path


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        # schemathesis (4.32 on pytest 9) gives every operation's test one node id, the label
        # only in its name: xdist schedules by node id, and would run one operation of them all.
        label = getattr(item, "operation_label", None)
        if label and not item.nodeid.endswith(f"[{label}]"):
            item._id = coerce_node_id(f"{item.nodeid}[{label}]")
        group = _group(item)
        if group is not None and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(group))
