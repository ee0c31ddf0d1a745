"""Structured JSON logging that cannot carry a secret.

Two nets, because one is not enough: values under sensitive names are replaced whatever they
hold, and any string anywhere in a record is scrubbed of what looks like a credential (our key and
token formats, JWTs, bearer values). Whole events, bodies and headers are never logged by the
code; this is the guard for the day someone tries.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import LogRecord

REDACTED = "[REDACTED]"

_SENSITIVE_NAMES = frozenset(
    {
        "authorization",
        "x-api-key",
        "cookie",
        "set-cookie",
        "password",
        "current_password",
        "new_password",
        "pin",
        "code",
        "secret",
        "token",
        "key",
        "api_key",
        "raw_key",
        "value",
        "body",
        "headers",
        "multivalueheaders",
        "cookies",
        "event",
        "private_key",
        "totp_secret",
        "recovery_codes",
        "hash",
        "digest",
        "plaintext",
        "ciphertext",
    }
)
_SENSITIVE_SUFFIXES = ("_token", "_secret", "_password", "_hash", "_key_material", "_plaintext")

_SECRET_PATTERNS = re.compile(
    r"(?:pr_live_|wht_|whsec_|rgr_|rgm_|rgu_)[A-Za-z0-9_\-]+"  # our key and token formats
    r"|eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"  # JWTs
    r"|(?i:bearer)\s+\S+"  # bearer values of any shape
)


def is_sensitive_name(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SENSITIVE_NAMES or lowered.endswith(_SENSITIVE_SUFFIXES)


def scrub_text(text: str) -> str:
    return _SECRET_PATTERNS.sub(REDACTED, text)


def redact(value: Any) -> Any:
    """A copy of `value` with sensitive names masked and secret-looking strings scrubbed."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {
            key: REDACTED if is_sensitive_name(str(key)) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item) for item in value]
    return value


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
