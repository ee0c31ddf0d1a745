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
# the e2e tier's local stack), started by session fixtures. A group names what a group's tests
# share: a module's stack and plaintext check, a permission-matrix route's world, a fault act's
# table, the one e2e stack, the browser tests' stack and browser, the packaging builds, the
# deploy rehearsal's worker; the groups of `_KEPT_WHOLE` run whole on one worker, the others may
# be split (each worker then sets up what its share needs).
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


# The groups kept whole on one worker. xdist 3.8 tells its scheduler a test's group by a `@group`
# suffix of its node id, which it writes where pytest 9 no longer reads it (`_nodeid`), so the
# `xdist_group` marks alone keep nothing together: each worker starts the emulators of what it
# runs. Written here for the groups whose setup dominates (the rehearsal's worker and its stages,
# the builds); keeping every group whole measured slower (10 min 55 s against 9 min 55 s for
# `make test`), the e2e tier's one group then running on one worker.
_KEPT_WHOLE = ("deploy", "packaging")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    by_group = config.getoption("dist", "no") == "loadgroup"
    for item in items:
        # schemathesis (4.32 on pytest 9) gives every operation's test one node id, the label
        # only in its name: xdist schedules by node id, and would run one operation of them all.
        label = getattr(item, "operation_label", None)
        if label and not item.nodeid.endswith(f"[{label}]"):
            item._id = coerce_node_id(f"{item.nodeid}[{label}]")
        group = _group(item)
        if group is not None and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(group))
        if by_group and group in _KEPT_WHOLE:
            item._id = coerce_node_id(f"{item.nodeid}@{group}")
