"""What a secret looks like, and its removal from anything about to be logged or recorded.

Two nets, because one is not enough: values under sensitive names are replaced whatever they
hold, and any string anywhere is scrubbed of what looks like a credential (our key and token
formats, JWTs, bearer values). Pure and light: the audit trail uses it too, and the authorizer,
which imports the audit module's types, must not pay for Powertools' logger to get it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

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
