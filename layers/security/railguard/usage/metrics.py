"""The operators' picture in CloudWatch: Powertools Metrics in the embedded metric format (one
JSON line per metric and dimension set on the function's log, which CloudWatch turns into
metrics), written with each flush of `railguard.usage.tally`.

- `Decisions` (`tally.DECISIONS`, the authorizer's), dimension `outcome`: `allowed`,
  `refused_credential`, `refused_network`, `refused_scope`, `error`.
- `RateLimited` (`tally.RATE_LIMITED`, the functions' 429s), dimensions `limit` (`workspace`,
  `key`, `user`) and `class` (the endpoint class).

Dimensions are few-valued by construction: never a key, a workspace or a user id, nor a secret.
Loaded by a flush only: the authorizer's cold path never imports Powertools.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_lambda_powertools.metrics import MetricUnit, single_metric

NAMESPACE = "Railguard"


def emit(counts: Mapping[tuple[str, tuple[tuple[str, str], ...]], int]) -> None:
    """One EMF line per metric and dimension set, with its count."""
    for (name, dimensions), count in counts.items():
        with single_metric(
            name=name,
            unit=MetricUnit.Count,
            value=count,
            namespace=NAMESPACE,
            default_dimensions=dict(dimensions),
        ):
            pass
