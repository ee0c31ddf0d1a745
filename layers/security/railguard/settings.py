"""Validated configuration. Each function declares one settings model (a subclass of these) and
the function's entry point reads it once, at its first invocation; nothing else reads the
environment, and nothing reads it at import time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from railguard.errors import ConfigurationError


class FunctionSettings(BaseModel):
    """What every function has: its service name, log level and stage."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    service_name: str = Field(alias="POWERTOOLS_SERVICE_NAME", min_length=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        alias="POWERTOOLS_LOG_LEVEL", default="INFO"
    )
    stage: Literal["dev", "staging", "prod"] = Field(alias="STAGE")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Self:
        try:
            return cls.model_validate(dict(environ))
        except ValidationError as error:
            # Name the variables, never their values: an environment may hold secrets.
            names = sorted({str(item["loc"][0]) for item in error.errors() if item["loc"]})
            raise ConfigurationError(f"invalid or missing settings: {', '.join(names)}") from None


class TableSettings(FunctionSettings):
    """A function that reads or writes the Railguard table."""

    table_name: str = Field(alias="TABLE_NAME", min_length=3, max_length=255)


class TokenSettings(TableSettings):
    """A function that issues or verifies access tokens."""

    token_issuer: str = Field(alias="TOKEN_ISSUER", min_length=1)
    token_audience: str = Field(alias="TOKEN_AUDIENCE", min_length=1)


class EnvelopeSettings(TableSettings):
    """A function that encrypts or decrypts secrets with the stack's KMS key."""

    kms_key_id: str = Field(alias="KMS_KEY_ID", min_length=1)
