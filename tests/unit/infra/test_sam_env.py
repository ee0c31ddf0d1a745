"""`sam local` compatibility: the --env-vars file built from the template, samconfig's `local`
environment, and the pieces of `python -m infra.local.sam` that need no emulator."""

from __future__ import annotations

import json
import stat
import tomllib
from pathlib import Path
from typing import Any

import pytest

from infra.local.aws import REGION
from infra.local.errors import StartupError
from infra.local.ports import is_loopback
from infra.local.sam import (
    find_container_runtime,
    local_parameter_overrides,
    settings_from,
)
from infra.local.sam_env import (
    DEFAULT_CONTAINER_HOST,
    DEFAULT_ENV_FILE,
    ENDPOINT_VARIABLE,
    endpoint_url,
    sam_environment,
    write_sam_environment,
)
from infra.template import (
    SERVERLESS_FUNCTION,
    Intrinsics,
    PhysicalResource,
    PseudoParameters,
    Template,
    TemplateError,
    load_template,
    merge_globals,
    parse_yaml,
)

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "template.yaml"
SAMCONFIG = ROOT / "samconfig.toml"
PSEUDO = PseudoParameters(region=REGION, account_id="123456789012", stack_name="railguard-local")
# What provisioning would report, without an emulator: the functions refer to these six.
PHYSICAL = {
    "Table": PhysicalResource(
        "railguard-local-Table",
        {"Arn": "arn:aws:dynamodb:us-east-1:123456789012:table/railguard-local-Table"},
    ),
    "AuditTable": PhysicalResource(
        "railguard-local-audit",
        {"Arn": "arn:aws:dynamodb:us-east-1:123456789012:table/railguard-local-audit"},
    ),
    "DataKey": PhysicalResource(
        "key-1", {"Arn": "arn:aws:kms:us-east-1:123456789012:key/key-1", "KeyId": "key-1"}
    ),
    "IdempotencyMacKey": PhysicalResource(
        "key-2", {"Arn": "arn:aws:kms:us-east-1:123456789012:key/key-2", "KeyId": "key-2"}
    ),
    "EventBus": PhysicalResource(
        "railguard-dev",
        {
            "Arn": "arn:aws:events:us-east-1:123456789012:event-bus/railguard-dev",
            "Name": "railguard-dev",
        },
    ),
    "AuditAnchorBucket": PhysicalResource(
        "railguard-local-auditanchorbucket",
        {"Arn": "arn:aws:s3:::railguard-local-auditanchorbucket"},
    ),
}
DOCKER_URL = "http://host.docker.internal:4566"


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template(TEMPLATE, local_parameter_overrides(SAMCONFIG))


@pytest.fixture(scope="module")
def environment(template: Template) -> dict[str, dict[str, str]]:
    return sam_environment(template, Intrinsics(template, PSEUDO, PHYSICAL), DOCKER_URL)


def _declared_environments() -> dict[str, dict[str, Any]]:
    """Each function's environment as template.yaml writes it (Globals merged), read apart
    from the code under test."""
    document = parse_yaml(TEMPLATE.read_text(encoding="utf-8"))
    function_globals = document["Globals"]["Function"]
    return {
        logical_id: merge_globals(function_globals, body.get("Properties", {}))
        .get("Environment", {})
        .get("Variables", {})
        for logical_id, body in document["Resources"].items()
        if body["Type"] == SERVERLESS_FUNCTION
    }


def _samconfig_local(command: str) -> dict[str, Any]:
    config = tomllib.loads(SAMCONFIG.read_text(encoding="utf-8"))
    parameters: dict[str, Any] = config["local"][command]["parameters"]
    return parameters


# ---------------------------------------------------------------- the env-vars file


def test_env_file_names_every_function_of_the_template(
    environment: dict[str, dict[str, str]],
) -> None:
    # Given the template's AWS::Serverless::Function resources, read from the YAML
    declared = _declared_environments()
    # When the env-vars file's mapping is built
    # Then it has an entry for each of them, and for nothing else
    assert set(environment) == set(declared)
    assert len(environment) > 1


