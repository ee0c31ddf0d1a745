"""Schema fuzzing of the whole API: `python -m fuzz.api [--examples N] [--seed S]`.

Starts a local stack of its own on free ports, signs up owners, and for every operation of the
document the stack serves sends schemathesis-generated requests, valid (positive) and invalid
(negative), as a signed-in owner with `X-Workspace-ID`. Every answer must be no 5xx and declared
by the document (status, content type, body, headers); an invalid request must be refused.
Prints one line per operation and mode, then each failure; exits 1 on any failure.
`make test` runs the same checks, bounded, in tests/e2e/test_openapi_fuzz.py.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import HypothesisException, Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.local_stack import StackProcess, launch
from tests.e2e.people import Owner, new_owner

DEFAULT_EXAMPLES = 100
DEFAULT_SEED = 20261129
STOP_TIMEOUT_SECONDS = 60.0
# The free plan allows 120 requests a minute per user: a fresh owner well before that, so that
# cases reach the handlers rather than the rate limiter (and access tokens never expire mid-run).
REQUESTS_PER_OWNER = 100
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]
LOGIN_OPERATION = "POST /api/v1/auth/login"
type Operation = schemathesis.APIOperation[Any, Any, Any, Any]
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


class OwnerPool:
    """Signed-in owners, each used for at most `REQUESTS_PER_OWNER` requests."""

    def __init__(self, stack: StackProcess) -> None:
        self._stack = stack
        self._owner: Owner | None = None
        self._requests = 0
        self.signed_up = 0

    def headers(self) -> dict[str, str]:
        if self._owner is None or self._requests >= REQUESTS_PER_OWNER:
            self._owner = new_owner(self._stack)
            self._requests = 0
            self.signed_up += 1
        self._requests += 1
        return dict(self._owner.headers)

    def fresh(self) -> None:
        """The next request gets a new owner (after an operation that may have spent this one:
        a logout, a password change, a deleted workspace)."""
        self._owner = None


@dataclass
class Outcome:
    label: str
    cases: int = 0
    failure: str | None = None
    skipped: bool = False
    statuses: dict[int, int] = field(default_factory=dict)


def fuzz_operation(
    operation: Operation,
    mode: schemathesis.GenerationMode,
    *,
    stack: StackProcess,
    owners: OwnerPool,
    examples: int,
    seed_value: int,
) -> Outcome:
    outcome = Outcome(f"{operation.label} ({mode.value})")
    # A public route gets no credential: it needs none, and no owner is signed up for it.
    protected = bool(operation.definition.raw.get("security"))

    @seed(seed_value)
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        # No shrinking: each case is a few HTTP calls, and the first failing one says enough.
        phases=[Phase.explicit, Phase.generate],
        print_blob=False,
    )
    def run(case: schemathesis.Case[Operation]) -> None:
        outcome.cases += 1
        response = case.call_and_validate(
            base_url=stack.url, headers=owners.headers() if protected else {}, checks=CHECKS
        )
        outcome.statuses[response.status_code] = outcome.statuses.get(response.status_code, 0) + 1

    try:
        run()
    except Unsatisfiable:
        outcome.skipped = True  # nothing to make invalid: no parameters, or bare strings only
    except (FailureGroup, AssertionError, requests.RequestException, HypothesisException) as error:
        outcome.failure = f"{type(error).__name__}: {error}"
    except ExceptionGroup as errors:  # Hypothesis reports distinct bugs of one run together
        outcome.failure = "\n\n".join(str(error) for error in errors.exceptions)
    owners.fresh()
    return outcome


def _login_last(operation: Operation) -> bool:
    """Fuzzed logins fail, and 20 failures in 15 minutes from one address (all of these come
    from 127.0.0.1) refuse every login from it with 429, the owners' own included: so the
    login operation goes after every other."""
    return operation.label == LOGIN_OPERATION


def stop(stack: StackProcess) -> int:
    """Ctrl-C, as `make dev` is stopped; a stack with many warm function instances may take
    longer than the e2e tests allow, and one that does not stop at all is killed."""
    stack.process.send_signal(signal.SIGINT)
    try:
        return stack.process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        stack.process.kill()
        stack.process.wait()
        return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--examples", type=int, default=DEFAULT_EXAMPLES, help="examples per operation and mode"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="Hypothesis seed")
    parser.add_argument(
        "--only", default="", help="fuzz only the operations whose label contains this text"
    )
    arguments = parser.parse_args(argv)

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="railguard-fuzz-") as logs:
        stack = launch(Path(logs))
        try:
            stack.wait_until_healthy()
            print(f"local stack on {stack.url}", flush=True)
            schema = schemathesis.openapi.from_url(f"{stack.url}/api/v1/openapi.json")
            # The owner's credential is sent with every case; generated ones would double it.
            schema.config.generation.update(with_security_parameters=False)
            owners = OwnerPool(stack)
            outcomes: list[Outcome] = []
            operations: list[Operation] = []
            for result in schema.get_all_operations():
                if isinstance(result, Err):
                    raise SystemExit(f"the document has an invalid operation: {result.err()}")
                operations.append(result.ok())
            for operation in sorted(operations, key=_login_last):
                if arguments.only not in operation.label:
                    continue
                for mode in MODES:
                    outcome = fuzz_operation(
                        operation,
                        mode,
                        stack=stack,
                        owners=owners,
                        examples=arguments.examples,
                        seed_value=arguments.seed,
                    )
                    outcomes.append(outcome)
                    verdict = "FAIL" if outcome.failure else "skip" if outcome.skipped else "ok"
                    statuses = " ".join(f"{s}x{n}" for s, n in sorted(outcome.statuses.items()))
                    print(f"{verdict:4} {outcome.label}: {outcome.cases} cases [{statuses}]")
                    if outcome.failure:
                        print(f"     {outcome.failure}", flush=True)
        finally:
            status = stop(stack)
    failed = [outcome for outcome in outcomes if outcome.failure]
    cases = sum(outcome.cases for outcome in outcomes)
    print(
        f"\n{len(outcomes)} operation runs, {cases} cases, {owners.signed_up} owners, "
        f"{len(failed)} failed, in {time.monotonic() - started:.0f}s "
        f"(--examples {arguments.examples} --seed {arguments.seed})"
    )
    if status != 0:
        print(f"the local stack exited {status}", file=sys.stderr)
    return 1 if failed or status != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
