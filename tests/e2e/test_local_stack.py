"""`make dev` as a client sees it: real HTTP against `python -m infra.local`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.local_stack import StackProcess, launch

pytestmark = pytest.mark.e2e


def _children(pid: int) -> set[int]:
    """The processes `pid` started (Linux /proc): the function workers. Read from each process's
    `PPid` (the parent's process id, whichever of its threads forked): the per-thread `children`
    lists miss a child while the thread that started it is exiting."""
    children: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue  # a process that ended between the listing and the read
        ppid = next(
            (line.split()[1] for line in status.splitlines() if line.startswith("PPid:")), None
        )
        if ppid == str(pid):
            children.add(int(entry.name))
    return children


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def test_health_answers_ok(stack: StackProcess) -> None:
    # Given the running local stack
    # When the public health route is requested
    response = requests.get(f"{stack.url}/api/v1/health", timeout=10)
    # Then it answers as the contract says, with API Gateway's request id header
    assert response.status_code == 200
    assert response.json() == {"data": {"status": "ok"}}
    assert response.headers["apigw-requestid"]


def test_unknown_path_is_api_gateways_404(stack: StackProcess) -> None:
    # Given the running local stack
    # When a path no route has is requested
    response = requests.get(f"{stack.url}/api/v1/nothing-here", timeout=10)
    # Then API Gateway's own 404 comes back
    assert response.status_code == 404
    assert response.content == b'{"message":"Not Found"}'
    assert response.headers["Content-Type"] == "application/json"


def test_protected_route_without_credential_is_401(stack: StackProcess) -> None:
    # Given the running local stack
    # When the protected route is requested with no credential but a spoofed client address
    response = requests.get(
        f"{stack.url}/api/v1/me", headers={"X-Forwarded-For": "203.0.113.1"}, timeout=10
    )
    # Then the authorizer's refusal is API Gateway's 401, exactly
    assert response.status_code == 401
    assert response.content == b'{"message":"Unauthorized"}'


@pytest.mark.parametrize("variable", ["PORT", "AWS_PORT"])
def test_a_taken_port_exits_2_naming_its_setting(
    stack: StackProcess, tmp_path: Path, variable: str
) -> None:
    # Given a port the running stack (PORT) or its emulator (AWS_PORT) already listens on
    setting = variable.lower()  # `port` or `aws_port`, of the stack and of `launch` alike
    taken: int = getattr(stack, setting)
    # When a second stack is started with that PORT (or AWS_PORT)
    ports: dict[str, Any] = {setting: taken}
    second = launch(tmp_path, **ports)
    # Then it exits 2 with a message naming the port and how to change it, without a traceback
    assert second.wait() == 2
    assert f"port {taken}" in second.stderr
    assert f"{variable}=" in second.stderr
    assert "Traceback" not in second.stderr


def test_missing_template_exits_2(tmp_path: Path) -> None:
    # Given a template path where there is no file
    missing = tmp_path / "absent.yaml"
    # When the stack is started with it
    stack = launch(tmp_path, TEMPLATE=str(missing))
    # Then it exits 2 naming the file
    assert stack.wait() == 2
    assert f"{missing}: template not found" in stack.stderr
    assert "Traceback" not in stack.stderr


def test_ctrl_c_stops_everything_and_exits_0(stack: StackProcess, tmp_path: Path) -> None:
    # Given a second local stack on the first one's emulator (no emulator of its own), whose
    # health check has started a function worker
    second = launch(tmp_path, AWS_ENDPOINT_URL=stack.aws_endpoint_url)
    second.wait_until_healthy()
    workers = _children(second.process.pid)
    assert workers
    # When it gets Ctrl-C
    status = second.interrupt()
    # Then it exits 0 after saying what it did, and no worker outlives it
    assert status == 0, second.stderr
    assert f"AWS endpoint {stack.aws_endpoint_url}" in second.stdout
    assert "reused AWS::DynamoDB::Table Table: railguard-local-Table" in second.stdout
    assert second.stdout.rstrip().endswith("Railguard local stack stopped")
    assert "Traceback" not in second.stderr
    assert not any(_alive(pid) for pid in workers)


def test_the_dashboard_is_served_at_the_root_under_its_csp(stack: StackProcess) -> None:
    # Given the running local stack
    # When the root is requested
    response = requests.get(f"{stack.url}/", timeout=10)
    # Then the dashboard's page comes back with the template's CSP
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self';")
    assert '<script type="module" src="js/app.js">' in response.text
