"""The authorizer runs before every protected request, so its cold start is on every new
instance's first request: it must not load what only other functions need. `make bench`
measures the import's time; this says what must stay out, whatever that time is."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Heavy, and needed only by the functions behind the authorizer: request models (pydantic), the
# HTTP resolver and logger (Powertools, the logger loaded on a first refusal only), boto3's
# resource layer (the clients are botocore's).
KEPT_OUT = ("pydantic", "aws_lambda_powertools", "boto3")
# What an API key's decision never runs, each with everything under it. The authorizer writes
# no audit event and takes no Idempotency-Key; it reads keys and workspaces through their
# repositories, never their services; it encrypts nothing (KMS) and publishes nothing. The token
# path (PyJWT, `cryptography`, the signing keys, the sessions) loads on the first access token.
NEVER_IMPORTED_BY_THE_AUTHORIZER = (
    "pydantic",
    "aws_lambda_powertools",
    "boto3",
    "jwt",
    "cryptography",
    "railguard.http",
    "railguard.audit",
    "railguard.access.idempotency",
    "railguard.access.idempotency_repository",
    "railguard.access.ratelimit",
    "railguard.access.throttle",
    "railguard.api_keys.service",
    "railguard.workspaces.service",
    "railguard.identity",
    "railguard.crypto.public_keys",
    "railguard.crypto.key_repository",
    "railguard.crypto.envelope",
    "railguard.crypto.server_keys",
    "railguard.crypto.signing_keys",
    "railguard.core.logs",
    "railguard.core.events",
    "railguard.credentials",
    "railguard.webhooks",
    "railguard.agent_uis",
    "railguard.retention",
    "railguard.jobs",
)


@cache
def _loaded_by_importing_the_authorizer() -> frozenset[str]:
    """The modules loaded by a fresh interpreter, with only the layer on its path as Lambda's,
    that imports the authorizer's handler module."""
    program = "import json, sys; import app; print(json.dumps(sorted(sys.modules)))"
    completed = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", program],
        cwd=ROOT / "functions" / "authorizer",
        env={"PYTHONPATH": str(ROOT / "layers" / "security")},
        capture_output=True,
        check=True,
    )
    return frozenset(json.loads(completed.stdout))


def _under(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == package or name.startswith(f"{package}.") for package in packages)


def test_importing_the_authorizer_loads_no_pydantic_powertools_or_boto3() -> None:
    # Given a fresh interpreter with only the layer on its path, as Lambda's
    # When it imports the authorizer's handler module
    loaded = _loaded_by_importing_the_authorizer()
    # Then none of them was loaded
    assert [name for name in sorted(loaded) if name.split(".")[0] in KEPT_OUT] == []


def test_importing_the_authorizer_loads_only_what_its_decision_uses() -> None:
    # Given a fresh interpreter with only the layer on its path, as Lambda's
    # When it imports the authorizer's handler module
    loaded = _loaded_by_importing_the_authorizer()
    # Then it loaded the decision and the repositories it reads
    assert {
        "railguard.authorizer.decision",
        "railguard.api_keys.repository",
        "railguard.workspaces.repository",
    } <= loaded
    # And nothing the decision never runs
    assert sorted(name for name in loaded if _under(name, NEVER_IMPORTED_BY_THE_AUTHORIZER)) == []