def test_each_function_gets_every_variable_its_template_declares_resolved(
    template: Template, environment: dict[str, dict[str, str]]
) -> None:
    # Given each function's declared environment (Globals and its own), and the parameters
    # whose value is empty (an optional setting left unset)
    empty = [
        {"Ref": name} for name, parameter in template.parameters.items() if parameter.value == ""
    ]
    for logical_id, declared in _declared_environments().items():
        # When its entry in the env-vars file is read
        given = environment[logical_id]
        # Then every declared variable has a value: a string, non-empty where the template
        # gives one (other than an empty parameter), with no intrinsic left
        assert set(declared) <= set(given), logical_id
        for name, template_value in declared.items():
            assert isinstance(given[name], str), (logical_id, name)
            if template_value != "" and template_value not in empty:
                assert given[name], (logical_id, name)
            assert "${" not in given[name], (logical_id, name)
            assert not given[name].startswith("{"), (logical_id, name)


def test_resolved_values_are_what_the_emulator_provisioned(
    environment: dict[str, dict[str, str]],
) -> None:
    # Given the physical ids provisioning reported
    # When the env-vars file is built
    # Then tables, key and bus are the provisioned ones, and the parameters samconfig's local
    # environment overrides are applied
    assert environment["MeFunction"]["TABLE_NAME"] == PHYSICAL["Table"].ref
    assert environment["AuditFunction"]["AUDIT_TABLE_NAME"] == PHYSICAL["AuditTable"].ref
    assert environment["AuthFunction"]["KMS_KEY_ID"] == PHYSICAL["DataKey"].attributes["Arn"]
    assert environment["WebhookIngressFunction"]["EVENT_BUS_NAME"] == PHYSICAL["EventBus"].ref
    assert environment["MeFunction"]["STAGE"] == "dev"
    assert environment["MeFunction"]["POWERTOOLS_LOG_LEVEL"] == "DEBUG"


def test_every_function_is_pointed_at_the_emulator(
    environment: dict[str, dict[str, str]],
) -> None:
    # Given the env-vars file built for the default container host and port
    # When each function's AWS_ENDPOINT_URL is read
    # Then it is the emulator as the containers reach it
    assert {entry[ENDPOINT_VARIABLE] for entry in environment.values()} == {DOCKER_URL}


def test_template_declares_the_endpoint_empty_so_that_deployed_functions_call_aws() -> None:
    # Given the template as written
    # When the Globals' environment is read
    variables = parse_yaml(TEMPLATE.read_text(encoding="utf-8"))["Globals"]["Function"][
        "Environment"
    ]["Variables"]
    # Then AWS_ENDPOINT_URL is declared (sam local overrides declared variables only) and
    # empty, which botocore reads as no endpoint override
    assert variables[ENDPOINT_VARIABLE] == ""


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        (DEFAULT_CONTAINER_HOST, 4566, DOCKER_URL),
        ("172.17.0.1", 4599, "http://172.17.0.1:4599"),
        ("fd00::1", 4566, "http://[fd00::1]:4566"),
    ],
)
def test_endpoint_url_names_the_given_host_and_port(
    template: Template, host: str, port: int, expected: str
) -> None:
    # Given a container host and an emulator port
    url = endpoint_url(host, port)
    # When the env-vars file is built with the URL
    built = sam_environment(template, Intrinsics(template, PSEUDO, PHYSICAL), url)
    # Then every function's AWS_ENDPOINT_URL is that host and port
    assert url == expected
    assert {entry[ENDPOINT_VARIABLE] for entry in built.values()} == {expected}


def test_template_without_the_endpoint_declared_is_refused(tmp_path: Path) -> None:
    # Given a template whose function does not declare AWS_ENDPOINT_URL
    (tmp_path / "fn").mkdir()
    path = tmp_path / "template.yaml"
    path.write_text(
        "Resources:\n"
        "  Fn:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      Runtime: python3.13\n"
        "      CodeUri: fn/\n"
        "      Handler: app.handler\n"
        "      Environment:\n"
        "        Variables:\n"
        "          STAGE: dev\n"
    )
    template = load_template(path)
    # When the env-vars file is built
    with pytest.raises(TemplateError) as raised:
        sam_environment(template, Intrinsics(template, PSEUDO), DOCKER_URL)
    # Then it is refused, naming the function: SAM would drop the override and it would call AWS
    assert "Fn" in raised.value.reason
    assert ENDPOINT_VARIABLE in raised.value.reason


def test_written_file_is_the_json_sam_reads(
    tmp_path: Path, environment: dict[str, dict[str, str]]
) -> None:
    # Given the mapping, and a path whose directory does not exist yet
    path = tmp_path / "local" / "env.json"
    # When it is written
    write_sam_environment(environment, path)
    # Then the file is {"<FunctionLogicalId>": {"VAR": "value"}} with string values only
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written == environment
    assert all(isinstance(v, str) for entry in written.values() for v in entry.values())


