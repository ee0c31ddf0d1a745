"""What the two tiers that fuzz the OpenAPI document share: in process
(tests/integration/test_openapi_fuzz.py) and over real HTTP (tests/e2e/test_openapi_fuzz.py)."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings


def per_operation(examples: int, *also_suppressed: HealthCheck) -> settings:
    """Hypothesis settings for `examples` generated requests per operation: the same ones every
    run (derandomized, no example database), however long each takes (no deadline, too_slow
    suppressed, with `also_suppressed`)."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, *also_suppressed],
    )


def is_protected(case: schemathesis.Case[Any]) -> bool:
    """Whether the case's operation asks for a credential (a public route needs none)."""
    return bool(case.operation.definition.raw.get("security"))
