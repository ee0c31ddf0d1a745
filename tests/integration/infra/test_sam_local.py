"""`python -m infra.local.sam` end to end without a container runtime: emulator, provisioning,
env-vars file, the commands printed, and a clean exit."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from infra.local import sam
from infra.local.sam_env import ENDPOINT_VARIABLE
from infra.template import SERVERLESS_FUNCTION, load_template

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


def test_without_a_container_runtime_it_prints_the_commands_and_exits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no docker or finch on PATH, and an emulator on a free loopback port
    monkeypatch.setenv("PATH", str(tmp_path))
    env_file = tmp_path / "env.json"
    settings = {
        "AWS_HOST": "127.0.0.1",
        "AWS_PORT": "0",
        "SAM_AWS_HOST": "172.17.0.1",
        "SAM_ENV_FILE": str(env_file),
    }
    # When `python -m infra.local.sam` runs
    status = sam.main(settings)
    # Then it exits 0 after printing the build and start-api commands and why they cannot run here
    printed = capsys.readouterr().out
    assert status == 0
    assert "-m infra.build --host-only" in printed
    assert "sam local start-api" in printed
    assert f"--env-vars {env_file}" in printed
    assert "needs a container runtime" in printed
    assert "warning" not in printed  # loopback only
    # And the env-vars file names every function, each pointed at the emulator's port
    written = json.loads(env_file.read_text(encoding="utf-8"))
    functions = load_template(TEMPLATE).resources_of_type(SERVERLESS_FUNCTION)
    assert set(written) == {f.logical_id for f in functions}
    urls = {entry[ENDPOINT_VARIABLE] for entry in written.values()}
    assert len(urls) == 1
    assert urls.pop().startswith("http://172.17.0.1:")


def test_a_taken_port_stops_it_with_the_setting_to_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a port already in use
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # When `python -m infra.local.sam` runs on it
        status = sam.main(
            {"AWS_HOST": "127.0.0.1", "AWS_PORT": str(port), "SAM_ENV_FILE": str(tmp_path / "e")}
        )
    # Then it exits 2, naming AWS_PORT, and writes nothing
    assert status == 2
    assert "AWS_PORT" in capsys.readouterr().err
    assert not (tmp_path / "e").exists()