# ---------------------------------------------------------------- samconfig's local environment


@pytest.mark.parametrize("command", ["local_start_api", "local_invoke"])
def test_samconfig_local_overrides_are_parameters_the_template_accepts(command: str) -> None:
    # Given the parameter overrides of samconfig's local environment
    overrides = dict(
        item.split("=", 1) for item in _samconfig_local(command)["parameter_overrides"].split()
    )
    # When the template is loaded with them
    template = load_template(TEMPLATE, overrides)
    # Then each names a declared parameter with an allowed value (else loading raises), and
    # they are the ones the emulator's resources are provisioned for
    assert set(overrides) <= set(template.parameters)
    assert overrides == local_parameter_overrides(SAMCONFIG)


@pytest.mark.parametrize("command", ["local_start_api", "local_invoke"])
def test_samconfig_local_reads_the_generated_file_in_the_emulators_region(command: str) -> None:
    # Given samconfig's local environment for the sam local commands
    parameters = _samconfig_local(command)
    # When its env-vars file and region are read
    # Then they are the file infra.local.sam writes and the region the emulator serves
    assert ROOT / parameters["env_vars"] == DEFAULT_ENV_FILE
    assert parameters["region"] == REGION


# ---------------------------------------------------------------- settings and the container check


def test_settings_default_to_an_emulator_the_containers_reach() -> None:
    # Given no settings in the environment
    settings = settings_from({})
    # When they are read
    # Then the emulator listens on every interface, on 4566, reached as host.docker.internal
    assert (settings.bind_host, settings.port) == ("0.0.0.0", 4566)  # noqa: S104
    assert settings.container_host == DEFAULT_CONTAINER_HOST
    assert settings.env_file == DEFAULT_ENV_FILE


def test_settings_take_the_users_addresses() -> None:
    # Given the user's bind address, port and container-side host
    environment = {"AWS_HOST": "172.17.0.1", "AWS_PORT": "4599", "SAM_AWS_HOST": "172.17.0.1"}
    # When the settings are read
    settings = settings_from(environment)
    # Then they are used as given
    assert (settings.bind_host, settings.port, settings.container_host) == (
        "172.17.0.1",
        4599,
        "172.17.0.1",
    )


def test_a_port_that_is_not_a_number_is_refused() -> None:
    # Given AWS_PORT that is not a port
    # When the settings are read
    # Then the error names the variable
    with pytest.raises(StartupError, match="AWS_PORT"):
        settings_from({"AWS_PORT": "http"})


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False)],  # noqa: S104
)
def test_loopback_is_told_from_wider_addresses(host: str, loopback: bool) -> None:
    # Given a bind address
    # When it is classified
    # Then only loopback addresses count as loopback (the others get the warning)
    assert is_loopback(host) is loopback


def _fake_runtime(directory: Path, name: str, exit_status: int, stderr: str = "") -> None:
    script = directory / name
    script.write_text(f"#!/bin/sh\necho '{stderr}' >&2\nexit {exit_status}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


DAEMON_DOWN = "Cannot connect to the Docker daemon"


@pytest.mark.parametrize(
    ("clients", "reason"),
    [
        pytest.param([], "on PATH", id="neither-docker-nor-finch"),
        pytest.param([("docker", 1, DAEMON_DOWN)], DAEMON_DOWN, id="docker-without-its-daemon"),
    ],
)
def test_no_runtime_that_answers_is_reported_with_why(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clients: list[tuple[str, int, str]],
    reason: str,
) -> None:
    # Given a PATH with neither docker nor finch, or with a docker client whose `docker info`
    # fails (no daemon)
    for name, exit_status, stderr in clients:
        _fake_runtime(tmp_path, name, exit_status, stderr)
    monkeypatch.setenv("PATH", str(tmp_path))
    # When a container runtime is looked for
    runtime = find_container_runtime()
    # Then there is none, and the reason says so (quoting the client where there is one)
    assert runtime.name is None
    assert reason in runtime.reason


def test_the_first_runtime_that_answers_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a docker without a daemon and a finch that answers
    _fake_runtime(tmp_path, "docker", 1)
    _fake_runtime(tmp_path, "finch", 0)
    monkeypatch.setenv("PATH", str(tmp_path))
    # When a container runtime is looked for
    # Then finch is used
    assert find_container_runtime().name == "finch"
