"""Validated configuration. Each function declares one settings model (a subclass of these) and
the function's entry point reads it once, at its first invocation; nothing else reads the
environment, and nothing reads it at import time.

Settings are flat strings, so they are frozen dataclasses whose fields each name their variable
and its constraint, checked here, rather than pydantic models: the authorizer imports this module
on every cold start, and pydantic's import (about 45 ms, `make bench`) is a cost it does not need.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, Self, cast

from railguard.core.errors import ConfigurationError

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
Stage = Literal["dev", "staging", "prod"]


@dataclass(frozen=True)
class _Variable:
    name: str
    default: str | None
    min_length: int
    max_length: int
    choices: Collection[str] | None
    integer_range: tuple[int, int] | None
    pattern: str | None

    def accepts(self, value: str) -> bool:
        if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
            return False
        if self.choices is not None:
            return value in self.choices
        if self.integer_range is not None:
            low, high = self.integer_range
            return value.isascii() and value.isdigit() and low <= int(value) <= high
        return self.min_length <= len(value) <= self.max_length

    def parse(self, value: str) -> str | int:
        return int(value) if self.integer_range is not None else value


def variable(
    name: str,
    *,
    default: str | None = None,
    min_length: int = 1,
    max_length: int = 2048,
    choices: Collection[str] | None = None,
    integer_range: tuple[int, int] | None = None,
    pattern: str | None = None,
) -> Any:
    """A settings field read from the environment variable `name` (a whole number within
    `integer_range`, when one is given; matching the regular expression `pattern` whole, when
    one is given)."""
    spec = _Variable(name, default, min_length, max_length, choices, integer_range, pattern)
    return field(metadata={"variable": spec})


@dataclass(frozen=True, kw_only=True)
class FunctionSettings:
    """What every function has: its service name, log level and stage."""

    service_name: str = variable("POWERTOOLS_SERVICE_NAME")
    log_level: LogLevel = variable(
        "POWERTOOLS_LOG_LEVEL", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR")
    )
    stage: Stage = variable("STAGE", choices=("dev", "staging", "prod"))

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Self:
        values: dict[str, str | int] = {}
        invalid: list[str] = []
        for settings_field in fields(cls):
            spec = cast(_Variable, settings_field.metadata["variable"])
            value = environ.get(spec.name, spec.default)
            if value is None or not spec.accepts(value):
                invalid.append(spec.name)
            else:
                values[settings_field.name] = spec.parse(value)
        if invalid:
            # Name the variables, never their values: an environment may hold secrets.
            raise ConfigurationError(f"invalid or missing settings: {', '.join(sorted(invalid))}")
        return cls(**values)  # type: ignore[arg-type]  # each value passed its field's check


@dataclass(frozen=True, kw_only=True)
class TableSettings(FunctionSettings):
    """A function that reads or writes the Railguard table."""

    table_name: str = variable("TABLE_NAME", min_length=3, max_length=255)


@dataclass(frozen=True, kw_only=True)
class TokenSettings(TableSettings):
    """A function that issues or verifies access tokens."""

    token_issuer: str = variable("TOKEN_ISSUER")
    token_audience: str = variable("TOKEN_AUDIENCE")


@dataclass(frozen=True, kw_only=True)
class EventBusSettings(FunctionSettings):
    """A function that publishes to the stack's EventBridge bus."""

    event_bus_name: str = variable("EVENT_BUS_NAME", max_length=256)


@dataclass(frozen=True, kw_only=True)
class EnvelopeSettings(TableSettings):
    """A function that encrypts or decrypts secrets with the stack's KMS key."""

    kms_key_id: str = variable("KMS_KEY_ID")


@dataclass(frozen=True, kw_only=True)
class IdempotencySettings(FunctionSettings):
    """A function whose creations take an `Idempotency-Key`: the KMS HMAC key that fingerprints
    the requests they are used for."""

    idempotency_mac_key_id: str = variable("IDEMPOTENCY_MAC_KEY_ID")


@dataclass(frozen=True, kw_only=True)
class AuditSettings(TableSettings):
    """A function that writes or reads the audit trail (its own table; heads in the main one)."""

    audit_table_name: str = variable("AUDIT_TABLE_NAME", min_length=3, max_length=255)


@dataclass(frozen=True, kw_only=True)
class AnchorSettings(FunctionSettings):
    """A function that reads (or, the anchor job alone, adds) the audit trails' anchors."""

    anchor_bucket_name: str = variable("ANCHOR_BUCKET_NAME", min_length=3, max_length=63)


@dataclass(frozen=True, kw_only=True)
class RetentionSettings(FunctionSettings):
    """A function that restores or purges soft-deleted resources."""

    retention_days: int = variable("RETENTION_DAYS", default="30", integer_range=(1, 3650))

    @property
    def retention_seconds(self) -> int:
        return self.retention_days * 86_400
