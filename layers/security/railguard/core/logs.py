"""Structured JSON logging that cannot carry a secret: every field of every record passes
`railguard.core.redaction` (sensitive names masked, secret-shaped strings scrubbed). Whole events,
bodies and headers are never logged by the code; this is the guard for the day someone tries.
"""

from __future__ import annotations

import logging

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import LogRecord

from railguard.core.redaction import redact

# Keys the formatter itself writes; their values are ours, not user input.
_RECORD_KEYS = frozenset(
    {
        "level",
        "location",
        "timestamp",
        "service",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "xray_trace_id",
        "sampling_rate",
    }
)


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter with `redact` applied to every field before it is written."""

    def serialize(self, log: LogRecord) -> str:
        cleaned = {
            key: value if key in _RECORD_KEYS else redact({key: value})[key]
            for key, value in log.items()
        }
        return super().serialize(cleaned)


# Libraries whose DEBUG output carries request parameters and bodies (DynamoDB items, route
# arguments). Their level is pinned, so turning up the root logger cannot turn them on.
_QUIET_LIBRARIES = ("botocore", "boto3", "urllib3", "aws_lambda_powertools.event_handler")


def build_logger(service: str, level: str) -> Logger:
    """The one way a function gets its logger (called at cold start, from validated settings)."""
    for name in _QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    return Logger(service=service, level=level, logger_formatter=RedactingFormatter())
