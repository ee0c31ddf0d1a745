"""The fuzz targets, by name. Each module has `one_input(data: bytes) -> None`, which returns
normally for any input or raises: an exception the real callers do not expect is a crash, and a
broken invariant is `InvariantBroken`.

Targets are imported by name and only on demand, so that the fuzzer's child process can import
them (and with them `railguard`) inside `atheris.instrument_imports()`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

OneInput = Callable[[bytes], None]

# Target name -> module under fuzz.targets.
TARGETS: dict[str, str] = {
    "opaque_tokens": "opaque_tokens",
    "credentials": "credentials",
    "access_token": "access_token",
    "ip_allowlist": "ip_allowlist",
    "origins": "origins",
    "webhook_signature": "webhook_signature",
    "envelope": "envelope",
    "principal_context": "principal_context",
}


def load(name: str) -> OneInput:
    """The target's `one_input`; imports its module (and the railguard modules it fuzzes)."""
    module = importlib.import_module(f"fuzz.targets.{TARGETS[name]}")
    one_input: OneInput = module.one_input
    return one_input
