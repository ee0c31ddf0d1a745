"""The integration tier: handlers in-process, AWS emulated by a moto server built from the
template (the same provisioning as the local stack), each function with the template's own
environment for it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from infra.iam import Stack
from infra.template import Template, load_template
from railguard.audit.anchors import TrailAnchors
from railguard.core import runtime
from railguard.crypto import passwords
from railguard.store import Table
from tests.support import accounts
from tests.support.accounts import reset_instances
from tests.support.emulator import AwsEndpoint, Provisioning, emulated_aws, provision
from tests.support.fake_time import FakeClock, patched_system_clock
from tests.support.iam import IamCheck
from tests.support.inprocess import InProcessClient
from tests.support.plaintexts import STORED, plaintexts_in

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"

FunctionEnv = Callable[[str], dict[str, str]]


@pytest.fixture(scope="session")
def template() -> Template:
    return load_template(TEMPLATE_PATH)


@pytest.fixture(scope="session", autouse=True)
def _patient_aws_clients() -> Iterator[None]:
    """The functions' clients give up on a reply after 2 s and retry (railguard.core.runtime), as
    they should against AWS. The emulator, on a machine busy with two test workers, can take
    longer to answer a write it has applied, and the retry applies a counter's ADD twice: a
    budget then ends one attempt early. Here the clients wait for the emulator instead."""
    patient = runtime.AWS_CLIENT_CONFIG.merge(Config(read_timeout=30, connect_timeout=10))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runtime, "AWS_CLIENT_CONFIG", patient)
        yield


@pytest.fixture(scope="session")
def aws() -> Iterator[AwsEndpoint]:
    with emulated_aws() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def _provisionings() -> dict[str, Provisioning]:
    return {}


@pytest.fixture(scope="session")
def _dynamodb(aws: AwsEndpoint) -> Any:
    return aws.client("dynamodb")


@pytest.fixture
def stack_name(request: pytest.FixtureRequest) -> str:
    """One stack, hence one table, per test module: moto copies a whole table for every
    transaction (its rollback), so a table shared by the whole session slows every write. Per
    test in a module marked `table_per_test` (what its mark says why)."""
    per_test = request.node.get_closest_marker("table_per_test") is not None
    owner = request.node.nodeid if per_test else request.module.__name__
    return f"it-{hashlib.sha256(owner.encode()).hexdigest()[:10]}"


@pytest.fixture(scope="session")
def _stacks_in_module() -> set[str]:
    """The stacks the running module's tests provisioned or used (a module may use several)."""
    return set()


@pytest.fixture(scope="module", autouse=True)
def _no_plaintext_secrets(
    _provisionings: dict[str, Provisioning], _stacks_in_module: set[str], _dynamodb: Any
) -> Iterator[None]:
    """After each module, over its stacks' tables: no secret its tests stored is in plaintext.
    Per module, not once per session: one scan of every table at the end outgrew a test's
    timeout."""
    STORED.clear()
    _stacks_in_module.clear()
    yield
    if not STORED:
        return
    existing = set(_dynamodb.list_tables()["TableNames"])
    tables = [
        _provisionings[stack].intrinsics.physical[name].ref
        for stack in sorted(_stacks_in_module & _provisionings.keys())
        for name in ("Table", "AuditTable")
    ]
    finds = plaintexts_in(_dynamodb, [t for t in tables if t in existing], STORED)
    assert not finds, f"plaintext secrets stored: {finds}"


@pytest.fixture
def provisioned(
    template: Template,
    aws: AwsEndpoint,
    stack_name: str,
    _provisionings: dict[str, Provisioning],
    _stacks_in_module: set[str],
    _dynamodb: Any,
) -> Provisioning:
    """The template's resources in the emulator, for this stack. Some tests reset moto: one
    cheap look per test, and provisioning again (idempotent) when the table is gone."""
    _stacks_in_module.add(stack_name)
    known = _provisionings.get(stack_name)
    if known is not None:
        table_name = known.intrinsics.physical["Table"].ref
        if table_name in _dynamodb.list_tables()["TableNames"]:
            return known
    _provisionings[stack_name] = provision(template, aws, stack_name=stack_name)
    return _provisionings[stack_name]


@pytest.fixture(autouse=True)
def iam_check(
    request: pytest.FixtureRequest, template: Template, monkeypatch: pytest.MonkeyPatch
) -> Iterator[IamCheck | None]:
    """Every AWS call a function makes in a test that provisions a stack: one its function's
    policy in template.yaml allows (IAM, which the emulator does not enforce). The test fails,
    naming each refused request, if not. (A test that replaces a resource tells the check.)"""
    if "provisioned" not in request.fixturenames:
        yield None
        return
    provisioning: Provisioning = request.getfixturevalue("provisioned")
    check = IamCheck.installed(Stack(template, provisioning.intrinsics), monkeypatch)
    yield check
    refusals = sorted(set(check.refusals))
    assert not refusals, "IAM would refuse:\n" + "\n".join(refusals)


@pytest.fixture
def function_env(
    template: Template,
    aws: AwsEndpoint,
    provisioned: Provisioning,
    monkeypatch: pytest.MonkeyPatch,
) -> FunctionEnv:
    """Give the process the environment the template gives function `logical_id`."""

    functions = {f.logical_id: f for f in template.functions(provisioned.intrinsics)}

    def apply(logical_id: str) -> dict[str, str]:
        environment = {**functions[logical_id].environment, **aws.environment()}
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        return environment

    return apply


@pytest.fixture
def table(_dynamodb: Any, provisioned: Provisioning) -> Table:
    return Table(_dynamodb, provisioned.intrinsics.physical["Table"].ref)


@pytest.fixture
def audit_table(_dynamodb: Any, provisioned: Provisioning) -> Table:
    return Table(_dynamodb, provisioned.intrinsics.physical["AuditTable"].ref)


@pytest.fixture
def anchor_bucket(provisioned: Provisioning) -> str:
    return provisioned.intrinsics.physical["AuditAnchorBucket"].ref


@pytest.fixture
def anchors(aws: AwsEndpoint, anchor_bucket: str) -> TrailAnchors:
    return TrailAnchors(aws.client("s3"), anchor_bucket)


@pytest.fixture(scope="session")
def _applied_env() -> dict[str, str]:
    return {}


@pytest.fixture
def api_env(template: Template, function_env: FunctionEnv, _applied_env: dict[str, str]) -> None:
    """Every function's template environment (their union: each reads only its own settings).
    Warm instances are kept, unless the environment changed (another stack): then they start
    cold, as Lambda would after a deployment."""
    environment: dict[str, str] = {}
    for resource in template.resources_of_type("AWS::Serverless::Function"):
        environment.update(function_env(resource.logical_id))
    if environment != _applied_env:
        reset_instances()
        _applied_env.clear()
        _applied_env.update(environment)


@pytest.fixture
def identity_env(api_env: None) -> None:
    """`api_env`, with every function instance fresh (empty caches), as after a cold start."""
    reset_instances()


@pytest.fixture
def client(template: Template, api_env: None) -> InProcessClient:
    """HTTP-shaped calls through the gateway logic, every function in this process (warm:
    instances are not reset between tests; ask for `identity_env` too for fresh ones)."""
    return InProcessClient(template)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClock]:
    """The time every function instance reads, which the test moves instead of sleeping."""
    yield from patched_system_clock(monkeypatch)


@pytest.fixture
def cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fast argon2id, for tests about something else than passwords: sign-ups stay cheap."""
    monkeypatch.setattr(passwords, "_hasher", accounts.CHEAP_HASHER)
