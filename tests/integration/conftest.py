"""The integration tier: handlers in-process, AWS emulated by a moto server built from the
template (the same provisioning as the local stack), each function with the template's own
environment for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from infra.local.aws import AwsEndpoint
from infra.local.emulator import MotoEmulator
from infra.local.provisioning import Provisioning, provision
from infra.template import Template, load_template
from railguard.store import Table
from tests.support.accounts import reset_instances

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"

FunctionEnv = Callable[[str], dict[str, str]]


@pytest.fixture(scope="session")
def template() -> Template:
    return load_template(TEMPLATE_PATH)


@pytest.fixture(scope="session")
def aws() -> Iterator[AwsEndpoint]:
    emulator = MotoEmulator("127.0.0.1", 0)
    endpoint = emulator.start()
    yield endpoint
    emulator.stop()


@pytest.fixture
def provisioned(template: Template, aws: AwsEndpoint) -> Provisioning:
    # Idempotent, and cheap when everything exists; re-creates what a moto reset removed.
    return provision(template, aws)


@pytest.fixture
def function_env(
    template: Template,
    aws: AwsEndpoint,
    provisioned: Provisioning,
    monkeypatch: pytest.MonkeyPatch,
) -> FunctionEnv:
    """Give the process the environment the template gives function `logical_id`."""

    def apply(logical_id: str) -> dict[str, str]:
        functions = {f.logical_id: f for f in template.functions(provisioned.intrinsics)}
        environment = {**functions[logical_id].environment, **aws.environment()}
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        return environment

    return apply


@pytest.fixture
def table(aws: AwsEndpoint, provisioned: Provisioning) -> Table:
    return Table(aws.client("dynamodb"), provisioned.intrinsics.physical["Table"].ref)


@pytest.fixture
def identity_env(function_env: FunctionEnv) -> None:
    """The auth, me and authorizer functions, each with its template environment, all fresh."""
    for logical_id in ("MeFunction", "AuthorizerFunction", "AuthFunction"):
        function_env(logical_id)
    reset_instances()
