"""The logger cannot write a secret, whichever way one reaches it."""

from __future__ import annotations

import io
import json

from aws_lambda_powertools import Logger

from railguard.core.logs import build_logger
from railguard.core.redaction import REDACTED, redact, scrub_text

KEY = "pr_live_" + "Z9" * 20
JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl"


def _capture(service: str) -> tuple[Logger, io.StringIO]:
    logger = build_logger(service, "DEBUG")
    stream = io.StringIO()
    handler = logger.registered_handler
    handler.setStream(stream)  # type: ignore[attr-defined]
    return logger, stream


def test_sensitive_names_are_masked_at_any_depth() -> None:
    # Given a structure holding secrets under sensitive names
    value = {
        "headers": {"x-api-key": KEY},
        "outer": {"password": "hunter2hunter2", "refresh_token": "abc", "name": "ok"},
        "items": [{"Authorization": "Bearer abc"}],
    }
    # When redacted
    cleaned = redact(value)
    # Then every secret is gone and harmless fields stay
    assert cleaned["headers"] == REDACTED
    assert cleaned["outer"] == {"password": REDACTED, "refresh_token": REDACTED, "name": "ok"}
    assert cleaned["items"] == [{"Authorization": REDACTED}]


def test_secret_shapes_are_scrubbed_from_free_text() -> None:
    text = f"saw {KEY} and {JWT} and Bearer opaque-thing and whsec_abc and wht_xyz"
    scrubbed = scrub_text(text)
    for secret in (KEY, JWT, "opaque-thing", "whsec_abc", "wht_xyz"):
        assert secret not in scrubbed


def test_a_logged_record_carries_no_secret() -> None:
    # Given a logger writing to a buffer
    logger, stream = _capture("redaction-test")
    # When a careless caller logs secrets in the message and in extra fields
    logger.info(f"header was {KEY}", extra={"token": JWT, "detail": {"api_key": KEY}, "n": 3})
    # Then the JSON line holds none of them, and the harmless field survives
    line = stream.getvalue()
    assert KEY not in line
    assert JWT not in line
    record = json.loads(line)
    assert record["n"] == 3
    assert record["token"] == REDACTED
